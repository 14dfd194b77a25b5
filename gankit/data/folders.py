"""Image folders: recursive listing, explicit mode conversion, resize/crop, class labels.

Layout: any tree of images. With ``labels=True`` the first-level sub-folder names are the
classes (``root/cat/x.png`` -> class "cat"), as in torchvision's ImageFolder.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from PIL import Image, ImageOps

from gankit.data.images import IMAGE_EXTS, convert_mode, is_image_file, open_image, to_chw  # noqa: F401  (re-exported)
from gankit.errors import DataError

log = logging.getLogger(__name__)


def list_images(path: str | os.PathLike) -> list[Path]:
    """All image files under ``path`` (recursive, sorted, hidden files skipped)."""
    root = Path(path)
    if not root.exists():
        raise DataError(f"data folder '{root}' does not exist")
    if not root.is_dir():
        raise DataError(f"data path '{root}' is not a folder of images")
    files = sorted(
        p for p in root.rglob("*")
        if is_image_file(p) and p.is_file() and not any(s.startswith(".") for s in p.relative_to(root).parts)
    )
    if not files:
        raise DataError(f"data folder '{root}' holds no images ({', '.join(IMAGE_EXTS)}, searched recursively)")
    return files


def load_image(path: Path, resolution: int, channels: int, center_crop: bool = True) -> torch.Tensor:
    """Decode one file to uint8 [channels, resolution, resolution].

    center_crop=True: scale the shorter side to ``resolution`` then crop the centre (keeps the
    aspect ratio); False: resize straight to a square.
    """
    img = open_image(path, channels, advice="; fix or remove it, or set data.skip_bad=true")
    if center_crop:
        img = ImageOps.fit(img, (resolution, resolution), method=Image.BICUBIC, centering=(0.5, 0.5))
    else:
        img = img.resize((resolution, resolution), Image.BICUBIC)
    return to_chw(img)


class ImageFolder(torch.utils.data.Dataset):
    """Source protocol over an image folder (optionally labelled by sub-folder)."""

    attr_names: list[str] = []

    def __init__(self, path: str | os.PathLike, resolution: int, channels: int = 3, labels: bool = False,
                 center_crop: bool = True, skip_bad: bool = False):
        if channels not in (1, 3):
            raise DataError(f"data.channels={channels}: expected 1 (grey) or 3 (RGB)")
        self.root = Path(path)
        self.files = list_images(self.root)
        self.resolution, self.channels, self.center_crop, self.skip_bad = resolution, channels, center_crop, skip_bad
        self.bad: list[Path] = []
        self.class_names: list[str] = []
        self.targets: list[int] = [0] * len(self.files)
        self.target_kind = "class" if labels else "none"
        if labels:
            top = [p.relative_to(self.root).parts for p in self.files]
            if any(len(t) < 2 for t in top):
                loose = next(self.files[i] for i, t in enumerate(top) if len(t) < 2)
                raise DataError(f"{loose}: data.labels=true needs every image inside a class sub-folder of {self.root}")
            self.class_names = sorted({t[0] for t in top})
            index = {n: i for i, n in enumerate(self.class_names)}
            self.targets = [index[t[0]] for t in top]
        self.n_classes = len(self.class_names)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        """(uint8 [C, R, R], class index or 0). A bad file raises, or with skip_bad yields None."""
        try:
            return load_image(self.files[i], self.resolution, self.channels, self.center_crop), self.targets[i]
        except DataError:
            if not self.skip_bad:
                raise
            return None, self.targets[i]
