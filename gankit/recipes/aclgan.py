"""ACL-GAN (Cho & Yoon, seed 001): attribute loss + one weighted one-pass content loss.

Not the ECCV 2020 "adversarial consistency loss" ACL-GAN; see ``docs/aclgan.md``.

D: L_att^D (one GAN per attribute head, shared trunk; + lambda_gp * GP for the WGAN-GP form).
G: L_att^G + lambda_content * L_content (+ lambda_mask * mean(mask), off by default), with a
single generator pass per step (StarGAN needs two for its cycle loss).
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor, nn

from gankit.data.base import Batch
from gankit.errors import ConfigError
from gankit.losses.attribute import ATTR_LOSSES, attribute_gradient_penalty, head_weights, sample_gp_heads
from gankit.losses.content import content_l1, content_l1_outside_mask, mask_l1
from gankit.recipes.base import RECIPES
from gankit.recipes.stargan import AttrEditRecipe, frozen
from gankit.registry import Registry

# content(x, parts) -> scalar; parts is the generator's EditOut(image, mask, segment)
CONTENT_LOSSES: Registry[Callable] = Registry("content loss")
CONTENT_LOSSES.register("l1")(lambda x, parts: content_l1(x, parts.image))
CONTENT_LOSSES.register("l1_outside_mask")(lambda x, parts: content_l1_outside_mask(x, parts.image, parts.mask))


JUDGES = ("all", "changed")


@RECIPES.register("aclgan")
class ACLGANRecipe(AttrEditRecipe):
    """ACL-GAN training steps.

    Typed config: lambda_content (the one weight to tune), form ("lsgan" | "wgan-gp"),
    polarity (None = the discriminator's; "both" | "positive" must then match it), content
    ("l1" | "l1_outside_mask", the latter needs ``mask=True`` on G), lambda_gp (wgan-gp form
    only), lambda_mask (mask-area regularizer, needs a mask), grow_steps (see :mod:`gankit.recipes.stargan`),
    judge ("changed", the default: a fake is judged only by the heads of the attributes its
    target changes; "all": by the heads of every target attribute, the seed's literal form, which
    drifts to the identity: docs/aclgan.md), content_ramp (steps over which lambda_content rises
    linearly from 0; 0 = constant).
    """

    name = "aclgan"
    needs_heads = "attribute"

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, lambda_content: float = 1.0,
                 form: str = "lsgan", polarity: Optional[str] = None, content: str = "l1",
                 lambda_gp: float = 10.0, lambda_mask: float = 0.0, grow_steps: int = 0, judge: str = "changed",
                 content_ramp: int = 0):
        super().__init__(nets, rng, grow_steps)
        if judge not in JUDGES:
            raise ConfigError(f"recipe.kwargs.judge '{judge}': expected one of {', '.join(JUDGES)}")
        if content_ramp < 0:
            raise ConfigError(f"recipe.kwargs.content_ramp must be >= 0, got {content_ramp}")
        self.judge, self.content_ramp = judge, int(content_ramp)
        d_polarity = polarity or "both" if self.d_absent else self.D.polarity
        if polarity is not None and polarity != d_polarity:
            raise ConfigError(f"recipe.kwargs.polarity '{polarity}' does not match model.discriminator.polarity "
                              f"'{d_polarity}' (the discriminator's head count follows it)")
        needs_mask = content == "l1_outside_mask" or lambda_mask > 0
        if needs_mask and not self.G.use_mask:
            raise ConfigError("recipe.kwargs.content 'l1_outside_mask' and recipe.kwargs.lambda_mask > 0 need "
                              "model.generator.mask: true")
        self.loss = ATTR_LOSSES.get(form)
        self.content_fn = CONTENT_LOSSES.get(content)
        self.polarity = d_polarity
        self.lambda_content, self.lambda_gp, self.lambda_mask = lambda_content, lambda_gp, lambda_mask

    def fake_weights(self, c: Tensor, c_trg: Tensor) -> Tensor:
        """Head weights of fakes made for targets ``c_trg`` from inputs with attributes ``c``."""
        w = head_weights(c_trg, self.polarity)
        if self.judge == "changed":
            changed = (c_trg != c).to(w.dtype)
            w = w * (changed if self.polarity == "positive" else torch.cat([changed, changed], 1))
        return w

    def content_weight(self, step: int) -> float:
        """lambda_content at ``step`` (linear ramp from 0 over content_ramp steps)."""
        if self.content_ramp <= 0:
            return self.lambda_content
        return self.lambda_content * min(1.0, step / self.content_ramp)

    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x, c = self.prepare(batch, step)
        n = x.shape[0]
        c_trg = self.sample_targets(c)
        with torch.no_grad():
            fake = self.G(x, c_trg)
        logits = self.D(torch.cat([x, fake])).aux  # one pass: D has no batch-coupled layers
        w_real, w_fake = head_weights(c, self.polarity), self.fake_weights(c, c_trg)
        d_att = self.loss.d_loss(logits[:n], logits[n:], w_real, w_fake)
        out = {"d_att": d_att.detach()}
        total = d_att
        if self.loss.needs_gp:
            idx = sample_gp_heads(w_real, w_fake, self.rng)
            gp = attribute_gradient_penalty(lambda z: self.D(z).aux, x, fake, self.rand(n), idx)
            total = total + self.lambda_gp * gp
            out["gp"] = gp.detach()
        return {"total": total, **out}

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x, c = self.prepare(batch, step)
        c_trg = self.sample_targets(c)
        parts = self.G(x, c_trg, parts=True)
        with frozen(self.D):
            logits = self.D(parts.image).aux
        g_att = self.loss.g_loss(logits, self.fake_weights(c, c_trg))
        g_content = self.content_fn(x, parts)
        lam = self.content_weight(step)
        total = g_att + lam * g_content
        out = {"g_att": g_att.detach(), "g_content": g_content.detach()}
        if self.content_ramp:
            out["lambda_content"] = torch.tensor(lam)
        if parts.mask is not None:
            m = mask_l1(parts.mask)
            out["mask_mean"] = m.detach()
            if self.lambda_mask > 0:
                total = total + self.lambda_mask * m
        return {"total": total, **out}
