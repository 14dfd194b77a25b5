"""``gankit study saturation`` (seed 004) and other studies."""

from __future__ import annotations

import argparse


def add_parsers(sub) -> None:
    p = sub.add_parser("study", help="run a study that reproduces a figure of the source documents")
    ss = p.add_subparsers(dest="study", metavar="STUDY")
    s = ss.add_parser("saturation", help="minimax vs non-saturating G loss: gradient norms from one start (PNG)")
    s.add_argument("config", nargs="?", default="dcgan_fashion", metavar="PRESET_OR_YAML")
    s.add_argument("overrides", nargs="*", metavar="key=value")
    s.add_argument("--steps", type=int, default=200)
    s.add_argument("--out", default="runs/saturation")
    s.set_defaults(func=cmd_saturation)
    p.set_defaults(func=lambda a: p.print_help() or 2)


def cmd_saturation(args: argparse.Namespace) -> int:
    from gankit.config import load_config
    from gankit.studies.saturation import run_saturation

    cfg = load_config(args.config, list(args.overrides))
    res = run_saturation(cfg, args.steps, args.out)
    for loss, v in res["mean_grad_norm_first_50"].items():
        print(f"{loss:14s} mean ||grad G|| over the first 50 steps: {v:.4g}")
    print(f"figure: {args.out}/saturation.png")
    return 0
