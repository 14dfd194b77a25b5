"""The recipe interface: a training method declares its networks, optimizer groups and phases.

A recipe states

* ``nets_spec``: role -> :class:`NetSpec` (which registry, which config section, which shape
  arguments it takes from the data, which generator kinds it accepts);
* ``groups``: optimizer group -> roles (one Adam per group; lr/betas per group in ``optim``);
* ``phases()``: the ordered :class:`Phase` list of one training step (which group a phase
  updates, how many repeats, how often, during which steps, whether it draws a new batch);
* ``sample_role``: the network that is EMA-averaged and sampled;

and owns sampling (``sample``, ``preview_inputs``, ``preview``), used by sample grids,
periodic FID, ``gankit sample``/``eval`` and the editing tools. A recipe owns no optimizer
and never calls ``backward()`` or ``step()``: the trainer does.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator, Mapping

import torch
from torch import Tensor, nn

from gankit.data.base import Batch
from gankit.errors import CheckpointError, ConfigError
from gankit.models import DISCRIMINATORS, GENERATORS
from gankit.models.contracts import generate, is_kind, sample_noise
from gankit.nn.random import per_sample
from gankit.registry import Registry

RECIPES: Registry[type["Recipe"]] = Registry("recipe")

# Shape arguments a network may take from the data (see gankit.train.build.data_shape):
# resolution, channels (the image modality), z_dim (model.z_dim), n_classes (class labels
# when data.labels), c_dim (number of attributes of an attribute dataset).
SHAPE_KEYS = ("resolution", "channels", "z_dim", "n_classes", "c_dim")


@dataclass(frozen=True)
class NetSpec:
    """How to build one network of a recipe.

    registry: where ``name`` is looked up. key: the config section holding ``{name, ...}``
    ("model.generator", "model.discriminator" or "model.nets.<role>"). shape: which
    :data:`SHAPE_KEYS` are injected. kinds: accepted generator kinds (empty: any network).
    default: the section's value when the config has none (for "model.nets.<role>").
    """

    registry: Registry
    key: str
    shape: tuple[str, ...]
    kinds: tuple[str, ...] = ()
    default: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        unknown = [k for k in self.shape if k not in SHAPE_KEYS]
        if unknown:
            raise ValueError(f"NetSpec({self.key}): unknown shape arguments {unknown}; choose from {SHAPE_KEYS}")


NOISE_G = NetSpec(GENERATORS, "model.generator", ("resolution", "channels", "z_dim", "n_classes"), ("noise",))
CLASS_D = NetSpec(DISCRIMINATORS, "model.discriminator", ("resolution", "channels", "n_classes"))


@dataclass(frozen=True)
class Phase:
    """One entry of a training step.

    loss(batch, step) -> {"total": scalar to backpropagate, other names: logged}. The trainer
    runs an active phase ``repeat`` times; each run draws a batch when ``new_batch`` (else it
    reuses the step's previous batch), backpropagates ``total`` into ``group``'s networks only
    and steps that group's optimizer, then calls ``after()``. Active at step s when
    ``start <= s < stop`` and ``(s - start) % every == 0``. Logged names get no prefix except
    ``total``, which is logged as ``<name>_total``.
    """

    name: str
    group: str
    loss: Callable[[Batch, int], dict[str, Tensor]]
    repeat: int = 1
    every: int = 1
    new_batch: bool = True
    start: int = 0
    stop: int | None = None
    after: Callable[[], None] | None = None

    def active(self, step: int) -> bool:
        if step < self.start or (self.stop is not None and step >= self.stop):
            return False
        return (step - self.start) % self.every == 0


class AbsentNet(nn.Module):
    """Stands in for a network a checkpoint does not hold (a generator-only export): sampling
    needs none; anything that runs it gets a one-line error."""

    def __init__(self, role: str, where: str = "this checkpoint"):
        super().__init__()
        self.role, self.where = role, where

    def forward(self, *a, **k):
        raise CheckpointError(f"{self.where}: network '{self.role}' is not in this checkpoint (it holds the generator only)")


class Recipe:
    """Base class: a GAN of one generator ``G`` and one discriminator ``D`` by default.

    ``rng`` is the recipe's own torch.Generator (on the training device) for latents, GP alphas
    and augmentation, saved in checkpoints so that resume is exact. ``n_critic`` (D repeats
    per step, from ``optim.n_critic``) and ``batch_size`` (``train.batch_size``, for schedules
    counted in images) are set by the builder before ``phases()`` is read.
    """

    nets_spec: ClassVar[dict[str, NetSpec]] = {"G": NOISE_G, "D": CLASS_D}
    groups: ClassVar[dict[str, tuple[str, ...]]] = {"G": ("G",), "D": ("D",)}
    sample_role: ClassVar[str] = "G"
    uses_n_critic: ClassVar[bool] = True  # False: optim.n_critic other than 1 is a config error
    reads_loss_section: ClassVar[bool] = False  # True: the loss.* keys configure this recipe

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator):
        missing = [r for r in self.nets_spec if r not in nets]
        if missing:
            raise ConfigError(f"recipe {type(self).__name__}: missing networks {', '.join(missing)}")
        self.nets = nets
        self.rng = rng
        self.n_critic = 1
        # Read-only group -> optimizer mapping, set by the trainer: for recipes that must mirror
        # an optimizer's update (the unrolled GAN); a recipe never steps an optimizer.
        self.optimizers: Mapping[str, torch.optim.Optimizer] | None = None
        self.batch_size = 0  # train.batch_size (images per D batch), set by the builder; 0 = unknown

    def phases(self) -> list[Phase]:
        """D (``n_critic`` times, a new batch each), then G on the last batch."""
        return [Phase("d", "D", self.d_step, repeat=self.n_critic, after=self.after_d_step),
                Phase("g", "G", self.g_step, new_batch=False)]

    # G/D are views of ``nets``, so a trainer can swap in wrapped (compiled, EMA) modules by
    # replacing ``nets`` and every recipe sees them.
    @property
    def G(self) -> nn.Module:
        return self.nets["G"]

    @G.setter
    def G(self, net: nn.Module) -> None:
        self.nets["G"] = net

    @property
    def D(self) -> nn.Module:
        return self.nets["D"]

    @D.setter
    def D(self, net: nn.Module) -> None:
        self.nets["D"] = net

    @property
    def device(self) -> torch.device:
        return next(self.nets[self.sample_role].parameters()).device

    # Random numbers are drawn on the generator's own device (the trainer puts it on the
    # training device): a CPU draw followed by a host-to-device copy from pageable memory
    # would synchronise the CUDA stream on every call and stall the launch queue.
    # Per-sample draws (dim 0 = the batch) go through gankit.nn.random.per_sample, so under
    # torchrun each rank gets its slice of the global batch's numbers (see that module).
    def randn(self, *shape: int) -> Tensor:
        """Standard normal noise from the recipe's RNG, moved to the training device."""
        return per_sample(torch.randn, shape, self.rng).to(self.device)

    def rand(self, *shape: int) -> Tensor:
        return per_sample(torch.rand, shape, self.rng).to(self.device)

    def randperm(self, n: int) -> Tensor:
        return torch.randperm(n, generator=self.rng, device=self.rng.device).to(self.device)

    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        raise NotImplementedError

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        raise NotImplementedError

    def after_d_step(self) -> None:
        """Hook after the D optimizer step (e.g. WGAN weight clipping). Default: nothing."""

    def schedule(self, step: int) -> dict[str, float]:
        """Hyper-parameters that change over training, read by the trainer before each step.

        Optional keys: ``lr_factor`` (multiplies every group's learning rate), ``beta2``
        (Adam's beta2 of every group) and ``ema`` (the EMA decay of the sample network, used
        instead of ``train.ema`` when the EMA is on). A pure function of ``step``, so a
        resumed run continues the same schedule. Default: nothing changes.
        """
        return {}

    @classmethod
    def net_args(cls, role: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        """Constructor arguments of network ``role`` that follow from the recipe's own
        ``recipe.kwargs`` (e.g. which conditions MidiNet's networks take for its model 1/2/3),
        injected like the data's shape arguments (a user cannot set them in the network's
        section). Raise ConfigError for a bad kwarg. Default: none."""
        return {}

    # ------------------------------------------------------------------ sampling (contract)
    @contextlib.contextmanager
    def sampling(self, net: nn.Module | None = None) -> Iterator["Recipe"]:
        """Within: ``sample_role`` is ``net`` (e.g. the EMA copy) in eval mode, no gradients."""
        old = self.nets
        nets = dict(old)
        if net is not None:
            nets[self.sample_role] = net
            self.sync_sample_net(net)
        g = nets[self.sample_role]
        was = g.training
        g.eval()
        self.nets = nets
        try:
            with torch.no_grad():
                yield self
        finally:
            self.nets = old
            g.train(was)

    def sync_sample_net(self, net: nn.Module) -> None:
        """Copy non-parameter state (e.g. a growing stage) from the trained net to ``net``."""

    def sample(self, n: int, rng: torch.Generator, inputs: Batch | None = None) -> Tensor:
        """``n`` images in [-1, 1] (on the training device), every random number from the CPU
        ``rng`` so that samples do not depend on the device. Noise generators: z ~ N(0, I)
        [n, z_dim], then uniform class labels when conditional. Call inside :meth:`sampling`."""
        return sample_noise(self.nets[self.sample_role], n, rng, self.device)

    def sampler(self, source=None) -> Callable[[int, torch.Generator], Tensor]:
        """``sample(b, rng) -> b images`` for metrics (GeneratorSource). Editors draw their
        inputs from ``source`` with the same ``rng``. Use inside :meth:`sampling`."""
        return lambda b, rng: self.sample(b, rng)

    def inputs_sampler(self, source, items: Callable[[Any, list[int]], Batch], missing: str):
        """``sample(b, rng)`` for recipes whose samples need inputs (editors, translators,
        restorers): b items of ``source`` drawn uniformly with ``rng``, turned into the inputs
        of :meth:`sample` by ``items(source, indices)``. No source: ConfigError ``missing``."""
        if source is None:
            raise ConfigError(missing)

        def sample(b: int, rng: torch.Generator) -> Tensor:
            idx = torch.randint(0, len(source), (b,), generator=rng).tolist()
            return self.sample(b, rng, items(source, idx))

        return sample

    def preview_inputs(self, source, n: int, seed: int) -> Batch:
        """The fixed inputs of a run's sample grids: the same z (and one class per grid row)."""
        g = self.nets[self.sample_role]
        rng = torch.Generator().manual_seed(seed + 20_240_901)
        z = torch.randn(n, g.z_dim, generator=rng)
        c = (torch.arange(n) // grid_cols(n)) % g.n_classes if is_kind(g, "conditional") else None
        return Batch(z=z, c=c)

    def preview(self, inputs: Batch) -> tuple[Tensor, int]:
        """(images [N, C, R, R] in [-1, 1] on the CPU, images per grid row) for ``inputs``."""
        g = self.nets[self.sample_role]
        rng = torch.Generator().manual_seed(20_240_902)  # fixed noise too: grids comparable over time
        outs = []
        for i in range(0, len(inputs), 256):
            z = inputs.z[i:i + 256].to(self.device)
            c = None if inputs.c is None else inputs.c[i:i + 256].to(self.device)
            outs.append(generate(g, z, c, rng).float().cpu())
        return torch.cat(outs), grid_cols(len(inputs))

    # ----------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Extra recipe state to checkpoint (e.g. adaptive augmentation p). Default: none."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass


def grid_cols(n: int) -> int:
    """Images per row of a square-ish grid of ``n``."""
    return max(1, int(n ** 0.5 + 0.5))
