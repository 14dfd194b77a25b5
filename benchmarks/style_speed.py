"""Images/s of style-GAN training through the real Trainer (G + D steps, lazy R1, lazy path
length, style mixing, augmentation at p = 0.5 on reals and fakes), at 64² and 128².

Reference: StyleGAN2-ADA reports about 75 images/s at 128² on one V100 (its README).
Numbers count real images shown to D per second (batch × G steps / s, n_critic = 1).

    python benchmarks/style_speed.py                       # GPU: 64 and 128, fp32 and bf16
    python benchmarks/style_speed.py --cpu-small           # CPU smoke run at reduced size
    python benchmarks/style_speed.py --json out.json --amp bf16 --resolutions 128
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit.config import load_config  # noqa: E402
from gankit.train.trainer import Trainer  # noqa: E402


def bench(resolution: int, batch: int, steps: int, warmup: int, amp: str, device: str, small: bool) -> dict:
    """Train ``warmup + steps`` steps of the style_emoji preset on synthetic data; time the last ``steps``."""
    ov = [f"data.resolution={resolution}", "data.name=synthetic", "data.channels=3", f"data.limit={max(4 * batch, 64)}",
          "data.num_workers=0", "data.hflip=false", f"train.batch_size={batch}", f"train.steps={warmup + steps}",
          "train.sample_every=0", "train.ckpt_every=0", f"train.log_every={warmup + steps}", "train.progress=false",
          f"train.device={device}", f"train.amp={amp}", "recipe.kwargs.augment=diff", "recipe.kwargs.aug_p=0.5"]
    if small:
        ov += ["model.generator.width=8", "model.discriminator.width=8", "model.generator.max_channels=32",
               "model.discriminator.max_channels=32", "model.generator.w_dim=32", "model.z_dim=32"]
    cfg = load_config("style_emoji64", ov)
    marks: dict[int, float] = {}

    def clock(tr: Trainer, step: int) -> None:
        if step in (warmup, warmup + steps):
            if tr.device.type == "cuda":
                torch.cuda.synchronize(tr.device)
            marks[step] = time.perf_counter()

    with tempfile.TemporaryDirectory() as tmp:
        tr = Trainer(cfg, Path(tmp) / "run", callbacks=[clock])
        n_g = sum(p.numel() for p in tr.nets["G"].parameters())
        n_d = sum(p.numel() for p in tr.nets["D"].parameters())
        tr.fit()
    dt = marks[warmup + steps] - marks[warmup]
    return {"resolution": resolution, "batch": batch, "amp": amp, "device": str(tr.device), "steps": steps,
            "seconds": dt, "images_per_s": batch * steps / dt, "params_G": n_g, "params_D": n_d,
            "peak_mem_gb": torch.cuda.max_memory_allocated() / 2**30 if tr.device.type == "cuda" else None}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--resolutions", default="64,128")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--steps", type=int, default=40, help="timed steps (after --warmup)")
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--amp", default="none,bf16", help="comma list of none | bf16 (bf16 only on CUDA)")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--cpu-small", action="store_true", help="CPU smoke run: 16/32 px, narrow nets, batch 4, 3 steps")
    ap.add_argument("--json", help="also write the results here")
    a = ap.parse_args(argv)
    if a.cpu_small:
        a.resolutions, a.batch, a.steps, a.warmup, a.amp, a.device = "16,32", 4, 3, 1, "none", "cpu"
    rows = []
    for amp in a.amp.split(","):
        if amp == "bf16" and not torch.cuda.is_available():
            print("skipping bf16: no CUDA device")
            continue
        for r in (int(x) for x in a.resolutions.split(",")):
            row = bench(r, a.batch, a.steps, a.warmup, amp, a.device, a.cpu_small)
            rows.append(row)
            print(f"{r:4d}px batch {a.batch:3d} amp={amp:4s} {row['device']:6s}: {row['images_per_s']:8.1f} img/s "
                  f"(G {row['params_G'] / 1e6:.2f}M, D {row['params_D'] / 1e6:.2f}M params)", flush=True)
    print("reference: StyleGAN2-ADA ~75 img/s at 128x128 on one V100 (its README)")
    if a.json:
        Path(a.json).write_text(json.dumps({"rows": rows, "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
                                            "torch": torch.__version__}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
