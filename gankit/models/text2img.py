"""Text-conditioned generators and matching-aware discriminators (GAN-INT-CLS, StackGAN).

All generators are of kind ``noise`` with ``n_classes = 0``: ``G(z, c)`` takes the *text
embedding* ``c`` float [N, emb_dim] as its condition (None = the zero embedding), so
sampling, EMA and metrics treat them like any noise generator.

* ``gan_int_cls`` (Reed et al. 2016): embedding -> Linear(emb_dim, proj_dim) + LeakyReLU(0.2),
  concatenated with z, then a DCGAN generator (4x4 -> transposed convs -> R).
* ``stackgan1`` (Zhang et al. 2017, Stage I): conditioning augmentation (CA): mu, log sigma^2 =
  Linear(emb); c = mu + sigma * eps; [c, z] -> 4x4 -> (upsample + conv3x3 + BN + ReLU) -> R.
  ``G(z, e)`` uses c = mu (eps = 0); the recipe draws eps while training.
* ``stackgan2`` (Stage II): a frozen Stage I generator makes the low-resolution image (R/2);
  an encoder (conv + stride-2 convs to R/8) is joined with its own CA code tiled spatially,
  residual blocks follow, then upsampling to R.
* ``text_match`` D: stride-2 convs down to 4x4, the projected embedding tiled at 4x4 and
  concatenated, a 1x1 conv, then a 4x4 conv to one logit per image (matching-aware: it sees
  real/right, real/wrong and fake pairs).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from gankit.models.base import DISCRIMINATORS, GENERATORS, check_min


def _check_res(resolution: int, minimum: int = 8) -> int:
    if resolution < minimum or resolution & (resolution - 1):
        raise ValueError(f"resolution {resolution}: expected a power of two >= {minimum}")
    return int(math.log2(resolution))


def _no_classes(n_classes: int) -> None:
    if n_classes:
        raise ValueError(f"n_classes={n_classes}: text-conditioned generators take a text embedding, not class labels "
                         "(set data.labels=false)")


def _cond(c: Tensor | None, z: Tensor, emb_dim: int) -> Tensor:
    return torch.zeros(len(z), emb_dim, device=z.device, dtype=z.dtype) if c is None else c.to(z.dtype)


@GENERATORS.register("gan_int_cls")
class GanIntClsG(nn.Module):
    kind = "noise"

    def __init__(self, resolution: int, channels: int, z_dim: int, n_classes: int = 0, emb_dim: int = 256,
                 proj_dim: int = 128, width: int = 64):
        super().__init__()
        _no_classes(n_classes)
        check_min(1, z_dim=z_dim, emb_dim=emb_dim, proj_dim=proj_dim, width=width)
        ups = _check_res(resolution) - 2
        self.z_dim, self.n_classes, self.emb_dim = z_dim, 0, emb_dim
        self.proj = nn.Sequential(nn.Linear(emb_dim, proj_dim), nn.LeakyReLU(0.2))
        c = width * 2 ** min(ups - 1, 3) if ups > 0 else width
        self.fc = nn.Sequential(nn.Linear(z_dim + proj_dim, c * 16), nn.Unflatten(1, (c, 4, 4)), nn.BatchNorm2d(c), nn.ReLU())
        layers = []
        for i in range(ups - 1):
            o = max(width, c // 2)
            layers += [nn.ConvTranspose2d(c, o, 4, 2, 1, bias=False), nn.BatchNorm2d(o), nn.ReLU()]
            c = o
        layers += [nn.ConvTranspose2d(c, channels, 4, 2, 1) if ups > 0 else nn.Conv2d(c, channels, 3, 1, 1), nn.Tanh()]
        self.body = nn.Sequential(*layers)

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        e = self.proj(_cond(c, z, self.emb_dim))
        return self.body(self.fc(torch.cat([z, e], 1)))


class CondAug(nn.Module):
    """StackGAN's conditioning augmentation: emb -> (c, mu, logvar), c = mu + exp(logvar/2) * eps."""

    def __init__(self, emb_dim: int, ca_dim: int):
        super().__init__()
        self.fc = nn.Linear(emb_dim, 2 * ca_dim)
        self.ca_dim = ca_dim

    def forward(self, e: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        mu, logvar = self.fc(e).chunk(2, dim=1)
        c = mu if eps is None else mu + torch.exp(0.5 * logvar) * eps
        return c, mu, logvar


def _up(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), nn.Conv2d(cin, cout, 3, 1, 1, bias=False),
                         nn.BatchNorm2d(cout), nn.ReLU())


@GENERATORS.register("stackgan1")
class StackGAN1G(nn.Module):
    kind = "noise"

    def __init__(self, resolution: int, channels: int, z_dim: int, n_classes: int = 0, emb_dim: int = 256,
                 ca_dim: int = 128, width: int = 32):
        super().__init__()
        _no_classes(n_classes)
        check_min(1, z_dim=z_dim, emb_dim=emb_dim, ca_dim=ca_dim, width=width)
        ups = _check_res(resolution) - 2
        self.z_dim, self.n_classes, self.emb_dim, self.ca_dim = z_dim, 0, emb_dim, ca_dim
        self.ca = CondAug(emb_dim, ca_dim)
        c = width * 2 ** min(ups, 4)
        self.fc = nn.Sequential(nn.Linear(z_dim + ca_dim, c * 16, bias=False), nn.BatchNorm1d(c * 16), nn.ReLU(),
                                nn.Unflatten(1, (c, 4, 4)))
        layers = []
        for _ in range(ups):
            o = max(width, c // 2)
            layers.append(_up(c, o))
            c = o
        self.body = nn.Sequential(*layers, nn.Conv2d(c, channels, 3, 1, 1), nn.Tanh())

    def condition(self, e: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        return self.ca(e, eps)

    def synthesize(self, z: Tensor, c: Tensor) -> Tensor:
        return self.body(self.fc(torch.cat([c, z], 1)))

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        return self.synthesize(z, self.condition(_cond(c, z, self.emb_dim))[0])


class ResBlock(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.net = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU(),
                                 nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(x + self.net(x))


@GENERATORS.register("stackgan2")
class StackGAN2G(nn.Module):
    """Stage II over a frozen Stage I generator ``g1`` (built from ``stage1`` = its stored
    ``{name, kwargs}``; its weights are loaded by the recipe). ``loaded`` (a buffer, in the
    state dict) records that g1 holds trained Stage I weights."""

    kind = "noise"

    def __init__(self, resolution: int, channels: int, z_dim: int, n_classes: int = 0, emb_dim: int = 256,
                 ca_dim: int = 128, width: int = 32, n_res: int = 2, stage1: dict | None = None):
        super().__init__()
        _no_classes(n_classes)
        check_min(1, z_dim=z_dim, emb_dim=emb_dim, ca_dim=ca_dim, width=width)
        check_min(0, n_res=n_res)
        _check_res(resolution, 16)
        if stage1 is None:  # a stand-alone Stage II (tests, contract checks): a default Stage I at R/2
            stage1 = {"name": "stackgan1", "kwargs": {"resolution": resolution // 2, "channels": channels,
                                                     "z_dim": z_dim, "emb_dim": emb_dim, "width": 8}}
        k = stage1["kwargs"]
        if k.get("resolution") != resolution // 2 or k.get("channels") != channels:
            raise ValueError(f"Stage I makes {k.get('resolution')}px images with {k.get('channels')} channels; Stage II at "
                             f"{resolution}px needs {resolution // 2}px with {channels}")
        if k.get("z_dim") != z_dim or k.get("emb_dim", 256) != emb_dim:
            raise ValueError(f"Stage I has z_dim {k.get('z_dim')} and emb_dim {k.get('emb_dim', 256)}; set model.z_dim "
                             f"and use its text encoder (got z_dim {z_dim}, emb_dim {emb_dim})")
        self.g1 = GENERATORS.get(stage1["name"])(**k).eval().requires_grad_(False)
        self.register_buffer("loaded", torch.zeros((), dtype=torch.long))
        self.z_dim, self.n_classes, self.emb_dim, self.ca_dim = z_dim, 0, emb_dim, ca_dim
        self.ca = CondAug(emb_dim, ca_dim)
        low = resolution // 2
        downs = 2 if low >= 16 else 1
        c = width * 2 ** downs
        enc = [nn.Conv2d(channels, width, 3, 1, 1), nn.ReLU()]
        w = width
        for _ in range(downs):
            enc += [nn.Conv2d(w, 2 * w, 4, 2, 1, bias=False), nn.BatchNorm2d(2 * w), nn.ReLU()]
            w *= 2
        self.encode = nn.Sequential(*enc)
        self.join = nn.Sequential(nn.Conv2d(c + ca_dim, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.ReLU())
        self.res = nn.Sequential(*[ResBlock(c) for _ in range(n_res)])
        ups = []
        for _ in range(downs + 1):
            o = max(1, width // 2, c // 2)
            ups.append(_up(c, o))
            c = o
        self.decode = nn.Sequential(*ups, nn.Conv2d(c, channels, 3, 1, 1), nn.Tanh())

    def train(self, mode: bool = True) -> "StackGAN2G":
        super().train(mode)
        self.g1.eval()  # frozen: its batch-norm statistics stay Stage I's
        return self

    def stage1(self, z: Tensor, e: Tensor, eps: Tensor | None = None) -> Tensor:
        """The frozen Stage I image (no gradients)."""
        with torch.no_grad():
            return self.g1.synthesize(z, self.g1.condition(e, eps)[0])

    def refine(self, low: Tensor, e: Tensor, eps: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(Stage II image [N, C, R, R], mu, logvar) from a Stage I image and the embedding."""
        c, mu, logvar = self.ca(e, eps)
        h = self.encode(low)
        h = torch.cat([h, c[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])], 1)
        return self.decode(self.res(self.join(h))), mu, logvar

    def forward(self, z: Tensor, c: Tensor | None = None) -> Tensor:
        e = _cond(c, z, self.emb_dim)
        return self.refine(self.stage1(z, e), e)[0]


@DISCRIMINATORS.register("text_match")
class TextMatchD(nn.Module):
    """D(x [N, C, R, R], e [N, emb_dim]) -> logits [N]: image features at 4x4 joined with the
    projected embedding tiled over them (Reed's D; StackGAN's D at 64 and 128 px)."""

    def __init__(self, resolution: int, channels: int, emb_dim: int = 256, proj_dim: int = 128, width: int = 64):
        super().__init__()
        check_min(1, emb_dim=emb_dim, proj_dim=proj_dim, width=width)
        downs = _check_res(resolution) - 2
        layers, c = [], channels
        for i in range(downs):
            o = width * 2 ** min(i, 3)
            layers += [nn.Conv2d(c, o, 4, 2, 1, bias=i == 0)] + ([nn.BatchNorm2d(o)] if i else []) + [nn.LeakyReLU(0.2)]
            c = o
        self.features = nn.Sequential(*layers)
        self.emb_dim = emb_dim
        self.proj = nn.Sequential(nn.Linear(emb_dim, proj_dim), nn.LeakyReLU(0.2))
        self.joint = nn.Sequential(nn.Conv2d(c + proj_dim, c, 1), nn.BatchNorm2d(c), nn.LeakyReLU(0.2),
                                   nn.Conv2d(c, 1, 4))

    def forward(self, x: Tensor, e: Tensor | None = None) -> Tensor:
        h = self.features(x)
        e = torch.zeros(len(x), self.emb_dim, device=x.device, dtype=x.dtype) if e is None else e.to(h.dtype)
        t = self.proj(e)[:, :, None, None].expand(-1, -1, 4, 4)
        return self.joint(torch.cat([h, t], 1)).flatten()
