"""The classic (optionally class-conditional) GAN recipe: any adversarial loss + penalties."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.data.base import Batch
from gankit.losses import ADV_LOSSES, clip_weights, gradient_penalty, r1_penalty
from gankit.recipes.base import RECIPES, Recipe


@RECIPES.register("gan")
class GANRecipe(Recipe):
    """Unconditional or class-conditional GAN.

    nets: {"G": generator, "D": discriminator}. adversarial: a key of ADV_LOSSES.
    gp_weight > 0 adds WGAN-GP (one uniform alpha per sample); r1_gamma > 0 adds lazy R1
    every ``r1_interval`` D steps (scaled by the interval); clip > 0 clamps D's weights
    after each D step (original WGAN).
    """

    reads_loss_section = True  # loss.adversarial / gp_weight / r1_gamma / r1_interval / clip

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, adversarial: str = "nonsaturating",
                 gp_weight: float = 0.0, r1_gamma: float = 0.0, r1_interval: int = 16, clip: float = 0.0):
        super().__init__(nets, rng)
        self.loss = ADV_LOSSES.get(adversarial)
        self.gp_weight, self.r1_gamma, self.r1_interval, self.clip = gp_weight, r1_gamma, max(1, r1_interval), clip
        self.z_dim, self.n_classes = self.G.z_dim, self.G.n_classes
        self.d_calls = 0

    def sample_z(self, n: int) -> Tensor:
        return self.randn(n, self.z_dim)

    def fake_labels(self, batch: Batch) -> Tensor | None:
        """Conditional GANs generate the batch's own label distribution (real labels reused)."""
        return batch.c if self.n_classes else None

    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x, c = batch.x, (batch.c if self.n_classes else None)
        with torch.no_grad():
            fake = self.G(self.sample_z(len(x)), c)
        real_logits = self.D(x, c)
        fake_logits = self.D(fake, c)
        adv = self.loss.d_loss(real_logits.float(), fake_logits.float())
        out = {"d_adv": adv.detach(), "d_real": real_logits.detach().float().mean(), "d_fake": fake_logits.detach().float().mean()}
        total = adv
        if self.gp_weight > 0:
            alpha = self.rand(len(x))
            gp = gradient_penalty(lambda h: self.D(h, c).float(), x, fake, alpha)
            total = total + self.gp_weight * gp
            out["gp"] = gp.detach()
        if self.r1_gamma > 0 and self.d_calls % self.r1_interval == 0:
            r1 = r1_penalty(lambda h: self.D(h, c).float(), x)
            total = total + 0.5 * self.r1_gamma * self.r1_interval * r1
            out["r1"] = r1.detach()
        self.d_calls += 1
        out["total"] = total
        return out

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        c = self.fake_labels(batch)
        fake = self.G(self.sample_z(len(batch.x)), c)
        g = self.loss.g_loss(self.D(fake, c).float())
        return {"total": g, "g_adv": g.detach()}

    def after_d_step(self) -> None:
        if self.clip > 0:
            clip_weights(self.D.parameters(), self.clip)

    def state_dict(self) -> dict[str, Any]:
        return {"d_calls": self.d_calls}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_calls = int(state.get("d_calls", 0))
