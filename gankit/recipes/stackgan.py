"""StackGAN (Zhang et al. 2017): Stage I (``stackgan1``) and Stage II (``stackgan2``).

Both stages use conditioning augmentation (CA): c = mu(e) + sigma(e) * eps with eps drawn
from the recipe's generator, and add ``kl_weight * KL(N(mu, sigma^2) || N(0, I))`` (weight 2
in the paper) to G's loss; both discriminators are matching-aware (real/right, real/wrong,
fake), as in GAN-CLS.

Stage II trains over a finished Stage I run, named by ``recipe.kwargs.stage1`` (a run folder
or one of its checkpoint folders): its generator's spec is read from that checkpoint and
built inside Stage II's generator (frozen: no optimizer updates it, its batch norm stays in
eval mode), its weights (the EMA copy when the run has one) are loaded when Stage II starts,
and from then on they travel in Stage II's own checkpoints, so a finished Stage II run no
longer needs the Stage I folder. Stage II's data resolution must be twice Stage I's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gankit.data.base import Batch
from gankit.errors import CheckpointError, ConfigError
from gankit.losses.text import ca_kl, generator_loss, matching_aware_d_loss
from gankit.recipes.base import RECIPES
from gankit.recipes.text2img import TextRecipe

# A run's checkpoint layout (written by gankit.train.state, which recipes may not import):
# RUN/checkpoints/step_NNNNNNNNN/{weights.safetensors, state.pt}
_WEIGHTS, _STATE = "weights.safetensors", "state.pt"


def stage1_checkpoint(path: str) -> Path:
    """The checkpoint folder of a Stage I run folder (its latest) or checkpoint folder."""
    p = Path(path)
    if (p / _WEIGHTS).is_file() and (p / _STATE).is_file():
        return p
    root = p / "checkpoints"
    found = sorted(d for d in root.iterdir() if d.name.startswith("step_") and (d / _STATE).is_file()
                   and (d / _WEIGHTS).is_file()) if root.is_dir() else []
    if not found:
        raise ConfigError(f"recipe.kwargs.stage1 '{path}': no checkpoint there; train Stage I first "
                          "(gankit train --preset stackgan1_emoji --out DIR) and name its run folder")
    return found[-1]


def stage1_spec(path: str) -> dict[str, Any]:
    """{name, kwargs} of the Stage I generator stored in its checkpoint."""
    ck = stage1_checkpoint(path)
    state = torch.load(ck / _STATE, map_location="cpu", weights_only=True)
    spec = state.get("specs", {}).get("G")
    recipe = state.get("config", {}).get("recipe", {}).get("name")
    if spec is None or recipe != "stackgan1":
        raise ConfigError(f"recipe.kwargs.stage1 '{path}': {ck} is not a StackGAN Stage I run (recipe {recipe!r})")
    return {"name": spec["name"], "kwargs": dict(spec["kwargs"])}


def load_stage1_weights(g1: nn.Module, path: str) -> str:
    """Load the Stage I generator weights (EMA copy when present) into ``g1``; returns which."""
    from safetensors.torch import load_file

    ck = stage1_checkpoint(path)
    tensors = load_file(str(ck / _WEIGHTS))
    src = "G_ema" if any(k.startswith("G_ema.") for k in tensors) else "G"
    sd = {k[len(src) + 1:]: v for k, v in tensors.items() if k.startswith(src + ".")}
    try:
        g1.load_state_dict(sd)
    except RuntimeError as e:
        raise CheckpointError(f"{ck}: Stage I weights do not fit ({str(e).splitlines()[0][:120]})") from None
    return src


class _StackGANBase(TextRecipe):
    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, text_encoder: str = "", kl_weight: float = 2.0):
        super().__init__(nets, rng, text_encoder)
        if kl_weight < 0:
            raise ConfigError(f"recipe.kwargs.kl_weight={kl_weight}: expected a value >= 0")
        self.kl_weight = kl_weight
        if not all(hasattr(self.G, a) for a in ("condition" if self.stage == 1 else "refine", "ca_dim")):
            raise ConfigError(f"model.generator: recipe 'stackgan{self.stage}' needs generator 'stackgan{self.stage}'")
        self.ca_dim = int(self.G.ca_dim)

    stage = 1

    def fake(self, e: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        raise NotImplementedError

    def d_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        x = batch.x
        e = self.embed(self.pick(batch))
        with torch.no_grad():
            fake = self.fake(e)[0]
        s_r, s_w, s_f = self.D(x, e).float(), self.D(x, self.wrong(e)).float(), self.D(fake, e).float()
        loss = matching_aware_d_loss(s_r, s_w, s_f)
        return {"total": loss, "d_real": s_r.detach().mean(), "d_wrong": s_w.detach().mean(), "d_fake": s_f.detach().mean()}

    def g_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        e = self.embed(self.pick(batch))
        fake, mu, logvar = self.fake(e)
        g = generator_loss(self.D(fake, e).float())
        kl = ca_kl(mu.float(), logvar.float())
        return {"total": g + self.kl_weight * kl, "g_adv": g.detach(), "kl": kl.detach()}


@RECIPES.register("stackgan1")
class StackGANStage1(_StackGANBase):
    """Stage I: text -> low-resolution image (64 px in the paper)."""

    def fake(self, e: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        c, mu, logvar = self.G.condition(e, self.randn(len(e), self.ca_dim))
        return self.G.synthesize(self.randn(len(e), self.z_dim), c), mu, logvar


@RECIPES.register("stackgan2")
class StackGANStage2(_StackGANBase):
    """Stage II: the frozen Stage I image + text -> an image at twice its resolution."""

    stage = 2

    def __init__(self, nets: dict[str, nn.Module], rng: torch.Generator, text_encoder: str = "", stage1: str = "",
                 kl_weight: float = 2.0):
        super().__init__(nets, rng, text_encoder, kl_weight)
        if not stage1:
            raise ConfigError(_NEED_STAGE1)
        self.stage1 = stage1
        g = self.G
        if int(g.loaded) == 0:  # a new run (or one about to be resumed): Stage I's trained weights
            load_stage1_weights(g.g1, stage1)
            g.loaded.fill_(1)

    @classmethod
    def net_args(cls, role: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        args = super().net_args(role, kwargs)
        if role == "G":
            if not kwargs.get("stage1"):
                raise ConfigError(_NEED_STAGE1)
            args["stage1"] = stage1_spec(str(kwargs["stage1"]))
        return args

    def fake(self, e: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        n = len(e)
        low = self.G.stage1(self.randn(n, self.z_dim), e, self.randn(n, self.G.g1.ca_dim))
        return self.G.refine(low, e, self.randn(n, self.ca_dim))

    def preview(self, inputs: Batch) -> tuple[Tensor, int]:
        """Stage I (upsampled) and Stage II rows alternate: each caption shown by both stages."""
        g = self.nets[self.sample_role]
        e = self.embed(inputs.text)
        z = inputs.z.to(self.device)
        low = g.stage1(z, e)
        high = g.refine(low, e)[0]
        low = torch.nn.functional.interpolate(low, size=high.shape[-1], mode="nearest")
        cols = max(1, int(len(z) ** 0.5 + 0.5))
        rows = []
        for i in range(0, len(z), cols):
            rows += [low[i:i + cols], high[i:i + cols]]
        return torch.cat(rows).float().cpu(), cols


_NEED_STAGE1 = ("recipe.kwargs.stage1: set it to a finished StackGAN Stage I run folder "
                "(gankit train --preset stackgan1_emoji --out DIR)")
