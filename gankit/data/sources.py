"""Build a data source from :class:`~gankit.config.DataConfig` (a registry of builders)."""

from __future__ import annotations

from typing import Any, Callable

import torch

from gankit.config import DataConfig
from gankit.registry import Registry

SOURCES: Registry[Callable[[DataConfig], Any]] = Registry("dataset")


@SOURCES.register("fashion_mnist")
def _fashion(cfg: DataConfig):
    from gankit.data.fashion_mnist import FashionMNIST

    return FashionMNIST(cfg.root, cfg.split, cfg.resolution, cfg.channels, download=True)


@SOURCES.register("folder")
def _folder(cfg: DataConfig):
    from gankit.data.folders import ImageFolder

    if not cfg.path:
        from gankit.errors import ConfigError

        raise ConfigError("data.path: the 'folder' dataset needs data.path=DIR")
    return ImageFolder(cfg.path, cfg.resolution, cfg.channels, cfg.labels, cfg.center_crop, cfg.skip_bad)


@SOURCES.register("synthetic")
def _synthetic(cfg: DataConfig):
    from gankit.data.synthetic import Synthetic

    return Synthetic(n=cfg.limit or 64, resolution=cfg.resolution, channels=cfg.channels, labels=cfg.labels)


def _rgb_only(cfg: DataConfig, name: str) -> None:
    if cfg.channels != 3:
        from gankit.errors import ConfigError

        raise ConfigError(f"data.channels={cfg.channels}: the '{name}' dataset is RGB; set data.channels=3")


@SOURCES.register("emoji")
def _emoji(cfg: DataConfig):
    from gankit.data.emoji import EmojiPeople

    _rgb_only(cfg, "emoji")
    return EmojiPeople(cfg.root or cfg.path or "data/emoji64", cfg.split, cfg.attrs or None, cfg.resolution)


@SOURCES.register("celeba")
def _celeba(cfg: DataConfig):
    from gankit.data.attributes import CelebA

    _rgb_only(cfg, "celeba")
    return CelebA(cfg.root or cfg.path or "data/celeba", cfg.attrs or None, cfg.resolution, cfg.split)


@SOURCES.register("attributes")
def _attribute_table(cfg: DataConfig):
    from gankit.data.attributes import AttributeTable

    _rgb_only(cfg, "attributes")
    if not cfg.path:
        from gankit.errors import ConfigError

        raise ConfigError("data.path: the 'attributes' dataset needs data.path=FILE.csv (columns file,attr1,...)")
    return AttributeTable(cfg.path, attrs=cfg.attrs or None, resolution=cfg.resolution, split=cfg.split)


class Subset(torch.utils.data.Dataset):
    """The first ``n`` items of a source, keeping its protocol attributes."""

    def __init__(self, source, n: int):
        self.source, self.n = source, min(n, len(source))
        for k in ("resolution", "channels", "target_kind", "n_classes", "attr_names", "class_names"):
            if hasattr(source, k):
                setattr(self, k, getattr(source, k))
        if hasattr(source, "images") and hasattr(source, "labels"):
            self.images, self.labels = source.images[: self.n], source.labels[: self.n]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return self.source[i]


def build_source(cfg: DataConfig):
    """Instantiate the configured source; ``data.limit`` keeps only the first N items."""
    source = SOURCES.get(cfg.name)(cfg)
    if not cfg.labels and getattr(source, "target_kind", "none") == "class":
        source.target_kind = "none"  # labels present but not wanted: unconditional training
    if cfg.limit and cfg.limit < len(source):
        source = Subset(source, cfg.limit)
    return source
