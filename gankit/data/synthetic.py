"""Tiny synthetic datasets for tests and smoke runs (no files needed).

Images are smooth random blobs on a dark background, deterministic given the seed, with a
class label that controls the blob colour so conditional models have something to learn.
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image


def make_images(n: int, resolution: int = 16, channels: int = 3, n_classes: int = 4, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Return (uint8 [n, channels, R, R], labels int64 [n])."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, n_classes, (n,), generator=g)
    yy, xx = torch.meshgrid(torch.linspace(-1, 1, resolution), torch.linspace(-1, 1, resolution), indexing="ij")
    centre = torch.rand(n, 2, generator=g) * 1.2 - 0.6
    radius = 0.25 + 0.35 * torch.rand(n, generator=g)
    d2 = (xx[None] - centre[:, 0, None, None]) ** 2 + (yy[None] - centre[:, 1, None, None]) ** 2
    blob = torch.exp(-d2 / (2 * radius[:, None, None] ** 2))  # [n, R, R] in (0, 1]
    palette = torch.linspace(0.3, 1.0, max(n_classes, 1))
    chans = []
    for ch in range(channels):
        tint = palette[(labels + ch) % n_classes] if channels > 1 else palette[labels]
        chans.append(blob * tint[:, None, None])
    x = torch.stack(chans, 1)
    return (x * 255).round().clamp(0, 255).to(torch.uint8), labels


class Synthetic(torch.utils.data.Dataset):
    """Source protocol over :func:`make_images` (in memory)."""

    attr_names: list[str] = []

    def __init__(self, n: int = 64, resolution: int = 16, channels: int = 3, n_classes: int = 4, seed: int = 0, labels: bool = True):
        self.images, self.labels = make_images(n, resolution, channels, n_classes, seed)
        self.resolution, self.channels = resolution, channels
        self.n_classes = n_classes if labels else 0
        self.target_kind = "class" if labels else "none"
        self.class_names = [f"class{i}" for i in range(self.n_classes)]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], int(self.labels[i]) if self.n_classes else 0


class SyntheticAttributes(torch.utils.data.Dataset):
    """An attribute dataset in memory: :func:`make_images` blobs with ``n_attrs`` random binary
    attributes (for tests of attribute editors without a face dataset)."""

    target_kind = "attributes"

    def __init__(self, n: int = 16, resolution: int = 16, n_attrs: int = 3, seed: int = 2):
        self.images, _ = make_images(n, resolution, 3, seed=seed)
        self.labels = (torch.rand(n, n_attrs, generator=torch.Generator().manual_seed(seed + 1)) < 0.5).float()
        self.attr_names = [chr(ord("a") + i) for i in range(n_attrs)]
        self.resolution, self.channels = resolution, 3

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], self.labels[i]


def write_folder(out: str | Path, n: int = 24, resolution: int = 16, channels: int = 3, n_classes: int = 2, seed: int = 0) -> Path:
    """Write a synthetic image folder with one sub-folder per class (``class0/000.png`` ...)."""
    out = Path(out)
    images, labels = make_images(n, resolution, channels, n_classes, seed)
    for i, (img, lab) in enumerate(zip(images, labels)):
        d = out / f"class{int(lab)}"
        d.mkdir(parents=True, exist_ok=True)
        arr = img.permute(1, 2, 0).numpy()
        Image.fromarray(arr[..., 0] if channels == 1 else arr).save(d / f"{i:03d}.png")
    return out


def write_fashion_idx(root: str | Path, n: int = 40, n_test: int = 30, seed: int = 0) -> Path:
    """Write stand-in Fashion-MNIST IDX files (gzip) into ``root``: image i has class i % 10 and
    is filled with 25 * class plus noise in [0, 10), an easy set for classifier smoke tests."""
    import gzip
    import struct

    import numpy as np

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, m in (("train", n), ("t10k", n_test)):
        labels = np.arange(m) % 10
        images = labels[:, None, None] * 25 + rng.integers(0, 10, (m, 28, 28))
        for kind, arr in (("images-idx3", images), ("labels-idx1", labels)):
            header = struct.pack(">BBBB", 0, 0, 8, arr.ndim) + b"".join(struct.pack(">I", d) for d in arr.shape)
            with gzip.open(root / f"{prefix}-{kind}-ubyte.gz", "wb") as f:
                f.write(header + arr.astype(np.uint8).tobytes())
    return root
