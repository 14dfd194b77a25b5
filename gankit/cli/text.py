"""Text-to-image commands (docs/text_to_image.md).

    gankit captions emoji --root data/emoji64              # captions.csv (English + Korean)
    gankit train-text-encoder --data emoji_captions --root data/emoji64 --out runs/te_emoji
    gankit text2img RUN --caption "old woman with white hair" --n 16 --out grid.png
    gankit text2img RUN --interpolate "a man with light skin" "갈색 피부의 할머니" --steps 8 --out strip.png
    gankit text-eval RUN --classifier runs/cls_emoji64 [--fid] [--out report.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from gankit.errors import GankitError

DATASETS = ("emoji_captions", "fashion_captions")


def add_parsers(sub) -> None:
    c = sub.add_parser("captions", help="write English + Korean captions for a dataset (text-to-image)")
    csub = c.add_subparsers(dest="captions_command", metavar="{emoji}")
    ce = csub.add_parser("emoji", help="captions.csv for a built Emoji-people folder (needs PyPI emoji)")
    ce.add_argument("--root", required=True, help="the folder of 'gankit data emoji --out DIR'")
    ce.set_defaults(func=cmd_captions_emoji)

    t = sub.add_parser("train-text-encoder", help="train the char-CNN-RNN text encoder (joint embedding with images)")
    t.add_argument("--data", choices=DATASETS, default="emoji_captions")
    t.add_argument("--root", default="data/emoji64", help="emoji folder (emoji_captions)")
    t.add_argument("--resolution", type=int, default=64, help="image size the data is loaded at")
    t.add_argument("--out", required=True, help="output folder (text_encoder.safetensors/.json, embeddings.pt)")
    t.add_argument("--steps", type=int, default=3000)
    t.add_argument("--batch", type=int, default=64)
    t.add_argument("--lr", type=float, default=1e-3)
    t.add_argument("--emb-dim", type=int, default=256, help="embedding size (Reed et al.: 1024)")
    t.add_argument("--width", type=int, default=128, help="conv/GRU width of the text encoder")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--device", default="cpu")
    t.set_defaults(func=cmd_train_text_encoder)

    g = sub.add_parser("text2img", help="images from captions (English or Korean) with a text-to-image run")
    g.add_argument("run", metavar="RUN_DIR_OR_CKPT")
    g.add_argument("--caption", action="append", default=None, help="a caption (repeat for one row per caption)")
    g.add_argument("--interpolate", nargs=2, metavar=("FROM", "TO"), default=None,
                   help="a strip between two captions' embeddings instead")
    g.add_argument("--steps", type=int, default=8, help="images per strip (--interpolate)")
    g.add_argument("--n", type=int, default=16, help="images per caption (rows of the strip with --interpolate)")
    g.add_argument("--stages", action="store_true", help="StackGAN Stage II runs: a Stage I row above each Stage II row")
    g.add_argument("--text-encoder", default=None, help="embed with this encoder folder / TorchScript .pt instead of "
                   "the run's recipe.kwargs.text_encoder")
    g.add_argument("--out", required=True, help="output PNG")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("--no-ema", action="store_true")
    g.add_argument("--device", default="cpu")
    g.set_defaults(func=cmd_text2img)

    e = sub.add_parser("text-eval", help="R-precision, attribute accuracy and FID of a text-to-image run on test captions")
    e.add_argument("run", metavar="RUN_DIR_OR_CKPT")
    e.add_argument("--classifier", default=None, help="attribute classifier folder (gankit classifier train)")
    e.add_argument("--split", default="test")
    e.add_argument("--fid", action="store_true", help="also FID vs the split's real images (Inception weights)")
    e.add_argument("--text-encoder", default=None)
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--out", default=None, help="write the report as JSON")
    e.add_argument("--device", default="cpu")
    e.set_defaults(func=cmd_text_eval)


def _source(name: str, root: str, resolution: int, split: str):
    from gankit.config import DataConfig
    from gankit.data.sources import build_source

    kw = {"path": root, "channels": 3} if name == "emoji_captions" else {}
    return build_source(DataConfig(name=name, resolution=resolution, split=split, **kw))


def cmd_captions_emoji(args: argparse.Namespace) -> int:
    from gankit.data.captions import build_emoji_captions, read_captions

    path = build_emoji_captions(args.root)
    table = read_captions(path)
    print(f"captions -> {path}: {sum(map(len, table.values()))} captions for {len(table)} images (English + Korean)")
    return 0


def cmd_train_text_encoder(args: argparse.Namespace) -> int:
    from gankit.pipelines.text import train_text_encoder

    train = _source(args.data, args.root, args.resolution, "train")
    test = _source(args.data, args.root, args.resolution, "test")
    info = train_text_encoder(train, test, args.out, steps=args.steps, batch=args.batch, lr=args.lr,
                              emb_dim=args.emb_dim, width=args.width, seed=args.seed, device=args.device)
    rp = info.get("test_r_precision", {})
    print(f"text encoder -> {args.out}: final loss {info['final_loss']:.3f}, test R-precision (real images) "
          f"{rp.get('r_precision', float('nan')):.3f} among {rp.get('candidates')} captions, {info['seconds']:.0f}s")
    return 0


def _load(args):
    from gankit.pipelines import load_run

    run = load_run(args.run, args.device, ema=not getattr(args, "no_ema", False))
    if args.text_encoder:
        if not hasattr(run.recipe, "use_encoder"):
            raise GankitError(f"--text-encoder: run {args.run} is not a text-to-image run")
        run.recipe.use_encoder(args.text_encoder)
    return run


def cmd_text2img(args: argparse.Namespace) -> int:
    import torch

    from gankit.editing.media import image_grid, save_png
    from gankit.pipelines.text import caption_strip, check_captions, text_to_image

    if bool(args.caption) == bool(args.interpolate):
        raise GankitError("text2img: give --caption TEXT (repeatable) or --interpolate FROM TO")
    if not args.out.lower().endswith(".png"):
        raise GankitError(f"--out {args.out}: expected a .png file name")
    if args.n < 1 or args.n > 1024:
        raise GankitError(f"--n {args.n}: expected 1..1024 images per caption")
    check_captions(args.caption or list(args.interpolate))  # bad captions fail before the run is loaded
    run = _load(args)
    if args.interpolate:
        imgs, nrow = caption_strip(run, *args.interpolate, steps=args.steps, n=args.n, seed=args.seed), args.steps
    else:
        imgs = text_to_image(run, args.caption, args.n, args.seed)
        if args.stages:
            low = text_to_image(run, args.caption, args.n, args.seed, stage1=True)
            imgs = torch.cat([t for i in range(len(args.caption)) for t in (low[i * args.n:(i + 1) * args.n],
                                                                            imgs[i * args.n:(i + 1) * args.n])])
        nrow = args.n
    out = save_png(args.out, image_grid(imgs, nrow))
    print(f"text2img -> {out}: {len(imgs)} images ({run.weights}, step {run.step})")
    return 0


def cmd_text_eval(args: argparse.Namespace) -> int:
    from gankit.pipelines import data_source
    from gankit.pipelines.text import evaluate_text2img

    run = _load(args)
    cls = None
    if args.classifier:
        from gankit.editing.classifier import load_classifier

        cls = load_classifier(args.classifier, args.device)[0]
    src = data_source(run.cfg, args.split)
    rep = evaluate_text2img(run, src, cls, seed=args.seed, fid=args.fid, device=args.device)
    rep.update({"run": str(run.checkpoint), "step": run.step, "split": args.split})
    text = json.dumps(rep, indent=2, ensure_ascii=False)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    rp = rep.get("r_precision") or {}
    lines = [f"text-eval {args.run} ({args.split}, n={rep['n']}):"]
    if rp:
        lines.append(f"  R-precision (1 of {rp['candidates']}): generated {rp['generated']:.3f}, real {rp['real']:.3f}, "
                     f"random caption {rp['random_caption']:.3f}, chance {rp['chance']:.3f}")
    attrs = rep.get("attributes") or {}
    for k in ("generated", "real", "random_caption"):
        if k in attrs:
            v, rel = attrs[k], attrs[k]["reliable_balanced"]
            lines.append(f"  attributes {k}: accuracy {v['accuracy']:.3f}, balanced {v['balanced_accuracy']:.3f}, "
                         f"balanced over {len(attrs['reliable'])} reliable attributes "
                         f"{'n/a' if rel is None else f'{rel:.3f}'}")
    if "fid" in rep:
        lines.append(f"  FID {rep['fid']['value']:.2f} ({rep['fid']['protocol']})")
    print("\n".join(lines))
    return 0
