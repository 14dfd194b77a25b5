"""Losses of pix2pix and CycleGAN as pure functions, plus CycleGAN's history pool of fakes.

Adversarial terms follow the reference repository's ``GANLoss`` on PatchGAN logit maps
(every patch is one prediction; means are over all patches of all images):

* ``lsgan``:   G: ``mean (D(fake) - 1)^2``;  D: ``mean (D(real) - 1)^2 + mean D(fake)^2``
* ``vanilla``: G: ``BCE(D(fake), 1)``;         D: ``BCE(D(real), 1) + BCE(D(fake), 0)``

and both recipes multiply the D loss by ``d_scale`` (0.5 in both papers: "we divide the
objective by 2 while optimizing D, which slows down the rate at which D learns"). The
reconstruction terms are plain L1 means: pix2pix's ``lambda_l1 * |y - G(x)|``, CycleGAN's
cycle ``|F(G(a)) - a|`` and identity ``|G(b) - b|``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.nn import random as rnd

GAN_MODES = ("lsgan", "vanilla")


def check_mode(mode: str) -> None:
    if mode not in GAN_MODES:
        from gankit.errors import ConfigError

        raise ConfigError(f"recipe.kwargs.gan_mode: '{mode}' is not one of {', '.join(GAN_MODES)}")


def gan_g_loss(fake: Tensor, mode: str = "lsgan") -> Tensor:
    """The generator's adversarial loss on D's logits for fakes (any shape)."""
    if mode == "lsgan":
        return (fake - 1).pow(2).mean()
    return F.softplus(-fake).mean()  # BCE with target 1


def gan_d_loss(real: Tensor, fake: Tensor, mode: str = "lsgan", scale: float = 0.5) -> Tensor:
    """The discriminator's loss ``scale * (loss on reals + loss on fakes)``."""
    if mode == "lsgan":
        return scale * ((real - 1).pow(2).mean() + fake.pow(2).mean())
    return scale * (F.softplus(-real).mean() + F.softplus(fake).mean())


def l1(a: Tensor, b: Tensor) -> Tensor:
    """``mean |a - b|`` over every element (pix2pix's L1, CycleGAN's cycle and identity terms)."""
    if a.shape != b.shape:
        raise ValueError(f"l1: images must have the same shape, got {list(a.shape)} and {list(b.shape)}")
    return (a - b).abs().mean()


class HistoryPool:
    """CycleGAN's buffer of previously generated images (Shrivastava et al. 2017), per image:

    while fewer than ``size`` are stored, store the new fake and return it; afterwards, with
    probability 1/2 return a random stored fake and put the new one in its place, else return the
    new fake. ``size`` 0 returns the batch unchanged. Draws come from the caller's generator
    (the recipe's checkpointed RNG), and :meth:`state_dict` holds the stored images exactly, so
    a resumed run continues bit for bit.
    """

    def __init__(self, size: int = 50):
        if size < 0:
            raise ValueError(f"pool size must be >= 0, got {size}")
        self.size = size
        self.images: list[Tensor] = []

    def query(self, fakes: Tensor, rng: torch.Generator) -> Tensor:
        """fakes [N, C, H, W] (detached) -> [N, C, H, W]: each the new fake or an older one."""
        if self.size == 0:
            return fakes
        n = fakes.shape[0]
        # one draw per image whether or not the pool is full yet: the RNG advances the same way
        # per-sample draws (gankit.nn.random): under torchrun each rank takes its slice
        u = rnd.rand(n, generator=rng, device=rng.device).tolist()
        k = rnd.randint(0, self.size, (n,), generator=rng, device=rng.device).tolist()
        out = []
        for j, img in enumerate(fakes.detach()):
            img = img.unsqueeze(0)
            if len(self.images) < self.size:
                self.images.append(img.float().clone())  # float32: exact for bf16 fakes too
                out.append(img)
            elif u[j] > 0.5:
                old = self.images[k[j]]
                self.images[k[j]] = img.float().clone()
                out.append(old.to(img.device, img.dtype))
            else:
                out.append(img)
        return torch.cat(out)

    def state_dict(self) -> dict:
        """Plain values only (shape, dtype name, raw bytes), so checkpoints stay weights_only and
        two states compare with ``==``."""
        if not self.images:
            return {"n": 0}
        stack = torch.cat(self.images).detach().float().cpu().contiguous()
        return {"n": len(self.images), "shape": list(stack.shape), "data": stack.numpy().tobytes()}

    def load_state_dict(self, state: dict, device: torch.device | str = "cpu") -> None:
        n = int(state.get("n", 0))
        if n == 0:
            self.images = []
            return
        import numpy as np

        arr = np.frombuffer(state["data"], dtype=np.float32).reshape(state["shape"]).copy()
        stack = torch.from_numpy(arr).to(device)
        self.images = [stack[i:i + 1].clone() for i in range(n)]
