"""The one image decoder: which files are images, and how a file becomes an 'L' or 'RGB' image.

Every reader (data folders, attribute tables, metric folders, editing inputs) decodes through
:func:`open_image`; resizing and cropping stay with each reader, on top of it.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from gankit.errors import DataError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")
# Pillow's default Image.MAX_IMAGE_PIXELS (about 0.25 GiB of 24-bit pixels): data.max_pixels' default.
DEFAULT_MAX_PIXELS = 89_478_485
_LIMIT_LOCK = threading.Lock()  # guards the temporary change of Pillow's global limit


def is_image_file(path: str | os.PathLike) -> bool:
    """True when ``path`` has one of :data:`IMAGE_EXTS` (any case)."""
    return Path(path).suffix.lower() in IMAGE_EXTS


def convert_mode(img: Image.Image, channels: int, background: int | tuple[int, int, int] = 255) -> Image.Image:
    """Convert any PIL mode to 'L' (channels=1) or 'RGB' (channels=3).

    Transparency (RGBA, LA, palette with a transparent index) is composited over a uniform
    ``background`` grey level rather than dropped, so transparent pixels do not turn black.
    16-bit and float grey images are rescaled to 8 bits by their dtype range.
    """
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img).astype(np.float64)
        scale = 255.0 / 65535.0 if img.mode.startswith("I;16") or arr.max() > 255 else 1.0
        img = Image.fromarray((arr * scale).clip(0, 255).astype(np.uint8), "L")
    if img.mode == "P":
        img = img.convert("RGBA" if "transparency" in img.info else "RGB")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        rgb = (background,) * 3 if isinstance(background, int) else tuple(background)
        bg = Image.new("RGBA", rgba.size, (*rgb, 255))
        img = Image.alpha_composite(bg, rgba)
    return img.convert("L" if channels == 1 else "RGB")


def _reason(e: BaseException) -> str:
    """'Type: first line of the message' (at most 200 characters), for one-line errors."""
    lines = str(e).strip().splitlines()
    return f"{type(e).__name__}: {lines[0][:200]}" if lines else type(e).__name__


@contextlib.contextmanager
def _pillow_limit(limit: int | None):
    """Run the block with Pillow's global ``Image.MAX_IMAGE_PIXELS`` set to ``limit`` (None: no
    limit). When it already has that value (the default case) nothing is changed or locked;
    otherwise the change is made under a lock and undone afterwards."""
    if Image.MAX_IMAGE_PIXELS == limit:
        yield
        return
    with _LIMIT_LOCK:
        saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, limit
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _bomb_reason(e: BaseException, limit: int | None, setting: str) -> str:
    """One line for a Pillow decompression-bomb error/warning, naming the limit and how to raise it."""
    m = re.search(r"\((\d+) pixels\)", str(e))
    size = f"{int(m.group(1)):,} pixels" if m else "the image's size"
    return (f"{type(e).__name__}: {size} is over the limit of {limit:,} pixels ({setting}, 0 = no limit): "
            "a decompression bomb, or an image too large to decode")


def open_image(path: str | os.PathLike, channels: int = 3, *, exif: bool = True,
               background: int | tuple[int, int, int] = 255, advice: str = "",
               max_pixels: int | None = None) -> Image.Image:
    """Decode the whole file at ``path`` into an 'L' (channels=1) or 'RGB' (channels=3) image.

    exif: apply the EXIF orientation (metrics pass False: reference statistics ignore it).
    Transparency is composited over ``background`` (see :func:`convert_mode`). max_pixels:
    the largest width x height accepted (``data.max_pixels``; 0 = no limit; None = Pillow's
    current ``Image.MAX_IMAGE_PIXELS``, by default :data:`DEFAULT_MAX_PIXELS`). Any failure
    (missing, not an image, truncated, a decompression bomb over the limit) raises a one-line
    :class:`DataError` naming the file, with ``advice`` appended.
    """
    path = Path(path)
    if max_pixels is None:
        limit, setting = Image.MAX_IMAGE_PIXELS, "Pillow's Image.MAX_IMAGE_PIXELS"
    else:
        if max_pixels < 0:
            raise DataError(f"data.max_pixels={max_pixels}: expected a value >= 0 (0 = no limit)")
        limit, setting = (max_pixels or None), f"data.max_pixels={max_pixels}"
    try:
        is_file = path.is_file()
    except OSError as e:  # e.g. a name too long, or a symlink loop
        raise DataError(f"{path}: cannot read ({e.strerror or type(e).__name__}){advice}") from None
    if not is_file:
        if path.is_symlink():
            raise DataError(f"{path}: a broken or looping symbolic link, not an image file{advice}")
        what = "is a folder, not an image file" if path.is_dir() else "image file does not exist"
        raise DataError(f"{path}: {what}{advice}")
    try:
        with warnings.catch_warnings(), _pillow_limit(limit):
            # Pillow warns above the limit and raises above twice it: both are a bad file here
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
                return convert_mode(ImageOps.exif_transpose(im) if exif else im, channels, background)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise DataError(f"{path}: not a readable image ({_bomb_reason(e, limit, setting)}){advice}") from None
    except Exception as e:  # any decoder failure means a bad file: Pillow raises many types
        raise DataError(f"{path}: not a readable image ({_reason(e)}){advice}") from None


def to_chw(img: Image.Image) -> torch.Tensor:
    """An 'L' or 'RGB' image -> contiguous uint8 tensor [C, H, W]."""
    arr = np.asarray(img, dtype=np.uint8)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(arr.copy())  # a C-contiguous, writable copy
