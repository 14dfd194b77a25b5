"""``gankit study saturation`` (seed 004), ``gankit study norm`` (seed 002), ``gankit study modes``
(issue 13) and other studies."""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.errors import GankitError


def add_parsers(sub) -> None:
    p = sub.add_parser("study", help="run a study that reproduces a figure of the source documents")
    ss = p.add_subparsers(dest="study", metavar="STUDY")
    s = ss.add_parser("saturation", help="minimax vs non-saturating G loss: gradient norms from one start (PNG)")
    s.add_argument("config", nargs="?", default="dcgan_fashion", metavar="PRESET_OR_YAML")
    s.add_argument("overrides", nargs="*", metavar="key=value")
    s.add_argument("--steps", type=int, default=200)
    s.add_argument("--out", default="runs/saturation")
    s.set_defaults(func=cmd_saturation)
    _add_norm(ss)
    _add_modes(ss)
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


def _add_norm(ss) -> None:
    n = ss.add_parser("norm", help="seed 002: baseline / SN / AdaIN / both under WGAN-GP; FID, KID, sample figure",
                      description="Train the four normalization variants at equal budget and write a Markdown/JSON "
                                  "report, a samples figure (rows: variants, columns: epochs) and an FID plot.")
    n.add_argument("overrides", nargs="*", metavar="key=value", help="overrides of the study preset, e.g. train.batch_size=128")
    n.add_argument("--data", required=True, help="fashion_mnist | emoji (with --root) | synthetic | another dataset name | an image folder")
    n.add_argument("--root", help="where the dataset's files live (e.g. data/emoji64)")
    n.add_argument("--epochs", default="5,10,20", help="comma list of epochs to checkpoint and evaluate (default 5,10,20)")
    n.add_argument("--seeds", type=int, default=1, help="training seeds per variant (mean ± std when > 1)")
    n.add_argument("--out", default="runs/norm_study")
    n.add_argument("--variants", default="baseline,sn,adain,sn+adain",
                   help="comma list of variants to run (default all four); finished runs in --out are reused, so "
                        "several processes can each run some variants and a last call with all of them assembles the report")
    n.add_argument("--preset", default="norm_study", help="base preset or YAML (default norm_study)")
    n.add_argument("--n-samples", type=int, default=1000, help="generated images per metric evaluation (default 1000)")
    n.add_argument("--n-ref", type=int, default=2000, help="real images for the reference statistics (default 2000)")
    n.add_argument("--kid-subsets", type=int, default=50, help="KID subsets (default 50)")
    n.add_argument("--grid", type=int, default=16, help="samples per cell of the figure (default 16)")
    n.add_argument("--feature-net", default="inception", choices=("inception", "random"),
                   help="inception (standard FID/KID) or random: a tiny random-weights stand-in for tests/dev, NOT standard FID")
    n.set_defaults(func=cmd_norm)


def data_overrides(data: str, root: str | None) -> tuple[list[str], str]:
    """--data/--root -> (config overrides, name for reports)."""
    from gankit.data.sources import SOURCES

    if data in SOURCES.keys():
        ov = [f"data.name={data}"]
        if data in ("emoji", "celeba", "attributes"):
            ov.append("data.channels=3")
        if data == "emoji":
            ov.append("data.resolution=64")
        if root and data == "fashion_mnist":
            import os

            os.environ["GANKIT_FASHION_MNIST"] = root  # where its IDX files are (no config key)
        elif root:
            ov.append(f"data.path={root}")
        return ov, data
    if Path(data).is_dir():
        return ["data.name=folder", f"data.path={data}", "data.channels=3"], f"folder:{Path(data).name}"
    raise GankitError(f"--data {data}: expected a dataset name ({', '.join(sorted(SOURCES.keys()))}) or an existing image folder")


def parse_epochs(text: str) -> list[float]:
    try:
        eps = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        eps = []
    if not eps or any(e <= 0 for e in eps):
        raise GankitError(f"--epochs {text}: expected a comma list of positive numbers, e.g. 5,10,20")
    return eps


def cmd_norm(args: argparse.Namespace) -> int:
    from gankit.config import load_config
    from gankit.studies.norm import run_norm_study

    ov, name = data_overrides(args.data, args.root)
    cfg = load_config(args.preset, ov + list(args.overrides))
    res = run_norm_study(cfg, parse_epochs(args.epochs), args.seeds, args.out, args.n_samples, args.n_ref,
                         args.feature_net, name, args.grid, args.kid_subsets,
                         [v.strip() for v in args.variants.split(",") if v.strip()])
    if not res["feature_net"]["standard"]:
        print("NOTE: random stand-in feature net: the scores below are NOT the standard FID/KID")
    for v, per in res["summary"].items():
        cells = ", ".join(f"e{e}: FID {d['fid'][0]:.2f}" for e, d in per.items())
        print(f"{v:10s} {cells}")
    print(f"report: {args.out}/norm_study.md  figures: {args.out}/norm_study_samples.png, {args.out}/norm_study_fid.png")
    return 0


def _add_modes(ss) -> None:
    m = ss.add_parser("modes", help="mode coverage of GAN methods on 2-D mixtures or stacked Fashion-MNIST",
                      description="Train each method (non-saturating GAN, unrolled k=5/10, WGAN-GP, SN+hinge, ...) "
                                  "for the same number of G steps and count the modes it covers; writes a Markdown/"
                                  "JSON report with mean ± std over seeds and a figure. See docs/mode_collapse.md.")
    m.add_argument("overrides", nargs="*", metavar="key=value", help="overrides of the benchmark preset (all methods)")
    m.add_argument("--benchmark", required=True, help="ring8 | grid25 | stacked")
    m.add_argument("--methods", help="comma list of methods (default: gan,unrolled5,unrolled10,wgan_gp,sn_hinge; "
                                     "the list is gankit.studies.modes.METHODS)")
    m.add_argument("--seeds", type=int, default=3, help="training seeds per method (default 3; mean ± std)")
    m.add_argument("--steps", type=int, help="G steps of every run (default: 1000 for ring8/grid25, 2000 for stacked)")
    m.add_argument("--evals", type=int, help="evaluations per run, evenly spaced (default 5; stacked 3)")
    m.add_argument("--n-eval", type=int, help="samples per evaluation (default 2500; stacked 26000)")
    m.add_argument("--classifier-steps", type=int, default=2000, help="stacked: training steps of the channel classifier")
    m.add_argument("--out", help="study folder (default runs/modes_<benchmark>)")
    m.add_argument("--max-time", default="", help="wall-clock budget of the whole study (3h50m, 90m, seconds); "
                                                   "running the same command again continues it")
    m.set_defaults(func=cmd_modes)


def cmd_modes(args: argparse.Namespace) -> int:
    from gankit.config import parse_duration
    from gankit.studies.modes import run_modes_study

    if args.classifier_steps < 1:
        raise GankitError(f"--classifier-steps {args.classifier_steps}: expected an integer >= 1")
    parse_duration(args.max_time, "--max-time")
    methods = None
    if args.methods is not None:
        methods = [x.strip() for x in args.methods.split(",") if x.strip()]
        if not methods:
            raise GankitError(f"--methods {args.methods!r}: expected a comma list of methods")
    res = run_modes_study(args.benchmark, methods, args.seeds, args.steps, args.out, list(args.overrides),
                          args.n_eval, args.evals, args.max_time, args.classifier_steps)
    last = str(res["eval_steps"][-1])
    for meth, per in res["summary"].items():
        s = per[last]
        hq = f", high quality {100 * s['hq'][0]:.1f}%" if "hq" in s and s["hq"][0] is not None else ""
        modes = "n/a" if s["modes"][0] is None else f"{s['modes'][0]:.1f}"
        print(f"{meth:11s} modes {modes} / {res['protocol']['n_modes']}{hq}")
    out = args.out or f"runs/modes_{args.benchmark}"
    print(f"report: {out}/modes_{args.benchmark}.md  figure: {out}/{res.get('figure', '(none)')}")
    return 0
