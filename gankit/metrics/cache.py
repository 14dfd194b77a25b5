"""Content-keyed cache of reference features and statistics, with atomic writes.

Key = SHA-1 of (extractor weights hash + resampler, protocol version, dataset content
fingerprint, number of images). Paths never enter the key: a moved dataset hits the cache, a
changed file misses it.
"""

from __future__ import annotations

import hashlib
import os
import zipfile
from pathlib import Path

import numpy as np

from gankit.io import atomic_write

CACHE_VERSION = "gankit-metrics-cache-v1"


def cache_key(extractor: str, protocol: str, fingerprint: str, n: int) -> str:
    """Hex key naming one cached feature set."""
    text = "\n".join([CACHE_VERSION, extractor, protocol, fingerprint, str(n)])
    return hashlib.sha1(text.encode("utf-8")).hexdigest()


def atomic_save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> Path:
    """Write an uncompressed .npz atomically (:func:`gankit.io.atomic_write`): readers never
    see a half-written file, and a crash leaves any previous version intact."""
    with atomic_write(path) as f:
        np.savez(f, **arrays)
    return Path(path)


def load_cached(path: str | os.PathLike) -> dict[str, np.ndarray] | None:
    """Arrays of a cache file, or None when it is absent or unreadable (then recomputed)."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
