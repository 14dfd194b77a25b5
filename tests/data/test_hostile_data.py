"""Hostile data (issue 11): decompression bombs and data.max_pixels, table encodings, symlinked
and looping folders, unreadable files and folders, data.limit past the end. Each failure is
one line naming the file; with data.skip_bad=true bad files are skipped, warned and counted."""

from __future__ import annotations

import logging
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from gankit.config import DataConfig, load_config
from gankit.data.attributes import AttributeTable, CelebA
from gankit.data.emoji import EmojiPeople
from gankit.data.folders import ImageFolder, list_images
from gankit.data.images import DEFAULT_MAX_PIXELS, open_image
from gankit.data.sources import build_source
from gankit.errors import ConfigError, DataError

TINY = ["data.resolution=32", "data.channels=3", "data.num_workers=0", "train.batch_size=4", "train.steps=1",
        "train.log_every=1", "train.sample_every=0", "train.ckpt_every=0", "train.n_samples=4",
        "train.progress=false", "train.device=cpu", "model.z_dim=8", "model.generator.width=8",
        "model.discriminator.width=8"]


def png(path: Path, size=(16, 16), seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    Image.fromarray(rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)).save(path)
    return path


def bomb(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A small valid PNG whose header (IHDR, CRC fixed) claims width x height pixels."""
    png(path)
    data = bytearray(path.read_bytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def one_line(err: pytest.ExceptionInfo, *needles: str) -> str:
    msg = str(err.value)
    assert "\n" not in msg and len(msg) < 500, msg
    for n in needles:
        assert n in msg, msg
    return msg


# ----------------------------------------------------------------------- decompression bombs
@pytest.fixture
def bomb_folder(tmp_path):
    for i in range(8):
        png(tmp_path / "imgs" / f"{i:02d}.png", seed=i)
    bomb(tmp_path / "imgs" / "bomb.png")
    return tmp_path / "imgs"


def test_train_names_the_bomb_in_one_line(bomb_folder, tmp_path, cli):
    code, _, err = cli("train", "dcgan_fashion", f"data.path={bomb_folder}", *TINY, "--out", tmp_path / "run")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("gankit: error: "), err
    assert str(bomb_folder / "bomb.png") in err and "DecompressionBomb" in err and "data.max_pixels" in err
    assert "10,000,000,000 pixels" in err and "data.skip_bad=true" in err


def test_train_with_skip_bad_skips_warns_and_counts_the_bomb(bomb_folder, tmp_path, cli, caplog):
    caplog.set_level(logging.WARNING)
    code, out, err = cli("train", "dcgan_fashion", f"data.path={bomb_folder}", "data.skip_bad=true", *TINY,
                         "--out", tmp_path / "run")
    assert code == 0, err
    assert "done: step 1" in out
    text = caplog.text
    assert "skipped 1 unreadable image(s) of 9" in text
    assert "bomb.png" in text  # the skipped file is named once


def test_max_pixels_is_configurable_for_every_file_source(tmp_path):
    img = png(tmp_path / "imgs" / "a.png", (20, 10))  # 200 pixels
    with pytest.raises(DataError) as e:
        open_image(img, max_pixels=199)
    one_line(e, str(img), "200 pixels", "199", "data.max_pixels=199")
    assert open_image(img, max_pixels=200).size == (20, 10)
    assert open_image(img, max_pixels=0).size == (20, 10)  # 0 = no limit
    # folder
    folder = ImageFolder(tmp_path / "imgs", 8, 3, max_pixels=100)
    with pytest.raises(DataError) as e:
        folder[0]
    one_line(e, "a.png", "data.max_pixels=100")
    skip = ImageFolder(tmp_path / "imgs", 8, 3, skip_bad=True, max_pixels=100)
    assert skip[0][0] is None
    # attribute table (and through it the emoji layout)
    (tmp_path / "imgs" / "attributes.csv").write_text("file,split,Smiling\na.png,train,1\n")
    with pytest.raises(DataError) as e:
        AttributeTable(tmp_path / "imgs" / "attributes.csv", max_pixels=100)[0]
    one_line(e, "a.png", "data.max_pixels=100")
    with pytest.raises(DataError) as e:
        EmojiPeople(tmp_path / "imgs", "train", resolution=8, max_pixels=100)[0]
    one_line(e, "a.png", "data.max_pixels=100")
    assert EmojiPeople(tmp_path / "imgs", "train", resolution=8, max_pixels=0)[0][0].shape == (3, 8, 8)


def test_max_pixels_key_reaches_the_sources_and_is_checked(tmp_path):
    png(tmp_path / "imgs" / "a.png", (20, 10))
    assert DataConfig().max_pixels == DEFAULT_MAX_PIXELS
    src = build_source(DataConfig(name="folder", path=str(tmp_path / "imgs"), channels=3, resolution=8, max_pixels=100))
    with pytest.raises(DataError, match="data.max_pixels=100"):
        src[0]
    (tmp_path / "imgs" / "t.csv").write_text("file,Smiling\na.png,1\n")
    src = build_source(DataConfig(name="attributes", path=str(tmp_path / "imgs" / "t.csv"), channels=3, resolution=8,
                                  split="all", max_pixels=100))
    with pytest.raises(DataError, match="data.max_pixels=100"):
        src[0]
    with pytest.raises(ConfigError) as e:
        build_source(DataConfig(name="folder", path=str(tmp_path / "imgs"), channels=3, max_pixels=-1))
    one_line(e, "data.max_pixels=-1", ">= 0")
    with pytest.raises(ConfigError) as e:  # a source that reads no files does not read the key
        build_source(DataConfig(name="synthetic", channels=3, max_pixels=5))
    one_line(e, "data.max_pixels", "does not read it")
    cfg = load_config("dcgan_fashion", [f"data.path={tmp_path / 'imgs'}", "data.max_pixels=0"])
    assert cfg.data.max_pixels == 0


def test_celeba_honours_max_pixels(tmp_path):
    from tests.data.test_attributes import make_celeba

    make_celeba(tmp_path)
    ds = CelebA(tmp_path, None, 16, "all", max_pixels=1000)  # 178 x 218 images
    with pytest.raises(DataError) as e:
        ds[0]
    one_line(e, "000001.jpg", "data.max_pixels=1000")


# --------------------------------------------------------------------------- table encodings
def _table(tmp_path, text: str, encoding: str = "utf-8", bom: bool = False) -> Path:
    png(tmp_path / "a.png")
    png(tmp_path / "b.png", seed=1)
    path = tmp_path / "attributes.csv"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode(encoding))
    return path


def test_attribute_csv_with_a_utf8_bom_works(tmp_path):
    path = _table(tmp_path, "file,split,Smiling\r\na.png,train,1\r\nb.png,train,-1\r\n", bom=True)
    ds = AttributeTable(path, split="train", resolution=8)
    assert ds.attr_names == ["Smiling"] and len(ds) == 2 and ds[1][1].tolist() == [0.0]
    ds = EmojiPeople(tmp_path, "train", resolution=8)  # the emoji layout reads the same table
    assert len(ds) == 2


def test_attribute_csv_in_latin1_names_file_line_and_encoding(tmp_path):
    path = _table(tmp_path, "file,Smiling\na.png,1\ncaf\xe9.png,1\n", encoding="latin-1")
    with pytest.raises(DataError) as e:
        AttributeTable(path)
    one_line(e, str(path), "line 3", "0xe9", "UTF-8")
    with pytest.raises(DataError) as e:
        EmojiPeople(tmp_path, "all")
    one_line(e, str(path), "UTF-8")


@pytest.mark.parametrize("text,needle", [
    ("file,Smiling,Smiling\na.png,1,1\n", "appears twice"),
    ("file,,Smiling\na.png,1,1\n", "has no name"),
    ("file,Smiling\na.png,1\x00\n", "NUL"),
])
def test_malformed_attribute_csv_is_one_line(tmp_path, text, needle):
    path = _table(tmp_path, text)
    with pytest.raises(DataError) as e:
        AttributeTable(path)
    one_line(e, str(path), needle)


def test_attribute_path_that_is_a_folder_or_binary(tmp_path):
    with pytest.raises(DataError) as e:
        AttributeTable(tmp_path)
    one_line(e, str(tmp_path), "folder")
    img = png(tmp_path / "x.png")
    with pytest.raises(DataError) as e:
        AttributeTable(img)
    one_line(e, str(img))


def test_celeba_files_with_a_bom_work_and_latin1_is_named(tmp_path):
    from tests.data.test_attributes import make_celeba

    make_celeba(tmp_path)
    attr = tmp_path / "list_attr_celeba.txt"
    attr.write_bytes(b"\xef\xbb\xbf" + attr.read_bytes())
    part = tmp_path / "list_eval_partition.txt"
    part.write_bytes(b"\xef\xbb\xbf" + part.read_bytes())
    assert len(CelebA(tmp_path, None, 16, "train")) == 3
    attr.write_bytes(attr.read_bytes().replace(b"Smiling", b"Souriant\xe9"))
    with pytest.raises(DataError) as e:
        CelebA(tmp_path, None, 16, "train")
    one_line(e, str(attr), "line 2", "UTF-8")


# ------------------------------------------------------------------- folders: links and bits
def test_symlinked_class_folders_are_followed(tmp_path):
    for i in range(3):
        png(tmp_path / "store" / "cats" / f"{i}.png", seed=i)
        png(tmp_path / "store" / "dogs" / f"{i}.png", seed=10 + i)
    (tmp_path / "data").mkdir()
    os.symlink(tmp_path / "store" / "cats", tmp_path / "data" / "cats")
    os.symlink(tmp_path / "store" / "dogs", tmp_path / "data" / "dogs")
    ds = ImageFolder(tmp_path / "data", 8, 3, labels=True)
    assert len(ds) == 6 and ds.class_names == ["cats", "dogs"]


def test_a_symlink_loop_is_listed_once_with_a_warning(tmp_path, caplog):
    for i in range(4):
        png(tmp_path / "d" / f"{i}.png", seed=i)
    (tmp_path / "d" / "sub").mkdir()
    os.symlink("..", tmp_path / "d" / "sub" / "up")
    with caplog.at_level(logging.WARNING):
        files = list_images(tmp_path / "d")
    assert len(files) == 4
    assert "already listed" in caplog.text and "up" in caplog.text


def test_a_broken_symlink_counts_as_a_bad_file(tmp_path):
    png(tmp_path / "d" / "a.png")
    png(tmp_path / "d" / "b.png", seed=1)
    os.symlink(tmp_path / "gone.png", tmp_path / "d" / "c.png")
    ds = ImageFolder(tmp_path / "d", 8, 3)
    assert len(ds) == 3
    with pytest.raises(DataError) as e:
        ds[2]
    one_line(e, "c.png", "symbolic link", "data.skip_bad=true")
    assert ImageFolder(tmp_path / "d", 8, 3, skip_bad=True)[2][0] is None


def test_an_unreadable_file_is_skipped_under_skip_bad(tmp_path, monkeypatch):
    for i in range(3):
        png(tmp_path / "d" / f"{i}.png", seed=i)
    real_open = Image.open

    def denied(path, *a, **k):  # permission bits do not stop root, so the failure is injected
        if Path(path).name == "1.png":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, *a, **k)

    monkeypatch.setattr(Image, "open", denied)
    with pytest.raises(DataError) as e:
        ImageFolder(tmp_path / "d", 8, 3)[1]
    one_line(e, "1.png", "Permission denied")
    ds = ImageFolder(tmp_path / "d", 8, 3, skip_bad=True)
    assert [ds[i][0] is None for i in range(3)] == [False, True, False]


def test_an_unlistable_sub_folder_is_named_or_skipped(tmp_path, monkeypatch, caplog):
    png(tmp_path / "d" / "a.png")
    png(tmp_path / "d" / "locked" / "b.png")
    real_walk = os.walk

    def walk(top, onerror=None, followlinks=False):
        for dirpath, dirnames, filenames in real_walk(top, onerror=onerror, followlinks=followlinks):
            if Path(dirpath).name == "locked":
                onerror(PermissionError(13, "Permission denied", dirpath))
                continue
            yield dirpath, dirnames, filenames

    monkeypatch.setattr(os, "walk", walk)
    with pytest.raises(DataError) as e:
        list_images(tmp_path / "d")
    one_line(e, "locked", "Permission denied", "data.skip_bad=true")
    with caplog.at_level(logging.WARNING):
        assert [p.name for p in list_images(tmp_path / "d", skip_bad=True)] == ["a.png"]
    assert "locked" in caplog.text


@pytest.mark.parametrize("setup,needle", [
    (lambda d: d.mkdir(), "holds no images"),
    (lambda d: (d.mkdir(), (d / "notes.txt").write_text("x"), (d / ".hidden.png").write_bytes(b"x")), "holds no images"),
    (lambda d: d.write_text("not a folder"), "is not a folder"),
])
def test_empty_and_imageless_folders_are_one_line(tmp_path, cli, setup, needle):
    d = tmp_path / "d"
    setup(d)
    code, _, err = cli("train", "dcgan_fashion", f"data.path={d}", *TINY, "--out", tmp_path / "run")
    assert code == 2 and err.startswith("gankit: error: ") and needle in err and str(d) in err
    assert len(err.strip().splitlines()) == 1


def test_limit_larger_than_the_dataset_warns_and_uses_all(tmp_path, caplog):
    for i in range(5):
        png(tmp_path / "d" / f"{i}.png", seed=i)
    with caplog.at_level(logging.WARNING):
        src = build_source(DataConfig(name="folder", path=str(tmp_path / "d"), channels=3, resolution=8, limit=1000))
    assert len(src) == 5
    assert "data.limit=1000" in caplog.text and "5 items" in caplog.text
