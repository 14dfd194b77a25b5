"""The one image decoder (gankit.data.images): modes, and one-line DataErrors for bad files."""

from __future__ import annotations

import ast
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data.images import IMAGE_EXTS, is_image_file, open_image, to_chw
from gankit.errors import DataError


def png(path: Path, size=(16, 16), mode="RGB") -> Path:
    rng = np.random.default_rng(0)
    shape = (size[1], size[0]) if mode == "L" else (size[1], size[0], len(mode))
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)
    return path


def with_ihdr_size(path: Path, width: int, height: int) -> Path:
    """Rewrite a PNG's IHDR width/height (and its CRC) so the header claims another size."""
    data = bytearray(path.read_bytes())
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path.write_bytes(bytes(data))
    return path


def assert_one_line(err: pytest.ExceptionInfo, path: Path) -> str:
    msg = str(err.value)
    assert str(path) in msg and "not a readable image" in msg
    assert "\n" not in msg and len(msg) < len(str(path)) + 300
    assert err.value.__cause__ is None and err.value.__suppress_context__  # no Pillow traceback
    return msg


def test_truncated_png(tmp_path):
    path = png(tmp_path / "cut.png", (64, 64))
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(DataError) as e:
        open_image(path)
    assert_one_line(e, path)


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("hello, not pixels\nsecond line\n")
    with pytest.raises(DataError) as e:
        open_image(path)
    assert "UnidentifiedImageError" in assert_one_line(e, path)


def test_header_claiming_a_huge_size_is_a_bad_image(tmp_path):
    path = with_ihdr_size(png(tmp_path / "bomb.png"), 100_000, 100_000)
    with pytest.raises(DataError) as e:
        open_image(path)
    assert "DecompressionBomb" in assert_one_line(e, path)


def test_decompression_bomb_warning_is_an_error(tmp_path, monkeypatch):
    path = png(tmp_path / "big.png", (16, 16))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 200)  # 256 px: Pillow only warns below 2x the limit
    with pytest.raises(DataError) as e:
        open_image(path, advice="; try again")
    msg = assert_one_line(e, path)
    assert "DecompressionBombWarning" in msg and msg.endswith("; try again")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match="nope.png: image file does not exist"):
        open_image(tmp_path / "nope.png")


def test_modes_alpha_palette_grey(tmp_path):
    rgba = tmp_path / "a.png"
    Image.new("RGBA", (4, 3), (10, 20, 30, 0)).save(rgba)
    img = open_image(rgba)
    assert img.mode == "RGB" and img.size == (4, 3) and np.asarray(img).min() == 255  # composited on white
    assert open_image(rgba, 1).mode == "L"
    pal = tmp_path / "p.gif"
    Image.new("P", (5, 5), 0).save(pal)
    assert open_image(pal).mode == "RGB"
    t = to_chw(open_image(png(tmp_path / "g.png", (6, 4), "L"), 1))
    assert t.shape == (1, 4, 6) and t.dtype == torch.uint8 and t.is_contiguous()
    assert to_chw(open_image(png(tmp_path / "c.png", (6, 4)))).shape == (3, 4, 6)


def test_exif_orientation_is_optional(tmp_path):
    path = tmp_path / "rot.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees on display
    Image.new("RGB", (8, 4), (200, 0, 0)).save(path, exif=exif)
    assert open_image(path).size == (4, 8)
    assert open_image(path, exif=False).size == (8, 4)


def test_every_reader_uses_the_decoder(tmp_path):
    from gankit.data.attributes import load_rgb
    from gankit.data.folders import load_image
    from gankit.metrics.sources import _Decode
    from gankit.pipelines import load_image as pipeline_image

    path = tmp_path / "bad.jpg"
    path.write_bytes(b"\xff\xd8\xff garbage")
    readers = [lambda: load_image(path, 8, 3), lambda: load_rgb(path, 8, None), lambda: _Decode([path])[0],
               lambda: pipeline_image(path)]
    for read in readers:
        with pytest.raises(DataError) as e:
            read()
        assert str(path) in str(e.value) and "\n" not in str(e.value)
    good = png(tmp_path / "ok.png", (8, 8))
    assert pipeline_image(good).shape == (8, 8, 3)
    assert _Decode([good])[0].shape == (3, 8, 8)


def test_one_extension_list():
    import gankit.data.folders as folders
    import gankit.editing.attributes as editing

    assert folders.IMAGE_EXTS is IMAGE_EXTS and editing.IMAGE_EXTS is IMAGE_EXTS
    assert is_image_file("x/A.JPG") and is_image_file("b.gif") and not is_image_file("c.npz")


def test_data_layer_imports_no_upper_layer():
    root = Path(__file__).resolve().parents[2] / "gankit" / "data"
    upper = ("gankit.metrics", "gankit.editing", "gankit.cli", "gankit.pipelines")
    for f in root.glob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module:
                assert not node.module.startswith(upper), f"{f.name} imports {node.module}"
            elif isinstance(node, ast.Import):
                assert not any(a.name.startswith(upper) for a in node.names), f"{f.name} imports {node.names[0].name}"
