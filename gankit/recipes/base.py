"""The recipe interface: a training method turns a batch into named loss tensors.

A recipe owns its networks (``nets``) but no optimizer and never calls ``backward()`` or
``step()``: the trainer does. ``d_step``/``g_step`` return dicts of scalar tensors whose
``"total"`` entry is what the trainer backpropagates; other entries are logged.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.data.base import Batch
from gankit.registry import Registry

RECIPES: Registry[type["Recipe"]] = Registry("recipe")


class Recipe:
    """Base class. Subclasses set ``nets`` (e.g. ``{"G": g, "D": d}``) and implement the steps.

    ``d_params`` / ``g_params`` name which nets each optimizer updates.
    ``generator`` is the recipe's own RNG (on the training device) for latents, GP alphas
    and augmentation, saved in checkpoints so that resume is exact.
    """

    d_nets: tuple[str, ...] = ("D",)
    g_nets: tuple[str, ...] = ("G",)

    def __init__(self, nets: dict[str, nn.Module], generator: torch.Generator):
        self.nets = nets
        self.generator = generator

    # G/D are views of ``nets``, so a trainer can swap in wrapped (compiled) modules by
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
        return next(self.nets["G"].parameters()).device

    # Random numbers are drawn on the generator's own device (the trainer puts it on the
    # training device): a CPU draw followed by a host-to-device copy from pageable memory
    # would synchronise the CUDA stream on every call and stall the launch queue.
    def randn(self, *shape: int) -> Tensor:
        """Standard normal noise from the recipe's RNG, moved to the training device."""
        return torch.randn(*shape, generator=self.generator, device=self.generator.device).to(self.device)

    def rand(self, *shape: int) -> Tensor:
        return torch.rand(*shape, generator=self.generator, device=self.generator.device).to(self.device)

    def randperm(self, n: int) -> Tensor:
        return torch.randperm(n, generator=self.generator, device=self.generator.device).to(self.device)

    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        raise NotImplementedError

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        raise NotImplementedError

    def after_d_step(self) -> None:
        """Hook after the D optimizer step (e.g. WGAN weight clipping). Default: nothing."""

    def state_dict(self) -> dict[str, Any]:
        """Extra recipe state to checkpoint (e.g. adaptive augmentation p). Default: none."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        pass
