"""Seconds per training step of the unrolled GAN against k and the estimator.

    PYTHONPATH=. python benchmarks/unrolled_cost.py [--device cpu] [--threads 1]

Times whole steps (D phase + G phase) with ``Trainer.time_steps`` on ``unrolled_ring8`` (batch
512) and ``unrolled_fashion`` (DCGAN 32x32, batch 64, the first 2048 images) for k = 0, 5
(first and second order) and 10 (second order). Writes nothing but a scratch run folder.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile

import torch

CASES = [("unrolled_ring8", 0, "second", 30), ("unrolled_ring8", 5, "first", 30), ("unrolled_ring8", 5, "second", 30),
         ("unrolled_ring8", 10, "second", 20), ("unrolled_fashion", 0, "second", 6), ("unrolled_fashion", 5, "first", 4),
         ("unrolled_fashion", 5, "second", 4), ("unrolled_fashion", 10, "second", 2)]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    from gankit.config import load_config
    from gankit.train.trainer import Trainer

    base = ["train.progress=false", f"train.device={args.device}", "train.sample_every=0", "train.ckpt_every=0",
            "data.num_workers=0"]
    print("| preset | k | order | s/step |\n|---|---|---|---|")
    for preset, k, order, n in CASES:
        extra = ["data.limit=2048"] if preset == "unrolled_fashion" else []
        cfg = load_config(preset, base + extra + [f"recipe.kwargs.unroll_steps={k}", f"recipe.kwargs.unroll_order={order}"])
        out = tempfile.mkdtemp(prefix="unrolled_cost_")
        try:
            sec = Trainer(cfg, out).time_steps(n, warmup=2, log_every=1000) / n
        finally:
            shutil.rmtree(out, ignore_errors=True)
        print(f"| {preset} | {k} | {order} | {sec:.4f} |", flush=True)


if __name__ == "__main__":
    main()
