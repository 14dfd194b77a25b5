"""Restoration commands: super-resolution and inpainting with trained runs, and their scores.

  gankit upscale RUN (--image IMG | --dir DIR) --out OUT      # srgan runs: scale x larger
  gankit inpaint RUN --image IMG --mask MASK.png --out OUT    # context_encoder runs; white = hole
  gankit score-sr RUN [--sets test,skimage] [--limit N] [--lpips FILE] [--json PATH] [--figure PNG [--also RUN2]]
  gankit score-inpaint RUN [--limit N] [--json PATH] [--figure PNG]

Scores print as JSON and are written to --json (default: RUN/score_sr.json or
RUN/score_inpaint.json; RUN may be a run folder or one of its checkpoints).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from gankit.cli.eval import check_output_path
from gankit.errors import GankitError
from gankit.io import write_json_atomic

_IMAGE_EXT = (".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff")


def add_parsers(sub) -> None:
    up = sub.add_parser("upscale", help="super-resolve images with an srgan run",
                        description="Upscale one image or every image of a folder by the run's scale (4x).")
    up.add_argument("run", help="run folder or checkpoint of an srgan run")
    src = up.add_mutually_exclusive_group(required=True)
    src.add_argument("--image", help="one image file")
    src.add_argument("--dir", help="a folder of images (each written as OUT/<name>.png)")
    up.add_argument("--out", required=True, help="output image file (--image) or folder (--dir)")
    up.add_argument("--device", default="cpu")
    up.set_defaults(func=run_upscale)

    ip = sub.add_parser("inpaint", help="fill a masked region with a context-encoder run",
                        description="Fill the white pixels of MASK (same size as the image, black/white only) with "
                                    "the run's prediction; every other pixel stays as it was.")
    ip.add_argument("run", help="run folder or checkpoint of a context_encoder run")
    ip.add_argument("--image", required=True)
    ip.add_argument("--mask", required=True, help="binary mask image: white (255) = hole, black (0) = keep")
    ip.add_argument("--out", required=True, help="output image file")
    ip.add_argument("--device", default="cpu")
    ip.set_defaults(func=run_inpaint)

    ss = sub.add_parser("score-sr", help="PSNR/SSIM of an srgan run vs bicubic (JSON)")
    ss.add_argument("run")
    ss.add_argument("--sets", default="test", help="comma list of test, train, skimage (default: test)")
    ss.add_argument("--limit", type=int, default=0, help="score only the first N images of each set (0 = all)")
    ss.add_argument("--json", default=None, help="output JSON (default: RUN/score_sr.json)")
    ss.add_argument("--device", default="cpu")
    ss.add_argument("--lpips", default=None, metavar="FILE",
                    help="also report LPIPS with this TorchScript network, net(x, y) -> distances (not bundled)")
    ss.add_argument("--figure", default=None, help="also save a PNG: LR | bicubic | SR (| --also runs) | HR rows")
    ss.add_argument("--also", action="append", default=[], metavar="RUN",
                    help="another srgan run or checkpoint (e.g. the warm-up SRResNet) shown in --figure")
    ss.set_defaults(func=run_score_sr)

    si = sub.add_parser("score-inpaint", help="hole PSNR/L1 of a context_encoder run vs mean and blur fills (JSON)")
    si.add_argument("run")
    si.add_argument("--limit", type=int, default=0, help="score only the first N held-out images (0 = all)")
    si.add_argument("--json", default=None, help="output JSON (default: RUN/score_inpaint.json)")
    si.add_argument("--device", default="cpu")
    si.add_argument("--figure", default=None, help="also save a PNG: masked | blur fill | model | original rows")
    si.set_defaults(func=run_score_inpaint)


def _image_out(path: str) -> Path:
    p = check_output_path(path, "--out")
    if p.suffix.lower() not in _IMAGE_EXT:
        raise GankitError(f"--out {path}: expected an image file name ({', '.join(_IMAGE_EXT)})")
    p.parent.mkdir(parents=True, exist_ok=True)
    return p


def run_upscale(args: argparse.Namespace) -> int:
    from gankit.pipelines.restore import load_restorer, upscale_folder, upscale_image

    if args.image:
        out = _image_out(args.out)
        run = load_restorer(args.run, "srgan", args.device)
        img = upscale_image(run, args.image)
        img.save(out)
        print(f"{args.image} -> {out} ({img.size[0]}x{img.size[1]})")
        return 0
    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise GankitError(f"--out {args.out}: is a file; with --dir give a folder")
    run = load_restorer(args.run, "srgan", args.device)
    written = upscale_folder(run, args.dir, args.out)
    print(f"{len(written)} image(s) from {args.dir} -> {args.out}")
    return 0


def run_inpaint(args: argparse.Namespace) -> int:
    from gankit.pipelines.restore import inpaint_image, load_restorer

    out = _image_out(args.out)
    run = load_restorer(args.run, "context_encoder", args.device)
    inpaint_image(run, args.image, args.mask).save(out)
    print(f"{args.image} + {args.mask} -> {out}")
    return 0


def _json_out(args: argparse.Namespace, name: str) -> Path:
    if args.json:
        return check_output_path(args.json, "--json")
    p = Path(args.run)
    return (p if p.is_dir() else p.parent) / name


def _emit(res: dict, out: Path) -> None:
    print(json.dumps(res, indent=2))
    write_json_atomic(out, res)


def run_score_sr(args: argparse.Namespace) -> int:
    from gankit.pipelines.restore import load_restorer, score_sr

    if args.limit < 0:
        raise GankitError(f"--limit {args.limit}: expected N >= 0")
    sets = tuple(s.strip() for s in args.sets.split(",") if s.strip())
    bad = [s for s in sets if s not in ("test", "train", "skimage")]
    if bad or not sets:
        raise GankitError(f"--sets {args.sets}: expected a comma list of test, train, skimage")
    out = _json_out(args, "score_sr.json")
    fig = check_output_path(args.figure, "--figure") if args.figure else None
    if args.also and not fig:
        raise GankitError("--also: adds columns to --figure; give --figure PATH.png too")
    run = load_restorer(args.run, "srgan", args.device)
    others = [load_restorer(p, "srgan", args.device) for p in args.also]
    if any(o.recipe.scale != run.recipe.scale for o in others):
        raise GankitError("--also: every run must have the same scale as RUN")
    _emit(score_sr(run, sets, args.limit, args.lpips), out)
    if fig:
        from gankit.pipelines.restore import sr_figure

        print(f"figure -> {sr_figure(others + [run], fig, sets)}", file=sys.stderr)
    return 0


def run_score_inpaint(args: argparse.Namespace) -> int:
    from gankit.pipelines.restore import load_restorer, score_inpaint

    if args.limit < 0:
        raise GankitError(f"--limit {args.limit}: expected N >= 0")
    out = _json_out(args, "score_inpaint.json")
    fig = check_output_path(args.figure, "--figure") if args.figure else None
    run = load_restorer(args.run, "context_encoder", args.device)
    _emit(score_inpaint(run, args.limit), out)
    if fig:
        from gankit.pipelines.restore import inpaint_figure

        print(f"figure -> {inpaint_figure(run, fig)}", file=sys.stderr)
    return 0
