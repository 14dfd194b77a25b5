"""Build a data source from :class:`~gankit.config.DataConfig` (a registry of builders)."""

from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable

import torch

from gankit.config import DataConfig
from gankit.errors import ConfigError
from gankit.registry import Registry

log = logging.getLogger(__name__)

SOURCES: Registry[Callable[[DataConfig], Any]] = Registry("dataset")

# data.* keys every source honours (the stream and the network shapes read them).
COMMON_KEYS = {"name", "resolution", "channels", "hflip", "resident", "resident_max_gb", "num_workers", "limit"}
# The further keys each source reads; any other key set away from its default is an error.
READS: dict[str, set[str]] = {}


def reads(name: str, *keys: str):
    """Register a source builder under ``name`` reading ``keys`` beyond :data:`COMMON_KEYS`."""
    def deco(fn):
        READS[name] = set(keys)
        return SOURCES.register(name)(fn)
    return deco


@reads("fashion_mnist", "split", "labels")
def _fashion(cfg: DataConfig):
    from gankit.data.fashion_mnist import FashionMNIST

    return FashionMNIST(None, cfg.split, cfg.resolution, cfg.channels, download=True)


@reads("folder", "path", "labels", "center_crop", "skip_bad", "max_pixels")
def _folder(cfg: DataConfig):
    from gankit.data.folders import ImageFolder

    if not cfg.path:
        from gankit.errors import ConfigError

        raise ConfigError("data.path: the 'folder' dataset needs data.path=DIR")
    return ImageFolder(cfg.path, cfg.resolution, cfg.channels, cfg.labels, cfg.center_crop, cfg.skip_bad, cfg.max_pixels)


@reads("synthetic", "labels")
def _synthetic(cfg: DataConfig):
    from gankit.data.synthetic import Synthetic

    return Synthetic(n=cfg.limit or 64, resolution=cfg.resolution, channels=cfg.channels, labels=cfg.labels)


def _rgb_only(cfg: DataConfig, name: str) -> None:
    if cfg.channels != 3:
        from gankit.errors import ConfigError

        raise ConfigError(f"data.channels={cfg.channels}: the '{name}' dataset is RGB; set data.channels=3")


@reads("emoji", "path", "split", "attrs", "max_pixels")
def _emoji(cfg: DataConfig):
    from gankit.data.emoji import EmojiPeople

    _rgb_only(cfg, "emoji")
    return EmojiPeople(cfg.path or "data/emoji64", cfg.split, cfg.attrs or None, cfg.resolution, cfg.max_pixels)


@reads("celeba", "path", "split", "attrs", "max_pixels")
def _celeba(cfg: DataConfig):
    from gankit.data.attributes import CelebA

    _rgb_only(cfg, "celeba")
    return CelebA(cfg.path or "data/celeba", cfg.attrs or None, cfg.resolution, cfg.split, max_pixels=cfg.max_pixels)


@reads("attributes", "path", "split", "attrs", "max_pixels")
def _attribute_table(cfg: DataConfig):
    from gankit.data.attributes import AttributeTable

    _rgb_only(cfg, "attributes")
    if not cfg.path:
        from gankit.errors import ConfigError

        raise ConfigError("data.path: the 'attributes' dataset needs data.path=FILE.csv (columns file,attr1,...)")
    return AttributeTable(cfg.path, attrs=cfg.attrs or None, resolution=cfg.resolution, split=cfg.split,
                          max_pixels=cfg.max_pixels)


def _points(name: str):
    def build(cfg: DataConfig):
        from gankit.data.points import MixturePoints

        if cfg.channels != 2 or cfg.resolution != 1:
            raise ConfigError(f"data.channels={cfg.channels}, data.resolution={cfg.resolution}: the '{name}' dataset is "
                              "2-D points; set data.channels=2 and data.resolution=1 (see the gan_ring8 preset)")
        if cfg.hflip:
            raise ConfigError(f"data.hflip: the '{name}' dataset is 2-D points; flips do not apply to it")
        return MixturePoints(name)
    return build


reads("ring8")(_points("ring8"))  # 8 Gaussians on a circle (gankit.data.points)
reads("grid25")(_points("grid25"))  # 5 x 5 grid of Gaussians


@reads("stacked_fashion", "split", "labels")
def _stacked_fashion(cfg: DataConfig):
    from gankit.data.stacked import StackedFashion

    _rgb_only(cfg, "stacked_fashion")
    return StackedFashion(None, cfg.split, cfg.resolution, download=True)


@reads("chorales", "path", "split")
def _chorales(cfg: DataConfig):
    from gankit.data.chorales import ChoraleBars

    default = DataConfig()
    for key in ("resolution", "channels", "hflip"):
        if getattr(cfg, key) != getattr(default, key):
            raise ConfigError(f"data.{key}: the 'chorales' dataset is piano-roll bars (16 steps x 128 pitches, never "
                              "flipped); leave it unset")
    return ChoraleBars(cfg.path or "data/chorales", cfg.split)  # gankit data chorales --out data/chorales


@reads("emoji_captions", "path", "split", "max_pixels")
def _emoji_captions(cfg: DataConfig):
    """Emoji people with English + Korean captions (gankit data emoji, then gankit captions emoji)."""
    from gankit.data.captions import EmojiCaptions

    _rgb_only(cfg, "emoji_captions")
    return EmojiCaptions(cfg.path or "data/emoji64", cfg.split, cfg.resolution, cfg.max_pixels)


@reads("fashion_captions", "split")
def _fashion_captions(cfg: DataConfig):
    """Fashion-MNIST with class-name captions in English and Korean."""
    from gankit.data.captions import FashionCaptions

    return FashionCaptions(cfg.split, cfg.resolution, cfg.channels)


@reads("emoji_styles", "path", "split", "domains")
def _emoji_styles(cfg: DataConfig):
    """Aligned pairs (a: style A, b: style B) of the emoji-styles folder (gankit data emoji-styles)."""
    from gankit.data.translation import emoji_styles

    _rgb_only(cfg, "emoji_styles")
    return emoji_styles(cfg.path or "data/emoji_styles64", cfg.split, cfg.domains, cfg.resolution, paired=True)


@reads("emoji_styles_unpaired", "path", "split", "domains")
def _emoji_styles_unpaired(cfg: DataConfig):
    """Independent draws from style A (train half A) and style B (train half B)."""
    from gankit.data.translation import emoji_styles

    _rgb_only(cfg, "emoji_styles_unpaired")
    return emoji_styles(cfg.path or "data/emoji_styles64", cfg.split, cfg.domains, cfg.resolution, paired=False)


@reads("unpaired_folders", "path", "domains", "center_crop", "max_pixels")
def _unpaired_folders(cfg: DataConfig):
    """Two sub-folders of data.path (data.domains=[A, B]) as unpaired domains (CycleGAN)."""
    from gankit.data.translation import unpaired_folders

    if not cfg.path:
        raise ConfigError("data.path: the 'unpaired_folders' dataset needs data.path=DIR with one sub-folder per domain")
    return unpaired_folders(cfg.path, cfg.domains, cfg.resolution, cfg.channels, cfg.center_crop, cfg.max_pixels)


@reads("fashion_pairs", "split", "domains")
def _fashion_pairs(cfg: DataConfig):
    """Two Fashion-MNIST classes as unpaired domains (data.domains, default [sneaker, sandal])."""
    from gankit.data.translation import fashion_classes

    return fashion_classes(cfg.split, cfg.domains, cfg.resolution, cfg.channels)


@reads("skimage")
def _skimage(cfg: DataConfig):
    from gankit.data.photos import SkimagePhotos  # 15 CC0 photos bundled with scikit-image (restoration tests)

    return SkimagePhotos(cfg.resolution, cfg.channels)


class Subset(torch.utils.data.Dataset):
    """The first ``n`` items of a source, keeping its protocol attributes."""

    def __init__(self, source, n: int):
        self.source, self.n = source, min(n, len(source))
        for k in ("fields", "resolution", "channels", "target_kind", "n_classes", "attr_names", "class_names", "captions"):
            if hasattr(source, k):
                setattr(self, k, getattr(source, k))
        if hasattr(source, "images") and hasattr(source, "labels"):
            self.images, self.labels = source.images[: self.n], source.labels[: self.n]

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return self.source[i]


def check_data_keys(cfg: DataConfig) -> None:
    """A data.* key the chosen source does not read, set away from its default, is an error."""
    read = COMMON_KEYS | READS.get(cfg.name, set())
    default = DataConfig()
    for f in dataclasses.fields(DataConfig):
        if f.name not in read and getattr(cfg, f.name) != getattr(default, f.name):
            users = sorted(n for n, keys in READS.items() if f.name in keys)
            raise ConfigError(f"data.{f.name}: dataset '{cfg.name}' does not read it "
                              f"(read by: {', '.join(users) or 'none'})")


def build_source(cfg: DataConfig):
    """Instantiate the configured source; ``data.limit`` keeps only the first N items."""
    builder = SOURCES.get(cfg.name)
    check_data_keys(cfg)
    if cfg.max_pixels < 0:
        raise ConfigError(f"data.max_pixels={cfg.max_pixels}: expected a value >= 0 (0 = no limit)")
    source = builder(cfg)
    if not cfg.labels and getattr(source, "target_kind", "none") == "class":
        source.target_kind = "none"  # labels present but not wanted: unconditional training
    if cfg.limit and callable(getattr(source, "limited", None)):
        source = source.limited(cfg.limit)  # e.g. unpaired data: the first N images of each domain
    elif cfg.limit and cfg.limit < len(source):
        source = Subset(source, cfg.limit)
    elif cfg.limit > len(source):
        log.warning("data.limit=%d is more than the %d items of dataset '%s': using all %d",
                    cfg.limit, len(source), cfg.name, len(source))
    return source
