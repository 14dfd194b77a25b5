"""Seed 003's pet-aging story on the emoji people set: an "age" direction from older/younger
exemplar pairs, applied backwards to a projected unseen (test split) older emoji -> GIF.

    gankit data emoji --size 64 --out data/emoji64
    python benchmarks/aging_story.py --ckpt runs/style_emoji --data data/emoji64 --out runs/aging \
        --device cuda --steps 1000 --k 12
    python benchmarks/aging_story.py --tiny --out /tmp/aging      # smoke test: random tiny G, seconds

Exemplars: the *aligned* counterfactual pairs of the train split (counterfactuals.csv, factor
age, child <-> older: the same emoji kind and skin tone, only the age form changed) — seed 003
saw failures with one misaligned pair; k aligned pairs averaged are the fix. Without that file,
train images with Old = 1 vs Young = 1 are used. direction = mean(w_older) - mean(w_younger); the
unseen older emoji is moved by alpha in [0, -alpha_max] (aging backwards). When its true
younger counterfactual exists (test split), its pixel L1 to every frame is reported.
Writes OUT/{exemplars/*.npz, age_direction.safetensors, test_projection/, aging.gif,
aging.mp4 (if imageio-ffmpeg), aging_grid.png, summary.json}.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit.editing.media import save_projection  # noqa: E402
from gankit.pipelines import load_image, load_style_generator  # noqa: E402
from gankit.editing.directions import apply_direction, exemplar_direction, save_direction  # noqa: E402
from gankit.editing.media import image_grid, save_png, to_uint8, write_animation  # noqa: E402
from gankit.editing.projection import prepare_target, project, reconstruct  # noqa: E402
from gankit.errors import GankitError  # noqa: E402

YOUNG_FORMS = ("child", "baby")


def _rows(path: Path) -> list[dict]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def exemplar_pairs(root: Path, k: int) -> list[tuple[str, str]]:
    """Up to k (older, younger) file pairs from the train split, aligned pairs first."""
    cf = root / "counterfactuals.csv"
    pairs = []
    if cf.is_file():
        for r in _rows(cf):
            if r["split"] == "train" and r["factor"] == "age" and {r["from"], r["to"]} & {"older"} \
                    and {r["from"], r["to"]} & set(YOUNG_FORMS):
                old, young = (r["src"], r["dst"]) if r["from"] == "older" else (r["dst"], r["src"])
                pairs.append((old, young))
    if not pairs:  # no counterfactual index: unpaired sets by attribute
        rows = [r for r in _rows(root / "attributes.csv") if r.get("split", "train") == "train"]
        olds = sorted(r["file"] for r in rows if r.get("Old") == "1")
        youngs = sorted(r["file"] for r in rows if r.get("Young") == "1")
        pairs = list(zip(olds, youngs))
    if not pairs:
        raise GankitError(f"{root}: no older/younger train images (expected the emoji set's attributes.csv)")
    step = max(1, len(pairs) // k)  # spread over tones/genders rather than the first k
    return sorted(set(pairs))[::step][:k]


def test_subject(root: Path, name: str | None) -> tuple[str, str | None]:
    """(an unseen older test image, its younger counterfactual or None)."""
    if name:
        return name, None
    cf = root / "counterfactuals.csv"
    if cf.is_file():
        for r in sorted(_rows(cf), key=lambda r: (r["src"], r["dst"])):
            if r["split"] == "test" and r["factor"] == "age" and "older" in (r["from"], r["to"]) \
                    and ({r["from"], r["to"]} & set(YOUNG_FORMS)):
                return (r["src"], r["dst"]) if r["from"] == "older" else (r["dst"], r["src"])
    olds = sorted(r["file"] for r in _rows(root / "attributes.csv") if r.get("split") == "test" and r.get("Old") == "1")
    if not olds:
        raise GankitError(f"{root}/attributes.csv: no test image with Old = 1")
    return olds[0], None


def make_tiny(out: Path) -> tuple[Path, Path]:
    """A random tiny style checkpoint and a fake emoji-layout data root (for the smoke test)."""
    from gankit.models import GENERATORS, build_net
    from gankit.train.state import flatten_state, save_checkpoint
    from PIL import Image

    torch.manual_seed(0)
    G = build_net(GENERATORS, "model.generator", {"name": "style", "w_dim": 16, "mapping_layers": 2, "width": 8,
                                                  "max_channels": 16}, resolution=16, channels=3, z_dim=16)
    run = out / "tiny_run"
    save_checkpoint(run, 0, flatten_state({"G": G}), {"config": {}, "specs": {"G": G.gankit_spec}})
    root = out / "tiny_data"
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows, cfs, rng = [], [], np.random.default_rng(0)
    for i in range(6):
        for age in ("older", "child"):
            f = f"images/{age}_{i}.png"
            Image.fromarray(rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)).save(root / f)
            rows.append({"file": f, "split": "test" if i == 5 else "train", "Old": int(age == "older"), "Young": int(age == "child")})
        cfs.append({"src": f"images/child_{i}.png", "dst": f"images/older_{i}.png", "split": "test" if i == 5 else "train",
                    "factor": "age", "from": "child", "to": "older", "changed": "Young;Old"})
    for name, table in (("attributes.csv", rows), ("counterfactuals.csv", cfs)):
        with open(root / name, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(table[0]))
            w.writeheader()
            w.writerows(table)
    return run, root


def run(args) -> dict:
    out = Path(args.out)
    ckpt, root = (make_tiny(out) if args.tiny else (args.ckpt, Path(args.data)))
    if ckpt is None or root is None:
        raise GankitError("give --ckpt and --data (or --tiny)")
    G, _ = load_style_generator(str(ckpt), args.device)
    kw = dict(space=args.space, steps=args.steps, perceptual=args.perceptual, device=args.device,
              progress=not args.no_progress)
    t0 = time.time()

    def proj(rel: str, seed: int):
        return project(G, load_image(root / rel), generator=torch.Generator().manual_seed(seed), **kw)

    pairs = exemplar_pairs(root, args.k)
    olds, youngs = [], []
    for i, (o, y) in enumerate(pairs):
        for rel, bucket, tag in ((o, olds, "older"), (y, youngs, "younger")):
            res = proj(rel, i)
            bucket.append(res.ws)
            save_projection(out / "exemplars" / f"{tag}_{i:02d}", res, {"image": rel})
    direction = exemplar_direction(torch.stack(olds), torch.stack(youngs))
    save_direction(out / "age_direction.safetensors", direction, {"kind": "exemplars", "pairs": len(pairs)})

    subject, truth = test_subject(root, args.test_image)
    res = proj(subject, 1000)
    save_projection(out / "test_projection", res, {"image": subject})
    alphas = np.linspace(0.0, -args.alpha_max, args.frames).tolist()
    imgs = reconstruct(G, apply_direction(res.ws, direction, alphas), res.noises)
    frames = list(to_uint8(imgs))
    anim = [write_animation(out / "aging.gif", frames + frames[-2:0:-1], args.fps)]
    if args.mp4:
        anim.append(write_animation(out / "aging.mp4", frames + frames[-2:0:-1], args.fps))
    target = prepare_target(load_image(root / subject), G.resolution, G.channels)
    row = [target, imgs]
    summary = {"pairs": pairs, "subject": subject, "truth": truth, "alphas": alphas,
               "direction_norm": float(direction.norm()), "projection_final_loss": res.losses[-1],
               "seconds": round(time.time() - t0, 1), "files": [str(a) for a in anim]}
    if truth:
        y = prepare_target(load_image(root / truth), G.resolution, G.channels)
        row.append(y)
        summary["l1_to_true_younger"] = [float((im[None].clamp(-1, 1) - y).abs().mean()) for im in imgs]
        summary["l1_subject_to_true_younger"] = float((target - y).abs().mean())
    save_png(out / "aging_grid.png", image_grid(torch.cat(row), nrow=len(alphas) + 1 + (1 if truth else 0)))
    (out / "summary.json").write_text(json.dumps(summary, indent=1))
    return summary


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ckpt", default=None, help="style generator run/checkpoint trained on emoji people")
    p.add_argument("--data", default=None, help="emoji root (gankit data emoji --out DIR)")
    p.add_argument("--tiny", action="store_true", help="random tiny generator + fake data (smoke test)")
    p.add_argument("--out", default="runs/aging")
    p.add_argument("--k", type=int, default=12, help="exemplar pairs")
    p.add_argument("--steps", type=int, default=None, help="projection steps (default 1000; 5 with --tiny)")
    p.add_argument("--space", choices=("w", "w+"), default="w")
    p.add_argument("--perceptual", default=None, help="inception (default) | tiny (default with --tiny) | none | LPIPS.pt")
    p.add_argument("--test-image", default=None, help="subject (relative to --data); default: first unseen older")
    p.add_argument("--alpha-max", type=float, default=1.5)
    p.add_argument("--frames", type=int, default=16)
    p.add_argument("--fps", type=float, default=8)
    p.add_argument("--mp4", action="store_true", help="also write aging.mp4 (needs imageio-ffmpeg)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    args.steps = args.steps or (5 if args.tiny else 1000)
    args.perceptual = args.perceptual or ("tiny" if args.tiny else "inception")
    if args.tiny:
        args.k = min(args.k, 3)
    try:
        s = run(args)
    except GankitError as e:
        print(f"aging_story: error: {e}", file=sys.stderr)
        return 2
    print(json.dumps({k: v for k, v in s.items() if k != "alphas"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
