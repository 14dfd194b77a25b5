"""Endless, resumable batches from any source: GPU-resident or through DataLoader workers.

Both paths draw the same samples for the same (seed, batch index): the epoch permutation is
``randperm(n)`` from a generator seeded by (seed, epoch), and flips come from a generator
seeded by (seed, batch index). The only state is the number of batches consumed, so resume
is exact and prefetching workers never desynchronize it.
"""

from __future__ import annotations

import logging
from typing import Any, Iterator

import torch
from torch import Tensor
from tqdm.auto import tqdm

from gankit.data.base import Batch
from gankit.data.transforms import to_float
from gankit.errors import DataError

log = logging.getLogger(__name__)


def _collate(items: list) -> tuple[Tensor, Tensor]:
    imgs = [i for i, _ in items]
    targets = [t for _, t in items]
    t0 = targets[0]
    tt = torch.stack([torch.as_tensor(t, dtype=torch.float32) for t in targets]) if isinstance(t0, Tensor) else torch.tensor(targets, dtype=torch.long)
    return torch.stack(imgs), tt


def collate_skip_bad(items: list) -> tuple[Tensor, Tensor, int]:
    """Worker-side collate: drop undecodable items (None), pad by repeating good ones.

    Runs inside DataLoader workers so the stacked batch is what gets pinned and copied
    asynchronously. Returns (uint8 images, targets, number dropped).
    """
    good = [it for it in items if it[0] is not None]
    if not good:
        raise DataError("a whole batch failed to decode (all files bad)")
    n_bad = len(items) - len(good)
    while len(good) < len(items):
        good.append(good[len(good) % max(1, len(items) - n_bad)])
    x, t = _collate(good)
    return x, t, n_bad


def decode_all(source, num_workers: int = 2, desc: str = "decoding") -> tuple[Tensor, Tensor, int]:
    """Decode a whole source into (uint8 [N, C, H, W], targets, n_bad) on the CPU.

    Sources that keep decoded tensors (``images``/``labels`` attributes) are used directly.
    Items that come back as ``None`` (bad files with ``skip_bad``) are dropped and counted.
    """
    if hasattr(source, "images") and isinstance(getattr(source, "images"), Tensor) and hasattr(source, "labels"):
        return source.images, torch.as_tensor(source.labels), 0
    loader = torch.utils.data.DataLoader(source, batch_size=64, num_workers=num_workers, collate_fn=list)
    imgs: list[Tensor] = []
    targets: list[Any] = []
    bad = 0
    for items in tqdm(loader, desc=desc, unit="batch", leave=False, disable=len(source) < 2048):
        for img, t in items:
            if img is None:
                bad += 1
                continue
            imgs.append(img)
            targets.append(t)
    if not imgs:
        raise DataError(f"every image of the dataset ({len(source)}) failed to decode")
    x, t = _collate(list(zip(imgs, targets)))
    return x, t, bad


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

    source: any source-protocol dataset. resident=True keeps all images as one uint8 tensor on
    ``device`` (decoded once); False reads through a DataLoader with workers and pinned memory.
    """

    def __init__(self, source, batch_size: int, device: torch.device | str = "cpu", seed: int = 0,
                 resident: bool = True, hflip: bool = False, num_workers: int = 2, use_labels: bool = True,
                 channels_last: bool = False):
        self.source, self.batch_size, self.device = source, batch_size, torch.device(device)
        self.seed, self.resident, self.hflip, self.num_workers = seed, resident, hflip, num_workers
        self.use_labels = use_labels and getattr(source, "target_kind", "none") != "none"
        self.channels_last = channels_last
        self.consumed = 0
        self.n_bad = 0
        self._cached_epoch: int | None = None  # epoch whose permutation/flips are in _cached
        if resident:
            x, t, self.n_bad = decode_all(source, num_workers)
            self.images = x.to(self.device)
            self.targets = t.to(self.device)
            self.n = len(self.images)
        else:
            self.n = len(source)
            self._it: Iterator | None = None
        if self.n < batch_size:
            raise DataError(f"dataset has {self.n} images, fewer than train.batch_size={batch_size}; lower the batch size")
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

    def batch_indices(self, index: int) -> Tensor:
        """Indices of batch number ``index`` (drop-last epochs of a seeded permutation)."""
        epoch, pos = divmod(index, self.per_epoch)
        perm = self._epoch(epoch)[0]
        return perm[pos * self.batch_size:(pos + 1) * self.batch_size]

    def batch_flips(self, index: int) -> Tensor:
        epoch, pos = divmod(index, self.per_epoch)
        return self._epoch(epoch)[1][pos * self.batch_size:(pos + 1) * self.batch_size]

    def _loader_batch(self) -> tuple[Tensor, Tensor]:
        if self._it is None:
            loader = torch.utils.data.DataLoader(
                self.source, batch_sampler=_Indices(self, self.consumed), num_workers=self.num_workers,
                collate_fn=collate_skip_bad, pin_memory=self.device.type == "cuda", persistent_workers=self.num_workers > 0,
                prefetch_factor=4 if self.num_workers > 0 else None)
            self._it = iter(loader)
        x, t, n_bad = next(self._it)
        self.n_bad += int(n_bad)
        return x.to(self.device, non_blocking=True), t.to(self.device, non_blocking=True)

    def __iter__(self) -> "BatchStream":
        return self

    def __next__(self) -> Batch:
        index = self.consumed
        if self.resident:
            idx = self.batch_indices(index)
            x, t = self.images[idx], self.targets[idx]
        else:
            x, t = self._loader_batch()
        self.consumed += 1
        x = to_float(x)
        if self.hflip:
            flip = self.batch_flips(index).to(x.device).view(-1, 1, 1, 1)
            x = torch.where(flip, x.flip(-1), x)
        if self.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return Batch(x, t if self.use_labels else None)

    def state_dict(self) -> dict[str, int]:
        return {"consumed": self.consumed}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.consumed = int(state["consumed"])
        if not self.resident:
            self._it = None  # restart workers at the new position
