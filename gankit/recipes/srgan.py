"""SRGAN (Ledig et al. 2017): 4x super-resolution with a pixel-loss warm-up (SRResNet).

Batches carry only the high-resolution image ``x``; the low-resolution input is derived from
it in the step (antialiased bicubic, :func:`gankit.data.degrade.bicubic_down`), so flips keep
the pair aligned. The scale is the generator's (``model.generator.scale``).

Phases: ``warm`` (G only, pixel MSE: the SRResNet) for steps < ``warmup``; then ``d`` (D on
HR vs G(LR)) and ``g`` (content + ``adv_weight`` x adversarial, on the same batch).
content = 'features': MSE of rescaled feature maps of a fixed network (``feature_net``: a
TorchScript file; default: the FID Inception network cut at ``feature_layer``, see
:mod:`gankit.metrics.feature_layers`); 'mse': pixel MSE (the paper's SRGAN-MSE).
``lr_drop`` > 0: every learning rate x0.1 from that step on (the paper: 1e-4, then 1e-5).
"""

from __future__ import annotations

import os
from typing import Any

import torch
from torch import Tensor

from gankit.data.base import Batch
from gankit.data.degrade import bicubic_down, bicubic_up
from gankit.data.transforms import to_float
from gankit.errors import ConfigError
from gankit.losses import ADV_LOSSES
from gankit.losses.restore import feature_content, pixel_mse
from gankit.models import DISCRIMINATORS, GENERATORS
from gankit.recipes.base import RECIPES, NetSpec, Phase, Recipe

IMAGE_G = NetSpec(GENERATORS, "model.generator", ("resolution", "channels"), ("image_to_image",))
IMAGE_D = NetSpec(DISCRIMINATORS, "model.discriminator", ("resolution", "channels"))


def source_images(source, idx) -> Tensor:
    """Items ``idx`` of an image source as float [N, C, R, R] in [-1, 1] (first field)."""
    items = [source[int(i)] for i in idx]
    return to_float(torch.stack([torch.as_tensor(it[0] if isinstance(it, (tuple, list)) else it) for it in items]))


@RECIPES.register("srgan")
class SRGANRecipe(Recipe):
    """SRResNet warm-up, then SRGAN (see the module docstring)."""

    nets_spec = {"G": IMAGE_G, "D": IMAGE_D}
    uses_n_critic = False

    def __init__(self, nets, rng, warmup: int = 1000, content: str = "features", feature_net: str = "",
                 feature_layer: str = "conv_4", feature_scale: float = 1 / 12.75, adv_weight: float = 1e-3,
                 adversarial: str = "nonsaturating", lr_drop: int = 0):
        super().__init__(nets, rng)
        if content not in ("features", "mse"):
            raise ConfigError(f"recipe.kwargs.content={content!r}: expected features or mse")
        if content == "mse" and (feature_net or feature_layer != "conv_4" or feature_scale != 1 / 12.75):
            raise ConfigError("recipe.kwargs.feature_*: content=mse uses no feature network; set content=features")
        if feature_net and feature_layer != "conv_4":
            raise ConfigError("recipe.kwargs.feature_layer: names a layer of the Inception network; a feature_net file "
                              "is used whole (leave feature_layer unset)")
        for k, v in (("warmup", warmup), ("lr_drop", lr_drop), ("adv_weight", adv_weight), ("feature_scale", feature_scale)):
            if v < 0:
                raise ConfigError(f"recipe.kwargs.{k}={v}: expected a value >= 0")
        self.warmup, self.content, self.adv_weight, self.lr_drop = warmup, content, adv_weight, lr_drop
        self.feature_net, self.feature_layer, self.feature_scale = feature_net, feature_layer, feature_scale
        self.loss = ADV_LOSSES.get(adversarial)
        self.scale = int(getattr(self.G, "scale", 1))
        self._features = None  # loaded on first use (sampling and scoring never need it)

    def phases(self) -> list[Phase]:
        # checked when training starts (not when a finished run is loaded to upscale elsewhere)
        if self.content == "features" and self.feature_net and not os.path.isfile(os.path.expanduser(self.feature_net)):
            raise ConfigError(f"recipe.kwargs.feature_net={self.feature_net!r}: no such file (expected a TorchScript "
                              "feature network .pt)")
        return [Phase("warm", "G", self.warm_step, stop=self.warmup),
                Phase("d", "D", self.d_step, start=self.warmup),
                Phase("g", "G", self.g_step, new_batch=False, start=self.warmup)]

    def schedule(self, step: int) -> dict[str, float]:
        return {"lr_factor": 0.1} if self.lr_drop and step >= self.lr_drop else {}

    def features(self):
        if self._features is None:
            from gankit.metrics.feature_layers import load_feature_net

            self._features = load_feature_net(self.feature_net, self.feature_layer, self.device)
        return self._features

    def low_res(self, hr: Tensor) -> Tensor:
        return bicubic_down(hr, self.scale)

    def warm_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        sr = self.G(self.low_res(batch.x))
        mse = pixel_mse(sr.float(), batch.x)
        return {"total": mse, "pixel_mse": mse.detach()}

    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        with torch.no_grad():
            sr = self.G(self.low_res(batch.x))
        real, fake = self.D(batch.x).float(), self.D(sr).float()
        adv = self.loss.d_loss(real, fake)
        return {"total": adv, "d_adv": adv.detach(), "d_real": real.detach().mean(), "d_fake": fake.detach().mean()}

    def content_loss(self, sr: Tensor, hr: Tensor) -> Tensor:
        if self.content == "mse":
            return pixel_mse(sr, hr)
        f = self.features()
        with torch.no_grad():
            f_hr = f(hr)
        return feature_content(f(sr), f_hr, self.feature_scale)

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        sr = self.G(self.low_res(batch.x)).float()
        content = self.content_loss(sr, batch.x)
        adv = self.loss.g_loss(self.D(sr).float())
        total = content + self.adv_weight * adv
        return {"total": total, "content": content.detach(), "g_adv": adv.detach(),
                "pixel_mse": pixel_mse(sr.detach(), batch.x)}

    # ----------------------------------------------------------------------- sampling
    def upscale(self, lr: Tensor) -> Tensor:
        """Low-resolution images [N, C, h, w] in [-1, 1] -> [N, C, scale*h, scale*w]."""
        return self.nets[self.sample_role](lr.to(self.device))

    def sample(self, n: int, rng: torch.Generator, inputs: Batch | None = None) -> Tensor:
        """Super-resolved bicubic downsamples of the high-resolution ``inputs.x``."""
        if inputs is None or inputs.x is None:
            raise ConfigError("recipe srgan: sampling a super-resolution model needs input images")
        return self.upscale(self.low_res(inputs.x[:n].to(self.device)))

    def sampler(self, source=None):
        return self.inputs_sampler(source, lambda src, idx: Batch(x=source_images(src, idx)),
                                   "recipe srgan: sampling a super-resolution model needs a source of images")

    def preview_inputs(self, source, n: int, seed: int) -> Batch:
        return Batch(x=source_images(source, range(max(1, min(n, len(source), 8)))))

    def preview(self, inputs: Batch) -> tuple[Tensor, int]:
        """Rows of (bicubic, SR, HR) for each input image."""
        hr = inputs.x.to(self.device)
        lr = self.low_res(hr)
        sr = self.upscale(lr).float()
        return torch.stack([bicubic_up(lr, self.scale), sr, hr], 1).flatten(0, 1).cpu(), 3

    def state_dict(self) -> dict[str, Any]:
        return {}
