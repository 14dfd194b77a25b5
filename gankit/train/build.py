"""Turn a Config into live objects: data source, networks, recipe. No training here."""

from __future__ import annotations

import torch

from gankit.config import Config
from gankit.data.sources import build_source
from gankit.errors import ConfigError
from gankit.models import DISCRIMINATORS, GENERATORS, build_net
from gankit.recipes.base import RECIPES, Recipe
import gankit.recipes  # noqa: F401  (registers every recipe)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise ConfigError(f"train.device '{name}': expected auto, cpu, cuda or cuda:N") from None
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"train.device '{name}': no CUDA device is available here (use auto or cpu)")
    return dev


def n_classes_of(cfg: Config, source) -> int:
    if cfg.data.labels and getattr(source, "target_kind", "none") == "class":
        return int(source.n_classes)
    return 0


def build_nets(cfg: Config, source) -> dict[str, torch.nn.Module]:
    """G and D shaped by the data: (resolution, channels, n_classes) for noise generators,
    (resolution, channels, c_dim = number of attributes) for image-to-image editors."""
    g_cls = GENERATORS.get(cfg.model.generator.get("name", ""))
    if getattr(g_cls, "image_to_image", False):
        names = list(getattr(source, "attr_names", []) or [])
        if not names:
            raise ConfigError(f"model.generator '{cfg.model.generator['name']}' edits attributes, but dataset '{cfg.data.name}' has none "
                              f"(use emoji, celeba or attributes data)")
        shape = {"resolution": cfg.data.resolution, "channels": cfg.data.channels, "c_dim": len(names)}
        g = build_net(GENERATORS, "model.generator", cfg.model.generator, **shape)
        d = build_net(DISCRIMINATORS, "model.discriminator", cfg.model.discriminator, **shape)
        return {"G": g, "D": d}
    nc = n_classes_of(cfg, source)
    shape = {"resolution": cfg.data.resolution, "channels": cfg.data.channels, "n_classes": nc}
    g = build_net(GENERATORS, "model.generator", cfg.model.generator, z_dim=cfg.model.z_dim, **shape)
    d = build_net(DISCRIMINATORS, "model.discriminator", cfg.model.discriminator, **shape)
    return {"G": g, "D": d}


def build_recipe(cfg: Config, nets: dict[str, torch.nn.Module], generator: torch.Generator) -> Recipe:
    cls = RECIPES.get(cfg.recipe.name)
    kwargs = dict(cfg.recipe.kwargs)
    if cfg.recipe.name == "gan":
        kwargs = {"adversarial": cfg.loss.adversarial, "gp_weight": cfg.loss.gp_weight, "r1_gamma": cfg.loss.r1_gamma,
                  "r1_interval": cfg.loss.r1_interval, "clip": cfg.loss.clip, **kwargs}
    try:
        return cls(nets, generator, **kwargs)
    except TypeError as e:
        raise ConfigError(f"recipe.kwargs for '{cfg.recipe.name}': {e}") from None


def build_source_for(cfg: Config):
    source = build_source(cfg.data)
    res = getattr(source, "resolution", cfg.data.resolution)
    if res != cfg.data.resolution:
        raise ConfigError(f"data.resolution={cfg.data.resolution} but the dataset yields {res}px images")
    return source
