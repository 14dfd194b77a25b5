"""Uploaded files: size limits (bytes and pixels), decoding through gankit's one image decoder,
messages instead of tracebacks.

The byte limit is checked on the file's size, the pixel limit on the image header before
anything is decoded (Pillow reads only the header on open); the decode itself goes through
:func:`gankit.data.images.open_image` with the same pixel limit, so a file that lies in its
header is refused too. Every refusal is an :class:`UploadError` whose text names the file by
the name the user gave it (not the server's temporary path).
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from gankit.errors import DataError, GankitError

__all__ = ["Limits", "UploadError", "check_upload", "read_upload", "display_name"]


class UploadError(GankitError):
    """An upload that the app refuses; the text is shown to the user as it is."""


@dataclass(frozen=True)
class Limits:
    """max_bytes: the largest upload in bytes; max_pixels: the largest width x height."""

    max_bytes: int = 20_000_000
    max_pixels: int = 4096 * 4096

    def __post_init__(self) -> None:
        if self.max_bytes < 1 or self.max_pixels < 1:
            raise GankitError(f"upload limits must be >= 1, got {self.max_bytes} bytes and {self.max_pixels} pixels")


def display_name(path: str | os.PathLike) -> str:
    """The file's own name (uploads are stored as TEMP/<hash>/<the user's file name>)."""
    return Path(path).name


def _mb(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 100_000 else f"{n:,} bytes"


def check_upload(path: str | os.PathLike, limits: Limits) -> tuple[int, int]:
    """Refuse a file over ``limits`` before decoding it. Returns its (width, height).

    Raises :class:`UploadError`: missing file, too many bytes, not an image (Pillow cannot
    identify it), too many pixels by its header."""
    from PIL import Image

    name = display_name(path)
    try:
        size = os.path.getsize(path)
    except OSError:
        raise UploadError(f"{name}: the upload is missing; upload it again") from None
    if size > limits.max_bytes:
        raise UploadError(f"{name}: {_mb(size)} is over this app's limit of {_mb(limits.max_bytes)} per upload "
                          "(gankit app --max-upload-mb)")
    if size == 0:
        raise UploadError(f"{name}: the file is empty, not an image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # judged below, by our limit
            with Image.open(path) as im:  # reads the header only
                w, h = im.size
    except Image.DecompressionBombError as e:  # over twice Pillow's own limit: far over ours too
        m = re.search(r"\((\d+) pixels\)", str(e))
        n = f"{int(m.group(1)):,}" if m else "too many"
        raise UploadError(f"{name}: {n} pixels is over this app's limit of {limits.max_pixels:,} pixels "
                          "(gankit app --max-pixels); make the image smaller") from None
    except Exception as e:  # Pillow raises many types for non-images
        raise UploadError(f"{name}: not an image that can be read ({type(e).__name__}); "
                          "upload a PNG, JPEG, WebP, BMP or GIF file") from None
    if w * h > limits.max_pixels:
        raise UploadError(f"{name}: {w}x{h} = {w * h:,} pixels is over this app's limit of {limits.max_pixels:,} "
                          "pixels (gankit app --max-pixels); make the image smaller")
    return w, h


def read_upload(path: str | os.PathLike, limits: Limits, resolution: int | None = None) -> torch.Tensor:
    """Check, decode (any mode -> RGB, EXIF orientation applied, transparency over white),
    centre-crop to a square and resize to ``resolution`` -> uint8 [3, R, R]. UploadError on
    any failure (a corrupt body behind a valid header included)."""
    from gankit.data.attributes import load_rgb

    check_upload(path, limits)
    try:
        return load_rgb(Path(path), resolution, None, max_pixels=limits.max_pixels)
    except DataError as e:
        text = str(e)
        text = text.replace(str(path), display_name(path)) if str(path) in text else f"{display_name(path)}: {text}"
        raise UploadError(text) from None


def to_float(x: torch.Tensor) -> torch.Tensor:
    """uint8 [3, R, R] -> float [1, 3, R, R] in [-1, 1]."""
    return x.float().div(127.5).sub(1).unsqueeze(0)


def to_array(x: torch.Tensor) -> np.ndarray:
    """uint8 [3, R, R] -> uint8 [R, R, 3] (for display)."""
    return x.permute(1, 2, 0).contiguous().numpy()
