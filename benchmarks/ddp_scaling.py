"""Data-parallel throughput (issue 15): images/s of one process against torchrun with N ranks.

Each measurement trains a preset with the real trainer (``Trainer.time_steps``: the real
step with logging every 50 steps, no checkpoints or grids) at the same *global* batch:

  1 process, T threads           the baseline
  N ranks (torchrun, gloo/NCCL)  ``--ddp grads`` (one all_reduce per phase, the default) and
                                 ``--ddp wrapper`` (DistributedDataParallel per network)

On the CPU the comparison is fair only with the same cores: 1 process x N threads against N
ranks x 1 thread (``--threads``). On a one-GPU machine ``--nproc 1`` measures the cost of the
distributed code path itself (a one-rank process group, every collective still issued): a
single GPU cannot show scaling.

  python benchmarks/ddp_scaling.py --preset dcgan_fashion --batch 64 --steps 60 --nproc 2 --threads 2
  python benchmarks/ddp_scaling.py --preset style_fashion32 --batch 32 --steps 30 --nproc 2 --threads 2 \\
      --set model.generator.width=32

Prints one line per setting and a JSON summary (``--json FILE`` also writes it).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def measure(preset: str, batch: int, steps: int, warmup: int, extra: list[str]) -> dict:
    """Run in this process (under torchrun: in every rank); rank 0 returns the figures."""
    import torch

    from gankit.config import load_config
    from gankit.train.trainer import Trainer

    over = [f"train.batch_size={batch}", "train.progress=false", "train.sample_every=0", "train.ckpt_every=0",
            "train.collapse_every=0", "train.fid_every=0", "train.ckpt_minutes=0", *extra]
    cfg = load_config(preset, over)
    with tempfile.TemporaryDirectory() as tmp:
        rank = int(os.environ.get("RANK", 0))
        out = Path(os.environ.get("DDP_BENCH_DIR", tmp)) / "run"
        tr = Trainer(cfg, out)
        secs = tr.time_steps(steps, warmup=warmup)
        world = tr.dist.world
    return {"world": world, "threads": torch.get_num_threads(), "ddp": cfg.train.ddp, "device": str(tr.device),
            "steps": steps, "seconds": round(secs, 3), "it_s": round(steps / secs, 3),
            "img_s": round(steps * batch / secs, 1), "rank": rank}


def worker(args) -> None:
    import torch

    torch.set_num_threads(args.threads)
    res = measure(args.preset, args.batch, args.steps, args.warmup, args.set)
    if res["rank"] == 0:
        Path(args.result).write_text(json.dumps(res))


def launch(args, nproc: int, threads: int, ddp: str) -> dict:
    """Start ``nproc`` ranks with torchrun (each ``threads`` threads) and read rank 0's result."""
    with tempfile.TemporaryDirectory() as tmp:
        result = Path(tmp) / "result.json"
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "DDP_BENCH_DIR": tmp}
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", __file__,
               "--worker", "--result", str(result), "--preset", args.preset, "--batch", str(args.batch),
               "--steps", str(args.steps), "--warmup", str(args.warmup), "--threads", str(threads),
               "--set", *args.set, f"train.ddp={ddp}"]
        t0 = time.monotonic()
        res = subprocess.run(cmd, env=env, capture_output=True, text=True)
        if res.returncode:
            sys.exit(f"torchrun failed ({res.returncode}):\n{res.stderr[-3000:]}")
        out = json.loads(result.read_text())
        out["launch_s"] = round(time.monotonic() - t0, 1)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--preset", default="dcgan_fashion")
    ap.add_argument("--batch", type=int, default=64, help="the global batch (train.batch_size)")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--nproc", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2, help="threads of the one-process baseline; ranks get threads/nproc")
    ap.add_argument("--set", nargs="*", default=[], help="config overrides key=value")
    ap.add_argument("--json", help="also write the summary here")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--result", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        return worker(args)
    rows = []
    import torch

    torch.set_num_threads(args.threads)
    base = measure(args.preset, args.batch, args.steps, args.warmup, args.set)  # plain: no process group
    base["ddp"] = "none"
    rows.append(base)
    per = max(1, args.threads // args.nproc)
    if per != args.threads and args.nproc > 1:  # one rank's share of the cores, alone
        torch.set_num_threads(per)
        one = measure(args.preset, args.batch, args.steps, args.warmup, args.set)
        one["ddp"] = "none"
        rows.append(one)
    for mode in ("grads", "wrapper"):
        rows.append(launch(args, args.nproc, per, mode))
    print(f"{args.preset}, global batch {args.batch}, {args.steps} timed steps after {args.warmup}")
    for r in rows:
        speed = r["img_s"] / rows[0]["img_s"]
        print(f"  {r['world']} process(es) x {r['threads']} thread(s), ddp={r['ddp']:<7} {r['device']:<6} "
              f"{r['img_s']:8.1f} img/s  ({speed:.2f}x)")
    summary = {"preset": args.preset, "batch": args.batch, "set": args.set, "rows": rows}
    print(json.dumps(summary))
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
