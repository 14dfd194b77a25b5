"""The R3GAN training recipe: the GAN recipe plus R3GAN's cosine schedules and augmentation.

Huang et al. 2024 ("The GAN is dead; long live the GAN!"): relativistic pairing loss with
R1 + R2 every step (the loss section: ``loss.adversarial: rpgan``, ``loss.r1_gamma``,
``loss.r2_gamma``, ``loss.r1_interval: 1``), and, over the first ``ramp_kimg`` thousand images,
half-cosine ramps of

* the learning rate: optim.g_lr / d_lr x 1 -> x ``lr_final`` (official: 2e-4 -> 5e-5);
* Adam's beta2: ``beta2[0]`` -> ``beta2[1]`` (official: 0.9 -> 0.99; beta1 from optim);
* gamma of R1 and R2: loss.r1_gamma / r2_gamma x 1 -> x ``gamma_final`` (official: / 10);
* the EMA half-life of G: 0 -> ``ema_kimg`` thousand images (when train.ema > 0);
* the augmentation probability: 0 -> ``aug_p`` (``augment: diff``), or ADA's adaptive p.

Every value is a pure function of the step (images = step x train.batch_size), so a resumed
run continues the same schedules bit for bit. Works with any networks; the R3GAN ones are
``model.generator.name: r3gan`` / ``model.discriminator.name: r3gan``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.data.base import Batch
from gankit.errors import ConfigError
from gankit.nn.augment import AdaptiveAugment, augment, parse_policy
from gankit.recipes.base import RECIPES
from gankit.recipes.gan import GANRecipe
from gankit.recipes.schedules import cosine_ramp, ema_beta

AUGMENT_MODES = ("none", "diff", "ada")
_ADA_DEFAULTS = {"ada_target": 0.6, "ada_interval": 4, "ada_kimg": 500.0}


@RECIPES.register("r3gan")
class R3GANRecipe(GANRecipe):
    """nets: {"G": a noise generator, "D": a discriminator}. Loss keys from the loss section.

    ramp_kimg: length of every ramp in thousands of images (official: 20000); lr_final: the
    learning-rate factor at the end; beta2: [start, end] of Adam's beta2 (null: optim's betas
    unchanged); gamma_final: the R1/R2 gamma factor at the end; ema_kimg: the EMA half-life
    at the end in thousands of images (0: train.ema as a constant decay instead); augment:
    "none" | "diff" (p ramps 0 -> aug_p) | "ada" (p adapted toward ada_target every
    ada_interval D steps, crossing [0, 1] in ada_kimg thousand images; its overfitting
    signal is E[sign(D(real) - D(fake))] under a relativistic loss, else E[sign(D(real))]);
    aug_policy: DiffAugment ops (color, translation, cutout).
    """

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, ramp_kimg: float = 20000.0,
                 lr_final: float = 0.25, beta2: list[float] | None = (0.9, 0.99), gamma_final: float = 0.1,
                 ema_kimg: float = 500.0, augment: str = "none", aug_policy: str = "color,translation,cutout",
                 aug_p: float = 0.0, ada_target: float = 0.6, ada_interval: int = 4, ada_kimg: float = 500.0,
                 **loss: Any):
        super().__init__(nets, rng, **loss)
        _check(ramp_kimg >= 0, f"ramp_kimg={ramp_kimg}: expected a value >= 0")
        _check(0 < lr_final, f"lr_final={lr_final}: expected a factor > 0")
        _check(gamma_final >= 0, f"gamma_final={gamma_final}: expected a factor >= 0")
        _check(ema_kimg >= 0, f"ema_kimg={ema_kimg}: expected a value >= 0 (0 = train.ema)")
        _check(augment in AUGMENT_MODES, f"augment: '{augment}' is not one of {', '.join(AUGMENT_MODES)}")
        _check(0.0 <= aug_p <= 1.0, f"aug_p={aug_p}: expected a probability in [0, 1]")
        _check(augment != "none" or aug_p == 0, "aug_p: augmentation is off (augment: none); set augment: diff or ada")
        ada = {"ada_target": ada_target, "ada_interval": ada_interval, "ada_kimg": ada_kimg}
        for k, v in ada.items():
            _check(augment == "ada" or v == _ADA_DEFAULTS[k], f"{k}: used by augment: ada only (augment is '{augment}')")
        if beta2 is not None:
            ok = len(beta2) == 2 and all(isinstance(b, (int, float)) and not isinstance(b, bool) and 0 <= b < 1
                                         for b in beta2)
            _check(ok, f"beta2={list(beta2)}: expected [start, end] in [0, 1), or null to keep optim's betas")
        self.beta2 = None if beta2 is None else [float(b) for b in beta2]
        parse_policy(aug_policy)  # unknown op names fail at construction
        self.ramp_kimg, self.lr_final, self.gamma_final, self.ema_kimg = ramp_kimg, lr_final, gamma_final, ema_kimg
        self.mode, self.policy, self.aug_p = augment, aug_policy, aug_p
        self.ada = AdaptiveAugment(ada_target, ada_interval, ada_kimg, batch_size=1) if augment == "ada" else None

    # ------------------------------------------------------------------------- schedules
    def images(self, step: int) -> float:
        """Real images shown to D by the start of ``step`` (the ramps' clock)."""
        if self.batch_size < 1:
            raise RuntimeError("R3GANRecipe.batch_size is not set (the builder sets it from train.batch_size)")
        return float(step) * self.batch_size

    def ramp(self, step: int, start: float, end: float) -> float:
        return cosine_ramp(self.images(step), start, end, self.ramp_kimg * 1000.0)

    def schedule(self, step: int) -> dict[str, float]:
        out = {"lr_factor": self.ramp(step, 1.0, self.lr_final)}
        if self.beta2 is not None:
            out["beta2"] = self.ramp(step, *self.beta2)
        if self.ema_kimg > 0:
            out["ema"] = ema_beta(self.batch_size, self.ramp(step, 0.0, self.ema_kimg * 1000.0))
        return out

    def penalty_gammas(self, step: int) -> tuple[float, float]:
        f = self.ramp(step, 1.0, self.gamma_final)
        return self.r1_gamma * f, self.r2_gamma * f

    def aug_prob(self, step: int) -> float:
        """The augmentation probability at ``step`` (0 when augmentation is off)."""
        if self.ada is not None:
            return self.ada.p
        return self.ramp(step, 0.0, self.aug_p) if self.mode == "diff" else 0.0

    def d_input(self, x: Tensor, step: int) -> Tensor:
        p = self.aug_prob(step)
        return augment(x, self.policy, p, self.rng) if p > 0 else x

    # ------------------------------------------------------------------------------ steps
    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        p = self.aug_prob(step)  # the p this step's D saw (ADA updates it afterwards)
        out = super().d_step(batch, step)
        if self.ada is not None and self.last_logits is not None:
            real, fake = self.last_logits
            self.ada.batch_size = len(batch.x)
            self.ada.accumulate(real - fake if self.loss.relativistic else real)
            self.ada.update()
            out["ada_rt"] = torch.tensor(float(self.ada.r_t), device=self.device)
        if self.mode != "none":
            out["aug_p"] = torch.tensor(float(p), device=self.device)
        return out

    # ------------------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        st = super().state_dict()
        if self.ada is not None:
            st["ada"] = self.ada.state_dict()
        return st

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        if self.ada is not None:
            if "ada" not in state:
                raise ConfigError("checkpoint: recipe state has no 'ada' entry but recipe.kwargs.augment is 'ada'")
            self.ada.load_state_dict(state["ada"])


def _check(ok: bool, message: str) -> None:
    if not ok:
        raise ConfigError(f"recipe.kwargs.{message}")
