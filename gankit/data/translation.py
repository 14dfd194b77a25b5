"""Sources of image pairs for translation: paired (pix2pix) and unpaired (CycleGAN).

Both declare the fields ``(("a", "image"), ("b", "image"))``: uint8 [C, R, R] per item, in the
batch float [N, C, R, R] in [-1, 1]. Both are spatial, so a horizontal flip (``data.hflip``)
applies to a sample's ``a`` and ``b`` together and a pair stays aligned.

* :class:`PairedImages` -- item i is ``(A[i], B[i])``, the same content in two domains.
* :class:`UnpairedImages` -- item i is ``(A[i // nB], B[i % nB])``: the ``nA x nB`` index space
  is every combination, so the stream's seeded permutation of it draws A and B
  *independently* (uniformly, without replacement of combinations). Above ``MAX_PRODUCT``
  combinations, each A image meets a window of ``MAX_PRODUCT // nA`` B images that starts at a
  different offset for each A (B still uniform overall). Such a source is read through the
  stream's loader path; ``decoded()`` (the resident path) is refused unless it is small.

Builders: :func:`emoji_styles` (the ``gankit data emoji-styles`` folder; train split: style 1
of half A and style 2 of half B when unpaired), :func:`fashion_classes` (two Fashion-MNIST
classes, unpaired, no ground truth), :func:`unpaired_folders` (your own two image folders,
e.g. ``horse/`` and ``zebra/``).
"""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch import Tensor

from gankit.errors import DataError
from gankit.registry import did_you_mean

FIELDS = (("a", "image"), ("b", "image"))
MAX_PRODUCT = 1 << 22
MAX_RESIDENT_PRODUCT = 1 << 16


class PairedImages(torch.utils.data.Dataset):
    """(A[i], B[i]) pairs: uint8 tensors [N, C, R, R] of the same length; ``keys`` name them."""

    fields = FIELDS

    def __init__(self, a: Tensor, b: Tensor, keys: list[str] | None = None, domains: tuple[str, str] = ("A", "B")):
        if a.shape != b.shape:
            raise DataError(f"paired images: domain {domains[0]} has {tuple(a.shape)}, {domains[1]} has {tuple(b.shape)}")
        if len(a) == 0:
            raise DataError("paired images: no pairs")
        self.a, self.b, self.keys, self.domains = a, b, keys or [str(i) for i in range(len(a))], domains
        self.a_images, self.b_images = a, b
        self.resolution, self.channels = a.shape[-1], a.shape[1]

    def __len__(self) -> int:
        return len(self.a)

    def __getitem__(self, i: int):
        return self.a[i], self.b[i]

    def decoded(self) -> dict[str, Tensor]:
        return {"a": self.a, "b": self.b}


class UnpairedImages(torch.utils.data.Dataset):
    """Independent draws from two image sets (see the module docstring)."""

    fields = FIELDS

    def __init__(self, a: Tensor, b: Tensor, domains: tuple[str, str] = ("A", "B")):
        if a.shape[1:] != b.shape[1:]:
            raise DataError(f"unpaired images: domain {domains[0]} images are {tuple(a.shape[1:])}, "
                            f"{domains[1]} images {tuple(b.shape[1:])}")
        if len(a) == 0 or len(b) == 0:
            raise DataError(f"unpaired images: domain {domains[0] if len(a) == 0 else domains[1]} has no images")
        self.a_images, self.b_images, self.domains = a, b, domains
        self.na, self.nb = len(a), len(b)
        self.per_a = min(self.nb, max(1, MAX_PRODUCT // self.na))
        self.stride = max(1, self.nb // self.na)  # window offsets spread over B
        self.resolution, self.channels = a.shape[-1], a.shape[1]

    def __len__(self) -> int:
        return self.na * self.per_a

    def limited(self, n: int) -> "UnpairedImages":
        """The first ``n`` images of each domain (``data.limit``; the first n combinations would
        hold one A image only)."""
        return UnpairedImages(self.a_images[:n], self.b_images[:n], self.domains)

    def index(self, i: int) -> tuple[int, int]:
        ia, j = divmod(int(i), self.per_a)
        return ia, (j + ia * self.stride) % self.nb if self.per_a < self.nb else j

    def __getitem__(self, i: int):
        ia, ib = self.index(i)
        return self.a_images[ia], self.b_images[ib]

    def decoded(self) -> dict[str, Tensor]:
        n = len(self)
        if n > MAX_RESIDENT_PRODUCT:
            raise DataError(f"unpaired data: {self.na} x {self.per_a} combinations are read through the loader, not "
                            "decoded onto the device; set data.resident=false (or auto)")
        idx = [self.index(i) for i in range(n)]
        return {"a": self.a_images[[i for i, _ in idx]], "b": self.b_images[[j for _, j in idx]]}


def _read_png(path: Path, resolution: int) -> np.ndarray:
    try:
        with Image.open(path) as im:
            img = im.convert("RGB")
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot read the image ({e})") from None
    if img.size != (resolution, resolution):
        img = img.resize((resolution, resolution), Image.BOX if img.width > resolution else Image.BICUBIC)
    return np.asarray(img)


def _stack(paths: list[Path], resolution: int) -> Tensor:
    arr = np.stack([_read_png(p, resolution) for p in paths]) if paths else np.zeros((0, resolution, resolution, 3), np.uint8)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def read_index(root: str | os.PathLike) -> tuple[list[dict], list[str]]:
    """(rows of index.csv, the styles it was built with) of an emoji-styles folder."""
    path = Path(root) / "index.csv"
    if not path.is_file():
        raise DataError(f"data.path={root}: no index.csv there; build it with 'gankit data emoji-styles --styles "
                        f"noto,twemoji --size 64 --out {root}'")
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
        styles = [c for c in (reader.fieldnames or []) if c not in ("key", "sequence", "name", "group", "split", "half")]
    return rows, styles


def _domains(domains: list[str], styles: list[str], root) -> tuple[str, str]:
    doms = list(domains) or styles[:2]
    if len(doms) != 2:
        raise DataError(f"data.domains={doms}: expected two styles [A, B] (built: {', '.join(styles)})")
    for d in doms:
        if d not in styles:
            raise DataError(f"data.domains: style '{d}' is not in {root}{did_you_mean(d, styles)}; built styles: "
                            f"{', '.join(styles)}")
    if doms[0] == doms[1]:
        raise DataError(f"data.domains={doms}: expected two different styles")
    return doms[0], doms[1]


def emoji_styles(root: str | os.PathLike, split: str = "train", domains: list[str] | tuple = (), resolution: int = 64,
                 paired: bool = True):
    """The emoji-styles folder as a source. ``paired``: every emoji of ``split`` drawn in both
    styles, as aligned pairs. Unpaired: on the train split style A of half A and style B of
    half B (no emoji in both); on other splits every emoji of the split in each style."""
    rows, styles = read_index(root)
    sa, sb = _domains(list(domains), styles, root)
    if split not in ("train", "test", "all"):
        raise DataError(f"data.split={split!r}: expected train, test or all")
    keep = [r for r in rows if (split == "all" or r["split"] == split) and r[sa] == "1" and r[sb] == "1"]
    if not keep:
        raise DataError(f"{root}: no emoji drawn in both {sa} and {sb} on split {split}")
    base = Path(root)
    if paired or split != "train":
        keys = [r["key"] for r in keep]
        a = _stack([base / sa / f"{k}.png" for k in keys], resolution)
        b = _stack([base / sb / f"{k}.png" for k in keys], resolution)
        return PairedImages(a, b, keys, (sa, sb)) if paired else UnpairedImages(a, b, (sa, sb))
    ka = [r["key"] for r in keep if r["half"] == "A"]
    kb = [r["key"] for r in keep if r["half"] == "B"]
    return UnpairedImages(_stack([base / sa / f"{k}.png" for k in ka], resolution),
                          _stack([base / sb / f"{k}.png" for k in kb], resolution), (sa, sb))


def fashion_classes(split: str, domains: list[str] | tuple, resolution: int, channels: int):
    """Two Fashion-MNIST classes as unpaired domains (e.g. ['sneaker', 'sandal'])."""
    from gankit.data.fashion_mnist import CLASSES, FashionMNIST

    names = [c.lower() for c in CLASSES]
    doms = list(domains) or ["sneaker", "sandal"]
    if len(doms) != 2 or doms[0] == doms[1]:
        raise DataError(f"data.domains={doms}: expected two different Fashion-MNIST classes, e.g. [sneaker, sandal]")
    idx = []
    for d in doms:
        if str(d).lower() not in names:
            raise DataError(f"data.domains: '{d}' is not a Fashion-MNIST class{did_you_mean(str(d).lower(), names)}; "
                            f"classes: {', '.join(names)}")
        idx.append(names.index(str(d).lower()))
    src = FashionMNIST(None, split, resolution, channels, download=True)
    labels = torch.as_tensor(src.labels)
    a, b = src.images[labels == idx[0]], src.images[labels == idx[1]]
    return UnpairedImages(a, b, (doms[0], doms[1]))


def unpaired_folders(root: str | os.PathLike, domains: list[str] | tuple, resolution: int, channels: int = 3,
                     center_crop: bool = True, max_pixels: int | None = None):
    """Two sub-folders of ``root`` (``data.domains=[A, B]``, e.g. [horse, zebra]) as unpaired
    domains; every image is decoded once (centre crop or squash, as ``data.center_crop``)."""
    from gankit.data.folders import list_images, load_image

    base = Path(root)
    doms = [str(d) for d in domains]
    if len(doms) != 2 or doms[0] == doms[1]:
        raise DataError(f"data.domains={doms}: expected two different sub-folders of {base} [A, B]")
    if not base.is_dir():
        raise DataError(f"data.path={root}: no such folder (expected sub-folders {doms[0]}/ and {doms[1]}/)")
    stacks = []
    for d in doms:
        folder = base / d
        if not folder.is_dir():
            found = sorted(p.name for p in base.iterdir() if p.is_dir())
            raise DataError(f"data.domains: no folder '{d}' in {base}{did_you_mean(d, found)}; sub-folders: "
                            f"{', '.join(found) or 'none'}")
        files = list_images(folder)
        if not files:
            raise DataError(f"{folder}: no images (domain '{d}')")
        stacks.append(torch.stack([load_image(f, resolution, channels, center_crop, max_pixels) for f in files]))
    return UnpairedImages(stacks[0], stacks[1], (doms[0], doms[1]))
