"""CelebA-layout and CSV attribute loaders on stand-in data generated in the same layouts."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.data.attributes import AttributeTable, CelebA, to_rgb
from gankit.errors import DataError, GankitError

NAMES = ["Blond_Hair", "Male", "Smiling"]
# file -> (values, partition); values in CelebA's 1 / -1 convention
ROWS = {"000001.jpg": ([1, -1, 1], 0), "000002.jpg": ([-1, 1, 1], 0), "000003.jpg": ([1, 1, -1], 0),
        "000004.jpg": ([-1, -1, -1], 1), "000005.jpg": ([1, 1, 1], 2), "000006.jpg": ([-1, 1, -1], 2)}


def _celeba_image(path, i: int) -> None:
    """178x218 like aligned CelebA: red bands above/below the central 178 square, blue inside."""
    arr = np.zeros((218, 178, 3), np.uint8)
    arr[:20] = arr[-20:] = (255, 0, 0)
    arr[20:-20] = (0, 0, 200 + i)
    Image.fromarray(arr).save(path, quality=100)


def make_celeba(root, partition: bool = True, rows=ROWS) -> None:
    (root / "img_align_celeba").mkdir(parents=True)
    lines = [str(len(rows)), " ".join(NAMES) + " "]  # the real file has a trailing space
    for i, (f, (vals, _)) in enumerate(rows.items()):
        _celeba_image(root / "img_align_celeba" / f, i)
        lines.append(f + "  " + " ".join(f"{v:2d}" for v in vals))
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    if partition:
        (root / "list_eval_partition.txt").write_text("".join(f"{f} {p}\n" for f, (_, p) in rows.items()))


def _one_line(e: pytest.ExceptionInfo) -> str:
    msg = str(e.value)
    assert isinstance(e.value, GankitError) and "\n" not in msg
    return msg


def test_celeba_splits_values_and_protocol(tmp_path):
    make_celeba(tmp_path)
    train = CelebA(tmp_path, ["Male", "Blond_Hair"], resolution=32, split="train")
    assert (len(train), len(CelebA(tmp_path, None, 32, "val")), len(CelebA(tmp_path, None, 32, "test"))) == (3, 1, 2)
    assert len(CelebA(tmp_path, None, 32, "all")) == 6
    assert train.attr_names == ["Male", "Blond_Hair"] and train.n_classes == 2
    assert (train.channels, train.resolution, train.target_kind) == (3, 32, "attributes")
    x, a = train[0]
    assert x.dtype == torch.uint8 and x.shape == (3, 32, 32)
    assert a.dtype == torch.float32 and a.tolist() == [0.0, 1.0]  # -1 -> 0, requested order kept
    assert train[1][1].tolist() == [1.0, 0.0]
    assert train.positives() == {"Male": 2, "Blond_Hair": 2}


def test_celeba_center_crop_removes_bands(tmp_path):
    make_celeba(tmp_path)
    x, _ = CelebA(tmp_path, None, resolution=16, split="all")[0]
    assert x[0].max() < 40 and x[2].min() > 150  # the red bands lie outside the 178 crop
    x_nocrop, _ = CelebA(tmp_path, None, resolution=16, split="all", crop=None)[0]
    assert x_nocrop.shape == (3, 16, 16)


def test_celeba_official_ranges_without_partition_file(tmp_path):
    rows = {"000001.jpg": ([1, 1, 1], 0), "162771.jpg": ([1, 1, 1], 1), "182638.jpg": ([1, 1, 1], 2)}
    make_celeba(tmp_path, partition=False, rows=rows)
    assert [CelebA(tmp_path, None, 8, s).files[0].name for s in ("train", "val", "test")] == list(rows)


@pytest.mark.parametrize("case,expect", [
    ("no_root", "does not exist"),
    ("no_images_dir", "img_align_celeba"),
    ("no_attr_file", "list_attr_celeba.txt' is missing"),
    ("missing_image", "image '000003.jpg' listed but missing"),
    ("columns", "line 4: expected 4 columns"),
    ("value", "line 3: attribute value '2'"),
    ("count", "declares 7 images but lists 6"),
    ("unknown_attr", "did you mean 'Blond_Hair'"),
    ("split", "split 'training'"),
])
def test_celeba_errors(tmp_path, case, expect):
    root = tmp_path / "celeba"
    attrs, split = ["Male"], "train"
    if case != "no_root":
        make_celeba(root)
    attr_file = root / "list_attr_celeba.txt"
    if case == "no_images_dir":
        for p in (root / "img_align_celeba").iterdir():
            p.unlink()
        (root / "img_align_celeba").rmdir()
    elif case == "no_attr_file":
        attr_file.unlink()
    elif case == "missing_image":
        (root / "img_align_celeba" / "000003.jpg").unlink()
    elif case in ("columns", "value", "count"):
        lines = attr_file.read_text().splitlines()
        if case == "columns":
            lines[3] = lines[3].rsplit(" ", 1)[0]
        elif case == "value":
            lines[2] = lines[2].replace("-1", " 2", 1)
        else:
            lines[0] = "7"
        attr_file.write_text("\n".join(lines) + "\n")
    elif case == "unknown_attr":
        attrs = ["Blond_Hiar"]
    elif case == "split":
        split = "training"
    with pytest.raises(DataError) as e:
        CelebA(root, attrs, 16, split)
    assert expect in _one_line(e)


def _save_modes(folder) -> None:
    """Four images of different PIL modes, 20x20."""
    rgba = Image.new("RGBA", (20, 20), (10, 200, 30, 0))  # fully transparent green
    rgba.save(folder / "rgba.png")
    Image.new("L", (20, 20), 77).save(folder / "gray.png")
    pal = Image.new("P", (20, 20), 1)
    pal.putpalette([0, 0, 0, 250, 20, 40] + [0] * 762)
    pal.save(folder / "pal.png")
    Image.new("RGB", (30, 20), (5, 6, 7)).save(folder / "rgb.png")  # non-square: centre-cropped


def make_table(tmp_path, header="file,split,Smile,Hat", rows=None):
    img = tmp_path / "imgs"
    img.mkdir()
    _save_modes(img)
    rows = rows or ["rgba.png,train,1,0", "gray.png,train,0,1", "pal.png,test,-1,1", "rgb.png,test,1,-1"]
    csv_path = tmp_path / "table.csv"
    csv_path.write_text(header + "\n" + "\n".join(rows) + "\n")
    return csv_path, img


def test_attribute_table_modes_values_and_split(tmp_path):
    csv_path, img = make_table(tmp_path)
    ds = AttributeTable(csv_path, image_root=img, resolution=8)
    assert len(ds) == 4 and ds.attr_names == ["Smile", "Hat"] and ds.target_kind == "attributes"
    items = [ds[i] for i in range(4)]
    assert all(x.shape == (3, 8, 8) and x.dtype == torch.uint8 for x, _ in items)
    assert items[0][0].min() == 255  # transparent RGBA pixels composite to white, not black
    assert (items[1][0] == 77).all()  # grey copied to the three channels
    assert items[2][0][:, 0, 0].tolist() == [250, 20, 40]  # palette index 1 resolved
    assert [a.tolist() for _, a in items] == [[1, 0], [0, 1], [0, 1], [1, 0]]
    test = AttributeTable(csv_path, image_root=img, attrs=["Hat"], resolution=8, split="test")
    assert len(test) == 2 and test.attr_names == ["Hat"] and test[0][1].tolist() == [1.0]


def test_attribute_table_native_resolution_and_default_root(tmp_path):
    csv_path, img = make_table(tmp_path, header="file,Smile", rows=["imgs/rgb.png,1", "", "imgs/gray.png,0"])
    ds = AttributeTable(csv_path)  # file paths relative to the CSV's folder; blank line skipped
    assert len(ds) == 2 and ds.resolution == 20 and ds[0][0].shape == (3, 20, 20)


@pytest.mark.parametrize("case,expect", [
    ("missing_csv", "is missing"),
    ("missing_image", "line 3: image 'nope.png' is missing"),
    ("columns", "line 2: expected 4 columns"),
    ("value", "column 'Hat'"),
    ("header", "first column must be 'file'"),
    ("unknown_attr", "did you mean 'Smile'"),
    ("unknown_split", "no rows with split 'tset'"),
])
def test_attribute_table_errors(tmp_path, case, expect):
    rows = None
    header = "file,split,Smile,Hat"
    if case == "missing_image":
        rows = ["rgba.png,train,1,0", "nope.png,train,0,1"]
    elif case == "columns":
        rows = ["rgba.png,train,1"]
    elif case == "value":
        rows = ["rgba.png,train,1,yes"]
    elif case == "header":
        header = "path,Smile,Hat,split"
    csv_path, img = make_table(tmp_path, header=header, rows=rows)
    kwargs = {"image_root": img, "resolution": 8}
    if case == "missing_csv":
        csv_path = tmp_path / "absent.csv"
    elif case == "unknown_attr":
        kwargs["attrs"] = ["Smiel"]
    elif case == "unknown_split":
        kwargs["split"] = "tset"
    with pytest.raises(DataError) as e:
        AttributeTable(csv_path, **kwargs)
    assert expect in _one_line(e)


def test_to_rgb_16bit_grey():
    img = Image.fromarray(np.full((4, 4), 65535, np.uint16))
    assert np.asarray(to_rgb(img)).min() == 255
