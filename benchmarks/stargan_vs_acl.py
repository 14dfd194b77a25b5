"""Training speed of gankit StarGAN vs gankit ACL-GAN through the real Trainer, one run.

GPU (the issue's setting):  python benchmarks/stargan_vs_acl.py              # 128x128, batch 16
CPU smoke (reduced size; say so when quoting it):  python benchmarks/stargan_vs_acl.py --cpu-small

Both methods use their emoji presets (StarGAN: n_critic 5, WGAN-GP, two G passes per G step;
ACL-GAN: n_critic 1, LSGAN attribute loss, one G pass, mask + frame) at ``--res`` on an
in-memory random attribute dataset (5 attributes) resident on the device, so only the
training step is timed. Words used below:

  G step     one trainer step = n_critic D updates + one G update (the trainer's unit)
  iteration  the official StarGAN code's unit: ONE D update, with a G update every n_critic-th
             iteration, so StarGAN iterations/s = n_critic x G steps/s; for ACL-GAN
             (n_critic 1) an iteration is a G step.

Reference (issue 5): the official StarGAN code ran ~28 iterations/s on an H100 at 128^2,
batch 16; targets: gankit StarGAN >= 2x that, ACL-GAN time per iteration <= 0.6x StarGAN's.
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
from gankit.train.trainer import Trainer  # noqa: E402

OFFICIAL_STARGAN_ITERS = 28.0  # H100, torch 2.11, 128^2, batch 16 (issue 5)


class RandomAttributes(torch.utils.data.Dataset):
    """n random RGB uint8 images [3, R, R] with random 0/1 attribute vectors [5]."""

    target_kind, channels = "attributes", 3
    attr_names = ["A0", "A1", "A2", "A3", "A4"]

    def __init__(self, n: int, res: int, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        self.resolution, self.n_classes = res, 5
        self.images = torch.randint(0, 256, (n, 3, res, res), generator=g, dtype=torch.uint8)
        self.labels = (torch.rand(n, 5, generator=g) > 0.5).float()

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], self.labels[i]


def measure(preset: str, args) -> dict:
    """G steps/s of ``preset`` after ``warmup`` steps (logging flush every 50 steps, as trained)."""
    over = [f"data.resolution={args.res}", f"train.batch_size={args.batch}", "train.progress=false",
            "train.sample_every=0", "train.ckpt_every=0", "train.log_every=50", f"train.device={args.device}",
            "data.resident=true", "data.num_workers=0", *args.overrides]
    if args.bf16:
        over += ["train.amp=bf16", "train.channels_last=true"]
    if args.compile:
        over.append("train.compile=true")
    cfg = load_config(preset, over)
    source = RandomAttributes(max(256, args.batch * 8), args.res)
    with tempfile.TemporaryDirectory() as run:
        tr = Trainer(cfg, run, source=source)
        dt = tr.time_steps(args.steps, args.warmup)
        n_critic = cfg.optim.n_critic
    g_steps = args.steps / dt
    return {"preset": preset, "n_critic": n_critic, "g_steps_per_s": g_steps, "iterations_per_s": g_steps * n_critic,
            "ms_per_g_step": 1000 / g_steps, "ms_per_iteration": 1000 / (g_steps * n_critic),
            "compiled": tr.compiled_names}  # what survived the compile fallback


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--res", type=int, default=128)
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=100, help="timed G steps per method")
    p.add_argument("--warmup", type=int, default=20)
    p.add_argument("--device", default="auto")
    p.add_argument("--bf16", action="store_true", help="bf16 autocast + channels_last (CUDA)")
    p.add_argument("--compile", action="store_true", help="torch.compile G and D")
    p.add_argument("--cpu-small", action="store_true", help="CPU at reduced size: 32^2, widths 16, 3 steps")
    p.add_argument("--json", help="also write the results here")
    p.add_argument("overrides", nargs="*", help="extra config overrides for both presets")
    args = p.parse_args()
    if args.cpu_small:
        args.res, args.device, args.steps, args.warmup = 32, "cpu", 3, 1
        args.overrides += ["model.generator.width=16", "model.discriminator.width=16", "model.generator.n_res=2",
                           "model.discriminator.n_layers=4"]
    elif args.res != 64:
        args.overrides.append(f"model.discriminator.n_layers={max(1, args.res.bit_length() - 2)}")
    torch.backends.cudnn.benchmark = True
    cuda = torch.cuda.is_available() and args.device != "cpu"
    dev = torch.cuda.get_device_name() if cuda else "cpu"
    print(f"StarGAN vs ACL-GAN, {args.res}x{args.res}, batch {args.batch}, {dev}, torch {torch.__version__}, "
          f"{'bf16' if args.bf16 else 'fp32'}{', compiled' if args.compile else ''}; "
          f"{args.steps} timed G steps after {args.warmup}" + (" [CPU, REDUCED SIZE]" if args.cpu_small else ""))
    rows = [measure(p_, args) for p_ in ("stargan_emoji", "aclgan_emoji")]
    for r in rows:
        print(f"{r['preset']:<14} n_critic {r['n_critic']}: {r['g_steps_per_s']:8.2f} G steps/s "
              f"({r['ms_per_g_step']:7.1f} ms), {r['iterations_per_s']:8.2f} iterations/s ({r['ms_per_iteration']:7.1f} ms)"
              + (f"; compiled: {', '.join(r['compiled']) or 'nothing (eager fallback)'}" if args.compile else ""))
    s, a = rows
    ratio_g = a["ms_per_g_step"] / s["ms_per_g_step"]
    ratio_it = a["ms_per_iteration"] / s["ms_per_iteration"]
    print(f"ACL-GAN / StarGAN time per G step: {ratio_g:.3f}; per iteration: {ratio_it:.3f} (target <= 0.6)")
    if cuda:
        print(f"StarGAN iterations/s vs official {OFFICIAL_STARGAN_ITERS:.0f}/s (H100): "
              f"{s['iterations_per_s'] / OFFICIAL_STARGAN_ITERS:.2f}x (target >= 2x; compare on an H100 only)")
    if args.json:
        Path(args.json).write_text(json.dumps({"device": dev, "torch": torch.__version__, "res": args.res,
                                               "batch": args.batch, "bf16": args.bf16, "compile": args.compile,
                                               "rows": rows, "acl_over_stargan_per_g_step": ratio_g,
                                               "acl_over_stargan_per_iteration": ratio_it}, indent=1))


if __name__ == "__main__":
    main()
