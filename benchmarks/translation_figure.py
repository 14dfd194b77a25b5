"""Figure of translation runs on unseen test emoji: one row per run between the input style and
the true drawing in the target style, plus each run's L1 / SSIM on the whole test split.

Rows: input (style A), one row per run (A -> B), truth (style B); columns: ``--n`` test emoji
evenly spaced over the test split (unseen in training: the split is by base emoji).

    python benchmarks/translation_figure.py runs/p2p runs/cyc --out docs/img/translation.png
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit.data.transforms import to_float  # noqa: E402
from gankit.pipelines import load_run  # noqa: E402
from gankit.pipelines.translation import counterpart_source, score_translation, translate  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", help="pix2pix / CycleGAN run folders (same data and resolution)")
    ap.add_argument("--out", required=True, help="output PNG")
    ap.add_argument("--n", type=int, default=10, help="test emoji (columns)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--zoom", type=int, default=2, help="nearest-neighbour upscaling of the figure")
    a = ap.parse_args(argv)
    from torchvision.utils import make_grid, save_image

    runs = [load_run(r, "cpu") for r in a.runs]
    src = counterpart_source(runs[0].cfg, a.split)
    idx = (torch.arange(a.n) * len(src)) // a.n
    x, y = to_float(src.a_images[idx]), to_float(src.b_images[idx])
    rows = [x] + [translate(r, x, "a2b") for r in runs] + [y]
    grid = make_grid(torch.cat(rows), nrow=a.n, normalize=True, value_range=(-1, 1), padding=2, pad_value=1.0)
    if a.zoom > 1:
        grid = torch.nn.functional.interpolate(grid[None], scale_factor=a.zoom, mode="nearest")[0]
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    save_image(grid, a.out)
    report = []
    for path, r in zip(a.runs, runs):
        s = score_translation(r, a.split)
        report.append({"run": path, **s})
        print(f"{path}: {s['recipe']} step {s['step']}: L1 {s['l1']:.4f} (do-nothing {s['baseline_l1']:.4f}), "
              f"SSIM {s['ssim']:.4f} (do-nothing {s['baseline_ssim']:.4f}) on {s['pairs']} {a.split} pairs")
    print(f"wrote {a.out}: rows input, {', '.join(r.cfg.recipe.name for r in runs)}, truth; keys "
          f"{', '.join(src.keys[i] for i in idx.tolist())}")
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
