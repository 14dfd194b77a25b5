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


def list_images(path: str | os.PathLike, skip_bad: bool = False) -> list[Path]:
    """All image files under ``path`` (recursive, sorted, hidden files and folders skipped).

    Symlinked sub-folders are followed; a folder reached a second time (a symlink loop, or two
    links to one folder) is listed once, with a warning. A symlink named like an image whose
    target is missing is listed, so that it counts as a bad file rather than vanishing. A
    sub-folder that cannot be listed (permission denied) is a DataError naming it, or with
    ``skip_bad`` a warning.
    """
    root = Path(path)
    if not root.exists():
        raise DataError(f"data folder '{root}' does not exist")
    if not root.is_dir():
        raise DataError(f"data path '{root}' is not a folder of images")
    seen: dict[tuple[int, int], Path] = {}
    files: list[Path] = []

    def unreadable(err: OSError) -> None:
        where = err.filename or root
        msg = f"data folder '{where}': cannot list it ({err.strerror or type(err).__name__})"
        if not skip_bad:
            raise DataError(f"{msg}; fix its permissions, or set data.skip_bad=true to skip it")
        log.warning("%s: skipped (data.skip_bad)", msg)

    for dirpath, dirnames, filenames in os.walk(root, onerror=unreadable, followlinks=True):
        here = Path(dirpath)
        try:
            st = here.stat()
        except OSError as e:
            unreadable(e)
            dirnames[:] = []
            continue
        key = (st.st_dev, st.st_ino)
        if key in seen:
            log.warning("data folder '%s' leads to '%s', already listed (a symlink loop or a second link): "
                        "not listed again", here, seen[key])
            dirnames[:] = []
            continue
        seen[key] = here
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            p = here / name
            if name.startswith(".") or not is_image_file(p):
                continue
            if p.is_file() or (p.is_symlink() and not p.exists()):
                files.append(p)
    files.sort()
    if not files:
        raise DataError(f"data folder '{root}' holds no images ({', '.join(IMAGE_EXTS)}, searched recursively)")
    return files


_ADVICE = "; fix or remove it, or set data.skip_bad=true"


def load_image(path: Path, resolution: int, channels: int, center_crop: bool = True,
               max_pixels: int | None = None, advice: str = _ADVICE) -> torch.Tensor:
    """Decode one file to uint8 [channels, resolution, resolution].

    center_crop=True: scale the shorter side to ``resolution`` then crop the centre (keeps the
    aspect ratio); False: resize straight to a square. max_pixels: see
    :func:`~gankit.data.images.open_image` (``data.max_pixels``).
    """
    img = open_image(path, channels, advice=advice, max_pixels=max_pixels)
    if center_crop:
        img = ImageOps.fit(img, (resolution, resolution), method=Image.BICUBIC, centering=(0.5, 0.5))
    else:
        img = img.resize((resolution, resolution), Image.BICUBIC)
    return to_chw(img)


class ImageFolder(torch.utils.data.Dataset):
    """Source protocol over an image folder (optionally labelled by sub-folder)."""

    attr_names: list[str] = []

    def __init__(self, path: str | os.PathLike, resolution: int, channels: int = 3, labels: bool = False,
                 center_crop: bool = True, skip_bad: bool = False, max_pixels: int | None = None):
        if channels not in (1, 3):
            raise DataError(f"data.channels={channels}: expected 1 (grey) or 3 (RGB)")
        self.root = Path(path)
        self.files = list_images(self.root, skip_bad)
        self.resolution, self.channels, self.center_crop, self.skip_bad = resolution, channels, center_crop, skip_bad
        self.max_pixels = max_pixels
        self._warned: set[int] = set()
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
            return (load_image(self.files[i], self.resolution, self.channels, self.center_crop, self.max_pixels,
                               "" if self.skip_bad else _ADVICE), self.targets[i])
        except DataError as e:
            if not self.skip_bad:
                raise
            if i not in self._warned:  # once per file (per worker process): the trainer reports the count
                self._warned.add(i)
                log.warning("data.skip_bad: skipping %s", e)
            return None, self.targets[i]
