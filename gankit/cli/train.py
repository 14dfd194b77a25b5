"""``gankit train``, ``gankit sample``, ``gankit presets``."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gankit.errors import GankitError


def add_parsers(sub) -> None:
    p = sub.add_parser("train", help="train a preset or YAML config", description="Train PRESET_OR_YAML with key=value overrides.")
    p.add_argument("config", metavar="PRESET_OR_YAML")
    p.add_argument("overrides", nargs="*", metavar="key=value", help="dotted overrides, e.g. train.batch_size=128 data.path=DIR")
    p.add_argument("--out", help="run directory (default: runs/<preset>-<time>; with --resume: the newest run of the preset)")
    p.add_argument("--steps", type=int, help="total steps of the run (a larger value with --resume continues training)")
    p.add_argument("--resume", action="store_true", help="continue from the latest checkpoint in --out")
    p.add_argument("--auto-resume", action="store_true",
                   help="continue when --out holds a checkpoint, else start (for job scripts that rerun one command)")
    p.set_defaults(func=cmd_train)

    s = sub.add_parser("sample", help="write samples from a run directory or checkpoint")
    s.add_argument("run", metavar="RUN_DIR_OR_CKPT")
    s.add_argument("--n", type=int, default=64, help="number of images (default 64)")
    s.add_argument("--out", required=True, help="FILE.png for one grid, or a DIR for one PNG per image")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--no-ema", action="store_true", help="use the raw generator, not its EMA")
    s.add_argument("--class", dest="cls", type=int, help="conditional models: generate only this class")
    s.add_argument("--device", default="auto")
    s.set_defaults(func=cmd_sample)

    q = sub.add_parser("presets", help="list the built-in presets")
    q.set_defaults(func=cmd_presets)


def _default_out(preset: str, resume: bool) -> Path:
    runs = Path("runs")
    if resume:
        cands = sorted(runs.glob(f"{preset}-*"), key=lambda p: p.stat().st_mtime)
        if not cands:
            raise GankitError(f"--resume: no run of '{preset}' under {runs}/; pass --out RUN_DIR")
        return cands[-1]
    return runs / f"{preset}-{time.strftime('%Y%m%d-%H%M%S')}"


def cmd_train(args: argparse.Namespace) -> int:
    import shlex

    from gankit.config import load_config
    from gankit.train.state import latest_checkpoint
    from gankit.train.trainer import train

    overrides = list(args.overrides)
    if args.steps is not None:
        overrides.append(f"train.steps={args.steps}")
    cfg = load_config(args.config, overrides)
    out = Path(args.out) if args.out else _default_out(cfg.preset or "run", args.resume)
    print(f"run directory: {out}")
    resume = args.resume or (args.auto_resume and latest_checkpoint(out) is not None)
    state = train(cfg, out, resume=resume)
    ck = state.last_checkpoint
    if state.stopped:
        steps = ["--steps", str(args.steps)] if args.steps is not None else []
        again = " ".join(shlex.quote(a) for a in [args.config, *args.overrides, *steps, "--out", str(out), "--resume"])
        why = "the time budget (train.max_time) ran out" if state.stopped_by_budget else "stopped by a signal"
        print(f"{why} at step {state.step}; checkpoint {ck}; continue with: gankit train {again}")
        return 124 if state.stopped_by_budget else 130
    print(f"done: step {state.step}; checkpoint {ck}; samples {out / 'samples' / 'latest.png'}")
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """Noise generators: n seeded samples (``--class`` for conditional runs); editors: a grid
    of single-attribute edits of held-out images (``--n`` rows, 16 at most)."""
    import torch
    from torchvision.utils import save_image

    from gankit.models.contracts import is_kind
    from gankit.pipelines import load_run
    from gankit.recipes.base import grid_cols

    if args.n < 1:
        raise GankitError(f"--n {args.n}: expected at least 1")
    run = load_run(args.run, args.device, ema=not args.no_ema)
    out = Path(args.out)
    if run.kind == "image_to_image":
        if args.cls is not None:
            raise GankitError("--class: this run is an image-to-image editor; it has no classes")
        imgs, nrow = run.preview(args.n, args.seed)
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp"):
            out = out / "edits.png"
            out.parent.mkdir(parents=True, exist_ok=True)
        save_image(imgs, out, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
        print(f"wrote an edit grid of {len(imgs) // nrow} held-out images x {nrow} columns ({run.weights}) to {out}")
        return 0
    c = None
    if is_kind(run.net, "conditional"):
        nc = run.net.n_classes
        if args.cls is not None and not 0 <= args.cls < nc:
            raise GankitError(f"--class {args.cls}: expected 0..{nc - 1}")
        c = torch.full((args.n,), args.cls) if args.cls is not None else torch.arange(args.n) % nc
    elif args.cls is not None:
        raise GankitError(f"--class {args.cls}: this run is unconditional (trained without data.labels)")
    imgs = run.sample(args.n, args.seed, c=c)
    if out.suffix.lower() in (".png", ".jpg", ".jpeg", ".webp"):
        out.parent.mkdir(parents=True, exist_ok=True)
        save_image(imgs, out, nrow=grid_cols(args.n), normalize=True, value_range=(-1, 1), padding=2)
    else:
        out.mkdir(parents=True, exist_ok=True)
        for i, img in enumerate(imgs):
            save_image(img, out / f"{i:06d}.png", normalize=True, value_range=(-1, 1))
    print(f"wrote {args.n} samples ({run.weights}) to {out}")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from gankit.config import PRESET_DIR, preset_names, read_yaml

    for name in preset_names():
        desc = read_yaml(PRESET_DIR / f"{name}.yaml").get("description", "")
        print(f"{name:20s} {desc}")
    return 0
