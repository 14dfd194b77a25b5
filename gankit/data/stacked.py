"""Stacked Fashion-MNIST: three Fashion-MNIST images as the R, G, B channels (1,000 modes).

The stacked-MNIST protocol of the unrolled-GAN, VEEGAN and PacGAN papers, on Fashion-MNIST
(MNIST is not available offline here, see /work/shared/DATA.md). Item i stacks images
``p0[i], p1[i], p2[i]`` of the split, where ``p0..p2`` are three permutations drawn from a
generator seeded by ``seed``: the triples are fixed, and every image of the split appears
exactly once in each channel. The label is the triple's mode index
``100 * y_R + 10 * y_G + y_B`` in 0..999 (kept for evaluation; ``data.labels`` is off for
unconditional training).
"""

from __future__ import annotations

import torch

from gankit.data.fashion_mnist import CLASSES, FashionMNIST


def triple_label(labels: torch.Tensor) -> torch.Tensor:
    """Per-channel class labels long [N, 3] -> mode index long [N] = 100 a + 10 b + c."""
    return labels[:, 0] * 100 + labels[:, 1] * 10 + labels[:, 2]


def split_triple(mode: torch.Tensor) -> torch.Tensor:
    """Mode index [N] in 0..999 -> per-channel labels [N, 3] (inverse of :func:`triple_label`)."""
    return torch.stack([mode // 100, (mode // 10) % 10, mode % 10], 1)


class StackedFashion(torch.utils.data.Dataset):
    """Source protocol: items ``(uint8 [3, R, R], mode index)``; ``n_classes`` 1000.

    ``triples`` long [N, 3]: the indices of the split's images in each channel.
    """

    target_kind = "class"
    attr_names: list[str] = []

    def __init__(self, root: str | None = None, split: str = "train", resolution: int = 32, seed: int = 0,
                 download: bool = False):
        base = FashionMNIST(root, split, resolution, 1, download=download)
        n = len(base)
        g = torch.Generator().manual_seed(seed * 1_000_003 + (0 if split == "train" else 1))
        self.triples = torch.stack([torch.randperm(n, generator=g) for _ in range(3)], 1)
        self.images = base.images[:, 0][self.triples].contiguous()  # [N, 3, R, R]
        self.labels = triple_label(base.labels[self.triples])
        self.resolution, self.channels, self.n_classes = resolution, 3, 1000
        self.class_names = [f"{CLASSES[m // 100]} / {CLASSES[m // 10 % 10]} / {CLASSES[m % 10]}" for m in range(1000)]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int):
        return self.images[i], int(self.labels[i])
