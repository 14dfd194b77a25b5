"""DCGAN training throughput (images/s): end-to-end vs model-only, fp32 vs bf16+channels_last.

Run on the GPU:  python benchmarks/throughput.py [--res 64] [--batches 64,512] [--steps 200]
On a CPU it runs at a reduced size (say so when quoting its numbers): --res 32 --steps 10.

Modes (one D and one G step per iteration; images/s counts real images per G step):
  model-only      the trainer's step on one batch already on the device (no data path)
  resident        end to end with Fashion-MNIST decoded once into a uint8 tensor on the device
  disk            end to end from a folder of PNG files through DataLoader workers
Each mode runs the real Trainer (EMA, logging every 50 steps, loss bookkeeping) and times
``steps`` iterations after ``warmup`` with a device synchronisation at both ends.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit.config import load_config  # noqa: E402
from gankit.data.base import Batch  # noqa: E402
from gankit.train.trainer import Trainer  # noqa: E402


class _Fixed:
    """A stream that returns the same device-resident batch forever (model-only timing)."""

    def __init__(self, batch: Batch):
        self.batch, self.n_bad = batch, 0

    def __next__(self) -> Batch:
        return self.batch

    def state_dict(self):
        return {}


def write_png_folder(out: Path, n: int, res: int) -> Path:
    """Fashion-MNIST train images as PNG files (the disk path reads and decodes these)."""
    from PIL import Image

    from gankit.data.fashion_mnist import load_idx

    images, _ = load_idx(None, "train")
    out.mkdir(parents=True, exist_ok=True)
    for i in range(min(n, len(images))):
        Image.fromarray(images[i]).resize((res, res), Image.BICUBIC).save(out / f"{i:05d}.png")
    return out


def measure(mode: str, batch: int, precision: str, args, folder: Path | None) -> float:
    over = [f"data.resolution={args.res}", f"train.batch_size={batch}", "train.progress=false", "train.sample_every=0",
            "train.ckpt_every=0", "train.log_every=50", f"train.device={args.device}"]
    if precision == "bf16":
        over += ["train.amp=bf16", "train.channels_last=true"]
    if mode == "disk":
        over += [f"data.path={folder}", "data.resident=false", f"data.num_workers={args.workers}"]
    else:
        over += ["data.resident=true"]
        if args.limit:
            over.append(f"data.limit={args.limit}")
    cfg = load_config("dcgan_fashion", over)
    with tempfile.TemporaryDirectory() as run:
        tr = Trainer(cfg, run)
        if mode == "model-only":
            tr.stream = _Fixed(next(tr.stream))
        dt = tr.time_steps(args.steps, args.warmup)
    return args.steps * batch / dt


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--res", type=int, default=64)
    p.add_argument("--batches", default="64,512")
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--warmup", type=int, default=30)
    p.add_argument("--device", default="auto")
    p.add_argument("--workers", type=int, default=min(8, os.cpu_count() or 1))
    p.add_argument("--modes", default="model-only,resident,disk")
    p.add_argument("--precisions", default="fp32,bf16")
    p.add_argument("--png", type=int, default=20000, help="PNG files written for the disk mode")
    p.add_argument("--limit", type=int, default=0, help="use only N images in resident mode (0 = all)")
    p.add_argument("--json", help="also write the table as JSON here")
    args = p.parse_args()
    torch.backends.cudnn.benchmark = True
    modes = args.modes.split(",")
    folder = None
    tmp = tempfile.TemporaryDirectory()
    if "disk" in modes:
        folder = write_png_folder(Path(tmp.name) / "png", args.png, args.res)
    dev = torch.cuda.get_device_name() if torch.cuda.is_available() and args.device != "cpu" else "cpu"
    print(f"DCGAN {args.res}x{args.res}, {dev}, torch {torch.__version__}, {args.steps} timed steps after {args.warmup}")
    rows = []
    print(f"{'batch':>6} {'precision':>10} " + " ".join(f"{m:>12}" for m in modes) + "   e2e/model")
    for b in map(int, args.batches.split(",")):
        for prec in args.precisions.split(","):
            r = {m: measure(m, b, prec, args, folder) for m in modes}
            ratio = " ".join(f"{r[m] / r['model-only']:.2f}" for m in modes if m != "model-only") if "model-only" in r else ""
            print(f"{b:>6} {prec:>10} " + " ".join(f"{r[m]:>12,.0f}" for m in modes) + f"   {ratio}", flush=True)
            rows.append({"batch": b, "precision": prec, **r})
    if args.json:
        Path(args.json).write_text(json.dumps({"device": dev, "torch": torch.__version__, "res": args.res, "rows": rows}, indent=1))
    tmp.cleanup()


if __name__ == "__main__":
    main()
