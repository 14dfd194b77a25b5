"""Exponential moving average of a generator's weights (used for sampling and metrics)."""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA:
    """ema = decay * ema + (1 - decay) * current, for parameters; buffers are copied."""

    def __init__(self, net: nn.Module, decay: float):
        self.decay = decay
        self.net = copy.deepcopy(net).eval().requires_grad_(False)
        self._src = net

    @torch.no_grad()
    def update(self, decay: float | None = None) -> None:
        d = self.decay if decay is None else decay
        dst = [p for p in self.net.parameters()]
        src = [p.detach() for p in self._src.parameters()]
        if dst:
            torch._foreach_lerp_(dst, src, 1.0 - d)
        bufs = list(self.net.buffers())
        if bufs:
            torch._foreach_copy_(bufs, list(self._src.buffers()))
