"""Feature extraction over image sources, with the content-keyed, resumable feature cache.

Stage 1 of the metric pipeline: uint8 batches -> features [N, D] float32. Statistics and
scores (fid.py, kid.py, pr.py) are pure functions of these arrays.

Cache layout (``<cache_dir>/features/``; key = :func:`~gankit.metrics.cache.cache_key` of the
extractor's weights hash + resampler, :data:`PROTOCOL_VERSION`, the source's fingerprint and the
image count):

- ``<key>.npz``: the finished features (+ mu/sigma), reused by every later call;
- ``<key>.partial/chunk_<start>_<stop>.npz``: features of images [start, stop) written every
  ``save_every`` images (or ``save_seconds``) while a long extraction runs, each with the key and,
  for generators, the CPU RNG state after image ``stop``. A killed extraction continues after the
  last complete chunk and gives the same features as an uninterrupted one. The folder (with any
  temp file a kill left in it) is removed once ``<key>.npz`` is written.

Every file is written atomically (:mod:`gankit.io`). Sources without a fingerprint (a
generator without ``identity``, e.g. in training) are never cached.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import numpy as np
import torch
from torch import Tensor

from gankit.errors import GankitError
from gankit.metrics.cache import atomic_save_npz, cache_key, load_cached
from gankit.metrics.fid import feature_stats
from gankit.metrics.inception import default_cache_dir, extractor_id

# bump when preprocessing changes in a way that alters features
PROTOCOL_VERSION = "uint8->rgb->resize299->(x-128)/128 v1"

SAVE_EVERY = 1000      # images between partial-feature chunks (rounded up to whole source batches)
SAVE_SECONDS = 120.0   # ... or this many seconds, whichever comes first (slow CPUs lose at most this)
_CHUNK_RE = re.compile(r"^chunk_(\d+)_(\d+)\.npz$")


def _say(msg: str, enabled: bool) -> None:
    if enabled:
        print(msg, file=sys.stderr, flush=True)


def _bar(total: int, initial: int, desc: str, enabled: bool):
    """A tqdm bar with the total set (so it shows N/total, rate and ETA) on stderr."""
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="img", file=sys.stderr, disable=not enabled,
                dynamic_ncols=True, mininterval=0.5)


def _feature_batches(batches: Iterable[Tensor], extractor: Callable[[Tensor], Tensor], limit: int | None,
                     chunk: int | None) -> Iterator[np.ndarray]:
    """Features of each source batch (at most ``limit`` images in all), one array per batch.

    Pulls one batch at a time (no prefetch), so a source's ``resume_state()`` read after a
    yield describes the point right after that batch.
    """
    done = 0
    for batch in batches:
        if limit is not None:
            if done >= limit:
                break
            batch = batch[: limit - done]
        pieces = batch.split(chunk) if chunk else (batch,)
        out = [extractor(piece).detach().to("cpu", torch.float32).numpy() for piece in pieces]
        done += len(batch)
        yield out[0] if len(out) == 1 else np.concatenate(out, axis=0)


def extract_features(source: Iterable[Tensor], extractor: Callable[[Tensor], Tensor], n: int | None = None,
                     chunk: int | None = None, progress: bool = False, desc: str = "features") -> np.ndarray:
    """Run ``extractor`` over uint8 batches from ``source``; returns float32 [N, D] on the CPU.

    n: stop after this many images (None: all). chunk: split source batches into pieces of at
    most this size before the network (bounds memory; features do not depend on it).
    progress: a progress bar on stderr (with total, rate and ETA when the count is known).
    """
    total = n if n is not None else getattr(source, "n", None)
    out: list[np.ndarray] = []
    with _bar(total, 0, desc, progress) as bar:
        for feats in _feature_batches(source, extractor, n, chunk):
            out.append(feats)
            bar.update(len(feats))
    if not out:
        raise GankitError(f"{getattr(source, 'name', 'source')}: yielded no images")
    return np.concatenate(out, axis=0)


def sharded_features(source: Iterable[Tensor], extractor: Callable[[Tensor], Tensor], n: int | None,
                     shard: tuple[int, int], gather: Callable[[Any], list[Any]], chunk: int | None = None,
                     progress: bool = False, desc: str = "features") -> np.ndarray:
    """Features of the first ``n`` images of ``source`` with the network work split over ranks
    (torchrun): every rank reads the same batch sequence (a generator draws the same images
    from its seeded RNG), runs ``extractor`` on batches ``k`` with ``k % world == rank`` only,
    and ``gather`` (every rank's object, in rank order) reassembles them in order: the result
    equals :func:`extract_features` in one process."""
    rank, world = shard
    total = n if n is not None else getattr(source, "n", None)
    mine: list[np.ndarray] = []
    done = 0
    with _bar(total, 0, f"{desc} (rank {rank} of {world})", progress) as bar:
        for k, batch in enumerate(source):
            if total is not None:
                if done >= total:
                    break
                batch = batch[: total - done]
            done += len(batch)
            if k % world == rank:
                mine.extend(_feature_batches([batch], extractor, None, chunk))
            bar.update(len(batch))
    every = gather(mine)
    parts = [every[k % world][k // world] for k in range(sum(len(e) for e in every))]
    if not parts:
        raise GankitError(f"{getattr(source, 'name', 'source')}: yielded no images")
    return np.concatenate(parts, axis=0)


# ----------------------------------------------------------------------------- partial chunks
def _chunk_name(start: int, stop: int) -> str:
    return f"chunk_{start:09d}_{stop:09d}.npz"


def load_partial(pdir: Path, key: str, count: int) -> tuple[list[np.ndarray], int, np.ndarray | None]:
    """(feature chunks, next image, source state there) from ``pdir``: the contiguous run of
    valid chunks from image 0. Unreadable, foreign or non-contiguous chunks end the run (the
    images after it are extracted again)."""
    parts: list[np.ndarray] = []
    nxt, state = 0, None
    if not pdir.is_dir():
        return parts, nxt, state
    found = {}
    for f in pdir.iterdir():
        m = _CHUNK_RE.match(f.name)
        if m:
            found[int(m.group(1))] = (int(m.group(2)), f)
    while nxt in found:
        stop, f = found[nxt]
        z = load_cached(f)
        if (z is None or str(z.get("key", "")) != key or "features" not in z or stop <= nxt or stop > count
                or len(z["features"]) != stop - nxt):
            break
        parts.append(z["features"])
        state = z.get("state")
        nxt = stop
    return parts, nxt, (state if state is not None and len(state) else None)


def _save_chunk(pdir: Path, key: str, start: int, stop: int, feats: np.ndarray, state) -> bool:
    """Write one chunk atomically; False (with a warning) when it cannot be written: the
    extraction goes on, only its resumability is lost."""
    try:
        atomic_save_npz(pdir / _chunk_name(start, stop), features=feats, key=np.asarray(key),
                        start=np.asarray(start), stop=np.asarray(stop),
                        state=np.asarray(state if state is not None else np.zeros(0), dtype=np.uint8))
        return True
    except OSError as e:
        warnings.warn(f"could not write partial features to {pdir} ({e.strerror or e}); "
                      "this extraction will not be resumable", stacklevel=3)
        return False


def _remove_partial(pdir: Path) -> None:
    shutil.rmtree(pdir, ignore_errors=True)


def _extract_resumable(source, extractor, count: int, chunk: int | None, progress: bool, desc: str,
                       pdir: Path, key: str, save_every: int, save_seconds: float) -> np.ndarray:
    """Features of the first ``count`` images, saving chunks to ``pdir`` and resuming from it."""
    parts, start, state = load_partial(pdir, key, count)
    if start and start % max(getattr(source, "batch", 1), 1) and state is not None:
        parts, start, state = [], 0, None  # chunks of another batch size: a generator cannot resume there
    if start:
        _say(f"{desc}: resuming at image {start}/{count} from saved partial features ({pdir})", progress)
        batches = source.iter_from(start, state)
    else:
        _say(f"{desc}: extracting features of {count} images (saved every {save_every} images or "
             f"{save_seconds:.0f} s; a killed run resumes)", progress)
        batches = iter(source)
    step = max(getattr(source, "batch", 1), 1)
    pending: list[np.ndarray] = []
    done = pending_start = start
    last = time.monotonic()
    can_save = True
    with _bar(count, start, desc, progress) as bar:
        for feats in _feature_batches(batches, extractor, count - start, chunk):
            pending.append(feats)
            done += len(feats)
            bar.update(len(feats))
            # chunk ends only on whole source batches, so a resumed pass yields the same batches
            if (can_save and done < count and done % step == 0
                    and (done - pending_start >= save_every or time.monotonic() - last >= save_seconds)):
                arr = np.concatenate(pending, axis=0)
                can_save = _save_chunk(pdir, key, pending_start, done, arr, source.resume_state()
                                       if hasattr(source, "resume_state") else None)
                parts.append(arr)
                pending, pending_start, last = [], done, time.monotonic()
    parts.extend(pending)
    if not parts:
        raise GankitError(f"{getattr(source, 'name', 'source')}: yielded no images")
    return np.concatenate(parts, axis=0)


def source_features(source, extractor, n: int | None = None, chunk: int | None = None,
                    cache_dir: str | os.PathLike | None = None, use_cache: bool = True,
                    progress: bool = False, label: str | None = None, save_every: int = SAVE_EVERY,
                    save_seconds: float = SAVE_SECONDS) -> tuple[np.ndarray, bool]:
    """Features of ``source`` (first ``n`` images), cached by content when it has a fingerprint.

    Returns (features float32 [N, D], hit) where hit tells whether the cache answered. Cache
    files live in ``<cache_dir>/features/<key>.npz`` and also hold mu/sigma; while a
    fingerprinted source with ``iter_from`` is extracted, partial features are saved to
    ``<key>.partial/`` every ``save_every`` images or ``save_seconds`` (see the module
    docstring), so a killed call resumes where it stopped. progress: say what happens (count,
    cache reuse, resume) and show a bar with ETA on stderr; ``label`` names the set there.
    """
    if save_every < 1:
        raise GankitError(f"save_every={save_every}: must be at least 1 image")
    fp = source.fingerprint() if use_cache else None
    count = source.n if n is None else min(n, source.n)
    desc = label or source.name
    if fp is None:
        _say(f"{desc}: extracting features of {count} images"
             + ("" if use_cache else " (cache off)"), progress)
        return extract_features(source, extractor, n=count, chunk=chunk, progress=progress, desc=desc), False
    key = cache_key(extractor_id(extractor), PROTOCOL_VERSION, fp, count)
    root = Path(cache_dir or default_cache_dir()) / "features"
    path, pdir = root / f"{key}.npz", root / f"{key}.partial"
    cached = load_cached(path)
    if cached is not None and "features" in cached and len(cached["features"]) == count:
        _say(f"{desc}: features from cache: {count} images ({path})", progress)
        _remove_partial(pdir)  # a leftover of a run killed between writing the result and cleaning up
        return cached["features"], True
    if hasattr(source, "iter_from"):
        feats = _extract_resumable(source, extractor, count, chunk, progress, desc, pdir, key, save_every,
                                   save_seconds)
    else:
        _say(f"{desc}: extracting features of {count} images", progress)
        feats = extract_features(source, extractor, n=count, chunk=chunk, progress=progress, desc=desc)
    mu, sigma = feature_stats(feats)
    try:
        atomic_save_npz(path, features=feats, mu=mu, sigma=sigma, name=np.asarray(source.name),
                        fingerprint=np.asarray(fp))
    except OSError as e:
        warnings.warn(f"could not write the feature cache {path} ({e.strerror or e}); results are unaffected",
                      stacklevel=2)
        return feats, False
    _remove_partial(pdir)
    return feats, False
