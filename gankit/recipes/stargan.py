"""StarGAN (Choi et al. 2018) and the shared machinery of attribute-editing recipes.

Both StarGAN and ACL-GAN (:mod:`gankit.recipes.aclgan`) train an image-to-image editor
``G(x, c)`` on batches ``Batch(x [N, C, R, R] in [-1, 1], c [N, A] float 0/1)``. Target
attributes are the batch's own attribute vectors shuffled with the recipe's RNG (StarGAN's
practice), so targets follow the real joint attribute distribution.

Growing (``grow=True`` on G and D): with ``grow_steps > 0`` the recipe drives the stages
itself from the step counter, progressive-growing style: stage 0 trains for ``grow_steps``
steps, then each later stage fades in over ``grow_steps`` steps (alpha 0 -> 1) and trains
stable for ``grow_steps`` more. Real images are area-downsampled to the stage resolution
and, while fading, blended with their 2x-coarser version by the same alpha, so D sees reals
and fakes with the same blur. With ``grow_steps = 0`` the stage is left to ``set_stage``.
"""

from __future__ import annotations

import contextlib
from typing import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.data.base import Batch, source_fields
from gankit.data.stream import collate_fields
from gankit.data.transforms import to_float
from gankit.errors import ConfigError
from gankit.losses.attribute import classification_loss
from gankit.losses.content import cycle_l1
from gankit.losses.penalties import gradient_penalty
from gankit.models import DISCRIMINATORS, GENERATORS
from gankit.models.stargan import _Growing, attribute_grid
from gankit.nn.random import gather, local
from gankit.recipes.base import RECIPES, AbsentNet, NetSpec, Recipe


@contextlib.contextmanager
def frozen(net: nn.Module) -> Iterator[None]:
    """Build the graph without parameter gradients for ``net`` (inputs still get gradients).

    Autograd records ``requires_grad`` when an op runs, so restoring it afterwards keeps the
    saving: the trainer's later backward() skips this net's weight gradients.
    """
    flags = [p.requires_grad for p in net.parameters()]
    net.requires_grad_(False)
    try:
        yield
    finally:
        for p, f in zip(net.parameters(), flags):
            p.requires_grad_(f)


def grow_schedule(step: int, grow_steps: int, n_stages: int) -> tuple[int, float]:
    """(stage, alpha) at ``step``: stage 0 stable, then (fade, stable) phases per stage."""
    phase, within = divmod(max(step, 0), grow_steps)
    stage = min((phase + 1) // 2, n_stages - 1)
    fading = phase % 2 == 1 and phase < 2 * (n_stages - 1)
    return stage, (within / grow_steps if fading else 1.0)


def _items(source, idx) -> Batch:
    """Batch(x float [-1, 1], c float attributes) of the source items at ``idx``."""
    data = collate_fields([source[i] for i in idx], source_fields(source))
    if "c" not in data:
        raise ConfigError("attribute editing needs a dataset with attributes (emoji, celeba or attributes)")
    return Batch(x=to_float(data["x"]), c=data["c"].float())


class AttrEditRecipe(Recipe):
    """Base of the attribute-editing recipes: validation, targets, growing, translate."""

    name = "attribute editing"
    needs_heads = "adv_cls"
    nets_spec = {"G": NetSpec(GENERATORS, "model.generator", ("resolution", "channels", "c_dim"), ("image_to_image",)),
                 "D": NetSpec(DISCRIMINATORS, "model.discriminator", ("resolution", "channels", "c_dim"))}

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, grow_steps: int = 0):
        super().__init__(nets, rng)
        g, d = nets["G"], nets["D"]
        self.d_absent = isinstance(d, AbsentNet)  # a generator-only checkpoint: edit, never train
        for key, net in (("generator", g), ("discriminator", d)):
            if key == "discriminator" and self.d_absent:
                continue
            if not isinstance(net, _Growing):
                raise ConfigError(f"recipe {self.name}: model.{key} must be an image-to-image attribute "
                                  f"network (e.g. 'stargan'), got {type(net).__name__}")
        if self.d_absent:
            d = g  # shape checks below compare G with itself
        elif getattr(d, "heads", None) != self.needs_heads:
            raise ConfigError(f"recipe {self.name}: model.discriminator.heads must be '{self.needs_heads}', "
                              f"got {getattr(d, 'heads', None)!r}")
        if g.c_dim != d.c_dim:
            raise ConfigError(f"recipe {self.name}: generator c_dim {g.c_dim} != discriminator c_dim {d.c_dim}")
        if g.n_stages != d.n_stages:
            raise ConfigError(f"recipe {self.name}: model.generator grows through {g.n_stages} stages but "
                              f"model.discriminator through {d.n_stages}; set grow on both and "
                              f"discriminator.grow_stages = generator.n_down + 1")
        if grow_steps > 0 and not g.grow:
            raise ConfigError(f"recipe.kwargs.grow_steps={grow_steps}: the networks do not grow; set "
                              "model.generator.grow and model.discriminator.grow to true (or grow_steps to 0)")
        if grow_steps < 0:
            raise ConfigError(f"recipe.kwargs.grow_steps must be >= 0, got {grow_steps}")
        self.grow_steps = grow_steps

    def set_stage(self, stage: int, alpha: float = 1.0) -> None:
        """Set the growing stage and fade-in alpha of both G and D."""
        self.G.set_stage(stage, alpha)
        if not self.d_absent:
            self.D.set_stage(stage, alpha)

    def sample_targets(self, c: Tensor) -> Tensor:
        """Target attributes [N, A]: the batch's attribute rows in a random order (own RNG)."""
        c_all = gather(c)  # the global batch under torchrun: targets are drawn from all ranks' rows
        perm = self.randperm(c_all.shape[0]).to(c.device)
        return local(c_all[perm])

    def to_stage(self, x: Tensor) -> Tensor:
        """Full-resolution images [N, C, R, R] -> [N, C, r, r] at the current stage (fade-blended)."""
        r = self.G.stage_resolution()
        if x.shape[-1] != r:
            x = F.adaptive_avg_pool2d(x, r)  # exact area average: R is r times a power of 2
        if self.G.fading:
            coarse = F.interpolate(F.avg_pool2d(x, 2), scale_factor=2.0, mode="nearest")
            x = torch.lerp(coarse, x, self.G.alpha)
        return x

    def prepare(self, batch: Batch, step: int) -> tuple[Tensor, Tensor]:
        """Check the batch, advance the growing schedule, return (x at stage, c [N, A] float)."""
        c = batch.c
        if c is None or c.dim() != 2 or not c.is_floating_point():
            got = "no targets" if c is None else f"targets of shape {list(c.shape)} ({c.dtype})"
            raise ConfigError(f"recipe {self.name}: data must give binary attribute vectors [N, A] "
                              f"(an attribute dataset), got {got}")
        if c.shape[1] != self.G.c_dim:
            raise ConfigError(f"recipe {self.name}: data has {c.shape[1]} attributes but "
                              f"model.generator c_dim is {self.G.c_dim}")
        if self.grow_steps > 0 and self.G.grow:
            self.set_stage(*grow_schedule(step, self.grow_steps, self.G.n_stages))
        return self.to_stage(batch.x), c

    @torch.no_grad()
    def translate(self, x: Tensor, c_target: Tensor):
        """Edit full-resolution images x [N, C, R, R] in [-1, 1] towards c_target [N, A] float.

        Returns ``EditOut(image, mask, segment)`` at the current stage resolution.
        """
        return self.G(self.to_stage(x), c_target.to(x.dtype), parts=True)

    # ------------------------------------------------------------------ sampling (contract)
    def sync_sample_net(self, net: nn.Module) -> None:
        """An EMA copy edits at the stage the trained G is at."""
        if net is not self.G:
            net.set_stage(self.G.stage, self.G.alpha)

    def sample(self, n: int, rng: torch.Generator, inputs: Batch | None = None) -> Tensor:
        """Edits of ``n`` input images (``inputs.x``, attributes ``inputs.c``) towards the
        attribute rows of the same inputs in an order drawn from ``rng`` (the training target
        distribution). An editor has no noise prior: without inputs this is an error."""
        if inputs is None or inputs.x is None or inputs.c is None:
            raise ConfigError(f"recipe {self.name}: sampling an attribute editor needs input images "
                              "with attributes (its samples are edits, not draws from noise)")
        x, c = inputs.x[:n].to(self.device), inputs.c[:n].to(self.device).float()
        perm = torch.randperm(len(x), generator=rng).to(self.device)
        return self.translate(x, c[perm]).image

    def sampler(self, source=None):
        """``sample(b, rng)``: b inputs drawn from ``source`` (uniformly, with ``rng``), edited."""
        return self.inputs_sampler(source, _items, f"recipe {self.name}: sampling an attribute editor needs a "
                                                   "source of input images")

    def preview_inputs(self, source, n: int, seed: int) -> Batch:
        """The first ``min(n, 16)`` items of ``source`` (rows of the edit grid)."""
        return _items(source, range(max(1, min(n, len(source), 16))))

    def preview(self, inputs: Batch) -> tuple[Tensor, int]:
        """Sample grid of the current G: see :func:`attribute_grid` (images [N*K, C, r, r], nrow K)."""
        imgs, k = attribute_grid(self.G, self.to_stage(inputs.x.to(self.device)), inputs.c.to(self.device))
        return imgs.float().cpu(), k

    def state_dict(self) -> dict:
        return {"stage": self.G.stage, "alpha": self.G.alpha}

    def load_state_dict(self, state: dict) -> None:
        if "stage" in state:
            self.set_stage(int(state["stage"]), float(state["alpha"]))


@RECIPES.register("stargan")
class StarGANRecipe(AttrEditRecipe):
    """StarGAN: WGAN-GP + lambda_cls * BCE classification + lambda_rec * cycle L1.

    D: E[D(fake)] - E[D(x)] + lambda_cls * BCE(cls(x), att) + lambda_gp * GP.
    G: -E[D(fake)] + lambda_cls * BCE(cls(fake), att') + lambda_rec * |x - G(G(x, att'), att)|_1.
    D steps per G step (5 in the paper) are the trainer's ``optim.n_critic``.
    """

    name = "stargan"
    needs_heads = "adv_cls"

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, lambda_cls: float = 1.0,
                 lambda_rec: float = 10.0, lambda_gp: float = 10.0, grow_steps: int = 0):
        super().__init__(nets, rng, grow_steps)
        self.lambda_cls, self.lambda_rec, self.lambda_gp = lambda_cls, lambda_rec, lambda_gp

    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x, c = self.prepare(batch, step)
        n = x.shape[0]
        with torch.no_grad():
            fake = self.G(x, self.sample_targets(c))
        out = self.D(torch.cat([x, fake]))  # one pass: D has no batch-coupled layers
        d_adv = out.adv[n:].mean() - out.adv[:n].mean()
        d_cls = classification_loss(out.aux[:n], c)
        gp = gradient_penalty(lambda z: self.D(z).adv, x, fake, self.rand(n))
        total = d_adv + self.lambda_cls * d_cls + self.lambda_gp * gp
        return {"total": total, "d_adv": d_adv.detach(), "d_cls": d_cls.detach(), "gp": gp.detach()}

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x, c = self.prepare(batch, step)
        c_trg = self.sample_targets(c)
        fake = self.G(x, c_trg)
        with frozen(self.D):
            out = self.D(fake)
        g_adv = -out.adv.mean()
        g_cls = classification_loss(out.aux, c_trg)
        g_rec = cycle_l1(x, self.G(fake, c))
        total = g_adv + self.lambda_cls * g_cls + self.lambda_rec * g_rec
        return {"total": total, "g_adv": g_adv.detach(), "g_cls": g_cls.detach(), "g_rec": g_rec.detach()}
