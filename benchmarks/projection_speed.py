"""Wall time of projection (gankit project) at 128²: 1000 steps, Inception perceptual loss.

A random StyleGenerator with the docs/style.md defaults (128², w_dim 256, 8 mapping layers,
~4.8 M parameters) projects one of its own images; the time excludes the one-off set-up (model
copy, w statistics, target features) by timing two runs of different lengths and reporting
both the total and the per-step slope. For scale: StyleGAN 2's projector (1000 steps, VGG16
LPIPS at 256², 1024² generator) takes about 1-2 minutes on a V100.

    python benchmarks/projection_speed.py --device cuda --out proj_speed.json
    python benchmarks/projection_speed.py --small            # CPU: 32², tiny G, tiny features
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit.editing.projection import build_perceptual, project  # noqa: E402
from gankit.models.style import StyleGenerator  # noqa: E402


def timed(G, target, steps: int, perceptual, device, space: str) -> tuple[float, list[float]]:
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    t = time.perf_counter()
    res = project(G, target, space=space, steps=steps, perceptual=perceptual, device=device,
                  generator=torch.Generator().manual_seed(0))
    if str(device).startswith("cuda"):
        torch.cuda.synchronize()
    return time.perf_counter() - t, res.distances


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description="projection speed")
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--resolution", type=int, default=128)
    p.add_argument("--steps", type=int, default=1000)
    p.add_argument("--space", choices=("w", "w+"), default="w")
    p.add_argument("--perceptual", default="inception")
    p.add_argument("--small", action="store_true", help="CPU smoke size: 32², widths 8, 50 steps, tiny features")
    p.add_argument("--out", default=None, help="write the numbers as JSON")
    args = p.parse_args(argv)
    if args.small:
        args.resolution, args.steps, args.perceptual = 32, 50, "tiny"
        G = StyleGenerator(32, 3, 64, w_dim=64, mapping_layers=4, width=8, max_channels=32)
    else:
        G = StyleGenerator(args.resolution, 3, 256)
    torch.manual_seed(0)
    G = G.eval().requires_grad_(False).to(args.device)
    with torch.no_grad():
        target = G(torch.randn(1, G.z_dim, device=args.device), noise_mode="none")[0].cpu()
    perc = build_perceptual(args.perceptual, args.device)
    timed(G, target, 5, perc, args.device, args.space)  # warm-up (kernels, cudnn autotune)
    short = max(args.steps // 10, 1)
    t_short, _ = timed(G, target, short, perc, args.device, args.space)
    t_full, dist = timed(G, target, args.steps, perc, args.device, args.space)
    per_step = (t_full - t_short) / max(args.steps - short, 1)
    name = torch.cuda.get_device_name(args.device) if str(args.device).startswith("cuda") else "cpu"
    out = {"device": name, "resolution": args.resolution, "steps": args.steps, "space": args.space,
           "perceptual": args.perceptual, "seconds_total": round(t_full, 2), "ms_per_step": round(1000 * per_step, 2),
           "setup_seconds": round(t_full - per_step * args.steps, 2), "steps_per_s": round(1 / per_step, 1),
           "distance_first_last": [round(dist[0], 4), round(dist[-1], 4)], "torch": torch.__version__}
    print(json.dumps(out, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
