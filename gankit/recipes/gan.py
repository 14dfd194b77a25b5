"""The classic (optionally class-conditional) GAN recipe: any adversarial loss + penalties."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

from gankit.data.base import Batch
from gankit.losses import ADV_LOSSES, clip_weights, gradient_penalty, zero_centered_penalty
from gankit.recipes.base import RECIPES, Recipe


@RECIPES.register("gan")
class GANRecipe(Recipe):
    """Unconditional or class-conditional GAN.

    nets: {"G": generator, "D": discriminator}. adversarial: a key of ADV_LOSSES (a
    relativistic one, ``rpgan``, also runs D on the batch's reals in the G step).
    gp_weight > 0 adds WGAN-GP (one uniform alpha per sample); r1_gamma > 0 adds R1 (on reals)
    and r2_gamma > 0 adds R2 (on fakes), each gamma/2 * E||grad_x D(x)||^2, lazily every
    ``r1_interval`` D steps (scaled by the interval); both reuse the logits of the adversarial
    loss. clip > 0 clamps D's weights after each D step (original WGAN).

    Subclasses may override :meth:`d_input` (what D sees: augmentation) and
    :meth:`penalty_gammas` (scheduled gammas).
    """

    reads_loss_section = True  # loss.adversarial / gp_weight / r1_gamma / r1_interval / clip / r2_gamma

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, adversarial: str = "nonsaturating",
                 gp_weight: float = 0.0, r1_gamma: float = 0.0, r1_interval: int = 16, clip: float = 0.0,
                 r2_gamma: float = 0.0):
        super().__init__(nets, rng)
        self.loss = ADV_LOSSES.get(adversarial)
        self.gp_weight, self.r1_gamma, self.r1_interval, self.clip = gp_weight, r1_gamma, max(1, r1_interval), clip
        self.r2_gamma = r2_gamma
        self.z_dim, self.n_classes = self.G.z_dim, self.G.n_classes
        self.d_calls = 0
        self.last_logits: tuple[Tensor, Tensor] | None = None  # (real, fake) of the latest D step, detached

    def sample_z(self, n: int) -> Tensor:
        return self.randn(n, self.z_dim)

    def fake_labels(self, batch: Batch) -> Tensor | None:
        """Conditional GANs generate the batch's own label distribution (real labels reused)."""
        return batch.c if self.n_classes else None

    def d_input(self, x: Tensor, step: int) -> Tensor:
        """What D sees of real or fake images ``x`` at ``step`` (differentiable). Default: x."""
        return x

    def penalty_gammas(self, step: int) -> tuple[float, float]:
        """(R1 gamma, R2 gamma) at ``step``. Default: the configured constants."""
        return self.r1_gamma, self.r2_gamma

    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x, c = batch.x, (batch.c if self.n_classes else None)
        with torch.no_grad():
            fake = self.G(self.sample_z(len(x)), c)
        g1, g2 = self.penalty_gammas(step)
        due = self.d_calls % self.r1_interval == 0
        want_r1, want_r2 = due and self.r1_gamma > 0, due and self.r2_gamma > 0
        # R1/R2 differentiate the adversarial logits themselves w.r.t. the (un-augmented)
        # inputs: the same penalty as a separate pass of D, one forward pass cheaper.
        x_in = x.detach().requires_grad_(True) if want_r1 else x
        f_in = fake.detach().requires_grad_(True) if want_r2 else fake
        real_logits = self.D(self.d_input(x_in, step), c).float()
        fake_logits = self.D(self.d_input(f_in, step), c).float()
        self.last_logits = (real_logits.detach(), fake_logits.detach())
        adv = self.loss.d_loss(real_logits, fake_logits)
        out = {"d_adv": adv.detach(), "d_real": real_logits.detach().mean(), "d_fake": fake_logits.detach().mean()}
        total = adv
        if self.gp_weight > 0:
            alpha = self.rand(len(x))
            gp = gradient_penalty(lambda h: self.D(self.d_input(h, step), c).float(), x, fake, alpha)
            total = total + self.gp_weight * gp
            out["gp"] = gp.detach()
        if want_r1:
            r1 = zero_centered_penalty(real_logits, x_in)
            total = total + 0.5 * g1 * self.r1_interval * r1
            out["r1"] = r1.detach()
        if want_r2:
            r2 = zero_centered_penalty(fake_logits, f_in)
            total = total + 0.5 * g2 * self.r1_interval * r2
            out["r2"] = r2.detach()
        self.d_calls += 1
        out["total"] = total
        return out

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        c = self.fake_labels(batch)
        fake = self.G(self.sample_z(len(batch.x)), c)
        fake_logits = self.D(self.d_input(fake, step), c).float()
        if self.loss.relativistic:  # D's parameters are frozen in this phase: no graph through D(real)
            with torch.no_grad():
                real_logits = self.D(self.d_input(batch.x, step), c).float()
            g = self.loss.g_loss(fake_logits, real_logits)
        else:
            g = self.loss.g_loss(fake_logits)
        return {"total": g, "g_adv": g.detach()}

    def after_d_step(self) -> None:
        if self.clip > 0:
            clip_weights(self.D.parameters(), self.clip)

    def state_dict(self) -> dict[str, Any]:
        return {"d_calls": self.d_calls}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_calls = int(state.get("d_calls", 0))
