"""Turn a Config into live objects: data source, networks, recipe. No training here.

The recipe class declares what it builds (``nets_spec``, ``groups``); this module shapes
each network from the data, checks generator kinds before constructing anything, and refuses
config keys the chosen recipe would not read.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch

from gankit.config import Config, LossConfig, ModelConfig
from gankit.data.sources import build_source
from gankit.errors import ConfigError
from gankit.models import build_net
from gankit.models.contracts import require_kind
from gankit.models.base import validate_kwargs
from gankit.recipes.base import RECIPES, NetSpec, Recipe
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


def recipe_class(cfg: Config) -> type[Recipe]:
    return RECIPES.get(cfg.recipe.name)


def net_config(cfg: Config, role: str, spec: NetSpec) -> dict[str, Any]:
    """The ``{name, ...}`` section that configures ``role`` (``model.nets.<role>`` or its default)."""
    if spec.key == "model.generator":
        return cfg.model.generator
    if spec.key == "model.discriminator":
        return cfg.model.discriminator
    section = cfg.model.nets.get(role)
    if section is None:
        if spec.default is None:
            raise ConfigError(f"{spec.key}: recipe '{cfg.recipe.name}' needs a network for role '{role}' (set {spec.key}.name)")
        return dict(spec.default)
    if not isinstance(section, dict):
        raise ConfigError(f"{spec.key}: expected a mapping {{name: ..., ...}}, got {section!r}")
    return section


def data_shape(cfg: Config, source, wanted: set[str]) -> dict[str, int]:
    """The shape arguments networks take from the data (only those some network wants)."""
    shape: dict[str, int] = {"resolution": cfg.data.resolution, "channels": cfg.data.channels, "z_dim": cfg.model.z_dim}
    shape["n_classes"] = int(source.n_classes) if cfg.data.labels and getattr(source, "target_kind", "none") == "class" else 0
    if "c_dim" in wanted:
        names = list(getattr(source, "attr_names", []) or [])
        if not names:
            raise ConfigError(f"recipe '{cfg.recipe.name}' edits attributes, but dataset '{cfg.data.name}' has none "
                              f"(use emoji, celeba or attributes data)")
        shape["c_dim"] = len(names)
    return {k: v for k, v in shape.items() if k in wanted}


def wanted_shape(cls: type[Recipe]) -> set[str]:
    """The shape arguments some network of the recipe takes from the data."""
    return {k for spec in cls.nets_spec.values() for k in spec.shape}


def build_nets(cfg: Config, source) -> dict[str, torch.nn.Module]:
    """Every network the recipe declares, shaped by the data; generator kinds checked first."""
    cls = recipe_class(cfg)
    specs = cls.nets_spec
    shape = data_shape(cfg, source, wanted_shape(cls))
    kwargs = validate_kwargs("recipe.kwargs", cls, dict(cfg.recipe.kwargs), {"nets", "rng"})
    nets = {}
    for role, spec in specs.items():
        section = net_config(cfg, role, spec)
        if spec.kinds and "name" in section:
            require_kind(spec.registry.get(section["name"]), spec.kinds, f"{spec.key} '{section['name']}'")
        extra = cls.net_args(role, kwargs)  # see Recipe.net_args
        if extra and "name" in section:
            _check_takes(spec.registry.get(section["name"]), extra, f"{spec.key} '{section['name']}'", cfg.recipe.name)
        injected = {**{k: shape[k] for k in spec.shape}, **extra}
        nets[role] = build_net(spec.registry, spec.key, section, **injected)
    return nets


def _check_takes(net_cls: type, args: dict[str, Any], where: str, recipe: str) -> None:
    """A network the recipe gives arguments (net_args) must take them: else a one-line error."""
    import inspect

    params = inspect.signature(net_cls.__init__).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return
    missing = [k for k in args if k not in params]
    if missing:
        raise ConfigError(f"{where}: recipe '{recipe}' gives its networks {', '.join(missing)}, which this network does "
                          f"not take; choose a network made for the recipe")


def check_recipe_config(cfg: Config) -> None:
    """Keys the chosen recipe does not read are errors (one line naming the key)."""
    cls = recipe_class(cfg)
    name = cfg.recipe.name
    if not cls.reads_loss_section:
        for f in dataclasses.fields(LossConfig):
            if getattr(cfg.loss, f.name) != getattr(LossConfig(), f.name):
                alt = f" (set recipe.kwargs.{f.name} instead)" if f.name in _init_params(cls) else ""
                raise ConfigError(f"loss.{f.name}: recipe '{name}' does not read the loss section{alt}")
    else:
        clash = sorted(set(cfg.recipe.kwargs) & {f.name for f in dataclasses.fields(LossConfig)})
        if clash:
            raise ConfigError(f"recipe.kwargs.{clash[0]}: recipe '{name}' takes it from loss.{clash[0]}; set it there")
    if not cls.uses_n_critic and cfg.optim.n_critic != 1:
        raise ConfigError(f"optim.n_critic: recipe '{name}' has no repeated critic phase; leave it at 1")
    if "z_dim" not in wanted_shape(cls) and cfg.model.z_dim != ModelConfig().z_dim:
        raise ConfigError(f"model.z_dim: recipe '{name}' has no noise input (its networks do not read it)")
    roles = {r for r, s in cls.nets_spec.items() if s.key.startswith("model.nets.")}
    for role in cfg.model.nets:
        if role not in roles:
            valid = ", ".join(sorted(roles)) or "none"
            raise ConfigError(f"model.nets.{role}: recipe '{name}' has no network '{role}' (its extra networks: {valid})")
    extra_groups = [g for g in cls.groups if g not in ("G", "D")]
    for g in cfg.optim.groups:
        if g not in extra_groups:
            hint = f" (set optim.{g.lower()}_lr / optim.{g.lower()}_betas)" if g in ("G", "D") else ""
            raise ConfigError(f"optim.groups.{g}: recipe '{name}' has no optimizer group '{g}'{hint}; "
                              f"its groups: {', '.join(cls.groups)}")


def check_config(cfg: Config, data: bool = True) -> None:
    """Every config error that needs no data or network, raised before anything is loaded:
    keys the recipe (and, with ``data``, the source) does not read, recipe.kwargs names and
    types."""
    from gankit.data.sources import check_data_keys

    check_recipe_config(cfg)
    validate_kwargs("recipe.kwargs", recipe_class(cfg), dict(cfg.recipe.kwargs), {"nets", "rng"})
    if data:
        check_data_keys(cfg.data)


def _init_params(cls: type) -> set[str]:
    import inspect

    return set(inspect.signature(cls.__init__).parameters) - {"self", "nets", "rng"}


def build_recipe(cfg: Config, nets: dict[str, torch.nn.Module], rng: torch.Generator, check: bool = True) -> Recipe:
    """The configured recipe over ``nets``: recipe.kwargs checked against its constructor
    (did-you-mean, types), the loss section for recipes that read it, n_critic set.

    check=False: the keys the recipe does not read are not checked here (the caller already
    ran :func:`check_config`, or the config is stored in a checkpoint and is read as the
    gankit that trained the run read it)."""
    if check:
        check_recipe_config(cfg)
    cls = recipe_class(cfg)
    kwargs = validate_kwargs("recipe.kwargs", cls, dict(cfg.recipe.kwargs), {"nets", "rng"})
    if cls.reads_loss_section:
        kwargs = {**dataclasses.asdict(cfg.loss), **kwargs}
    recipe = cls(nets, rng, **kwargs)
    recipe.n_critic = cfg.optim.n_critic
    recipe.group_hparams = group_hparams(cfg, cls)  # read-only: each group's lr/betas (the unrolled GAN mirrors D's Adam)
    recipe.batch_size = cfg.train.batch_size  # schedules over images (e.g. r3gan's ramps) read it
    return recipe


def group_hparams(cfg: Config, cls: type[Recipe]) -> dict[str, dict[str, Any]]:
    """{group: {"lr", "betas"}}: G and D from optim.g_*/d_*, others from optim.groups.<name>
    (default: the G group's values; the values were range-checked with the config)."""
    o = cfg.optim
    out = {}
    for g in cls.groups:
        if g == "G":
            lr, betas = o.g_lr, o.g_betas
        elif g == "D":
            lr, betas = o.d_lr, o.d_betas
        else:
            sec = o.groups.get(g, {})
            lr, betas = sec.get("lr", o.g_lr), sec.get("betas", o.g_betas)
        out[g] = {"lr": float(lr), "betas": tuple(float(b) for b in betas)}
    return out


def build_source_for(cfg: Config):
    source = build_source(cfg.data)
    res = getattr(source, "resolution", cfg.data.resolution)
    if res != cfg.data.resolution:
        raise ConfigError(f"data.resolution={cfg.data.resolution} but the dataset yields {res}px images")
    return source
