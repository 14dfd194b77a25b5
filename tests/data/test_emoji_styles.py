"""The emoji-styles builder on a tiny generated stand-in of the Twemoji package, and the
paired / unpaired translation sources (alignment under flips, independent draws)."""

from __future__ import annotations

import csv
import io
import json
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data import emoji as E
from gankit.data import emoji_styles as S
from gankit.data.stream import BatchStream
from gankit.data.translation import PairedImages, UnpairedImages, emoji_styles
from gankit.errors import ConfigError, DataError

needs_font = pytest.mark.skipif(not Path(E.FONT_PATH).is_file(), reason=f"{E.FONT_PATH} absent: apt-get install -y "
                                f"{E.FONT_PACKAGE}")
TONES = ["1F3FB", "1F3FC", "1F3FD", "1F3FE", "1F3FF"]


def _entry(unified: str, name: str, tones: bool = False) -> dict:
    e = {"unified": unified, "name": name, "image": unified.lower() + ".png", "has_img_twitter": True}
    if tones:
        head, _, rest = unified.partition("-")
        e["skin_variations"] = {t: {"unified": "-".join([head, t] + ([rest] if rest else [])),
                                    "image": "-".join([head, t] + ([rest] if rest else [])).lower() + ".png",
                                    "has_img_twitter": True} for t in TONES}
    return e


ENTRIES = [_entry("1F600", "grinning face"), _entry("1F436", "dog face"), _entry("1F431", "cat face"),
           _entry("1F34E", "red apple"), _entry("1F44D", "thumbs up", tones=True),
           _entry("1F9D1", "adult", tones=True), _entry("1F468", "man", tones=True), _entry("1F469", "woman", tones=True),
           _entry("1F9D3", "older adult", tones=True), _entry("1F474", "old man", tones=True),
           _entry("1F475", "old woman", tones=True), _entry("1F46E-200D-2642-FE0F", "man police officer", tones=True),
           _entry("1F46E", "police officer", tones=True)]


def make_package(root: Path, missing: tuple[str, ...] = ()) -> Path:
    """A tarball laid out like emoji-datasource-twitter: package/emoji.json + img/twitter/64/*.png
    (flat coloured squares, one colour per emoji)."""
    path = root / "tw.tgz"
    with tarfile.open(path, "w:gz") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add("emoji.json", json.dumps(ENTRIES).encode())
        images = [e["image"] for e in ENTRIES] + [v["image"] for e in ENTRIES for v in e.get("skin_variations", {}).values()]
        for i, img in enumerate(images):
            if img in missing:
                continue
            buf = io.BytesIO()
            Image.new("RGBA", (64, 64), (10 * i % 255, 80, 200, 255)).save(buf, "PNG")
            add(f"img/twitter/64/{img}", buf.getvalue())
    return path


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    if not Path(E.FONT_PATH).is_file():
        pytest.skip("Noto Color Emoji font absent")
    root = tmp_path_factory.mktemp("styles")
    pkg = make_package(root, missing=("1f600.png",))
    out = root / "out"
    summary = S.build_emoji_styles(out, "noto,twemoji", 16, seed=1, test_fraction=0.3, twemoji=pkg, progress=False)
    return out, summary


def _rows(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_base_key_groups_tones_genders_and_gender_signs():
    k = S.base_key
    assert k("\U0001F44D\U0001F3FD") == k("\U0001F44D") == "1f44d"
    assert k("\U0001F468") == k("\U0001F469\U0001F3FF") == k("\U0001F9D1") == "1f9d1"
    assert k("\U0001F46E\u200d\u2642\ufe0f") == k("\U0001F46E\U0001F3FB\u200d\u2640\ufe0f") == "1f46e"
    assert k("\U0001F469\u200d\U0001F9B0") == "1f9d1"  # hair variants join their person
    assert k("\U0001F474") == "1f9d3" and k("\U0001F9D2") != k("\U0001F9D1")
    assert S.key_of("\U0001F46E\u200d\u2642\ufe0f") == "1f46e-200d-2642"


@needs_font
def test_builder_pairs_split_by_base_halves_and_ages(built):
    out, s = built
    index = _rows(out / "index.csv")
    n = 4 + 9 * 6
    assert s["emoji"] == len(index) == n
    assert s["drawn"]["twemoji"] == n - 1  # one PNG missing from the package
    by_key = {r["key"]: r for r in index}
    assert by_key["1f600"]["twemoji"] == "0" and by_key["1f600"]["noto"] == "1"
    # every tone / gender variant of one base emoji is in the same split
    split_of_group: dict[str, set[str]] = {}
    for r in index:
        split_of_group.setdefault(r["group"], set()).add(r["split"])
    assert all(len(v) == 1 for v in split_of_group.values())
    assert len({r["group"] for r in index}) == 8  # grin, dog, cat, apple, thumbs up, person, older person, police
    assert {"train", "test"} == {r["split"] for r in index}
    # halves: only paired training emoji, disjoint, sizes differ by at most one
    halves = [r["half"] for r in index if r["split"] == "train" and r["noto"] == r["twemoji"] == "1"]
    assert set(halves) <= {"A", "B"} and abs(halves.count("A") - halves.count("B")) <= 1
    assert all(r["half"] == "" for r in index if r["split"] == "test")
    pairs = _rows(out / "counterparts.csv")
    assert len(pairs) == s["paired"] == n - 1
    for p in pairs[:5]:
        a, b = Image.open(out / p["noto"]), Image.open(out / p["twemoji"])
        assert a.size == b.size == (16, 16) and a.mode == b.mode == "RGB"
    # ages: 6 tones x (adult plain: person/man/woman) and older (older/old man/old woman)
    ages = _rows(out / "ages.csv")
    assert sum(r["age"] == "older" for r in ages) == 18 and sum(r["age"] == "adult" for r in ages) == 18
    ap = _rows(out / "age_pairs.csv")
    assert len(ap) == 18 and all(r["to"] == "older" for r in ap)
    for r in ap:  # same gender and tone
        src, dst = E.parse_sequence(_seq(by_key[r["src"]])), E.parse_sequence(_seq(by_key[r["dst"]]))
        assert (src.gender, src.tone, src.age, dst.gender, dst.tone, dst.age) == (dst.gender, dst.tone, "adult",
                                                                                  src.gender, src.tone, "older")
    assert "CC-BY 4.0" in (out / "LICENSES.md").read_text()


def _seq(row: dict) -> str:
    return "".join(chr(int(t[2:], 16)) for t in row["sequence"].split())


@needs_font
def test_sources_of_the_build(built):
    out, s = built
    paired = emoji_styles(out, "test", [], 16, paired=True)
    assert isinstance(paired, PairedImages) and paired.domains == ("noto", "twemoji")
    k = paired.keys[0]
    a = np.array(Image.open(out / "noto" / f"{k}.png"))
    assert torch.equal(paired[0][0], torch.from_numpy(a).permute(2, 0, 1))
    un = emoji_styles(out, "train", ["twemoji", "noto"], 8, paired=False)
    assert isinstance(un, UnpairedImages) and un.resolution == 8 and un.domains == ("twemoji", "noto")
    assert un.na + un.nb == s["paired_per_split"]["train"]
    with pytest.raises(DataError, match="style 'twemoj' is not in .*did you mean 'twemoji'"):
        emoji_styles(out, "train", ["noto", "twemoj"], 16)
    with pytest.raises(DataError, match="no index.csv there; build it with 'gankit data emoji-styles"):
        emoji_styles(out / "nope", "train", [], 16)


def test_bad_styles_and_missing_npm_are_one_line(tmp_path, monkeypatch):
    for bad, needle in (("noto,twemojii", "unknown style 'twemojii'.*did you mean 'twemoji'"),
                        ("noto", "expected two or more different styles"), ("noto,noto", "two or more different")):
        with pytest.raises(DataError, match=needle):
            S.parse_styles(bad)
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path))
    monkeypatch.setattr(S.shutil, "which", lambda name: None)
    with pytest.raises(DataError, match=r"Twemoji needs npm to fetch emoji-datasource-twitter@16.0.0") as e:
        S.fetch_twemoji()
    assert "\n" not in str(e.value)
    bad = tmp_path / "bad.tgz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(DataError, match="not a readable emoji-datasource tarball"):
        S.catalogue(S._Package(bad))


def _images(n: int, r: int = 4, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 3, r, r), generator=torch.Generator().manual_seed(seed), dtype=torch.uint8)


@pytest.mark.parametrize("resident", [True, False])
def test_paired_flips_keep_a_and_b_aligned(resident):
    a = _images(12)
    src = PairedImages(a, 255 - a)  # b is a pixel-wise function of a: -a in [-1, 1]
    stream = BatchStream(src, 4, "cpu", seed=3, resident=resident, hflip=True, num_workers=0)
    flipped = 0
    for _ in range(6):
        idx = stream.batch_indices(stream.consumed)
        batch = next(stream)
        assert torch.allclose(batch.b, -batch.a, atol=1e-6)  # flipped together (a lone flip differs by ~1)
        raw = a[idx].float() / 127.5 - 1
        flipped += int((~torch.isclose(batch.a, raw).flatten(1).all(1)).sum())
    assert flipped > 0  # some samples were flipped, and their b flipped with them


def test_unpaired_draws_every_combination_once_per_epoch():
    a, b = _images(3, seed=1), _images(4, seed=2)
    src = UnpairedImages(a, b)
    assert len(src) == 12
    combos = {src.index(i) for i in range(len(src))}
    assert combos == {(i, j) for i in range(3) for j in range(4)}
    stream = BatchStream(src, 4, "cpu", seed=0, resident=True, num_workers=0)
    seen = set()
    for _ in range(3):  # one epoch
        batch = next(stream)
        for x, y in zip(batch.a, batch.b):
            ia = next(i for i in range(3) if torch.equal(x, a[i].float() / 127.5 - 1))
            ib = next(j for j in range(4) if torch.equal(y, b[j].float() / 127.5 - 1))
            seen.add((ia, ib))
    assert seen == combos


def test_unpaired_windows_when_the_product_is_large(monkeypatch):
    import gankit.data.translation as T

    monkeypatch.setattr(T, "MAX_PRODUCT", 12)
    src = UnpairedImages(_images(4), _images(10, seed=1))
    assert src.per_a == 3 and len(src) == 12
    counts = np.bincount([src.index(i)[1] for i in range(len(src))], minlength=10)
    assert counts.max() <= 2 and len({src.index(i) for i in range(12)}) == 12
    monkeypatch.setattr(T, "MAX_RESIDENT_PRODUCT", 4)
    with pytest.raises(DataError, match="set data.resident=false"):
        src.decoded()


def test_domains_key_only_for_translation_sources():
    from gankit.config import load_config
    from gankit.data.sources import check_data_keys

    cfg = load_config(None, ["data.domains=[a, b]"])
    with pytest.raises(ConfigError, match="data.domains: dataset 'fashion_mnist' does not read it .*emoji_styles"):
        check_data_keys(cfg.data)


def test_data_limit_keeps_the_first_images_of_each_unpaired_domain(monkeypatch):
    import gankit.data.translation as T
    from gankit.config import load_config
    from gankit.data.sources import build_source

    a, b = _images(6, seed=1), _images(7, seed=2)
    monkeypatch.setattr(T, "fashion_classes", lambda *args: UnpairedImages(a, b))
    src = build_source(load_config("cyclegan_fashion", ["data.limit=3"]).data)
    assert isinstance(src, UnpairedImages) and src.na == src.nb == 3 and len(src) == 9
    assert torch.equal(src.a_images, a[:3]) and torch.equal(src.b_images, b[:3])


def test_unpaired_folders_source(tmp_path):
    from gankit.config import DataConfig
    from gankit.data.sources import build_source
    from gankit.errors import ConfigError, DataError

    for d, n, colour in (("horse", 3, (150, 100, 50)), ("zebra", 2, (250, 250, 250))):
        (tmp_path / d).mkdir()
        for i in range(n):
            Image.new("RGB", (20, 12), colour).save(tmp_path / d / f"{i}.png")
    src = build_source(DataConfig(name="unpaired_folders", path=str(tmp_path), domains=["horse", "zebra"],
                                  resolution=16, channels=3))
    assert src.domains == ("horse", "zebra") and src.a_images.shape == (3, 3, 16, 16) and src.b_images.shape[0] == 2
    assert int(src.a_images[0, 0, 8, 8]) == 150 and int(src.b_images[0, 2, 8, 8]) == 250
    with pytest.raises(DataError, match=r"no folder 'zebr' in .* \(did you mean 'zebra'"):
        build_source(DataConfig(name="unpaired_folders", path=str(tmp_path), domains=["horse", "zebr"], resolution=16))
    with pytest.raises(DataError, match="expected two different"):
        build_source(DataConfig(name="unpaired_folders", path=str(tmp_path), domains=["horse"], resolution=16))
    with pytest.raises(ConfigError, match="needs data.path"):
        build_source(DataConfig(name="unpaired_folders", domains=["horse", "zebra"], resolution=16))
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        build_source(DataConfig(name="unpaired_folders", path=str(tmp_path), domains=["horse", "empty"], resolution=16))
