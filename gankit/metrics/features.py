"""Feature extraction over image sources, with the reference-side cache.

Stage 1 of the metric pipeline: uint8 batches -> features [N, D] float32. Statistics and
scores (fid.py, kid.py, pr.py) are pure functions of these arrays.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import torch
from torch import Tensor

from gankit.errors import GankitError
from gankit.metrics.cache import atomic_save_npz, cache_key, load_cached
from gankit.metrics.fid import feature_stats
from gankit.metrics.inception import default_cache_dir, extractor_id

# bump when preprocessing changes in a way that alters features
PROTOCOL_VERSION = "uint8->rgb->resize299->(x-128)/128 v1"


def extract_features(source: Iterable[Tensor], extractor: Callable[[Tensor], Tensor], n: int | None = None,
                     chunk: int | None = None, progress: bool = False) -> np.ndarray:
    """Run ``extractor`` over uint8 batches from ``source``; returns float32 [N, D] on the CPU.

    n: stop after this many images (None: all). chunk: split source batches into pieces of at
    most this size before the network (bounds memory; features do not depend on it).
    """
    out: list[np.ndarray] = []
    done, t0 = 0, time.perf_counter()
    for batch in source:
        if n is not None and done >= n:
            break
        if n is not None:
            batch = batch[: n - done]
        pieces = batch.split(chunk) if chunk else (batch,)
        for piece in pieces:
            out.append(extractor(piece).detach().to("cpu", torch.float32).numpy())
        done += len(batch)
        if progress:
            rate = done / max(time.perf_counter() - t0, 1e-9)
            shown = f"{rate:.0f}" if rate >= 10 else f"{rate:.2f}"
            print(f"\r  features {done}{'' if n is None else '/' + str(n)} ({shown} img/s)", end="", file=sys.stderr)
    if progress:
        print(file=sys.stderr)
    if not out:
        raise GankitError(f"{getattr(source, 'name', 'source')}: yielded no images")
    return np.concatenate(out, axis=0)


def source_features(source, extractor, n: int | None = None, chunk: int | None = None,
                    cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                    progress: bool = False) -> tuple[np.ndarray, bool]:
    """Features of ``source`` (first ``n`` images), cached by content when it has a fingerprint.

    Returns (features float32 [N, D], hit) where hit tells whether the cache answered.
    Cache files live in ``<cache_dir>/features/<key>.npz`` and also hold mu/sigma.
    """
    fp = source.fingerprint() if use_cache else None
    count = source.n if n is None else min(n, source.n)
    path = None
    if fp is not None:
        key = cache_key(extractor_id(extractor), PROTOCOL_VERSION, fp, count)
        path = Path(cache_dir or default_cache_dir()) / "features" / f"{key}.npz"
        cached = load_cached(path)
        if cached is not None and "features" in cached:
            return cached["features"], True
    feats = extract_features(source, extractor, n=count, chunk=chunk, progress=progress)
    if path is not None:
        mu, sigma = feature_stats(feats)
        atomic_save_npz(path, features=feats, mu=mu, sigma=sigma, name=np.asarray(source.name),
                        fingerprint=np.asarray(fp))
    return feats, False
