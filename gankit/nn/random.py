"""Per-sample random numbers that do not depend on how a batch is split across processes.

Under data parallelism (``torchrun``, see :mod:`gankit.train.distributed`) each of W ranks
trains on its slice of the global batch. Every per-sample draw of a training step (latents,
noise maps, mixing crossovers, augmentation, gradient-penalty alphas) goes through
:func:`per_sample`: inside :func:`batch_shard` it draws the numbers of the *whole global batch*
from the (identically seeded) generator and keeps this rank's slice. So rank r sees exactly
the numbers a single process would give samples ``r*b .. (r+1)*b`` of the global batch, the
generators of all ranks stay in lockstep, and 2 ranks x B/2 compute the same step as 1 x B.

Outside :func:`batch_shard` (one process, sampling, metrics) these are plain draws.
:func:`gather` concatenates a per-rank tensor into the global batch (identity in one process)
for the few draws that mix samples (StarGAN's shuffled target labels).
"""

from __future__ import annotations

import contextlib
from typing import Callable, Iterator

import torch
from torch import Tensor

_SHARD = [0, 1]  # (rank, world size) of the training step being run


@contextlib.contextmanager
def batch_shard(rank: int, world: int) -> Iterator[None]:
    """Within: per-sample draws are slices ``rank`` of ``world`` of a global draw."""
    old = list(_SHARD)
    _SHARD[:] = [int(rank), int(world)]
    try:
        yield
    finally:
        _SHARD[:] = old


def shard() -> tuple[int, int]:
    """(rank, world size) of the current training step; (0, 1) outside :func:`batch_shard`."""
    return _SHARD[0], _SHARD[1]


def per_sample(fn: Callable[..., Tensor], shape: tuple[int, ...], generator: torch.Generator | None,
               device: torch.device | str | None = None, **kw) -> Tensor:
    """``fn(*shape, generator=, device=, **kw)`` (torch.randn / torch.rand) where ``shape[0]``
    is this rank's batch: inside :func:`batch_shard` the global batch is drawn and sliced."""
    rank, world = _SHARD
    dev = device if device is not None else (generator.device if generator is not None else None)
    if world == 1 or not shape:
        return fn(*shape, generator=generator, device=dev, **kw)
    b = shape[0]
    full = fn(b * world, *shape[1:], generator=generator, device=dev, **kw)
    return full[rank * b:(rank + 1) * b]


def randn(*shape: int, generator: torch.Generator | None = None, device=None) -> Tensor:
    return per_sample(torch.randn, shape, generator, device)


def rand(*shape: int, generator: torch.Generator | None = None, device=None) -> Tensor:
    return per_sample(torch.rand, shape, generator, device)


def randint(low: int, high: int, shape: tuple[int, ...], generator: torch.Generator | None = None,
            device=None) -> Tensor:
    return per_sample(lambda *s, **k: torch.randint(low, high, s, **k), tuple(shape), generator, device)


def gather(t: Tensor) -> Tensor:
    """This rank's batch -> the global batch (rank order) inside :func:`batch_shard`; else ``t``."""
    rank, world = _SHARD
    if world == 1:
        return t
    import torch.distributed as dist

    parts = [torch.empty_like(t) for _ in range(world)]
    dist.all_gather(parts, t.contiguous())
    return torch.cat(parts)


def local(t: Tensor) -> Tensor:
    """The global batch -> this rank's slice (the inverse of :func:`gather`)."""
    rank, world = _SHARD
    if world == 1:
        return t
    b = t.shape[0] // world
    return t[rank * b:(rank + 1) * b]
