"""``gankit data ...``: build datasets that are generated locally.

    gankit data emoji --size 64 --out data/emoji64 [--font PATH] [--seed 0]
    gankit data chorales --out data/chorales [--from DIR] [--fold] [--augment] [--seed 0]
"""

from __future__ import annotations

import argparse


def add_parsers(subparsers) -> None:
    """Add the ``data`` command (with its ``emoji`` sub-command) to a subparsers object."""
    data = subparsers.add_parser("data", help="build local datasets (emoji people, Bach chorales)")
    sub = data.add_subparsers(dest="data_command", metavar="{emoji,chorales,emoji-styles}")
    sub.required = True
    emoji = sub.add_parser("emoji", help="render the Emoji-people attribute dataset from Noto Color Emoji",
                           description="Render people emoji with exact attributes, split train/test by base "
                                       "emoji, and index true counterfactual pairs.")
    emoji.add_argument("--size", type=int, choices=(64, 128), default=64, help="image side in pixels")
    emoji.add_argument("--out", required=True, help="output folder (images/, attributes.csv, counterfactuals.csv)")
    emoji.add_argument("--font", default=None, help="NotoColorEmoji.ttf (default: the Debian fonts-noto-color-emoji path)")
    emoji.add_argument("--seed", type=int, default=0, help="seed of the train/test split by base emoji")
    emoji.add_argument("--test-fraction", type=float, default=0.2, help="share of images in the test split")
    emoji.add_argument("--groups", default=None,
                       help="comma-separated base groups to keep (e.g. 'man,police officer'); default: all")
    emoji.set_defaults(func=run_emoji)
    ch = sub.add_parser("chorales", help="cache melody bars + chords of the Bach chorales (or your scores) for MidiNet",
                        description="Parse music21's Bach chorales (or a folder of MusicXML/MIDI files) into 16-step x "
                                    "128-pitch melody bars with one estimated chord per bar, transposed to C major / "
                                    "A minor, split train/test by song (docs/music.md).")
    ch.add_argument("--out", required=True, help="output folder (writes chorales.npz)")
    ch.add_argument("--from", dest="from_dir", default=None, metavar="DIR",
                    help="a folder of MusicXML/MIDI files instead of music21's chorales (4/4 scores are used)")
    ch.add_argument("--fold", action="store_true", help="fold melody notes by octaves into C4-B5 (MidiNet's data)")
    ch.add_argument("--augment", action="store_true", help="add the 11 other transpositions of every song")
    ch.add_argument("--seed", type=int, default=0, help="seed of the train/test split by song")
    ch.add_argument("--test-fraction", type=float, default=0.1, help="share of songs in the test split")
    ch.add_argument("--limit", type=int, default=0, help="parse only the first N scores (0 = all)")
    ch.set_defaults(func=run_chorales)
    from gankit.cli.translate import add_emoji_styles_parser

    add_emoji_styles_parser(sub)  # paired emoji styles (pix2pix, CycleGAN)


def run_emoji(args: argparse.Namespace) -> int:
    """Build the dataset and print its summary; returns the exit code (0)."""
    from gankit.data.emoji import build_emoji_dataset

    groups = [g.strip() for g in args.groups.split(",") if g.strip()] if args.groups else None
    s = build_emoji_dataset(args.out, args.size, font_path=args.font, seed=args.seed,
                            groups=groups, test_fraction=args.test_fraction)
    print(format_summary(s, args.out))
    return 0


def run_chorales(args: argparse.Namespace) -> int:
    from gankit.data.chorales import CORPUS_NOTICE, build_cache
    from gankit.errors import GankitError

    if args.limit < 0:
        raise GankitError(f"--limit {args.limit}: expected 0 (all) or more")
    s = build_cache(args.out, args.from_dir, fold=args.fold, augment=args.augment, seed=args.seed,
                    test_fraction=args.test_fraction, limit=args.limit)
    skipped = ", ".join(f"{n} {why}" for why, n in s["skipped"].items()) or "none"
    print(f"chorales -> {s['path']}: {s['songs']} songs ({s['test_songs']} test), {s['bars']} bars "
          f"(train {s['bars_per_split']['train']}, test {s['bars_per_split']['test']} in the normalised key"
          f"{'; x12 transpositions' if s['augment'] else ''}{'; folded into C4-B5' if s['fold'] else ''}); "
          f"skipped: {skipped}; split seed {s['seed']}")
    if args.from_dir is None:
        print(f"note: {CORPUS_NOTICE}")
    return 0


def format_summary(s: dict, out: str) -> str:
    """Human-readable summary of :func:`build_emoji_dataset`'s dict."""
    lines = [
        f"emoji people -> {out}: {s['images']} images {s['size']}x{s['size']} "
        f"(train {s['images_per_split']['train']}, test {s['images_per_split']['test']}; "
        f"groups train {s['groups']['train']}, test {s['groups']['test']}; seed {s['seed']})",
        f"dropped: {s['dropped']['not_one_glyph']} not drawn as one glyph, {s['dropped']['duplicate_pixels']} duplicate drawings",
        f"test groups: {', '.join(s['test_groups'])}",
        f"{'attribute':<12} {'train':>6} {'test':>6}",
    ]
    lines += [f"{n:<12} {v['train']:>6} {v['test']:>6}" for n, v in s["attributes"].items()]
    lines.append(f"counterfactual pairs: {s['pairs']}")
    lines += [f"  {f:<7} train {v['train']:>5}  test {v['test']:>5}  mixed {v['mixed']:>5}"
              for f, v in s["pairs_per_factor"].items()]
    return "\n".join(lines)
