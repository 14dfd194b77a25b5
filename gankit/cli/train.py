"""``gankit train``, ``gankit sample``, ``gankit presets``."""

from __future__ import annotations

import argparse
import os
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
    s.add_argument("--class", dest="cls", metavar="CLASS",
                   help="conditional models: generate only this class, by index (0, 1, ...) or name (e.g. Dress)")
    s.add_argument("--traverse", type=int, nargs="?", const=-1, metavar="CODE",
                   help="InfoGAN runs: write a code traversal to --out FILE.png instead (rows = categories, columns = "
                        "continuous code CODE swept from -2 to 2, noise from --seed; default: every code)")
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
    from gankit.train.distributed import env_world
    from gankit.train.state import latest_checkpoint
    from gankit.train.trainer import train

    overrides = list(args.overrides)
    if args.steps is not None:
        overrides.append(f"train.steps={args.steps}")
    cfg = load_config(args.config, overrides)
    rank, world, _ = env_world()
    if world > 1 and not args.out:  # a default name holds the time: ranks could pick different ones
        raise GankitError(f"--out: under torchrun ({world} processes) give the run directory, the same for every rank")
    say = print if rank == 0 else (lambda *a, **k: None)  # one copy of each message, not one per rank
    out = Path(args.out) if args.out else _default_out(cfg.preset or "run", args.resume)
    check_out_path(out, "--out" if args.out else "run directory", "dir")
    say(f"run directory: {out}")
    resume = args.resume or (args.auto_resume and latest_checkpoint(out) is not None)
    state = train(cfg, out, resume=resume)
    ck = state.last_checkpoint
    if state.stopped:
        steps = ["--steps", str(args.steps)] if args.steps is not None else []
        again = " ".join(shlex.quote(a) for a in [args.config, *args.overrides, *steps, "--out", str(out), "--resume"])
        why = "the time budget (train.max_time) ran out" if state.stopped_by_budget else "stopped by a signal"
        launcher = f"torchrun --nproc_per_node={world} -m gankit train" if world > 1 else "gankit train"
        say(f"{why} at step {state.step}; checkpoint {ck}; continue with: {launcher} {again}")
        return 124 if state.stopped_by_budget else 130
    say(f"done: step {state.step}; checkpoint {ck}; samples {out / 'samples' / 'latest.png'}")
    return 0


def check_out_path(path: Path, what: str, kind: str) -> None:
    """Fail early, in one line, when ``path`` cannot become a ``kind`` ("dir" or "file"): it
    exists as the other kind (or as a broken symlink), or its nearest existing parent is a file
    or not writable. ``what`` names the option (e.g. ``--out``)."""
    if path.is_symlink() and not path.exists():
        raise GankitError(f"{what} {path}: is a broken symbolic link (to '{os.readlink(path)}'); remove it or choose another path")
    if path.exists():
        if kind == "dir" and not path.is_dir():
            raise GankitError(f"{what} {path}: is an existing file, not a folder; choose another path")
        if kind == "file" and path.is_dir():
            raise GankitError(f"{what} {path}: is an existing folder; give a file name (e.g. {path / 'grid.png'}) "
                              "or a folder name without an image suffix")
        writable = path if kind == "dir" else path.parent
        if not os.access(writable, os.W_OK):
            raise GankitError(f"{what} {path}: '{writable}' is not writable")
        return
    for parent in path.parents:
        if parent.is_dir():
            if not os.access(parent, os.W_OK | os.X_OK):
                raise GankitError(f"{what} {path}: cannot create it, '{parent}' is not writable")
            return
        if parent.exists() or parent.is_symlink():
            raise GankitError(f"{what} {path}: '{parent}' is {'a file' if parent.exists() else 'a broken symbolic link'}, "
                              "not a folder; choose another path")


def class_index(run, text: str, n_classes: int) -> int:
    """``--class`` as given (an index, or a class name of the run's data, matched exactly) ->
    the class index; anything else is a one-line GankitError listing the valid names."""
    try:
        index = int(text)
    except ValueError:
        index = None
    if index is not None:
        if not 0 <= index < n_classes:
            raise GankitError(f"--class {text}: expected a class index 0..{n_classes - 1} or a class name")
        return index
    try:
        names = getattr(run.source(), "class_names", None)
    except GankitError as e:
        from gankit.cli.main import one_line

        raise GankitError(f"--class {text}: class names come from the run's data, which cannot be loaded "
                          f"({one_line(e)}); pass the class index 0..{n_classes - 1}") from None
    names = [str(n) for n in names or []]
    if len(names) != n_classes:
        raise GankitError(f"--class {text}: the run's data does not name its {n_classes} classes; "
                          f"pass the class index 0..{n_classes - 1}")
    if text in names:
        return names.index(text)
    from gankit.registry import did_you_mean

    raise GankitError(f"--class {text}: not a class of this run{did_you_mean(text, names)}; "
                      f"classes: {', '.join(f'{i}={n}' for i, n in enumerate(names))}")


def _save_image(imgs, out: Path, **kw) -> None:
    from torchvision.utils import save_image

    try:
        save_image(imgs, out, **kw)
    except OSError as e:
        raise GankitError(f"--out {out}: cannot write ({e.strerror or type(e).__name__})") from None


def _mkdir(path: Path) -> None:
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GankitError(f"--out: cannot create folder {path} ({e.strerror or type(e).__name__})") from None


def cmd_sample(args: argparse.Namespace) -> int:
    """Noise generators: n seeded samples (``--class`` for conditional runs); editors: a grid
    of single-attribute edits of held-out images (``--n`` rows, 16 at most)."""
    import torch

    from gankit.data.images import IMAGE_EXTS
    from gankit.models.contracts import is_kind
    from gankit.pipelines import load_run
    from gankit.recipes.base import grid_cols

    if args.n < 1:
        raise GankitError(f"--n {args.n}: expected at least 1")
    out = Path(args.out)
    grid = out.suffix.lower() in IMAGE_EXTS  # FILE.png: one grid; otherwise a folder
    check_out_path(out, "--out", "file" if grid else "dir")
    run = load_run(args.run, args.device, ema=not args.no_ema)
    if args.traverse is not None:
        return _traverse(run, args, out, grid)
    if run.kind == "image_to_image":
        if args.cls is not None:
            raise GankitError("--class: this run is an image-to-image editor; it has no classes")
        imgs, nrow = run.preview(args.n, args.seed)
        if not grid:
            out = out / "edits.png"
            check_out_path(out, "--out", "file")
        _mkdir(out.parent)
        _save_image(imgs, out, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
        print(f"wrote an edit grid of {len(imgs) // nrow} held-out images x {nrow} columns ({run.weights}) to {out}")
        return 0
    c = None
    if is_kind(run.net, "conditional"):
        nc = run.net.n_classes
        cls = class_index(run, str(args.cls), nc) if args.cls is not None else None
        c = torch.full((args.n,), cls) if cls is not None else torch.arange(args.n) % nc
    elif args.cls is not None:
        raise GankitError(f"--class {args.cls}: this run is unconditional (trained without data.labels)")
    imgs = run.sample(args.n, args.seed, c=c)
    if grid:
        _mkdir(out.parent)
        _save_image(imgs, out, nrow=grid_cols(args.n), normalize=True, value_range=(-1, 1), padding=2)
    else:
        _mkdir(out)
        for i, img in enumerate(imgs):
            _save_image(img, out / f"{i:06d}.png", normalize=True, value_range=(-1, 1))
    print(f"wrote {args.n} samples ({run.weights}) to {out}")
    return 0


def _traverse(run, args: argparse.Namespace, out: Path, grid: bool) -> int:
    """``gankit sample RUN --traverse [CODE] --out FILE.png``: an InfoGAN traversal grid."""
    import torch

    from gankit.recipes.infogan import InfoGANRecipe

    if not isinstance(run.recipe, InfoGANRecipe):
        raise GankitError(f"--traverse: {args.run} is a '{run.cfg.recipe.name}' run; traversals need an InfoGAN run "
                          "(recipe infogan)")
    if not grid:
        raise GankitError(f"--traverse: --out {out} must be an image file (e.g. traversal.png)")
    if args.cls is not None:
        raise GankitError("--class: an InfoGAN run has no classes (its categories are the traversal's rows)")
    g = run.net
    codes = range(max(1, g.n_cont)) if args.traverse == -1 else [args.traverse]
    if g.n_cont and not all(0 <= c < g.n_cont for c in codes):
        raise GankitError(f"--traverse {args.traverse}: this run has {g.n_cont} continuous code(s) (0..{g.n_cont - 1})")
    noise = torch.randn(g.noise_dim, generator=torch.Generator().manual_seed(args.seed))
    with run.recipe.sampling() as r:
        parts = [r.traversal(noise, c) for c in codes]
    imgs, nrow = torch.cat([p[0] for p in parts]), parts[0][1]
    _mkdir(out.parent)
    _save_image(imgs, out, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
    print(f"wrote a traversal of {len(imgs) // nrow} rows x {nrow} columns ({run.weights}) to {out}")
    return 0


def cmd_presets(args: argparse.Namespace) -> int:
    from gankit.config import PRESET_DIR, preset_names, read_yaml

    for name in preset_names():
        desc = read_yaml(PRESET_DIR / f"{name}.yaml").get("description", "")
        print(f"{name:20s} {desc}")
    return 0
