"""Pipelines: the library API over trained runs (no argparse).

``load_run(path)`` turns a run folder or checkpoint into a :class:`Run`: its config, its
recipe with every network rebuilt from the checkpoint's specs (the sample network with its
EMA weights by default), ready to sample, translate, preview and score. The CLI, the
benchmarks and a web demo call this layer; none of them import from ``gankit.cli``.

    run = load_run("runs/dc")                 # or a checkpoint folder / file
    imgs = run.sample(16, seed=0)             # [16, C, R, R] in [-1, 1] on the CPU
    grid, nrow = run.preview(n=64)            # the run's sample grid (edit grid for editors)
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import Config, config_from_dict, diff_configs
from gankit.data.base import Batch
from gankit.errors import CheckpointError, ConfigError, GankitError
from gankit.models import rebuild_net
from gankit.models.contracts import generate, kind_of, require_kind
from gankit.recipes.base import AbsentNet, Recipe
from gankit.train.build import build_recipe, recipe_class, resolve_device
from gankit.train.state import load_checkpoint, resolve_checkpoint, unflatten_state

__all__ = ["Run", "load_run", "load_generator", "load_editor", "load_style_generator", "data_source", "attr_names_of",
           "load_image", "attribute_source"]


@dataclass
class Run:
    """A trained run, loaded. ``recipe.nets[recipe.sample_role]`` holds ``weights``."""

    cfg: Config
    recipe: Recipe
    checkpoint: Path
    weights: str  # which stored weights the sample network holds: "G_ema" or "G"
    device: torch.device
    state: dict[str, Any]

    @property
    def net(self) -> nn.Module:
        """The sample network (eval mode, no gradients)."""
        return self.recipe.nets[self.recipe.sample_role]

    @property
    def kind(self) -> str:
        return kind_of(self.net)

    @property
    def step(self) -> int:
        return int(self.state.get("step", 0))

    def source(self, split: str | None = None):
        """The run's data source, on ``split`` (held-out inputs for editors: 'test')."""
        return data_source(self.cfg, split)

    def sampler(self, source=None):
        """``sample(b, rng)`` for metrics (GeneratorSource); editors need a ``source``."""
        if source is None and self.kind == "image_to_image":
            source = self.held_out()
        return self.recipe.sampler(source)

    def sample(self, n: int, seed: int = 0, c: Tensor | None = None, inputs: Batch | None = None) -> Tensor:
        """``n`` images in [-1, 1] on the CPU. Noise generators: seeded z (``c``: class labels
        [n], else uniform); editors: edits of ``inputs`` (default: held-out images)."""
        rng = torch.Generator().manual_seed(seed)
        g = self.net
        with self.recipe.sampling() as r, torch.no_grad():
            if self.kind == "image_to_image":
                if inputs is None:
                    return r.sampler(self.held_out())(n, rng).float().cpu()
                return r.sample(n, rng, inputs).float().cpu()
            if c is None:
                return r.sample(n, rng).float().cpu()
            z = torch.randn(n, g.z_dim, generator=rng).to(self.device)
            return generate(g, z, c.to(self.device), rng).float().cpu()

    def preview(self, n: int = 64, seed: int | None = None) -> tuple[Tensor, int]:
        """The run's grid: fixed latents (noise), or single-attribute edits of held-out images."""
        src = self.held_out() if self.kind == "image_to_image" else None
        inputs = self.recipe.preview_inputs(src, n, self.cfg.train.seed if seed is None else seed)
        with self.recipe.sampling() as r:
            return r.preview(inputs)

    def held_out(self):
        """Held-out inputs: the run's data on its test split when it has one, else its own split."""
        try:
            return self.source("test")
        except GankitError:
            return self.source()


def data_source(cfg: Config, split: str | None = None):
    """The source a config describes (optionally on another split)."""
    from gankit.data.sources import READS, build_source

    data = cfg.data
    if split is not None and split != data.split:
        if "split" not in READS.get(data.name, set()):
            raise ConfigError(f"dataset '{data.name}' has no splits")
        data = type(data)(**{**data.__dict__, "split": split})
    return build_source(data)


def load_run(path: str | os.PathLike, device: str | torch.device = "cpu", ema: bool = True,
             expect: Config | None = None) -> Run:
    """Load a run folder (its latest checkpoint), a checkpoint folder or a file inside one.

    Every network of the run's recipe is rebuilt from the stored specs and loaded; with
    ``ema`` the sample network gets its EMA weights when the checkpoint has them. Networks
    are in eval mode without gradients. ``expect``: a config the run must match (a
    mismatch names the differing keys).
    """
    ck = resolve_checkpoint(path)
    dev = resolve_device(str(device))
    tensors, state = load_checkpoint(ck, "cpu")  # checks every weight is finite
    cfg = config_from_dict(state["config"])
    if expect is not None:
        diffs = diff_configs(expect.to_dict(), cfg.to_dict())
        if diffs:
            raise CheckpointError(f"{ck}: its run config differs in {', '.join(diffs[:8])}")
    cls = recipe_class(cfg)
    specs = dict(state.get("specs", {}))
    role = cls.sample_role
    if role not in specs:
        raise CheckpointError(f"{ck}: no stored spec for network '{role}' of recipe '{cfg.recipe.name}'")
    nets: dict[str, nn.Module] = {}  # networks a generator-only checkpoint lacks: AbsentNet placeholders
    for r, spec in cls.nets_spec.items():
        if r in specs:
            if spec.kinds:
                require_kind(spec.registry.get(specs[r]["name"]), spec.kinds, f"{ck}: stored network '{r}' "
                             f"({specs[r]['name']})")
            nets[r] = rebuild_net(spec.registry, specs[r])
        else:
            nets[r] = AbsentNet(r, str(ck))
    weights = f"{role}_ema" if ema and any(k.startswith(f"{role}_ema.") for k in tensors) else role
    for name, net in nets.items():
        net.to(dev).eval().requires_grad_(False)
        if isinstance(net, AbsentNet):
            continue
        src = weights if name == role else name
        try:
            net.load_state_dict(unflatten_state(tensors, src))
        except RuntimeError as e:
            raise CheckpointError(f"{ck}: weights '{src}' do not fit network {specs[name]['name']} "
                                  f"{specs[name]['kwargs']} ({str(e).splitlines()[0][:160]})") from None
    # the stored config is read as it was trained: keys a newer gankit refuses are ignored here
    recipe = build_recipe(cfg, nets, torch.Generator(device=dev).manual_seed(cfg.train.seed), check=False)
    recipe.load_state_dict(state.get("recipe", {}))
    return Run(cfg, recipe, ck, weights, dev, state)


def load_generator(path: str | os.PathLike, device: str | torch.device = "cpu",
                   ema: bool = True) -> tuple[nn.Module, dict[str, Any]]:
    """(the sample network in eval mode on ``device``, the run config as a dict)."""
    run = load_run(path, device, ema)
    run.net.gankit_weights = run.weights
    return run.net, run.cfg.to_dict()


def load_style_generator(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, dict[str, Any]]:
    """(G, config dict) of a run whose generator has a W space (projection, W edits)."""
    run = load_run(path, device)
    if kind_of(run.net) != "style":
        raise GankitError(f"{path}: generator '{type(run.net).__name__}' has no W space (mapping/synthesis); "
                          "projection and W edits need a style generator (e.g. preset style_emoji64)")
    return run.net, run.cfg.to_dict()


def attr_names_of(cfg: Config, c_dim: int) -> list[str]:
    """Attribute names a run was trained on (its config's data.attrs, or the dataset's own list)."""
    names = list(cfg.data.attrs or [])
    if not names:
        if cfg.data.name == "emoji":
            from gankit.data.emoji import ATTR_NAMES

            names = list(ATTR_NAMES)
        else:
            names = list(data_source(cfg).attr_names)
    if len(names) != c_dim:
        raise GankitError(f"checkpoint: generator has c_dim {c_dim} but the run config names {len(names)} attributes")
    return names


def load_editor(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[nn.Module, list[str], dict]:
    """(G at full resolution in eval mode, attribute names, run config dict) of an attribute editor."""
    run = load_run(path, device)
    g, names = editor_of(run, str(path))
    return g, names, run.cfg.to_dict()


def editor_of(run: Run, where: str = "run") -> tuple[nn.Module, list[str]]:
    """(G at full resolution, attribute names) of a loaded attribute editor run."""
    g = run.net
    if kind_of(g) != "image_to_image" or not getattr(g, "c_dim", 0):
        raise GankitError(f"{where}: not an attribute editor (generator '{type(g).__name__}' is not image-to-image)")
    if g.grow:
        g.set_stage(g.n_stages - 1, 1.0)  # edit at full resolution
    return g, attr_names_of(run.cfg, g.c_dim)


def load_image(path: str | os.PathLike):
    """An image file -> uint8 numpy [H, W, 3] (see gankit.data.images.open_image; raises DataError)."""
    import numpy as np

    from gankit.data.images import open_image

    return np.asarray(open_image(path, 3))


def attribute_source(data: str, path: str | None, split: str, resolution: int, attrs: list[str]):
    """An RGB attribute dataset (emoji, celeba, attributes) by name, location and split."""
    from gankit.config import DataConfig
    from gankit.data.sources import build_source

    return build_source(DataConfig(name=data, path=path, split=split, resolution=resolution, channels=3, attrs=attrs))


@dataclass(frozen=True)
class RunKind:
    """What a run's config trains, read without building or loading anything (run listings,
    the web app's tabs). kind: the sample network's generator kind (noise, conditional, style,
    image_to_image); inputs: the shape arguments it takes from the data (``c_dim``: attributes)."""

    recipe: str
    generator: str
    kind: str
    inputs: tuple[str, ...]

    @property
    def attribute_editor(self) -> bool:
        return self.kind == "image_to_image" and "c_dim" in self.inputs


def run_kind(cfg: Config) -> RunKind:
    """The :class:`RunKind` of a run config (e.g. ``config_from_dict`` of RUN/config.yaml)."""
    from gankit.models.contracts import declared_kind
    from gankit.train.build import net_config

    cls = recipe_class(cfg)
    role = cls.sample_role
    spec = cls.nets_spec[role]
    name = net_config(cfg, role, spec)["name"]
    kind = declared_kind(spec.registry.get(name)) or "noise"
    if kind == "noise" and cfg.data.labels and "n_classes" in spec.shape:
        kind = "conditional"
    return RunKind(cfg.recipe.name, name, kind, tuple(spec.shape))


__all__ += ["RunKind", "run_kind", "editor_of"]
