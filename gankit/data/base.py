"""The batch type shared by every data source and recipe."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class Batch:
    """One training batch.

    x: float images [N, C, H, W] in [-1, 1] on the training device.
    c: conditioning or None: class labels [N] (long) or binary attributes [N, A] (float 0/1).
    """

    x: Tensor
    c: Tensor | None = None

    def to(self, device: torch.device | str) -> "Batch":
        return Batch(self.x.to(device, non_blocking=True), None if self.c is None else self.c.to(device, non_blocking=True))

    def __len__(self) -> int:
        return self.x.shape[0]
