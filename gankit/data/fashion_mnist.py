"""Fashion-MNIST from IDX files (Debian ``dataset-fashion-mnist`` or torchvision's download).

Files: ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]`` in one folder.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import torch

from gankit.errors import DataError

DEBIAN_ROOT = "/usr/share/datasets/fashion-mnist"
CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
_PREFIX = {"train": "train", "test": "t10k"}


def default_root() -> str:
    return os.environ.get("GANKIT_FASHION_MNIST", DEBIAN_ROOT)


def _find(root: Path, stem: str) -> Path:
    for name in (stem, stem + ".gz"):
        for cand in (root / name, root / "FashionMNIST" / "raw" / name):
            if cand.is_file():
                return cand
    raise DataError(
        f"Fashion-MNIST file '{stem}[.gz]' not found in {root}: install it with "
        f"'apt-get install -y dataset-fashion-mnist' (puts it in {DEBIAN_ROOT}), or set "
        f"GANKIT_FASHION_MNIST to a folder holding the IDX files"
    )


def read_idx(path: Path, expect_dims: int) -> np.ndarray:
    """Parse one IDX file (magic 0x0000 08 ndim, big-endian sizes, uint8 payload)."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError) as e:
        raise DataError(f"{path}: cannot read IDX file ({e})") from None
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08 or data[3] != expect_dims:
        raise DataError(f"{path}: not an IDX uint8 file with {expect_dims} dims (bad magic header)")
    header = 4 + 4 * expect_dims
    dims = [int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(expect_dims)]
    want = int(np.prod(dims)) + header
    if len(data) != want:
        raise DataError(f"{path}: size {len(data)} bytes, expected {want} for shape {tuple(dims)} (truncated or corrupt)")
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(dims)


def load_idx(root: str | os.PathLike | None = None, split: str = "train") -> tuple[np.ndarray, np.ndarray]:
    """Return (images uint8 [N, 28, 28], labels int64 [N]) for split 'train' or 'test'."""
    if split not in _PREFIX:
        raise DataError(f"Fashion-MNIST split '{split}': expected 'train' or 'test'")
    rootp = Path(root or default_root())
    images = read_idx(_find(rootp, f"{_PREFIX[split]}-images-idx3-ubyte"), 3)
    labels = read_idx(_find(rootp, f"{_PREFIX[split]}-labels-idx1-ubyte"), 1)
    if len(images) != len(labels):
        raise DataError(f"{rootp}: {len(images)} images but {len(labels)} labels in split '{split}'")
    return images, labels.astype(np.int64)


def try_torchvision_download(root: str) -> bool:
    """Download with torchvision where internet exists; False when it fails (offline)."""
    try:
        from torchvision.datasets import FashionMNIST

        FashionMNIST(root, train=True, download=True)
        FashionMNIST(root, train=False, download=True)
        return True
    except Exception:
        return False


class FashionMNIST(torch.utils.data.Dataset):
    """Source protocol over Fashion-MNIST; images resized to ``resolution`` once, in memory."""

    target_kind = "class"
    attr_names: list[str] = []

    def __init__(self, root: str | None = None, split: str = "train", resolution: int = 28, channels: int = 1, download: bool = False):
        try:
            images, labels = load_idx(root, split)
        except DataError:
            if not (download and try_torchvision_download(root or "data")):
                raise
            images, labels = load_idx(root or "data", split)
        from gankit.data.transforms import resize_uint8

        x = torch.from_numpy(images.copy()).unsqueeze(1)  # [N,1,28,28]
        if resolution != 28:
            x = resize_uint8(x, resolution)
        if channels == 3:
            x = x.expand(-1, 3, -1, -1).contiguous()
        elif channels != 1:
            raise DataError(f"data.channels={channels}: Fashion-MNIST supports 1 or 3")
        self.images, self.labels = x, torch.from_numpy(labels)
        self.resolution, self.channels, self.n_classes = resolution, channels, len(CLASSES)
        self.class_names = CLASSES

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.images[i], int(self.labels[i])
