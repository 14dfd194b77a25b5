"""``gankit data ...``: build datasets that are generated locally.

    gankit data emoji --size 64 --out data/emoji64 [--font PATH] [--seed 0]
"""

from __future__ import annotations

import argparse


def add_parsers(subparsers) -> None:
    """Add the ``data`` command (with its ``emoji`` sub-command) to a subparsers object."""
    data = subparsers.add_parser("data", help="build local datasets (emoji people)")
    sub = data.add_subparsers(dest="data_command", metavar="{emoji}")
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


def run_emoji(args: argparse.Namespace) -> int:
    """Build the dataset and print its summary; returns the exit code (0)."""
    from gankit.data.emoji import build_emoji_dataset

    groups = [g.strip() for g in args.groups.split(",") if g.strip()] if args.groups else None
    s = build_emoji_dataset(args.out, args.size, font_path=args.font, seed=args.seed,
                            groups=groups, test_fraction=args.test_fraction)
    print(format_summary(s, args.out))
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
