"""Endless, resumable batches of named fields from any source: GPU-resident or through workers.

Both paths draw the same samples for the same (seed, batch index): the epoch permutation is
``randperm(n)`` from a generator seeded by (seed, epoch), and flips come from a generator
seeded by (seed, epoch) too. The only state is the number of batches consumed, so resume is
exact and prefetching workers never desynchronize it.

The stream knows nothing about images: each field is collated, converted and flipped by its
kind (:mod:`gankit.data.base`); a horizontal flip applies to every spatial field of a sample
together (an input and its paired target flip as one).
"""

from __future__ import annotations

import logging
from typing import Any, Iterator

import torch
from torch import Tensor
from tqdm.auto import tqdm

from gankit.data.base import FIELD_KINDS, Batch, Fields, source_fields
from gankit.errors import DataError

log = logging.getLogger(__name__)


def collate_fields(items: list, fields: Fields) -> dict[str, Any]:
    """Source items (tuples in ``fields`` order) -> {name: stacked field} (unnamed slots dropped)."""
    out: dict[str, Any] = {}
    for pos, (name, kind) in enumerate(fields):
        if name is not None:
            out[name] = FIELD_KINDS.get(kind).collate([it[pos] for it in items])
    return out


class _Collate:
    """Worker-side collate: drop undecodable items (first slot None), pad by repeating good ones.

    Runs inside DataLoader workers so the stacked batch is what gets pinned and copied
    asynchronously. Returns ({name: field}, number dropped). Picklable (a class, not a closure).
    """

    def __init__(self, fields: Fields):
        self.fields = fields

    def __call__(self, items: list) -> tuple[dict[str, Any], int]:
        good = [it for it in items if it[0] is not None]
        if not good:
            raise DataError("a whole batch failed to decode (all files bad)")
        n_bad = len(items) - len(good)
        while len(good) < len(items):
            good.append(good[len(good) % max(1, len(items) - n_bad)])
        return collate_fields(good, self.fields), n_bad


def decode_all(source, num_workers: int = 2, desc: str = "decoding") -> tuple[dict[str, Any], int]:
    """Decode a whole source into ({name: field of all items}, n_bad) on the CPU.

    Classic sources that keep decoded tensors (``images``/``labels`` attributes), and sources
    with a ``decoded()`` method returning ``{name: stacked field}`` (e.g. point sets), are used
    directly. Items whose first slot is ``None`` (bad files with ``skip_bad``) are dropped and
    counted.
    """
    fields = source_fields(source)
    if callable(getattr(source, "decoded", None)):
        return source.decoded(), 0
    if (getattr(source, "fields", None) is None and isinstance(getattr(source, "images", None), Tensor)
            and hasattr(source, "labels")):
        out = {"x": source.images}
        if fields[1][0] is not None:
            labels = torch.as_tensor(source.labels)
            out["c"] = labels.long() if fields[1][1] == "label" else labels.float()
        return out, 0
    loader = torch.utils.data.DataLoader(source, batch_size=64, num_workers=num_workers, collate_fn=list)
    good: list = []
    bad = 0
    for items in tqdm(loader, desc=desc, unit="batch", leave=False, disable=len(source) < 2048):
        for it in items:
            if it[0] is None:
                bad += 1
            else:
                good.append(it)
    if not good:
        raise DataError(f"every item of the dataset ({len(source)}) failed to decode")
    return collate_fields(good, fields), bad


def _index(value: Any, idx: Tensor) -> Any:
    if isinstance(value, Tensor):
        return value[idx]
    return [value[i] for i in idx.tolist()]  # text: a Python list (indices come to the host)


def _move(value: Any, device: torch.device) -> Any:
    return value.to(device, non_blocking=True) if isinstance(value, Tensor) else value


def stored_gb(source) -> float:
    """GiB the whole source takes once decoded: the first item's tensor bytes x its length
    (any modality; sources with fields of varying size are estimated from item 0)."""
    first = source[0]
    if first[0] is None:  # a bad first file under skip_bad: estimate from the next readable one
        first = next((it for it in (source[i] for i in range(1, min(len(source), 64))) if it[0] is not None), first)
    nbytes = sum(t.numel() * t.element_size() for t in first if isinstance(t, Tensor))
    return nbytes * len(source) / 2**30


class _Indices(torch.utils.data.Sampler):
    """Batch sampler yielding index lists from batch ``start`` on (for the DataLoader path)."""

    def __init__(self, stream: "BatchStream", start: int):
        self.stream, self.start = stream, start

    def __iter__(self):
        i = self.start
        while True:
            yield self.stream.batch_indices(i).cpu().tolist()
            i += 1


class BatchStream:
    """``next(stream) -> Batch`` forever; ``state_dict()`` = batches consumed.

    source: any source (items are tuples in the order of its fields, see
    :func:`~gankit.data.base.source_fields`). resident=True keeps every field as one tensor on
    ``device`` (decoded once); False reads through a DataLoader with workers and pinned memory.
    use_labels=False drops the conditioning field ``c``. rank/world (torchrun): ``batch_size``
    is the global batch and this stream yields slice ``rank`` of ``world`` of each one, so the
    global batches and their order do not depend on the number of processes.
    """

    def __init__(self, source, batch_size: int, device: torch.device | str = "cpu", seed: int = 0,
                 resident: bool = True, hflip: bool = False, num_workers: int = 2, use_labels: bool = True,
                 channels_last: bool = False, rank: int = 0, world: int = 1):
        self.source, self.batch_size, self.device = source, batch_size, torch.device(device)
        if batch_size % world:
            raise DataError(f"train.batch_size={batch_size} is the global batch: it must be a multiple of the "
                            f"number of processes ({world})")
        self.rank, self.world, self.local_batch = rank, world, batch_size // world
        self.seed, self.resident, self.hflip, self.num_workers = seed, resident, hflip, num_workers
        self.fields = tuple((None, None) if (n == "c" and not use_labels) else (n, k) for n, k in source_fields(source))
        self.kinds = {n: FIELD_KINDS.get(k) for n, k in self.fields if n is not None}
        self.channels_last = channels_last
        self.consumed = 0
        self.n_bad = 0
        self._cached_epoch: int | None = None  # epoch whose permutation/flips are in _cached
        if resident:
            data, self.n_bad = decode_all(source, num_workers)
            self.data = {k: _move(v, self.device) for k, v in data.items() if k in self.kinds}
            self.n = len(self.data["x"] if "x" in self.data else next(iter(self.data.values())))
        else:
            self.n = len(source)
            self._it: Iterator | None = None
        if self.n < batch_size:
            raise DataError(f"dataset has {self.n} items, fewer than train.batch_size={batch_size}; lower the batch size")
        self.per_epoch = self.n // batch_size

    def _epoch(self, epoch: int) -> tuple[Tensor, Tensor]:
        """(permutation [n], flip flags [n] in batch order) of one epoch, cached on the device.

        Both are drawn on the CPU from generators seeded by (seed, epoch) and copied to the
        device once per epoch, so per-batch work is pure device indexing (no host sync).
        """
        if self._cached_epoch != epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            perm = torch.randperm(self.n, generator=g)
            flips = torch.rand(self.n, generator=torch.Generator().manual_seed(self.seed * 7_919 + epoch + 1)) < 0.5
            dev = self.device if self.resident else torch.device("cpu")
            self._cached = (perm.to(dev), flips.to(dev))
            self._cached_epoch = epoch
        return self._cached

    def _span(self, index: int) -> tuple[int, slice]:
        """(epoch, this rank's positions in that epoch's permutation) of batch ``index``."""
        epoch, pos = divmod(index, self.per_epoch)
        start = pos * self.batch_size + self.rank * self.local_batch
        return epoch, slice(start, start + self.local_batch)

    def batch_indices(self, index: int) -> Tensor:
        """Indices of batch number ``index`` (drop-last epochs of a seeded permutation; this
        rank's slice of it under torchrun)."""
        epoch, span = self._span(index)
        return self._epoch(epoch)[0][span]

    def batch_flips(self, index: int) -> Tensor:
        epoch, span = self._span(index)
        return self._epoch(epoch)[1][span]

    def _loader_batch(self) -> dict[str, Any]:
        if self._it is None:
            loader = torch.utils.data.DataLoader(
                self.source, batch_sampler=_Indices(self, self.consumed), num_workers=self.num_workers,
                collate_fn=_Collate(self.fields), pin_memory=self.device.type == "cuda",
                persistent_workers=self.num_workers > 0, prefetch_factor=4 if self.num_workers > 0 else None)
            self._it = iter(loader)
        data, n_bad = next(self._it)
        self.n_bad += int(n_bad)
        return {k: _move(v, self.device) for k, v in data.items()}

    def __iter__(self) -> "BatchStream":
        return self

    def __next__(self) -> Batch:
        index = self.consumed
        if self.resident:
            idx = self.batch_indices(index)
            raw = {k: _index(v, idx) for k, v in self.data.items()}
        else:
            raw = self._loader_batch()
        self.consumed += 1
        flip = None
        if self.hflip:
            flip = self.batch_flips(index).to(self.device)
        out = {}
        for name, value in raw.items():
            kind = self.kinds[name]
            value = kind.to_model(value)
            if kind.spatial:
                if flip is not None:
                    value = torch.where(flip.view(-1, *([1] * (value.dim() - 1))), value.flip(-1), value)
                if self.channels_last and value.dim() == 4:
                    value = value.contiguous(memory_format=torch.channels_last)
            out[name] = value
        return Batch(**out)

    def state_dict(self) -> dict[str, int]:
        return {"consumed": self.consumed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.consumed = int(state["consumed"])
        if not self.resident:
            self._it = None  # restart workers at the new position
