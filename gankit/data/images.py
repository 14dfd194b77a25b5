"""The one image decoder: which files are images, and how a file becomes an 'L' or 'RGB' image.

Every reader (data folders, attribute tables, metric folders, editing inputs) decodes through
:func:`open_image`; resizing and cropping stay with each reader, on top of it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from gankit.errors import DataError

IMAGE_EXTS = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".gif")


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


def open_image(path: str | os.PathLike, channels: int = 3, *, exif: bool = True,
               background: int | tuple[int, int, int] = 255, advice: str = "") -> Image.Image:
    """Decode the whole file at ``path`` into an 'L' (channels=1) or 'RGB' (channels=3) image.

    exif: apply the EXIF orientation (metrics pass False: reference statistics ignore it).
    Transparency is composited over ``background`` (see :func:`convert_mode`). Any failure
    (missing, not an image, truncated, a decompression bomb over Pillow's
    ``Image.MAX_IMAGE_PIXELS``) raises a one-line :class:`DataError` naming the file, with
    ``advice`` appended.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: image file does not exist{advice}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                im.load()
                return convert_mode(ImageOps.exif_transpose(im) if exif else im, channels, background)
    except Exception as e:  # any decoder failure means a bad file: Pillow raises many types
        raise DataError(f"{path}: not a readable image ({_reason(e)}){advice}") from None


def to_chw(img: Image.Image) -> torch.Tensor:
    """An 'L' or 'RGB' image -> contiguous uint8 tensor [C, H, W]."""
    arr = np.asarray(img, dtype=np.uint8)
    arr = arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1)
    return torch.from_numpy(arr.copy())  # a C-contiguous, writable copy
