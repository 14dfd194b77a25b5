"""The style-GAN training recipe (StyleGAN 2 / StyleGAN2-ADA losses for small data).

Non-saturating logistic loss (or R3GAN's relativistic pairing loss, ``loss: rpgan``); lazy R1
on reals, and optionally R2 on fakes, every ``r1_interval`` D steps (scaled by the interval, as
StyleGAN 2); style mixing regularization; optional lazy path-length
regularization with its running mean; DiffAugment-style augmentation of reals and fakes
before D, with a fixed probability (``augment="diff"``) or one adapted by ADA's heuristic
r_t = E[sign(D(real))] (``augment="ada"``). All randomness (latents, mixing crossovers,
noise maps, augmentation) comes from the recipe's ``rng`` so that resume is exact.
The trainer does the EMA of G, the optimizers and checkpoints; ``state_dict`` carries the
step counters, the path-length mean and the ADA state (p restored exactly on resume).
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.data.base import Batch
from gankit.errors import ConfigError
from gankit.losses import ADV_LOSSES, r1_penalty, r2_penalty
from gankit.nn.random import gather
from gankit.nn.augment import AdaptiveAugment, augment, parse_policy
from gankit.models import GENERATORS
from gankit.models.contracts import require_kind
from gankit.recipes.base import CLASS_D, RECIPES, NetSpec, Recipe

AUGMENT_MODES = ("none", "diff", "ada")
LOSSES = ("logistic", "rpgan")


@RECIPES.register("style")
class StyleRecipe(Recipe):
    """nets: {"G": a style generator (mapping/synthesis/mix), "D": any discriminator}.

    r1_gamma: R1 weight gamma (loss += gamma/2 * interval * E||grad D(x_real)||^2), 0 = off.
    r2_gamma: R2 weight, the same penalty on fakes (R3GAN's second regularizer), 0 = off; lazy
    with R1 (every ``r1_interval`` D steps).
    loss: "logistic" (StyleGAN's non-saturating loss) or "rpgan" (relativistic pairing,
    softplus(-(D(real) - D(fake))) for D and the mirror for G, on paired samples).
    mix_prob: style mixing probability per sample (0.9 in StyleGAN 2), 0 = off.
    pl_weight: path-length weight (2 in StyleGAN 2), 0 = off; lazy every ``pl_interval`` G
    steps on batch // ``pl_batch_shrink`` samples; the mean decays with ``pl_decay``.
    augment: "none" | "diff" (fixed p = ``aug_p``) | "ada" (p from ``aug_p``, adapted toward
    ``ada_target`` every ``ada_interval`` D steps, crossing [0, 1] in ``ada_kimg`` k images).
    """

    nets_spec = {"G": NetSpec(GENERATORS, "model.generator", ("resolution", "channels", "z_dim", "n_classes"), ("style",)),
                 "D": CLASS_D}

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, r1_gamma: float = 1.0,
                 r1_interval: int = 16, mix_prob: float = 0.9, pl_weight: float = 0.0, pl_interval: int = 4,
                 pl_decay: float = 0.01, pl_batch_shrink: int = 2, augment: str = "none",
                 aug_policy: str = "color,translation,cutout", aug_p: float = 0.0, ada_target: float = 0.6,
                 ada_interval: int = 4, ada_kimg: float = 500.0, loss: str = "logistic", r2_gamma: float = 0.0):
        super().__init__(nets, rng)
        if loss not in LOSSES:
            raise ConfigError(f"recipe.kwargs.loss: '{loss}' is not one of {', '.join(LOSSES)}")
        if r2_gamma < 0:
            raise ConfigError(f"recipe.kwargs.r2_gamma={r2_gamma}: expected a value >= 0")
        if augment not in AUGMENT_MODES:
            raise ConfigError(f"recipe.kwargs.augment: '{augment}' is not one of {', '.join(AUGMENT_MODES)}")
        if r1_interval < 1 or pl_interval < 1 or pl_batch_shrink < 1:
            raise ConfigError("recipe.kwargs: r1_interval, pl_interval and pl_batch_shrink must be >= 1")
        if not 0.0 <= mix_prob <= 1.0 or not 0.0 <= aug_p <= 1.0:
            raise ConfigError(f"recipe.kwargs: mix_prob and aug_p must be in [0, 1], got {mix_prob}, {aug_p}")
        require_kind(self.G, ("style",), f"model.generator '{type(self.G).__name__}'")
        self.z_dim, self.n_classes = self.G.z_dim, self.G.n_classes
        self.r1_gamma, self.r1_interval, self.mix_prob = r1_gamma, r1_interval, mix_prob
        self.r2_gamma, self.rpgan = r2_gamma, ADV_LOSSES.get("rpgan") if loss == "rpgan" else None
        self.pl_weight, self.pl_interval, self.pl_decay, self.pl_shrink = pl_weight, pl_interval, pl_decay, pl_batch_shrink
        self.mode, self.policy, self.aug_p = augment, aug_policy, aug_p
        parse_policy(aug_policy)  # unknown op names fail here, at construction
        # batch_size is set from each real batch (the recipe is not told the configured one).
        self.ada = AdaptiveAugment(ada_target, ada_interval, ada_kimg, batch_size=1, p=aug_p) if augment == "ada" else None
        self.pl_mean = torch.zeros(())
        self.d_calls = 0
        self.g_calls = 0
        # Lazy terms are logged every step (their latest value) so that every step returns the
        # same keys: the trainer averages a window of steps per set of keys.
        self._last: dict[str, Tensor] = {}

    # ----------------------------------------------------------------------------- helpers
    @property
    def p(self) -> float:
        """Current augmentation probability (0 when augmentation is off)."""
        if self.ada is not None:
            return self.ada.p
        return self.aug_p if self.mode == "diff" else 0.0

    def _aug(self, x: Tensor) -> Tensor:
        p = self.p
        return augment(x, self.policy, p, self.rng) if p > 0 else x

    def _labels(self, batch: Batch) -> Tensor | None:
        return batch.c if self.n_classes else None

    def _fake(self, n: int, c: Tensor | None) -> Tensor:
        return self.G(self.randn(n, self.z_dim), c, mix_prob=self.mix_prob, generator=self.rng)

    def _latest(self, name: str) -> Tensor:
        """The last computed value of a lazy term (0 before the first, e.g. right after resume)."""
        if name not in self._last:
            self._last[name] = torch.zeros((), device=self.device)
        return self._last[name]

    def _scalar(self, v: float) -> Tensor:
        return torch.tensor(float(v), device=self.device)

    # ------------------------------------------------------------------------------- steps
    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        """Logistic D loss softplus(D(aug(fake))) + softplus(-D(aug(real))) (or the relativistic
        pairing loss) [+ lazy R1, R2]."""
        x, c = batch.x, self._labels(batch)
        with torch.no_grad():
            fake = self._fake(len(x), c)
        real_logits = self.D(self._aug(x), c).float()
        fake_logits = self.D(self._aug(fake), c).float()
        if self.rpgan is not None:
            adv = self.rpgan.d_loss(real_logits, fake_logits)
        else:
            adv = F.softplus(fake_logits).mean() + F.softplus(-real_logits).mean()
        out = {"d_adv": adv.detach(), "d_real": real_logits.detach().mean(), "d_fake": fake_logits.detach().mean()}
        total = adv
        if self.r1_gamma > 0 and self.d_calls % self.r1_interval == 0:
            # Gradient w.r.t. the un-augmented reals, through the augmentation (as ADA).
            r1 = r1_penalty(lambda h: self.D(self._aug(h), c).float(), x)
            total = total + 0.5 * self.r1_gamma * self.r1_interval * r1
            self._last["r1"] = r1.detach()
        if self.r2_gamma > 0 and self.d_calls % self.r1_interval == 0:
            r2 = r2_penalty(lambda h: self.D(self._aug(h), c).float(), fake)
            total = total + 0.5 * self.r2_gamma * self.r1_interval * r2
            self._last["r2"] = r2.detach()
        if self.r1_gamma > 0:
            out["r1"] = self._latest("r1")
        if self.r2_gamma > 0:
            out["r2"] = self._latest("r2")
        if self.ada is not None:
            self.ada.batch_size = len(x)
            # relativistic logits are shift-invariant: the overfitting signal is D(real) - D(fake)
            self.ada.accumulate(real_logits - fake_logits if self.rpgan is not None else real_logits)
            self.ada.update()
            out["ada_rt"] = self._scalar(self.ada.r_t)
        out["ada_p"] = self._scalar(self.p)
        self.d_calls += 1
        out["total"] = total
        return out

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        """Non-saturating G loss softplus(-D(aug(G(z)))) (or the relativistic one against
        D(aug(real)) of the batch) [+ lazy path-length penalty]."""
        c = self._labels(batch)
        fake = self._fake(len(batch.x), c)
        fake_logits = self.D(self._aug(fake), c).float()
        if self.rpgan is not None:
            with torch.no_grad():  # D is frozen in this phase
                real_logits = self.D(self._aug(batch.x), c).float()
            g = self.rpgan.g_loss(fake_logits, real_logits)
        else:
            g = F.softplus(-fake_logits).mean()
        out = {"g_adv": g.detach()}  # ada_p is logged by d_step only: the trainer sums same-named keys
        total = g
        if self.pl_weight > 0 and self.g_calls % self.pl_interval == 0:
            pl = self.path_length_penalty(max(1, len(batch.x) // self.pl_shrink), c)
            total = total + self.pl_weight * self.pl_interval * pl
            self._last["pl"] = pl.detach()
        if self.pl_weight > 0:
            out["pl"] = self._latest("pl")
            out["pl_mean"] = self.pl_mean.detach().to(self.device).clone()
        self.g_calls += 1
        out["total"] = total
        return out

    def path_length_penalty(self, n: int, c: Tensor | None) -> Tensor:
        """StyleGAN 2's E[(||J_w^T y||_2 - a)^2], y ~ N(0, I)/sqrt(H W); a = running mean of the
        lengths (updated here, no gradient). Returns an unweighted scalar."""
        if c is not None:
            c = c[:n]
        ws = self.G.mapping(self.randn(n, self.z_dim), c, update_w_avg=False)
        img = self.G.synthesis(ws, "random", self.rng).float()
        y = self.randn(*img.shape) / math.sqrt(img.shape[2] * img.shape[3])
        (grad,) = torch.autograd.grad((img * y).sum(), ws, create_graph=True)
        lengths = grad.float().square().sum(2).mean(1).sqrt()  # [n]
        with torch.no_grad():  # under torchrun: the mean over every rank's lengths (pl_mean stays equal)
            self.pl_mean = self.pl_mean.to(lengths.device).lerp(gather(lengths.detach()).mean(), self.pl_decay)
        return (lengths - self.pl_mean).square().mean()

    # ------------------------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Plain numbers only (torch.load(weights_only=True) and JSON safe)."""
        st: dict[str, Any] = {"d_calls": self.d_calls, "g_calls": self.g_calls, "pl_mean": float(self.pl_mean)}
        if self.ada is not None:
            st["ada"] = self.ada.state_dict()
        return st

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.d_calls = int(state.get("d_calls", 0))
        self.g_calls = int(state.get("g_calls", 0))
        self.pl_mean = torch.tensor(float(state.get("pl_mean", 0.0)))
        if self.ada is not None:
            if "ada" not in state:
                raise ConfigError("checkpoint: recipe state has no 'ada' entry but recipe.kwargs.augment is 'ada'")
            self.ada.load_state_dict(state["ada"])
