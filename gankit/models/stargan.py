"""StarGAN-style image-to-image networks for attribute editing (StarGAN baseline and ACL-GAN).

These networks are image-to-image, so their constructors differ from the noise-generator
convention of :mod:`gankit.models.base`: the injected shape arguments are
``(resolution, channels, c_dim)`` (``c_dim`` = number of binary attributes), not ``z_dim``.

Generator (Choi et al. 2018): the target attribute vector is tiled and concatenated to the
image; 7x7 conv stem, ``n_down`` stride-2 convs, ``n_res`` residual blocks with instance norm,
``n_down`` transposed convs, 7x7 conv, tanh. Options from ACL-GAN (Cho & Yoon, seed 001):

* ``mask=True``: the last conv also predicts a mask logit; the output is the composite
  ``m * s + (1 - m) * x`` with segment ``s = tanh(.)`` and mask ``m = sigmoid(.)``.
* ``frame=F``: the mask is forced to exactly 0 on a border of F pixels (at full resolution),
  so those pixels are exactly the input's. Without ``mask`` the frame still holds: the
  output is composited with the frame mask alone.
* ``grow=True``: bidirectional progressive growing. Stage ``s`` (0..n_down) works at
  ``resolution / 2**(n_down - s)``; each new stage adds a down block at the input end and an
  up block at the output end, faded in with ``alpha`` (``set_stage(stage, alpha)``). Every
  level has its own 7x7 from-RGB stem and to-RGB conv; the blend is done on the pre-activation
  output so tanh/sigmoid see one consistent value.

Discriminator: PatchGAN trunk of ``n_layers`` stride-2 4x4 convs with LeakyReLU(0.01), then
heads. ``heads="adv_cls"`` (StarGAN): patch logits ``adv`` [N, 1, h, w] and class logits
``aux`` [N, c_dim]. ``heads="attribute"`` (ACL-GAN): ``adv=None`` and one logit per
(attribute, polarity) sharing the whole trunk: ``aux`` [N, c_dim] (``polarity="positive"``)
or [N, 2*c_dim] (``"both"``: columns ``[:c_dim]`` = presence heads, ``[c_dim:]`` = absence).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from gankit.models.base import DISCRIMINATORS, GENERATORS, check_min


class EditOut(NamedTuple):
    """Generator output parts, all [N, *, r, r] at the current stage resolution r.

    image: [N, C] in [-1, 1] (the composite when a mask is used); mask: [N, 1] in [0, 1] or
    None; segment: [N, C] in [-1, 1] or None.
    """

    image: Tensor
    mask: Optional[Tensor]
    segment: Optional[Tensor]


class DiscOut(NamedTuple):
    """adv: patch logits [N, 1, h, w] or None; aux: class/attribute logits [N, K]."""

    adv: Optional[Tensor]
    aux: Tensor


def composite(x: Tensor, mask: Tensor, segment: Tensor) -> Tensor:
    """m * s + (1 - m) * x; where m == 0 exactly the result equals x bit for bit.

    x, segment: [N, C, H, W]; mask: [N, 1, H, W] in [0, 1].
    """
    return mask * segment + (1 - mask) * x


def frame_mask(resolution: int, frame: int, full_resolution: int, like: Tensor) -> Tensor:
    """[1, 1, r, r] of ones with a zero border; ``frame`` is in full-resolution pixels.

    At lower growing stages the border is scaled and rounded up so it never disappears.
    """
    f = math.ceil(frame * resolution / full_resolution) if frame > 0 else 0
    fm = torch.zeros(1, 1, resolution, resolution, dtype=like.dtype, device=like.device)
    fm[..., f : resolution - f, f : resolution - f] = 1
    return fm


def _tile(c: Tensor, size: int) -> Tensor:
    return c[:, :, None, None].expand(-1, -1, size, size)


def _norm(ch: int) -> nn.Module:
    """Instance norm with affine parameters, written as GroupNorm(ch groups of 1 channel).

    Same function and parameters as ``InstanceNorm2d(ch, affine=True)`` (per-sample,
    per-channel statistics over H, W; eps 1e-5), but the GroupNorm kernels made a whole G
    step ~1.3x faster on an H100 (torch 2.11, 128 px, batch 16).
    """
    return nn.GroupNorm(ch, ch)


class ResidualBlock(nn.Module):
    """x + IN(conv3(ReLU(IN(conv3(x))))) at constant width (StarGAN's bottleneck block)."""

    def __init__(self, ch: int):
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False), _norm(ch), nn.ReLU(inplace=True),
            nn.Conv2d(ch, ch, 3, 1, 1, bias=False), _norm(ch),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)


class _Growing(nn.Module):
    """Stage/alpha bookkeeping shared by the growing generator and discriminator."""

    n_stages: int
    resolution: int

    def _init_growing(self, grow: bool, n_stages: int) -> None:
        self.grow = grow
        self.n_stages = n_stages if grow else 1
        self.stage = self.n_stages - 1  # a grown network behaves as the full one
        self.alpha = 1.0

    def set_stage(self, stage: int, alpha: float = 1.0) -> None:
        """Select growing stage (0 = lowest resolution) and fade-in weight alpha in [0, 1]."""
        if not 0 <= stage < self.n_stages:
            raise ValueError(f"stage must be in [0, {self.n_stages - 1}], got {stage}")
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {alpha}")
        self.stage, self.alpha = int(stage), float(alpha)

    def stage_resolution(self, stage: int | None = None) -> int:
        s = self.stage if stage is None else stage
        return self.resolution // 2 ** (self.n_stages - 1 - s)

    @property
    def fading(self) -> bool:
        return self.stage > 0 and self.alpha < 1.0


@GENERATORS.register("stargan")
class StarGANGenerator(_Growing):
    """Encoder / residual bottleneck / decoder editor G(x, c).

    Args (injected): resolution, channels, c_dim. Typed config: width (channels at full
    resolution, doubled per down block up to max_width), n_down, n_res, mask, frame, grow.
    forward(x [N, C, r, r] in [-1, 1], c [N, c_dim] float) -> [N, C, r, r] in [-1, 1], where
    r = ``stage_resolution()`` (= resolution unless growing).
    """

    kind = "image_to_image"  # see gankit.models.contracts

    def __init__(self, resolution: int, channels: int, c_dim: int, width: int = 64, n_down: int = 2,
                 n_res: int = 6, mask: bool = False, frame: int = 0, grow: bool = False, max_width: int = 512):
        super().__init__()
        if c_dim < 1:
            raise ValueError(f"c_dim must be >= 1 (number of attributes), got {c_dim}")
        check_min(1, channels=channels, width=width, max_width=max_width)
        check_min(0, n_down=n_down, n_res=n_res)
        if n_down < 0 or resolution % 2**n_down or resolution // 2**n_down < 2:
            raise ValueError(f"resolution {resolution} must be divisible by 2**n_down={2**n_down} with >= 2 px left")
        if not 0 <= 2 * frame < resolution:
            raise ValueError(f"frame must be in [0, {resolution // 2}), got {frame}")
        self.resolution, self.channels, self.c_dim = resolution, channels, c_dim
        self.n_down, self.use_mask, self.frame = n_down, mask, frame
        self._init_growing(grow, n_down + 1)
        ch = [min(width * 2**k, max_width) for k in range(n_down + 1)]  # ch[k]: k downs from full
        out_ch = channels + (1 if mask else 0)
        levels = range(n_down + 1) if grow else [0]
        self.from_rgb = nn.ModuleDict({str(k): nn.Sequential(
            nn.Conv2d(channels + c_dim, ch[k], 7, 1, 3, bias=False), _norm(ch[k]), nn.ReLU(inplace=True))
            for k in levels})
        self.to_rgb = nn.ModuleDict({str(k): nn.Conv2d(ch[k], out_ch, 7, 1, 3, bias=False) for k in levels})
        self.down = nn.ModuleList(nn.Sequential(
            nn.Conv2d(ch[k], ch[k + 1], 4, 2, 1, bias=False), _norm(ch[k + 1]), nn.ReLU(inplace=True))
            for k in range(n_down))
        self.core = nn.Sequential(*[ResidualBlock(ch[n_down]) for _ in range(n_res)])
        self.up = nn.ModuleList(nn.Sequential(
            nn.ConvTranspose2d(ch[k + 1], ch[k], 4, 2, 1, bias=False), _norm(ch[k]), nn.ReLU(inplace=True))
            for k in range(n_down))

    def _check(self, x: Tensor, c: Tensor) -> int:
        r = self.stage_resolution()
        if x.dim() != 4 or x.shape[1] != self.channels or x.shape[2:] != (r, r):
            raise ValueError(f"x must be [N, {self.channels}, {r}, {r}] at stage {self.stage}, got {list(x.shape)}")
        if c.dim() != 2 or c.shape != (x.shape[0], self.c_dim):
            raise ValueError(f"c must be [{x.shape[0]}, {self.c_dim}] float attributes, got {list(c.shape)}")
        return r

    def _stem(self, k: int, x: Tensor, c: Tensor) -> Tensor:
        return self.from_rgb[str(k)](torch.cat([x, _tile(c.to(x.dtype), x.shape[-1])], 1))

    def raw(self, x: Tensor, c: Tensor) -> Tensor:
        """Pre-activation output [N, C (+1 mask logit), r, r], fade-in blended when growing."""
        self._check(x, c)
        k_in = self.n_down - self.stage if self.grow else 0
        h = self._stem(k_in, x, c)
        fading = self.fading
        if fading:  # old path: half-resolution input through the previous stage's stem
            old = self._stem(k_in + 1, F.avg_pool2d(x, 2), c)
            h = torch.lerp(old, self.down[k_in](h), self.alpha)
        for k in range(k_in + int(fading), self.n_down):
            h = self.down[k](h)
        h = self.core(h)
        for k in reversed(range(k_in + int(fading), self.n_down)):
            h = self.up[k](h)
        if not fading:
            return self.to_rgb[str(k_in)](h)
        new = self.to_rgb[str(k_in)](self.up[k_in](h))
        old = F.interpolate(self.to_rgb[str(k_in + 1)](h), scale_factor=2.0, mode="nearest")
        return torch.lerp(old, new, self.alpha)

    def forward_parts(self, x: Tensor, c: Tensor) -> EditOut:
        """EditOut(image, mask, segment); mask/segment are None when ``mask=False``.

        A growing G below its last stage edits full-size images too (scoring or previewing a
        checkpoint taken mid-growth): it edits their area-downsampled copy at its stage's
        resolution, upsamples the mask and segment (or, without a mask, the edit) bilinearly and
        composites them with the full-size input, so what the mask keeps stays sharp."""
        r_stage = self.stage_resolution()
        if x.dim() == 4 and x.shape[-1] == self.resolution != r_stage:
            low = self.forward_parts(F.adaptive_avg_pool2d(x, r_stage), c)
            up = lambda t: F.interpolate(t, size=x.shape[-2:], mode="bilinear", align_corners=False)  # noqa: E731
            if low.mask is None:
                return self._compose(x, up(low.image), None)
            return self._compose(x, up(low.segment), up(low.mask))
        raw = self.raw(x, c)
        if not self.use_mask:
            return self._compose(x, torch.tanh(raw), None)
        return self._compose(x, torch.tanh(raw[:, : self.channels]), torch.sigmoid(raw[:, self.channels :]))

    def _compose(self, x: Tensor, out: Tensor, m: Tensor | None) -> EditOut:
        """The frame (exact zeros of the mask on the border) and the composite with the input:
        ``out`` is the edit (``m`` None) or the segment blended in by mask ``m``."""
        fm = frame_mask(x.shape[-1], self.frame, self.resolution, x) if self.frame > 0 else None
        if m is None:
            return EditOut(out if fm is None else composite(x, fm, out), None, None)
        if fm is not None:
            m = m * fm  # exact zeros on the border
        return EditOut(composite(x, m, out), m, out)

    def forward(self, x: Tensor, c: Tensor, parts: bool = False):
        """The edited image [N, C, r, r]; with ``parts=True`` the full :class:`EditOut`.

        ``G(x, c, parts=True)`` goes through ``__call__``, so a compiled G stays compiled.
        """
        out = self.forward_parts(x, c)
        return out if parts else out.image


_HEAD_COUNT = {"positive": 1, "both": 2}


@DISCRIMINATORS.register("stargan")
class StarGANDiscriminator(_Growing):
    """PatchGAN discriminator with StarGAN (adv + cls) or ACL-GAN (attribute) heads.

    Args (injected): resolution, channels, c_dim. Typed config: width (first layer channels,
    doubled per layer up to max_width), n_layers (stride-2 convs; resolution must be divisible
    by 2**n_layers), heads ("adv_cls" | "attribute"), polarity ("both" | "positive", attribute
    heads only), grow, grow_stages (number of resolutions when growing; must match G's
    n_down + 1). forward(x [N, C, r, r], c=None) -> DiscOut.
    """

    def __init__(self, resolution: int, channels: int, c_dim: int, width: int = 64, n_layers: int = 6,
                 heads: str = "adv_cls", polarity: str = "both", grow: bool = False, grow_stages: int = 3,
                 max_width: int = 2048):
        super().__init__()
        if heads not in ("adv_cls", "attribute"):
            raise ValueError(f"heads must be 'adv_cls' or 'attribute', got {heads!r}")
        if polarity not in _HEAD_COUNT:
            raise ValueError(f"polarity must be 'both' or 'positive', got {polarity!r}")
        check_min(1, channels=channels, c_dim=c_dim, width=width, max_width=max_width, n_layers=n_layers,
                  grow_stages=grow_stages)
        if n_layers < 1 or resolution % 2**n_layers:
            raise ValueError(f"resolution {resolution} must be divisible by 2**n_layers={2**n_layers}")
        if grow and not 1 <= grow_stages <= n_layers:
            raise ValueError(f"grow_stages must be in [1, n_layers={n_layers}], got {grow_stages}")
        self.resolution, self.channels, self.c_dim = resolution, channels, c_dim
        self.heads, self.polarity = heads, polarity
        self._init_growing(grow, grow_stages)
        out_ch = [min(width * 2**j, max_width) for j in range(n_layers)]
        in_ch = [width if grow else channels] + out_ch[:-1]
        self.blocks = nn.ModuleList(nn.Sequential(nn.Conv2d(in_ch[j], out_ch[j], 4, 2, 1), nn.LeakyReLU(0.01))
                                    for j in range(n_layers))
        self.from_rgb = nn.ModuleDict({str(j): nn.Sequential(nn.Conv2d(channels, in_ch[j], 1), nn.LeakyReLU(0.01))
                                       for j in (range(grow_stages) if grow else [])})
        final = resolution // 2**n_layers
        if heads == "adv_cls":
            self.adv_head: Optional[nn.Module] = nn.Conv2d(out_ch[-1], 1, 3, 1, 1, bias=False)
            self.n_aux = c_dim
        else:
            self.adv_head = None
            self.n_aux = c_dim * _HEAD_COUNT[polarity]
        # a conv as large as the final map = one global logit per class/attribute head
        self.aux_head = nn.Conv2d(out_ch[-1], self.n_aux, final, bias=False)

    def trunk(self, x: Tensor) -> Tensor:
        """Shared features [N, ch, resolution / 2**n_layers, same] for x at the stage resolution."""
        r = self.stage_resolution()
        if x.dim() != 4 or x.shape[1] != self.channels or x.shape[2:] != (r, r):
            raise ValueError(f"x must be [N, {self.channels}, {r}, {r}] at stage {self.stage}, got {list(x.shape)}")
        if not self.grow:
            h, j0 = x, 0
        else:
            j0 = self.n_stages - 1 - self.stage
            h = self.from_rgb[str(j0)](x)
            if self.fading:
                h = torch.lerp(self.from_rgb[str(j0 + 1)](F.avg_pool2d(x, 2)), self.blocks[j0](h), self.alpha)
                j0 += 1
        for block in self.blocks[j0:]:
            h = block(h)
        return h

    def forward(self, x: Tensor, c: Optional[Tensor] = None) -> DiscOut:
        h = self.trunk(x)
        adv = self.adv_head(h) if self.adv_head is not None else None
        return DiscOut(adv, self.aux_head(h).flatten(1))


def single_flips(c: Tensor, groups: Sequence[Sequence[int]] = ()) -> Tensor:
    """[N, A] 0/1 attributes -> [A, N, A]: slice k is c with attribute k flipped (1 - c_k).

    ``groups``: lists of mutually exclusive attribute indices (e.g. skin tones; see
    :func:`exclusive_groups`). Adding a member of a group clears the others, as StarGAN does
    for hair colours, so no target asks for two tones at once; removing one leaves the rest."""
    a = c.shape[1]
    eye = torch.eye(a, dtype=c.dtype, device=c.device)[:, None, :]  # [A, 1, A]
    flips = c[None] * (1 - eye) + (1 - c[None]) * eye
    for group in groups:
        for k in group:
            others = [j for j in group if j != k]
            adding = (c[:, k] < 0.5).unsqueeze(1)  # [N, 1]
            flips[k][:, others] = torch.where(adding, torch.zeros_like(flips[k][:, others]), flips[k][:, others])
    return flips


def exclusive_groups(c: Tensor) -> list[list[int]]:
    """Groups of attributes that never occur together in ``c`` [N, A] 0/1 (each at least once):
    the connected components of the "never together" graph that are complete (every pair
    exclusive). A component that is not complete is left out (its attributes flip freely).
    Inferred from a training split, e.g. Tone_1/Tone_3/Tone_5 and Male/Female of the emoji data."""
    c = (c > 0.5).float()
    present = c.sum(0) > 0
    together = (c.t() @ c) > 0  # [A, A]
    a = c.shape[1]
    excl = [[bool(present[i] and present[j] and not together[i, j]) and i != j for j in range(a)] for i in range(a)]
    seen: set[int] = set()
    groups = []
    for i in range(a):
        if i in seen or not any(excl[i]):
            continue
        comp, stack = set(), [i]
        while stack:
            k = stack.pop()
            if k not in comp:
                comp.add(k)
                stack += [j for j in range(a) if excl[k][j]]
        seen |= comp
        members = sorted(comp)
        if all(excl[p][q] for p in members for q in members if p != q):
            groups.append(members)
    return groups


@torch.no_grad()
def attribute_grid(g: nn.Module, x: Tensor, c: Tensor, groups: Sequence[Sequence[int]] = ()) -> tuple[Tensor, int]:
    """Rows: inputs; columns: original, each single-attribute flip, then (mask G only) the mask
    and segment of the first flip, shown as images.

    g: an image-to-image editor at x's resolution; x [N, C, r, r] in [-1, 1]; c [N, A] 0/1.
    Returns (images [N*K, C, r, r] in [-1, 1] row-major, K = columns per row).
    """
    c = c.to(x.dtype)
    flips = single_flips(c, groups)
    cols = [x]
    extra: list[Tensor] = []
    for k in range(c.shape[1]):
        out = g(x, flips[k], parts=True)
        cols.append(out.image)
        if k == 0 and out.mask is not None:
            extra = [(out.mask * 2 - 1).expand_as(x), out.segment]  # mask [0,1] -> grey in [-1,1]
    cols += extra
    return torch.stack(cols, 1).flatten(0, 1), len(cols)
