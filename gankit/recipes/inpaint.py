"""Context encoder (Pathak et al. 2016): inpainting a square hole, L2 + adversarial.

Each step derives the masked input from the clean batch ``x``: a block of ``hole`` x the image
side (0.5: the paper's 64 px of 128) at the centre (``mask=center``) or at a random position
per image (``mask=random``); the block without its outer ``overlap`` px ring is erased and
filled with ``fill`` (per-channel values in [-1, 1]; default: the per-channel mean of the
first training batch, kept in checkpoints). The generator returns a full image; its block is
the prediction.

Losses: G: ``l2_weight`` x L2 over the block (the overlap ring weighted ``border_weight`` = 10,
see :func:`gankit.losses.restore.border_weighted_l2`) + ``adv_weight`` x adversarial
(0.999 / 0.001 in the paper). D sees the block (``d_sees=hole``, the paper's choice: real
block vs predicted block) or the whole image (``d_sees=full``: x vs x with its erased region
replaced by the prediction).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from gankit.data.base import Batch
from gankit.data.degrade import block_masks, crop_blocks, fill_holes, hole_size
from gankit.errors import ConfigError
from gankit.losses import ADV_LOSSES
from gankit.losses.restore import border_weighted_l2
from gankit.recipes.base import RECIPES, Phase, Recipe
from gankit.recipes.srgan import IMAGE_D, IMAGE_G, source_images


@RECIPES.register("context_encoder")
class ContextEncoderRecipe(Recipe):
    """Context-encoder inpainting (see the module docstring)."""

    nets_spec = {"G": IMAGE_G, "D": IMAGE_D}
    uses_n_critic = False

    def __init__(self, nets, rng, mask: str = "center", hole: float = 0.5, overlap: int = 4,
                 border_weight: float = 10.0, l2_weight: float = 0.999, adv_weight: float = 0.001,
                 d_sees: str = "hole", fill: list[float] | None = None, adversarial: str = "nonsaturating"):
        super().__init__(nets, rng)
        if mask not in ("center", "random"):
            raise ConfigError(f"recipe.kwargs.mask={mask!r}: expected center or random")
        if d_sees not in ("hole", "full"):
            raise ConfigError(f"recipe.kwargs.d_sees={d_sees!r}: expected hole or full")
        if not 0 < hole < 1:
            raise ConfigError(f"recipe.kwargs.hole={hole}: expected a fraction of the image side in (0, 1)")
        for k, v in (("overlap", overlap), ("border_weight", border_weight), ("l2_weight", l2_weight),
                     ("adv_weight", adv_weight)):
            if v < 0:
                raise ConfigError(f"recipe.kwargs.{k}={v}: expected a value >= 0")
        self.mask_mode, self.hole, self.overlap, self.border_weight = mask, hole, overlap, border_weight
        self.l2_weight, self.adv_weight, self.d_sees = l2_weight, adv_weight, d_sees
        self.loss = ADV_LOSSES.get(adversarial)
        channels = self.G.gankit_spec["kwargs"]["channels"] if hasattr(self.G, "gankit_spec") else None
        if fill is not None:
            if channels is not None and len(fill) not in (1, channels):
                raise ConfigError(f"recipe.kwargs.fill={fill}: expected 1 or {channels} values (one per channel)")
            if any(not -1 <= float(v) <= 1 for v in fill):
                raise ConfigError(f"recipe.kwargs.fill={fill}: expected values in [-1, 1] (the images' range)")
        self.fill: Tensor | None = None if fill is None else torch.tensor([float(v) for v in fill])

    def phases(self) -> list[Phase]:
        return [Phase("d", "D", self.d_step), Phase("g", "G", self.g_step, new_batch=False)]

    # ------------------------------------------------------------------------ masks
    def masks(self, x: Tensor, mode: str | None = None) -> tuple[Tensor, Tensor, Tensor, int]:
        """(erase, block, corners, hole px) for the images ``x`` (random blocks use the recipe RNG)."""
        r = x.shape[-1]
        h = hole_size(r, self.hole)
        erase, block, corners = block_masks(len(x), r, h, self.overlap, mode or self.mask_mode, self.rng, x.device)
        return erase, block, corners, h

    def fill_value(self, x: Tensor, remember: bool = False) -> Tensor:
        """The fill [C]; unset: the mean of ``x`` (kept when ``remember``: the first training batch)."""
        fill = self.fill
        if fill is None:
            fill = x.detach().float().mean((0, 2, 3)).cpu()
            if remember:
                self.fill = fill
        return fill.expand(x.shape[1]) if fill.numel() == 1 else fill

    def masked_input(self, x: Tensor, erase: Tensor, remember: bool = False) -> Tensor:
        return fill_holes(x, erase, self.fill_value(x, remember))

    def d_view(self, img: Tensor, corners: Tensor, h: int) -> Tensor:
        return crop_blocks(img, corners, h) if self.d_sees == "hole" else img

    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x = batch.x
        erase, block, corners, h = self.masks(x)
        with torch.no_grad():
            pred = self.G(self.masked_input(x, erase, remember=True))
            fake = pred if self.d_sees == "hole" else x * (1 - erase) + pred * erase
        real_logits = self.D(self.d_view(x, corners, h)).float()
        fake_logits = self.D(self.d_view(fake, corners, h)).float()
        adv = self.loss.d_loss(real_logits, fake_logits)
        return {"total": adv, "d_adv": adv.detach(), "d_real": real_logits.detach().mean(),
                "d_fake": fake_logits.detach().mean()}

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x = batch.x
        erase, block, corners, h = self.masks(x)
        pred = self.G(self.masked_input(x, erase)).float()
        l2 = border_weighted_l2(pred, x, erase, block, self.border_weight)
        fake = pred if self.d_sees == "hole" else x * (1 - erase) + pred * erase
        adv = self.loss.g_loss(self.D(self.d_view(fake, corners, h)).float())
        total = self.l2_weight * l2 + self.adv_weight * adv
        return {"total": total, "l2": l2.detach(), "g_adv": adv.detach()}

    # ---------------------------------------------------------------------- sampling
    def inpaint(self, x: Tensor, erase: Tensor) -> Tensor:
        """x with its erased pixels (``erase`` [N, 1, R, R] in {0, 1}) predicted by G."""
        x, erase = x.to(self.device), erase.to(self.device)
        pred = self.nets[self.sample_role](self.masked_input(x, erase))
        return x * (1 - erase) + pred * erase

    def sample(self, n: int, rng: torch.Generator, inputs: Batch | None = None) -> Tensor:
        """Centre-block (or ``mask``-mode) inpaintings of ``inputs.x``."""
        if inputs is None or inputs.x is None:
            raise ConfigError("recipe context_encoder: sampling an inpainting model needs input images")
        x = inputs.x[:n].to(self.device)
        erase = self.masks(x, "center")[0]
        return self.inpaint(x, erase)

    def sampler(self, source=None):
        return self.inputs_sampler(source, lambda src, idx: Batch(x=source_images(src, idx)),
                                   "recipe context_encoder: sampling an inpainting model needs a source of images")

    def preview_inputs(self, source, n: int, seed: int) -> Batch:
        return Batch(x=source_images(source, range(max(1, min(n, len(source), 8)))))

    def preview(self, inputs: Batch) -> tuple[Tensor, int]:
        """Rows of (masked input, inpainted, original)."""
        x = inputs.x.to(self.device)
        erase = self.masks(x, "center")[0]
        return torch.stack([self.masked_input(x, erase), self.inpaint(x, erase), x], 1).flatten(0, 1).float().cpu(), 3

    def state_dict(self) -> dict[str, Any]:
        return {} if self.fill is None else {"fill": [float(v) for v in self.fill]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if "fill" in state:
            self.fill = torch.tensor(state["fill"], dtype=torch.float32)
