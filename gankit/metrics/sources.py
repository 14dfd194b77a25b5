"""Image sources for metrics: iterables of uint8 batches [N, C, H, W] (C = 1 or 3).

Folders, arrays, map-style datasets and generators all feed the same feature pipeline.
Every source has ``name`` (used in protocol strings), ``n`` (images it yields),
``fingerprint()`` (content hash for caching, or None when not cacheable: a generator without an
``identity``) and ``iter_from(start, state)`` (continue at image ``start``, a multiple of
``batch``, yielding the same batches as a full pass would from there; ``state`` is what
``resume_state()`` returned at that point: the CPU RNG state for generators, None otherwise).
Resumable feature extraction (features.py) relies on these two.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch
from torch import Tensor

from gankit.data.fingerprint import fingerprint_array, fingerprint_files
from gankit.data.images import open_image, to_chw
from gankit.data.transforms import to_uint8
from gankit.errors import DataError, GankitError


# Generator output in [-1, 1] -> uint8 with (x * 127.5 + 128).clamp(0, 255), truncated: the
# StyleGAN metrics convention (0.0 -> 128, -1 -> 0, 1 -> 255), shared with training samples.
generator_to_uint8 = to_uint8


def _as_nchw_uint8(images: np.ndarray | Tensor, name: str) -> Tensor:
    if not isinstance(images, Tensor):
        arr = np.asarray(images)
        # read-only buffers (e.g. np.frombuffer of an IDX file) are copied: torch wants writable memory
        images = torch.from_numpy(arr if arr.flags.writeable else arr.copy())
    t = images
    if t.ndim == 3:
        t = t.unsqueeze(1)  # [N, H, W] gray
    if t.dtype != torch.uint8 or t.ndim != 4 or t.shape[1] not in (1, 3):
        raise DataError(f"{name}: expected uint8 images [N, H, W] or [N, 1|3, H, W], got {t.dtype} {tuple(t.shape)}")
    return t


class ArraySource:
    """In-memory uint8 images [N, H, W] or [N, C, H, W]; yields [batch, C, H, W] slices."""

    def __init__(self, images: np.ndarray | Tensor, name: str = "array", batch: int = 64, n: int | None = None):
        self.images = _as_nchw_uint8(images, name)
        if n is not None:
            self.images = self.images[:n]
        self.name, self.batch, self.n = name, batch, len(self.images)
        self._fp: str | None = None

    def fingerprint(self) -> str:
        if self._fp is None:
            self._fp = fingerprint_array(self.images)
        return self._fp

    def __iter__(self) -> Iterator[Tensor]:
        return self.iter_from(0)

    def iter_from(self, start: int = 0, state=None) -> Iterator[Tensor]:
        for i in range(start, self.n, self.batch):
            yield self.images[i:i + self.batch]


class _Decode(torch.utils.data.Dataset):
    """Decode one file to uint8 [3, H, W] at its native size (RGB; alpha composited on white)."""

    def __init__(self, files: list[Path]):
        self.files = files

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int) -> Tensor:
        return to_chw(open_image(self.files[i], 3, exif=False))  # no EXIF rotation, as reference FID code


def _collate_list(items: list[Tensor]) -> list[Tensor]:
    return items


class FolderSource:
    """Every image under ``path`` (recursive, sorted) at native size, as RGB uint8 batches.

    Images are never resized before the Inception resize (one resampling only). Consecutive
    images of equal size are batched together, so mixed-size folders work.
    """

    def __init__(self, path: str | os.PathLike, batch: int = 64, n: int | None = None, num_workers: int = 0):
        from gankit.data.folders import list_images

        self.root = Path(path)
        self.files = list_images(self.root)
        if n is not None:
            self.files = self.files[:n]
        self.name, self.batch, self.n, self.num_workers = f"folder:{self.root}", batch, len(self.files), num_workers
        self._fp: str | None = None

    def fingerprint(self) -> str:
        if self._fp is None:
            self._fp = fingerprint_files(self.files, self.root)
        return self._fp

    def __iter__(self) -> Iterator[Tensor]:
        return self.iter_from(0)

    def iter_from(self, start: int = 0, state=None) -> Iterator[Tensor]:
        loader = torch.utils.data.DataLoader(_Decode(self.files[start:]), batch_size=self.batch,
                                             num_workers=self.num_workers, collate_fn=_collate_list, pin_memory=False)
        for items in loader:
            group: list[Tensor] = []
            for img in items:
                if group and img.shape != group[0].shape:
                    yield torch.stack(group)
                    group = []
                group.append(img)
            if group:
                yield torch.stack(group)


class DatasetSource:
    """A map-style dataset whose items are (uint8 image [C, H, W], target); targets ignored.

    ``fingerprint`` is the caller's content hash for the dataset (None disables caching).
    """

    def __init__(self, dataset, name: str, fingerprint: str | None = None, batch: int = 64,
                 n: int | None = None, num_workers: int = 0):
        self.dataset, self.name, self.batch = dataset, name, batch
        self.n = len(dataset) if n is None else min(n, len(dataset))
        self._fp, self.num_workers = fingerprint, num_workers

    def fingerprint(self) -> str | None:
        return self._fp

    def __iter__(self) -> Iterator[Tensor]:
        return self.iter_from(0)

    def iter_from(self, start: int = 0, state=None) -> Iterator[Tensor]:
        subset = torch.utils.data.Subset(self.dataset, range(start, self.n))
        loader = torch.utils.data.DataLoader(subset, batch_size=self.batch, num_workers=self.num_workers)
        for images, _ in loader:
            yield _as_nchw_uint8(images, self.name)


Sampler = Callable[[int, torch.Generator], Tensor]


class noise_sampler:
    """The sampler of a noise generator ``G(z, c)`` (attributes ``z_dim``, ``n_classes``):
    z ~ N(0, I) then uniform labels, from the CPU generator (see contracts.sample_noise).
    GeneratorSource puts ``module`` in eval mode while it samples."""

    def __init__(self, generator: torch.nn.Module, device: str | torch.device | None = None):
        self.module, self.device = generator, (torch.device(device) if device is not None else None)

    def __call__(self, b: int, rng: torch.Generator) -> Tensor:
        from gankit.models.contracts import sample_noise

        return sample_noise(self.module, b, rng, self.device)


class GeneratorSource:
    """``n`` images from a sampler, in batches; never holds them all.

    sample(b, rng) returns b images [b, C, H, W] in [-1, 1] drawing every random number from
    the CPU generator ``rng`` (seeded with ``seed``), so the images do not depend on the
    device: a recipe's :meth:`~gankit.recipes.base.Recipe.sampler` is one. Output is
    converted with :func:`generator_to_uint8`. Sampling runs under no_grad, with the
    sampler's ``module`` (if it has one, e.g. :class:`noise_sampler`) in eval mode and its
    mode restored afterwards; a recipe's sampler is used inside ``recipe.sampling()``.

    identity: a string that pins down the sampler's content (e.g. the SHA-1 of the checkpoint
    files and the device: ``gankit eval`` passes one). With it the source has a fingerprint
    (identity, n, batch, seed), so its features can be cached and a killed extraction resumed;
    without it (the default) nothing about the generator is cached. ``resume_state()`` is the
    CPU RNG state after the last batch yielded; ``iter_from(start, state)`` continues from it.
    """

    def __init__(self, sample: Sampler, n: int, batch: int = 64, seed: int = 0, name: str = "generator",
                 identity: str | None = None):
        if n < 1:
            raise GankitError(f"{name}: need n >= 1 samples, got n={n}")
        if batch < 1:
            raise GankitError(f"{name}: need batch >= 1, got batch={batch}")
        self.sample, self.n, self.batch, self.seed, self.name = sample, n, batch, seed, name
        self.identity = identity
        self._rng: torch.Generator | None = None

    def fingerprint(self) -> str | None:
        if self.identity is None:
            return None
        text = f"gankit-generator-v1\n{self.identity}\nn={self.n}\nbatch={self.batch}\nseed={self.seed}"
        return hashlib.sha1(text.encode("utf-8")).hexdigest()

    def resume_state(self) -> np.ndarray | None:
        """The CPU RNG state (uint8 array) after the batch last yielded by the running iterator."""
        return None if self._rng is None else self._rng.get_state().numpy().copy()

    def __iter__(self) -> Iterator[Tensor]:
        return self.iter_from(0)

    @torch.no_grad()
    def iter_from(self, start: int = 0, state: np.ndarray | Tensor | None = None) -> Iterator[Tensor]:
        """Batches from image ``start`` (0, or a multiple of ``batch`` with the RNG ``state`` that
        :meth:`resume_state` gave there): the same images an uninterrupted pass yields."""
        rng = torch.Generator().manual_seed(self.seed)
        if start:
            if start % self.batch or state is None or len(state) == 0:
                raise GankitError(f"{self.name}: cannot resume at image {start} (needs a multiple of the batch "
                                  f"{self.batch} and the RNG state saved there)")
            rng.set_state(torch.as_tensor(np.asarray(state, dtype=np.uint8)).clone())
        self._rng = rng
        net = getattr(self.sample, "module", None)
        was = net.training if net is not None else False
        if net is not None:
            net.eval()
        try:
            for s in range(start, self.n, self.batch):
                b = min(self.batch, self.n - s)
                yield generator_to_uint8(self.sample(b, rng))
        finally:
            if net is not None:
                net.train(was)


def fashion_mnist_source(split: str = "train", root: str | None = None, batch: int = 64, n: int | None = None) -> ArraySource:
    """Fashion-MNIST ``split`` ('train' 60k, 'test' 10k) as gray uint8 [N, 1, 28, 28] batches."""
    from gankit.data.fashion_mnist import load_idx

    images, _ = load_idx(root, split)
    return ArraySource(images, name=f"fashion-mnist:{split}", batch=batch, n=n)


DATASET_PRESETS = {"fashion-mnist": fashion_mnist_source}


def dataset_preset_source(spec: str, batch: int = 64, n: int | None = None):
    """'fashion-mnist[:train|test]' -> a source; None when ``spec`` names no preset."""
    name, _, split = spec.partition(":")
    if name not in DATASET_PRESETS:
        return None
    return DATASET_PRESETS[name](split or "train", batch=batch, n=n)
