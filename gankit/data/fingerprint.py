"""Content fingerprints of datasets, used as cache keys.

A cache keyed on a path goes stale when the files change; these fingerprints hash the content
instead, so any changed, added, removed or renamed file gives a different key.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable

import numpy as np
import torch

from gankit.errors import DataError

_CHUNK = 1 << 20


def sha1_file(path: str | os.PathLike) -> str:
    """SHA-1 hex digest of one file's bytes (read in 1 MiB chunks)."""
    h = hashlib.sha1()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(_CHUNK), b""):
                h.update(block)
    except OSError as e:
        raise DataError(f"{path}: cannot read file for fingerprinting ({e.strerror})") from None
    return h.hexdigest()


def fingerprint_files(paths: Iterable[str | os.PathLike], root: str | os.PathLike) -> str:
    """SHA-1 over the sorted relative names of ``paths`` and each file's content hash.

    Names are taken relative to ``root`` with '/' separators, so the fingerprint does not depend
    on where the dataset lives, only on its layout and bytes.
    """
    root = Path(root)
    rel = sorted((Path(p).resolve().relative_to(root.resolve()).as_posix(), Path(p)) for p in paths)
    h = hashlib.sha1(b"gankit-files-v1\n")
    for name, path in rel:
        h.update(name.encode("utf-8") + b"\0" + sha1_file(path).encode("ascii") + b"\n")
    return h.hexdigest()


def fingerprint_array(array: np.ndarray | torch.Tensor) -> str:
    """SHA-1 over an array's dtype, shape and bytes (C order); tensors are moved to the CPU."""
    if isinstance(array, torch.Tensor):
        array = array.detach().cpu().contiguous().numpy()
    array = np.ascontiguousarray(array)
    h = hashlib.sha1(b"gankit-array-v1\n")
    h.update(f"{array.dtype.str}|{tuple(array.shape)}\n".encode("ascii"))
    h.update(memoryview(array.reshape(-1).view(np.uint8)))
    return h.hexdigest()
