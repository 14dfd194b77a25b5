"""Image-caption datasets for text-to-image: Emoji people and Fashion-MNIST, English + Korean.

**Emoji captions.** Every image of a built Emoji-people folder (``gankit data emoji``) gets
several captions: its CLDR short name in English and Korean (PyPI ``emoji``: ``EMOJI_DATA[seq]
["en"]``, ``["ko"]`` after ``emoji.config.load_language('ko')``) and two phrasings per language
composed from its exact attributes (age and gender noun, hair, beard, skin tone), e.g.
``an old man with medium skin`` / ``갈색 피부의 할아버지``. The train/test split is the emoji
folder's own split by base emoji, so test captions describe figures (and their tone / hair
combinations) the generator never saw. ``captions.csv`` (file, split, lang, caption) is
written next to ``attributes.csv``.

**Fashion captions.** Fashion-MNIST images with phrasings of their class name in both
languages (``a photo of a sneaker`` / ``운동화 사진``); the split is the dataset's.

Items are ``(image uint8 [3|1, R, R], captions: str, attributes float [A])``: ``captions`` is
every caption of that image joined by newlines (the recipe picks one per sample with its own
seeded generator, so batches stay stateless per index); ``attributes`` are the emoji
attributes (:data:`gankit.data.emoji.ATTR_NAMES`) or the one-hot class, used for scoring.
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import torch

from gankit.data.emoji import ATTR_NAMES, EmojiPeople, VS16
from gankit.errors import DataError
from gankit.io import atomic_write

CAPTIONS = "captions.csv"
LANGS = ("en", "ko")
TONE_EN = {0: "yellow", 1: "light", 2: "medium-light", 3: "medium", 4: "medium-dark", 5: "dark"}
TONE_KO = {0: "노란", 1: "하얀", 2: "연한 갈색", 3: "갈색", 4: "진한 갈색", 5: "검은색"}
NOUN_EN = {("baby", "neutral"): "baby", ("child", "neutral"): "child", ("child", "male"): "boy",
           ("child", "female"): "girl", ("adult", "neutral"): "person", ("adult", "male"): "man",
           ("adult", "female"): "woman", ("older", "neutral"): "older person", ("older", "male"): "old man",
           ("older", "female"): "old woman"}
NOUN_KO = {("baby", "neutral"): "아기", ("child", "neutral"): "어린이", ("child", "male"): "남자아이",
           ("child", "female"): "여자아이", ("adult", "neutral"): "사람", ("adult", "male"): "남자",
           ("adult", "female"): "여자", ("older", "neutral"): "노인", ("older", "male"): "할아버지",
           ("older", "female"): "할머니"}
HAIR_EN = {"red": "red hair", "curly": "curly hair", "white": "white hair", "blond": "blond hair"}
HAIR_KO = {"red": "빨간 머리", "curly": "곱슬머리", "white": "흰 머리", "blond": "금발", "bald": "대머리"}
FASHION_EN = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
FASHION_KO = ["티셔츠", "바지", "풀오버", "드레스", "코트", "샌들", "셔츠", "운동화", "가방", "앵클 부츠"]


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def phrasings_en(age: str, gender: str, kind: str, hair: str, beard: int, tone: int) -> list[str]:
    """Two English captions composed from an emoji's attributes."""
    noun = NOUN_EN.get((age, gender), "person")
    who = noun if kind in ("person", noun) else f"{noun} {kind}" if gender != "neutral" else kind
    extras = [HAIR_EN[hair]] if hair in HAIR_EN else []
    extras += ["a beard"] if beard else []
    skin = f"{TONE_EN[tone]} skin"
    bald = "bald " if hair == "bald" else ""
    first = f"{_article(bald or who)} {bald}{who} with " + " and ".join(extras + [skin])
    second = f"{TONE_EN[tone]} skinned {bald}{who}" + (" with " + " and ".join(extras) if extras else "")
    return [first, second]


def phrasings_ko(age: str, gender: str, hair: str, beard: int, tone: int) -> list[str]:
    """Two Korean captions composed from an emoji's attributes."""
    noun = NOUN_KO.get((age, gender), "사람")
    parts = [HAIR_KO[hair]] if hair in HAIR_KO else []
    parts += ["수염"] if beard else []
    skin = f"{TONE_KO[tone]} 피부"
    first = f"{skin}의 " + " ".join(parts + [noun])
    second = ", ".join([noun, *parts, skin])
    return [first, second]


def cldr_name(raw: str) -> str:
    """':old_man_medium_skin_tone:' -> 'old man medium skin tone'."""
    return raw.strip(":").replace("_", " ").strip()


def emoji_names(seqs: list[str]) -> dict[str, dict[str, str]]:
    """{seq: {"en": name, "ko": name}} from PyPI ``emoji`` (missing entries are left out)."""
    try:
        import emoji
    except ImportError:
        raise DataError("emoji captions need PyPI 'emoji' for the CLDR names: pip install 'gankit[text]' "
                        "(or pip install emoji)") from None
    emoji.config.load_language("ko")
    out = {}
    for seq in seqs:
        entry = emoji.EMOJI_DATA.get(seq) or emoji.EMOJI_DATA.get(seq.replace(chr(VS16), ""))
        if entry and "en" in entry:
            out[seq] = {lang: cldr_name(entry[lang]) for lang in LANGS if lang in entry}
    return out


def _sequence(codepoints: str) -> str:
    return "".join(chr(int(c[2:], 16)) for c in codepoints.split())


def build_emoji_captions(root: str | os.PathLike, names: dict[str, dict[str, str]] | None = None) -> Path:
    """Write ``root/captions.csv`` for a built Emoji-people folder; returns its path.

    names: {sequence: {"en", "ko"}} CLDR names (default: from PyPI ``emoji``; tests pass a
    stand-in). Images without a name still get the four composed captions.
    """
    index = Path(root) / "index.csv"
    if not index.is_file():
        raise DataError(f"emoji captions: '{root}' has no index.csv: build it with 'gankit data emoji --size 64 --out {root}'")
    with open(index, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    seqs = [_sequence(r["sequence"]) for r in rows]
    names = emoji_names(seqs) if names is None else names
    out_rows = []
    for r, seq in zip(rows, seqs):
        tone, beard = int(r["tone"]), int(r["beard"])
        caps = [("en", c) for c in phrasings_en(r["age"], r["gender"], r["kind"], r["hair"], beard, tone)]
        caps += [("ko", c) for c in phrasings_ko(r["age"], r["gender"], r["hair"], beard, tone)]
        caps += [(lang, names[seq][lang]) for lang in LANGS if lang in names.get(seq, {})]
        out_rows += [[r["file"], r["split"], lang, cap] for lang, cap in caps]
    path = Path(root) / CAPTIONS
    with atomic_write(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["file", "split", "lang", "caption"])
        w.writerows(out_rows)
    return path


def read_captions(path: Path) -> dict[str, list[str]]:
    """{file: [captions...]} from a captions.csv."""
    out: dict[str, list[str]] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if not reader.fieldnames or not {"file", "caption"} <= set(reader.fieldnames):
            raise DataError(f"{path}: expected columns file,split,lang,caption")
        for row in reader:
            out.setdefault(row["file"], []).append(row["caption"])
    return out


class EmojiCaptions(torch.utils.data.Dataset):
    """Emoji people with captions: (uint8 [3, R, R], '\\n'-joined captions, attributes [18]).

    Builds ``captions.csv`` on first use when it is missing (needs PyPI ``emoji``).
    """

    fields = (("x", "image"), ("text", "text"), ("c", "attributes"))

    def __init__(self, root: str | os.PathLike, split: str = "train", resolution: int | None = None,
                 max_pixels: int | None = None):
        self.images = EmojiPeople(root, split, None, resolution, max_pixels)
        path = Path(root) / CAPTIONS
        if not path.is_file():
            build_emoji_captions(root)
        table = read_captions(path)
        rel = [Path(os.path.relpath(f, root)).as_posix() for f in self.images.files]
        missing = [f for f in rel if f not in table]
        if missing:
            raise DataError(f"{path}: no caption for {missing[0]} (rebuild with 'gankit captions emoji --root {root}')")
        self.captions = [table[f] for f in rel]
        self.resolution, self.channels = self.images.resolution, 3
        self.attr_names = list(ATTR_NAMES)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        x, c = self.images[i]
        return x, "\n".join(self.captions[i]), c


def fashion_captions(label: int) -> list[str]:
    """Captions of a Fashion-MNIST class, English then Korean."""
    en, ko = FASHION_EN[label], FASHION_KO[label]
    return [f"{_article(en)} {en}", f"a photo of {_article(en)} {en}", f"grey {en}", ko, f"{ko} 사진", f"회색 {ko}"]


class FashionCaptions(torch.utils.data.Dataset):
    """Fashion-MNIST with class-name captions: (uint8 [C, R, R], captions, one-hot class [10])."""

    fields = (("x", "image"), ("text", "text"), ("c", "attributes"))

    def __init__(self, split: str = "train", resolution: int = 32, channels: int = 1, root: str | None = None):
        from gankit.data.fashion_mnist import FashionMNIST

        self.base = FashionMNIST(root, split, resolution, channels, download=True)
        self.resolution, self.channels = resolution, channels
        self.attr_names = [n.replace(" ", "_") for n in FASHION_EN]
        labels = torch.as_tensor(self.base.labels).long()
        self.labels = torch.nn.functional.one_hot(labels, 10).float()
        self.captions = [fashion_captions(k) for k in range(10)]
        self._label = labels

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, i: int):
        return self.base.images[i], "\n".join(self.captions[int(self._label[i])]), self.labels[i]

    def decoded(self) -> dict:
        """Every field at once (the stream keeps it resident without iterating 60k items)."""
        joined = ["\n".join(c) for c in self.captions]
        return {"x": self.base.images, "text": [joined[k] for k in self._label.tolist()], "c": self.labels}
