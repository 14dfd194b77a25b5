"""Differentiable augmentation for GANs trained on little data.

:func:`augment` applies DiffAugment-style transforms (Zhao et al. 2020) to a batch of images
in [-1, 1]: every op is differentiable in x, so the same augmentation can be applied to fakes
inside the generator's loss. Each op of the policy is applied to each sample independently
with probability p (the ADA formulation, Karras et al. 2020), and all randomness comes from
the given ``torch.Generator`` so that a run replays exactly.

:class:`AdaptiveAugment` adjusts p with ADA's overfitting heuristic r_t = E[sign(D(real))].
"""

from __future__ import annotations

from typing import Any, Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.errors import ConfigError
from gankit.nn import random as rnd
from gankit.registry import did_you_mean

Rand = Callable[..., Tensor]  # rand(*shape) -> uniform [0, 1) on x's device


def brightness(x: Tensor, rand: Rand) -> Tensor:
    """Add one offset per sample, uniform in [-0.5, 0.5)."""
    return x + (rand(x.shape[0], 1, 1, 1) - 0.5)


def saturation(x: Tensor, rand: Rand) -> Tensor:
    """Scale the distance to the per-pixel channel mean by a factor uniform in [0, 2)."""
    mean = x.mean(dim=1, keepdim=True)
    return (x - mean) * (rand(x.shape[0], 1, 1, 1) * 2) + mean


def contrast(x: Tensor, rand: Rand) -> Tensor:
    """Scale the distance to the per-image mean by a factor uniform in [0.5, 1.5)."""
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (rand(x.shape[0], 1, 1, 1) + 0.5) + mean


def translation(x: Tensor, rand: Rand, ratio: float = 0.125) -> Tensor:
    """Shift each image by integers in [-ratio*H, ratio*H] (and W), filling with zeros."""
    n, _, h, w = x.shape
    sh, sw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    dy = (rand(n) * (2 * sh + 1)).long().clamp(max=2 * sh) - sh  # uniform integers in [-sh, sh]
    dx = (rand(n) * (2 * sw + 1)).long().clamp(max=2 * sw) - sw
    # Gather rows/columns from a zero-padded copy: out[y, x] = pad[y + sh - dy, x + sw - dx].
    rows = torch.arange(h, device=x.device).view(1, h) + sh - dy.view(n, 1)  # [N, H]
    cols = torch.arange(w, device=x.device).view(1, w) + sw - dx.view(n, 1)  # [N, W]
    pad = F.pad(x, [sw, sw, sh, sh])
    out = pad.gather(2, rows.view(n, 1, h, 1).expand(n, x.shape[1], h, pad.shape[3]))
    return out.gather(3, cols.view(n, 1, 1, w).expand(n, x.shape[1], h, w))


def cutout(x: Tensor, rand: Rand, ratio: float = 0.5) -> Tensor:
    """Zero one square of side ratio*size per image at a uniform position (may cross the edge)."""
    n, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    # Centre in [0, H + (1 - ch % 2)) as DiffAugment, so the square can be partly outside.
    cy = (rand(n) * (h + (1 - ch % 2))).long()
    cx = (rand(n) * (w + (1 - cw % 2))).long()
    ys = torch.arange(h, device=x.device).view(1, h) - (cy.view(n, 1) - ch // 2)
    xs = torch.arange(w, device=x.device).view(1, w) - (cx.view(n, 1) - cw // 2)
    inside = ((ys >= 0) & (ys < ch)).view(n, h, 1) & ((xs >= 0) & (xs < cw)).view(n, 1, w)
    return x * (~inside).unsqueeze(1).to(x.dtype)


POLICIES: dict[str, tuple[Callable[[Tensor, Rand], Tensor], ...]] = {
    "color": (brightness, saturation, contrast),
    "translation": (translation,),
    "cutout": (cutout,),
}


def parse_policy(policy: str) -> list[str]:
    """'color,translation' -> ['color', 'translation']; unknown names raise a ConfigError."""
    names = [p.strip() for p in policy.split(",") if p.strip()]
    for name in names:
        if name not in POLICIES:
            raise ConfigError(
                f"augment policy: unknown '{name}'{did_you_mean(name, list(POLICIES))}; "
                f"choose from: {', '.join(POLICIES)}"
            )
    return names


def augment(x: Tensor, policy: str = "color,translation,cutout", p: float = 1.0,
            generator: torch.Generator | None = None) -> Tensor:
    """Augment images x [N, C, H, W] (about [-1, 1]); returns the same shape, differentiable in x.

    Each op of the policy is applied to each sample with probability ``p``. Random numbers are
    drawn on ``generator``'s device (CPU by default) and moved to x's device, and the same
    numbers are drawn whatever p is, so a seeded generator gives identical results. p = 0
    returns x itself.
    """
    names = parse_policy(policy)
    if not 0.0 <= p <= 1.0:
        raise ConfigError(f"augment p: expected a probability in [0, 1], got {p}")
    if p == 0.0:
        return x
    dev = generator.device if generator is not None else x.device

    def rand(*shape: int) -> Tensor:
        return rnd.rand(*shape, generator=generator, device=dev).to(x.device)

    n = x.shape[0]
    for name in names:
        for op in POLICIES[name]:
            apply = (rand(n) < p).view(n, 1, 1, 1)
            x = torch.where(apply, op(x, rand), x)
    return x


class AdaptiveAugment:
    """ADA's augmentation probability controller (Karras et al. 2020).

    Call ``accumulate(real_logits)`` after every D step on reals and ``update()`` after it;
    once ``interval`` batches are accumulated, update() sets
    r_t = mean(sign(D(real))) over them and
    p <- clamp(p + sign(r_t - target) * batch_size * interval / (speed_kimg * 1000), 0, 1),
    so p can traverse [0, 1] in ``speed_kimg`` thousand real images. Accumulators stay on the
    logits' device (one host sync per update). ``state_dict``/``load_state_dict`` carry p, the
    last r_t and the partial accumulators, so a resumed run continues exactly.
    """

    def __init__(self, target: float = 0.6, interval: int = 4, speed_kimg: float = 500.0, *,
                 batch_size: int, p: float = 0.0):
        if not 0.0 <= target <= 1.0:
            raise ConfigError(f"ada target: expected a value in [0, 1], got {target}")
        if interval < 1 or batch_size < 1 or speed_kimg <= 0:
            raise ConfigError(
                f"ada: interval and batch_size must be >= 1 and speed_kimg > 0, got "
                f"interval={interval}, batch_size={batch_size}, speed_kimg={speed_kimg}"
            )
        self.target, self.interval, self.speed_kimg, self.batch_size = target, interval, speed_kimg, batch_size
        self.p = float(p)
        self.r_t = 0.0
        self._sign_sum: Tensor | float = 0.0
        self._count = 0
        self._batches = 0

    @property
    def step_size(self) -> float:
        """|change of p| per update: batch_size * interval / (speed_kimg * 1000)."""
        return self.batch_size * self.interval / (self.speed_kimg * 1000.0)

    @torch.no_grad()
    def accumulate(self, real_logits: Tensor) -> None:
        """Add sign(D(real)) of one batch (logits [N] or [N, 1]); under torchrun, of the global
        batch (every rank keeps the same sums, so p is the same everywhere)."""
        signs = rnd.gather(real_logits.detach().float().reshape(len(real_logits), -1).sign())
        self._sign_sum = self._sign_sum + signs.sum().double()
        self._count += signs.numel()
        self._batches += 1

    def update(self) -> bool:
        """Adjust p if ``interval`` batches were accumulated; returns True when p was updated."""
        if self._batches < self.interval or self._count == 0:
            return False
        total = float(self._sign_sum)  # the one device->host sync per interval
        self.r_t = total / self._count
        sign = (self.r_t > self.target) - (self.r_t < self.target)
        world = rnd.shard()[1]  # batch_size is one rank's batch: p moves by the global batch's images
        self.p = min(max(self.p + sign * self.step_size * world, 0.0), 1.0)
        self._sign_sum, self._count, self._batches = 0.0, 0, 0
        return True

    def stats(self) -> dict[str, float]:
        """Values to log: {"aug_p": p, "ada_rt": last r_t}."""
        return {"aug_p": self.p, "ada_rt": self.r_t}

    def state_dict(self) -> dict[str, Any]:
        """Plain Python numbers (readable by torch.load(weights_only=True) and JSON)."""
        return {
            "p": self.p, "r_t": self.r_t, "sign_sum": float(self._sign_sum),
            "count": self._count, "batches": self._batches,
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        try:
            self.p = float(state["p"])
            self.r_t = float(state["r_t"])
            self._sign_sum = float(state["sign_sum"])
            self._count = int(state["count"])
            self._batches = int(state["batches"])
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"augmentation state: missing or bad entry {e}; expected keys p, r_t, sign_sum, count, batches") from None
