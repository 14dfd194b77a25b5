"""Emoji people: a small real face-attribute dataset rendered from Noto Color Emoji.

Every image's attributes are parsed from its Unicode sequence, so they are exact:
skin tone (modifiers U+1F3FB..U+1F3FF, or none = yellow), age group (baby/child/adult/older),
gender (person/man/woman forms, ZWJ + U+2642/U+2640), hair (ZWJ + U+1F9B0 red, U+1F9B1 curly,
U+1F9B3 white, U+1F9B2 bald; U+1F471 blond) and beard (U+1F9D4).

``build_emoji_dataset`` enumerates the candidate sequences, keeps those the font draws as a
single glyph, composites them on a fixed background, splits train/test by *group* (all tones
and variants of one base emoji together, so test faces are unseen) and indexes the true
counterfactual pairs: same emoji kind, exactly one factor (tone, age, gender, hair, beard)
changed. Files written to ``out/``::

    images/<codepoints>.png   RGB, size x size
    attributes.csv            file,split,<ATTR_NAMES...>      (0/1; loads with AttributeTable)
    index.csv                 file,split,group,kind,name,sequence,tone,age,gender,hair,beard
    counterfactuals.csv       src,dst,split,factor,from,to,changed  (changed: ';'-joined columns)
    summary.json              counts per split, attribute and counterfactual factor
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import os
import random
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, features

from gankit.data.attributes import AttributeTable
from gankit.errors import DataError
from gankit.io import atomic_write, write_json_atomic
from gankit.registry import did_you_mean

FONT_PATH = "/usr/share/fonts/truetype/noto/NotoColorEmoji.ttf"
FONT_PACKAGE = "fonts-noto-color-emoji"
BACKGROUND = (176, 196, 222)  # light steel blue: far from every skin tone, hair colour and white
CANVAS = (136, 128)  # one glyph at size 109 (the font's only bitmap strike)
ZWJ, VS16, MALE, FEMALE = 0x200D, 0xFE0F, 0x2642, 0x2640
TONE_FIRST = 0x1F3FB  # U+1F3FB..U+1F3FF = tones 1..5 (light..dark)
ATTR_NAMES = ["Tone_1", "Tone_2", "Tone_3", "Tone_4", "Tone_5", "Light_Skin", "Dark_Skin",
              "Baby", "Young", "Old", "Male", "Female",
              "Blond_Hair", "Red_Hair", "White_Hair", "Curly_Hair", "Bald", "Beard"]
FACTORS = ("tone", "age", "gender", "hair", "beard")

# Base persons: codepoint -> (age, gender). Hair and jobs attach to the adult forms via ZWJ.
PERSONS = {0x1F9D1: ("adult", "neutral"), 0x1F468: ("adult", "male"), 0x1F469: ("adult", "female"),
           0x1F9D2: ("child", "neutral"), 0x1F466: ("child", "male"), 0x1F467: ("child", "female"),
           0x1F9D3: ("older", "neutral"), 0x1F474: ("older", "male"), 0x1F475: ("older", "female"),
           0x1F476: ("baby", "neutral")}
_CORE_GROUP = {"neutral": "person", "male": "man", "female": "woman"}
HAIR_ZWJ = {0x1F9B0: "red", 0x1F9B1: "curly", 0x1F9B3: "white", 0x1F9B2: "bald"}
BLOND, BEARD = 0x1F471, 0x1F9D4
# Jobs: adult person/man/woman + ZWJ + object. Mx Claus (person + tree) joins Santa's group.
JOBS = {0x2695: "health worker", 0x1F393: "student", 0x1F3EB: "teacher", 0x2696: "judge",
        0x1F33E: "farmer", 0x1F373: "cook", 0x1F527: "mechanic", 0x1F3ED: "factory worker",
        0x1F4BC: "office worker", 0x1F52C: "scientist", 0x1F4BB: "technologist", 0x1F3A4: "singer",
        0x1F3A8: "artist", 0x2708: "pilot", 0x1F680: "astronaut", 0x1F692: "firefighter",
        0x1F37C: "feeding baby", 0x1F384: "claus"}
MX_CLAUS = 0x1F384  # only the person form exists; Santa and Mrs Claus are single codepoints
# Upper-body gestures and roles with person / ZWJ-man / ZWJ-woman forms (group = own name).
GENDERED = {0x1F64B: "raising hand", 0x1F64D: "frowning", 0x1F64E: "pouting", 0x1F645: "gesturing no",
            0x1F646: "gesturing ok", 0x1F481: "tipping hand", 0x1F647: "bowing", 0x1F926: "facepalming",
            0x1F937: "shrugging", 0x1F486: "getting massage", 0x1F487: "getting haircut",
            0x1F9CF: "deaf person", 0x1F46E: "police officer", 0x1F575: "detective", 0x1F482: "guard",
            0x1F477: "construction worker", 0x1F473: "wearing turban", 0x1F935: "in tuxedo",
            0x1F470: "with veil", 0x1F9D9: "mage", 0x1F9DA: "fairy", 0x1F9DB: "vampire",
            0x1F9DC: "merperson", 0x1F9DD: "elf", 0x1F9B8: "superhero", 0x1F9B9: "supervillain"}
# Single-codepoint roles: codepoint -> (group, age, gender); gendered triads share a group.
SINGLES = {0x1F934: ("royalty", "adult", "male"), 0x1F478: ("royalty", "adult", "female"),
           0x1FAC5: ("royalty", "adult", "neutral"), 0x1F385: ("claus", "adult", "male"),
           0x1F936: ("claus", "adult", "female"), 0x1F930: ("pregnant", "adult", "female"),
           0x1FAC3: ("pregnant", "adult", "male"), 0x1FAC4: ("pregnant", "adult", "neutral"),
           0x1F472: ("skullcap", "adult", "neutral"), 0x1F9D5: ("headscarf", "adult", "female"),
           0x1F47C: ("baby angel", "baby", "neutral"), 0x1F931: ("breast-feeding", "adult", "neutral"),
           0x1F977: ("ninja", "adult", "neutral")}
_NEEDS_VS16 = {0x1F575, 0x2695, 0x2696, 0x2708}  # text-default characters take U+FE0F


@dataclass(frozen=True)
class EmojiInfo:
    """Exact attributes of one people-emoji sequence (parsed from its codepoints).

    group: split unit (all tones/variants of one base emoji); kind: what the figure is
    (counterfactual pairs are only formed within one kind); tone: 0 (yellow) or 1..5.
    """

    seq: str
    group: str
    kind: str
    tone: int
    age: str
    gender: str
    hair: str
    beard: int

    @property
    def factors(self) -> tuple:
        return (self.tone, self.age, self.gender, self.hair, self.beard)

    @property
    def name(self) -> str:
        parts = [self.kind, self.gender, self.age]
        if self.hair != "none":
            parts.append("bald" if self.hair == "bald" else f"{self.hair} hair")
        if self.beard:
            parts.append("beard")
        parts += [f"tone {self.tone}"] if self.tone else []
        return ", ".join(parts)

    def attributes(self) -> dict[str, int]:
        """Binary columns ATTR_NAMES -> 0/1 (neutral gender: Male = Female = 0)."""
        a = {n: 0 for n in ATTR_NAMES}
        if self.tone:
            a[f"Tone_{self.tone}"] = 1
        a["Light_Skin"], a["Dark_Skin"] = int(self.tone in (1, 2)), int(self.tone in (4, 5))
        a["Baby"], a["Young"], a["Old"] = int(self.age == "baby"), int(self.age in ("baby", "child")), int(self.age == "older")
        a["Male"], a["Female"] = int(self.gender == "male"), int(self.gender == "female")
        hair_col = {"blond": "Blond_Hair", "red": "Red_Hair", "white": "White_Hair", "curly": "Curly_Hair", "bald": "Bald"}
        if self.hair in hair_col:
            a[hair_col[self.hair]] = 1
        a["Beard"] = self.beard
        return a


def codepoints(seq: str) -> str:
    """'U+1F474 U+1F3FD' style text of a sequence."""
    return " ".join(f"U+{ord(c):04X}" for c in seq)


def parse_sequence(seq: str) -> EmojiInfo:
    """Exact attributes of a people-emoji sequence; ValueError for anything else."""
    cps = [ord(c) for c in seq if ord(c) != VS16]
    tones = [cp for cp in cps if TONE_FIRST <= cp <= TONE_FIRST + 4]
    if len(tones) > 1 or (tones and (len(cps) < 2 or cps[1] != tones[0])):
        raise ValueError(f"{codepoints(seq)}: a skin tone must follow the first codepoint, once")
    tone = tones[0] - TONE_FIRST + 1 if tones else 0
    head, *rest = [cp for cp in cps if cp not in tones]
    parts = []  # the codepoints each joined by a ZWJ
    if len(rest) % 2:
        raise ValueError(f"{codepoints(seq)}: expected codepoints joined by U+200D")
    for i, cp in enumerate(rest):
        if (cp == ZWJ) != (i % 2 == 0):
            raise ValueError(f"{codepoints(seq)}: expected codepoints joined by U+200D")
        if cp != ZWJ:
            parts.append(cp)
    age, gender, hair, beard = "adult", "neutral", "none", 0
    sign = parts.pop() if parts and parts[-1] in (MALE, FEMALE) else None
    if len(parts) > 1:
        raise ValueError(f"{codepoints(seq)}: too many joined parts for a people emoji")
    extra = parts[0] if parts else None
    if head in PERSONS and sign is None:
        age, gender = PERSONS[head]
        if extra is None:
            group, kind = _CORE_GROUP[gender], "person"
        elif extra in HAIR_ZWJ and age == "adult":
            group, kind, hair = _CORE_GROUP[gender], "person", HAIR_ZWJ[extra]
        elif extra in JOBS and age == "adult" and (extra != MX_CLAUS or head == 0x1F9D1):
            group = kind = JOBS[extra]
        else:
            raise ValueError(f"{codepoints(seq)}: unknown joined part U+{extra:04X} for a person")
    elif head in (BLOND, BEARD) and extra is None:
        gender = {None: "neutral", MALE: "male", FEMALE: "female"}[sign]
        group, kind = _CORE_GROUP[gender], "person"
        hair, beard = ("blond", 0) if head == BLOND else ("none", 1)
    elif head in GENDERED and extra is None:
        group = kind = GENDERED[head]
        gender = {None: "neutral", MALE: "male", FEMALE: "female"}[sign]
    elif head in SINGLES and extra is None and sign is None:
        group, age, gender = SINGLES[head]
        kind = group
    else:
        raise ValueError(f"{codepoints(seq)}: not a known people emoji sequence")
    if head == 0x1F476:
        group = "person"  # the baby completes the person family (age counterfactuals)
    return EmojiInfo(seq, group, kind, tone, age, gender, hair, beard)


def _seq(head: int, tone: int, *joined: int) -> str:
    """Compose head [+ tone] (+ ZWJ + part)*, adding U+FE0F where a text-default char needs it."""
    out = [head] + ([TONE_FIRST + tone - 1] if tone else ([VS16] if head in _NEEDS_VS16 and joined else []))
    for cp in joined:
        out += [ZWJ, cp] + ([VS16] if cp in _NEEDS_VS16 or cp in (MALE, FEMALE) else [])
    return "".join(map(chr, out))


def candidate_sequences() -> list[str]:
    """All people sequences this module knows (x 6 tones), before checking the font."""
    forms: list[tuple[int, ...]] = []
    for head in PERSONS:
        forms.append((head,))
    for head in (0x1F9D1, 0x1F468, 0x1F469):
        forms += [(head, h) for h in HAIR_ZWJ] + [(head, j) for j in JOBS if j != MX_CLAUS or head == 0x1F9D1]
    for head in [BLOND, BEARD, *GENDERED]:
        forms += [(head,), (head, MALE), (head, FEMALE)]
    forms += [(head,) for head in SINGLES]
    return [_seq(f[0], tone, *f[1:]) for f in forms for tone in range(6)]


def load_font(font_path: str | os.PathLike | None = None) -> ImageFont.FreeTypeFont:
    """Open Noto Color Emoji at its bitmap size 109; a one-line DataError when absent."""
    path = Path(font_path or os.environ.get("GANKIT_EMOJI_FONT", FONT_PATH))
    if not path.is_file():
        raise DataError(f"emoji font '{path}' not found: install it with 'apt-get install -y {FONT_PACKAGE}' or pass --font PATH")
    if not features.check("raqm"):  # basic layout cannot ligate ZWJ/tone sequences
        raise DataError("Pillow was built without libraqm text shaping, so emoji sequences cannot be drawn: "
                        "install the PyPI Pillow wheel or 'apt-get install -y libraqm0'")
    try:
        return ImageFont.truetype(str(path), 109)
    except OSError as e:
        raise DataError(f"emoji font '{path}': cannot load as a colour bitmap font at size 109 ({e})") from None


def render(font: ImageFont.FreeTypeFont, seq: str) -> Image.Image:
    """Draw ``seq`` in colour on a transparent RGBA canvas (136 x 128 for one glyph)."""
    width = max(CANVAS[0], int(font.getlength(seq) + 0.5))
    img = Image.new("RGBA", (width, CANVAS[1]), (0, 0, 0, 0))
    ImageDraw.Draw(img).text((0, 0), seq, font=font, embedded_color=True)
    return img


def is_single_glyph(font: ImageFont.FreeTypeFont, seq: str, img: Image.Image, ref_width: float) -> bool:
    """True when the font shaped ``seq`` into one visible glyph.

    An unsupported ZWJ/tone sequence falls apart into several glyphs (advance a multiple of
    ``ref_width``, the advance of one plain emoji); a missing glyph draws nothing (tofu of
    this font is empty), so the alpha channel must be non-empty.
    """
    if abs(font.getlength(seq) - ref_width) > 0.5:
        return False
    return img.getchannel("A").getbbox() is not None


def to_square(img: Image.Image, size: int) -> Image.Image:
    """Composite RGBA on BACKGROUND, pad to a centred square, resize to ``size`` (Lanczos)."""
    side = max(img.size)
    canvas = Image.new("RGBA", (side, side), BACKGROUND + (255,))
    canvas.alpha_composite(img, ((side - img.width) // 2, (side - img.height) // 2))
    return canvas.convert("RGB").resize((size, size), Image.LANCZOS)


def split_groups(infos: list[EmojiInfo], seed: int = 0, test_fraction: float = 0.2,
                 tries: int = 500) -> dict[str, str]:
    """Assign each group to 'train' or 'test' (about ``test_fraction`` of the images in test).

    Deterministic for a seed. Among ``tries`` shuffles, the first one is kept in which every
    attribute that occurs in at least two groups has positives in both splits (else the one
    covering most attributes), so test accuracy is measurable for each attribute.
    """
    sizes: dict[str, int] = {}
    attr_groups: dict[str, set[str]] = {n: set() for n in ATTR_NAMES}
    for info in infos:
        sizes[info.group] = sizes.get(info.group, 0) + 1
        for n, v in info.attributes().items():
            if v:
                attr_groups[n].add(info.group)
    groups = sorted(sizes)
    if len(groups) < 2:
        return {g: "train" for g in groups}
    need = [gs for gs in attr_groups.values() if len(gs) >= 2]
    rng = random.Random(seed)
    best, best_score = None, -1
    for _ in range(tries):
        order = groups[:]
        rng.shuffle(order)
        test, n_test = set(), 0
        for g in order:
            if n_test >= test_fraction * len(infos) or len(test) == len(groups) - 1:
                break
            test.add(g)
            n_test += sizes[g]
        score = sum(bool(gs & test) and bool(gs - test) for gs in need)
        if score > best_score:
            best, best_score = test, score
        if score == len(need):
            break
    return {g: "test" if g in best else "train" for g in groups}


def counterfactual_pairs(infos: list[EmojiInfo]) -> list[tuple[int, int, str]]:
    """Index pairs (i, j, factor), i < j: same kind, exactly one factor different."""
    by_kind: dict[str, list[int]] = {}
    for i, info in enumerate(infos):
        by_kind.setdefault(info.kind, []).append(i)
    pairs = []
    for members in by_kind.values():
        for i, j in itertools.combinations(members, 2):
            diff = [f for f, a, b in zip(FACTORS, infos[i].factors, infos[j].factors) if a != b]
            if len(diff) == 1:
                pairs.append((i, j, diff[0]))
    return pairs


def file_name(seq: str) -> str:
    """'images/1f474_1f3fd.png': the codepoints without U+FE0F / U+200D, so names stay short."""
    return "images/" + "_".join(f"{ord(c):x}" for c in seq if ord(c) not in (VS16, ZWJ)) + ".png"


def _render_all(font, seqs: list[str], size: int, progress: bool) -> tuple[list[EmojiInfo], dict[str, Image.Image], dict]:
    """Render candidates; drop multi-glyph/empty ones and exact pixel duplicates."""
    from tqdm import tqdm

    ref_width = font.getlength(chr(0x1F600))
    infos, images, seen = [], {}, set()
    dropped = {"not_one_glyph": 0, "duplicate_pixels": 0}
    for seq in tqdm(seqs, desc="render emoji", unit="img", disable=not progress):
        raw = render(font, seq)
        if not is_single_glyph(font, seq, raw, ref_width):
            dropped["not_one_glyph"] += 1
            continue
        digest = hashlib.sha1(raw.tobytes()).hexdigest()
        if digest in seen:  # two sequences, one drawing: their labels cannot both be exact
            dropped["duplicate_pixels"] += 1
            continue
        seen.add(digest)
        info = parse_sequence(seq)
        infos.append(info)
        images[seq] = to_square(raw, size)
    return infos, images, dropped


def _write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with atomic_write(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        w.writerows(rows)


def build_emoji_dataset(out: str | os.PathLike, size: int = 64, font_path: str | os.PathLike | None = None,
                        seed: int = 0, groups: list[str] | None = None, test_fraction: float = 0.2,
                        progress: bool = True) -> dict:
    """Render the Emoji-people dataset into ``out`` (see the module docstring for the files).

    size: 64 or 128 (any positive int works); groups: restrict to these group names (tests);
    returns the summary dict also written to summary.json.
    """
    if size < 8:
        raise DataError(f"emoji --size {size}: expected a positive image size such as 64 or 128")
    seqs = candidate_sequences()
    if groups is not None:
        known = sorted({parse_sequence(s).group for s in seqs})
        bad = [g for g in groups if g not in known]
        if bad:
            raise DataError(f"emoji groups: unknown group '{bad[0]}'{did_you_mean(bad[0], known)}; known: {', '.join(known)}")
        seqs = [s for s in seqs if parse_sequence(s).group in groups]
    font = load_font(font_path)
    infos, images, dropped = _render_all(font, seqs, size, progress)
    if not infos:
        raise DataError(f"emoji font '{font_path or FONT_PATH}': no people emoji rendered as single glyphs")
    split = split_groups(infos, seed, test_fraction)
    root = Path(out)
    (root / "images").mkdir(parents=True, exist_ok=True)
    for info in infos:
        images[info.seq].save(root / file_name(info.seq))
    _write_csv(root / "attributes.csv", ["file", "split", *ATTR_NAMES],
               [[file_name(i.seq), split[i.group], *i.attributes().values()] for i in infos])
    _write_csv(root / "index.csv", ["file", "split", "group", "kind", "name", "sequence", *FACTORS],
               [[file_name(i.seq), split[i.group], i.group, i.kind, i.name, codepoints(i.seq), *i.factors] for i in infos])
    pairs = counterfactual_pairs(infos)
    rows = []
    for i, j, factor in pairs:
        a, b = infos[i], infos[j]
        s = split[a.group] if split[a.group] == split[b.group] else "mixed"
        va, vb = a.attributes(), b.attributes()
        changed = ";".join(n for n in ATTR_NAMES if va[n] != vb[n])
        k = FACTORS.index(factor)
        rows.append([file_name(a.seq), file_name(b.seq), s, factor, a.factors[k], b.factors[k], changed])
    _write_csv(root / "counterfactuals.csv", ["src", "dst", "split", "factor", "from", "to", "changed"], rows)
    summary = _summary(infos, split, rows, dropped, size, seed)
    write_json_atomic(root / "summary.json", summary)
    return summary


def _summary(infos: list[EmojiInfo], split: dict[str, str], pair_rows: list[list], dropped: dict,
             size: int, seed: int) -> dict:
    """Counts: images and groups per split, positives per attribute and split, pairs per factor."""
    per_split = {s: sum(split[i.group] == s for i in infos) for s in ("train", "test")}
    groups = {s: sorted(g for g, v in split.items() if v == s) for s in ("train", "test")}
    attrs = {n: {s: sum(i.attributes()[n] for i in infos if split[i.group] == s) for s in ("train", "test")}
             for n in ATTR_NAMES}
    pairs: dict[str, dict[str, int]] = {}
    for row in pair_rows:
        pairs.setdefault(row[3], {"train": 0, "test": 0, "mixed": 0})[row[2]] += 1
    return {"size": size, "seed": seed, "images": len(infos), "images_per_split": per_split,
            "groups": {s: len(g) for s, g in groups.items()}, "test_groups": groups["test"],
            "dropped": dropped, "attributes": attrs, "pairs": len(pair_rows), "pairs_per_factor": pairs}


class EmojiPeople(AttributeTable):
    """Load a built Emoji-people folder: (uint8 [3, R, R], float32 [A] 0/1) per item.

    split: train | test | all; attrs: a subset of ATTR_NAMES (default all); resolution:
    resize on load (default: the size it was built at).
    """

    def __init__(self, root: str | os.PathLike, split: str = "train", attrs: list[str] | None = None,
                 resolution: int | None = None, max_pixels: int | None = None):
        table = Path(root) / "attributes.csv"
        if not table.is_file():
            raise DataError(f"emoji dataset '{root}' has no attributes.csv: build it with 'gankit data emoji --size 64 --out {root}'")
        super().__init__(table, attrs=attrs, resolution=resolution, split=split, max_pixels=max_pixels)
