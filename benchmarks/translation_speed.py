"""CycleGAN training iterations/s through the real Trainer (two ResNet generators with 9 blocks,
two 70x70 PatchGANs, LSGAN + cycle + identity, history pools), at the paper's 256² batch 1 and
at 128² batch 16, in float32 and bf16 autocast.

Reference: the repository publishes no iterations/s; its author puts horse2zebra's 200 epochs at
batch 1 (~1,334 iterations per epoch, ~267k iterations) at "1-2 days on a GTX 1080"
(junyanz/pytorch-CycleGAN-and-pix2pix issue #1549), i.e. roughly 1.5-3 it/s at 256².

    python benchmarks/translation_speed.py                      # GPU: 256x1 and 128x16, fp32 and bf16
    python benchmarks/translation_speed.py --cpu-small          # CPU at reduced size (64x1, 64x4), fp32
    python benchmarks/translation_speed.py --settings 256x1 --amp bf16 --json out.json
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit.config import load_config  # noqa: E402
from gankit.data.translation import UnpairedImages  # noqa: E402
from gankit.train.trainer import Trainer  # noqa: E402


def bench(resolution: int, batch: int, steps: int, warmup: int, amp: str, device: str, n_blocks: int,
          width: int) -> dict:
    """Train ``warmup + steps`` CycleGAN steps on random unpaired images; time the last ``steps``."""
    g = torch.Generator().manual_seed(0)
    n = max(2 * batch, 8)
    src = UnpairedImages(torch.randint(0, 256, (n, 3, resolution, resolution), generator=g, dtype=torch.uint8),
                         torch.randint(0, 256, (n, 3, resolution, resolution), generator=g, dtype=torch.uint8))
    ov = [f"data.resolution={resolution}", "data.num_workers=0", "data.hflip=false", "data.resident=true",
          f"train.batch_size={batch}", f"train.steps={warmup + steps}", "train.sample_every=0", "train.ckpt_every=0",
          "train.ckpt_minutes=0", f"train.log_every={warmup + steps}", "train.progress=false", f"train.device={device}",
          f"train.amp={amp}", f"model.generator.n_blocks={n_blocks}", f"model.generator.width={width}"]
    cfg = load_config("cyclegan_emoji", ov)
    with tempfile.TemporaryDirectory() as tmp:
        tr = Trainer(cfg, Path(tmp) / "run", source=src)
        n_g = sum(p.numel() for p in tr.nets["G"].parameters())
        n_d = sum(p.numel() for p in tr.nets["D_A"].parameters())
        dt = tr.time_steps(steps, warmup=warmup)  # the real step, device synchronised at both ends
    return {"resolution": resolution, "batch": batch, "amp": amp, "device": str(tr.device), "steps": steps,
            "seconds": dt, "it_per_s": steps / dt, "images_per_s": batch * steps / dt, "n_blocks": n_blocks,
            "width": width, "params_G": n_g, "params_D": n_d, "threads": torch.get_num_threads(),
            "peak_mem_gb": torch.cuda.max_memory_allocated() / 2**30 if tr.device.type == "cuda" else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--settings", default="256x1,128x16", help="comma list of RESOLUTIONxBATCH")
    ap.add_argument("--steps", type=int, default=50, help="timed steps (after --warmup)")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--amp", default="none,bf16", help="comma list of none | bf16 (bf16 only on CUDA)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--n-blocks", type=int, default=9, help="residual blocks per generator (9: the paper at 256²)")
    ap.add_argument("--width", type=int, default=64)
    ap.add_argument("--cpu-small", action="store_true", help="CPU at reduced size: 64x1 and 64x4, 6 blocks, fp32")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args(argv)
    if a.cpu_small:
        a.settings, a.amp, a.device, a.n_blocks = "64x1,64x4", "none", "cpu", 6
        a.steps, a.warmup = min(a.steps, 20), min(a.warmup, 3)
    rows = []
    for amp in a.amp.split(","):
        if amp == "bf16" and not torch.cuda.is_available():
            print("skipping bf16: no CUDA device (the trainer's bf16 autocast is CUDA only)")
            continue
        for s in a.settings.split(","):
            r, b = (int(v) for v in s.lower().split("x"))
            row = bench(r, b, a.steps, a.warmup, amp, a.device, a.n_blocks, a.width)
            rows.append(row)
            print(f"{r:4d}px batch {b:3d} amp={amp:4s} {row['device']:6s}: {row['it_per_s']:7.2f} it/s "
                  f"{row['images_per_s']:8.1f} img/s per domain (G {row['params_G'] / 1e6:.2f}M x2, "
                  f"D {row['params_D'] / 1e6:.2f}M x2; {row['n_blocks']} blocks; {row['threads']} CPU threads)", flush=True)
    if a.json:
        Path(a.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
