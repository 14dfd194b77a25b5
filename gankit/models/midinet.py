"""MidiNet's networks (Yang, Chou & Yang 2017): one 16-step x 128-pitch bar at a time.

Bars are ``[N, 1, 16, 128]`` (time x pitch) in [0, 1]; chords are MidiNet's 13-dim vectors
(:mod:`gankit.data.music`). Which conditions a network takes (``chord``, ``prev``) follows
from the recipe's ``model`` (1: melody only, 2: + chords, 3: + previous bar) and is injected
by the recipe (:meth:`gankit.recipes.midinet.MidiNetRecipe.net_args`), not set by hand.

G: [z, chord] -> FC (``fc``) -> [z-part, chord] -> FC to ``width`` x 2 steps, then three
transposed convolutions (kernel 2 x 1, stride 2 over time) to 16 steps and one over the
pitch axis (kernel 1 x 128) to the bar, sigmoid. The chord is concatenated to the input of
every layer (as a constant map for the convolutions); with ``prev`` the **conditioner** CNN
reads the previous bar (a 1 x 128 convolution, then three 2 x 1 stride-2 ones) and its
maps at 16, 8, 4 and 2 steps join the generator stage of the same length.

D: [bar, chord map] -> conv 2 x 128 (stride 2) -> ``fm_channels`` maps of 8 steps (the
features of feature matching) -> [+ chord] conv 4 x 1 (stride 2) + BN -> flatten [+ chord]
-> FC ``fc`` + BN -> [+ chord] -> one logit; leaky ReLU 0.2. Without ``chord`` (model 1)
the same layers run without the chord inputs (the authors' melody-only D used other kernel
sizes; docs/music.md).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from gankit.data.music import CHORD_DIM, PITCHES, STEPS
from gankit.models.base import DISCRIMINATORS, GENERATORS, check_min


def _cat_map(h: Tensor, y: Tensor | None) -> Tensor:
    """Concatenate the chord [N, 13] to every position of h [N, C, T, W] as 13 constant maps."""
    if y is None:
        return h
    return torch.cat([h, y[:, :, None, None].expand(-1, -1, h.shape[2], h.shape[3])], 1)


def _init(net: nn.Module) -> None:
    """N(0, 0.02) weights and zero biases (DCGAN-TensorFlow's init, which MidiNet used)."""
    for m in net.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, 0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


# Every convolution here has its stride equal to its kernel along time, or spans the whole
# pitch axis, so each is a matrix product per step (or pair of steps). PyTorch's CPU kernels
# for such transposed convolutions take ~60x longer than the product (140 ms vs 2 ms for the
# output layer at batch 72), so the layers keep the convolution's parameters (the paper's
# layers, and state dicts that load into nn.ConvTranspose2d / nn.Conv2d) and compute them as
# products; tests check they equal the modules' own forward.
def tconv_time(layer: nn.ConvTranspose2d, h: Tensor) -> Tensor:
    """``layer(h)`` for a kernel (k, 1) with stride (k, 1) on h [N, C, T, 1] -> [N, O, k T, 1]."""
    n, c, t, _ = h.shape
    o, k = layer.weight.shape[1], layer.weight.shape[2]
    out = h[..., 0].transpose(1, 2).reshape(n * t, c) @ layer.weight.reshape(c, o * k)  # [N T, O k]
    out = out.view(n, t, o, k).permute(0, 2, 1, 3).reshape(n, o, t * k)
    return (out + layer.bias[None, :, None])[..., None]


def tconv_pitch(layer: nn.ConvTranspose2d, h: Tensor) -> Tensor:
    """``layer(h)`` for a kernel (1, P) on h [N, C, T, 1] (width 1) -> [N, O, T, P]."""
    n, c, t, _ = h.shape
    o, p = layer.weight.shape[1], layer.weight.shape[3]
    out = h[..., 0].transpose(1, 2).reshape(n * t, c) @ layer.weight.reshape(c, o * p)  # [N T, O P]
    return out.view(n, t, o, p).transpose(1, 2) + layer.bias[None, :, None, None]


def conv_time(layer: nn.Conv2d, h: Tensor) -> Tensor:
    """``layer(h)`` for a kernel (k, 1) on h [N, C, T, 1] (width 1), any stride over time."""
    k, stride = layer.weight.shape[2], layer.stride[0]
    n, c = h.shape[:2]
    windows = h[..., 0].unfold(2, k, stride)  # [N, C, T', k]
    t = windows.shape[2]
    out = windows.permute(0, 2, 1, 3).reshape(n * t, c * k) @ layer.weight.reshape(len(layer.weight), c * k).t()
    return (out.view(n, t, -1) + layer.bias).transpose(1, 2)[..., None]


def conv_steps(layer: nn.Conv2d, x: Tensor, y: Tensor | None = None) -> Tensor:
    """``layer(cat(x, chord maps))`` for a kernel (k, W) covering the width W of x [N, 1, T, W]
    with stride k over time: -> [N, O, T / k, 1]. The chord's constant maps [N, 13] add
    ``y @ (their kernel weights summed)`` at every position (there is no padding)."""
    n, _, t, w = x.shape
    o, _, k, _ = layer.weight.shape
    wx = layer.weight[:, :1].reshape(o, k * w)
    out = x.reshape(n, t // k, k * w) @ wx.t() + layer.bias
    if y is not None:
        out = out + (y @ layer.weight[:, 1:].sum((2, 3)).t())[:, None, :]
    return out.transpose(1, 2)[..., None]


def _conv_block(cin: int, cout: int, kernel: tuple[int, int], stride: tuple[int, int]) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, kernel, stride), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2))


@GENERATORS.register("midinet")
class MidiNetGenerator(nn.Module):
    """z [N, z_dim] (+ chord [N, 13], + prev [N, 1, 16, 128]) -> bars [N, 1, 16, 128] in [0, 1].

    A missing chord reads as the zero vector (no chord), a missing previous bar as silence
    (a song's first bar), so ``G(z)`` always works.
    """

    kind = "noise"  # see gankit.models.contracts; n_classes is 0
    n_classes = 0

    def __init__(self, z_dim: int, chord: bool = True, prev: bool = True, width: int = 128, fc: int = 1024,
                 prev_channels: int = 16):
        super().__init__()
        check_min(1, z_dim=z_dim, width=width, fc=fc, prev_channels=prev_channels)
        self.z_dim, self.use_chord, self.use_prev, self.width = z_dim, chord, prev, width
        y = CHORD_DIM if chord else 0
        pc = prev_channels if prev else 0
        self.fc1 = nn.Sequential(nn.Linear(z_dim + y, fc), nn.BatchNorm1d(fc), nn.ReLU())
        self.fc2 = nn.Sequential(nn.Linear(fc + y, width * 2), nn.BatchNorm1d(width * 2), nn.ReLU())
        self.up = nn.ModuleList(nn.ModuleList([nn.ConvTranspose2d(width + y + pc, width, (2, 1), (2, 1)),
                                               nn.BatchNorm2d(width)]) for _ in range(3))
        self.out = nn.ConvTranspose2d(width + y + pc, 1, (1, PITCHES), (1, 2))
        if prev:
            self.cond = nn.ModuleList([_conv_block(1, pc, (1, PITCHES), (1, 2))] +
                                      [_conv_block(pc, pc, (2, 1), (2, 1)) for _ in range(3)])
        _init(self)

    def conditions(self, prev: Tensor) -> list[Tensor]:
        """The conditioner's maps of the previous bar at 16, 8, 4 and 2 steps."""
        maps, h = [], prev
        for i, (conv, norm, act) in enumerate(self.cond):
            h = act(norm(conv_steps(conv, h) if i == 0 else conv_time(conv, h)))
            maps.append(h)
        return maps

    def forward(self, z: Tensor, chord: Tensor | None = None, prev: Tensor | None = None) -> Tensor:
        n = len(z)
        y = None
        if self.use_chord:
            y = chord.to(z.dtype) if chord is not None else z.new_zeros(n, CHORD_DIM)
        maps: list[Tensor] = []
        if self.use_prev:
            p = prev if prev is not None else z.new_zeros(n, 1, STEPS, PITCHES)
            maps = self.conditions(p.to(z.dtype))[::-1]  # 2, 4, 8, 16 steps
        cat = (lambda h: torch.cat([h, y], 1)) if y is not None else (lambda h: h)
        h = self.fc2(cat(self.fc1(cat(z)))).view(n, self.width, 2, 1)
        for i, (tconv, norm) in enumerate(self.up):
            h = _cat_map(h, y)
            h = torch.relu(norm(tconv_time(tconv, torch.cat([h, maps[i]], 1) if maps else h)))
        h = _cat_map(h, y)
        h = torch.cat([h, maps[3]], 1) if maps else h
        return torch.sigmoid(tconv_pitch(self.out, h))


@DISCRIMINATORS.register("midinet")
class MidiNetDiscriminator(nn.Module):
    """bars [N, 1, 16, 128] (+ chord [N, 13]) -> logits [N]; with ``features=True`` also the
    first layer's maps [N, fm_channels, 8, 1] (for feature matching)."""

    def __init__(self, chord: bool = True, fm_channels: int = 14, channels: int = 77, fc: int = 1024):
        super().__init__()
        check_min(1, fm_channels=fm_channels, channels=channels, fc=fc)
        self.use_chord = chord
        y = CHORD_DIM if chord else 0
        self.conv0 = nn.Conv2d(1 + y, fm_channels, (2, PITCHES), (2, 2))
        self.conv1 = nn.Sequential(nn.Conv2d(fm_channels + y, channels, (4, 1), (2, 2)), nn.BatchNorm2d(channels))
        t = ((STEPS - 2) // 2 + 1 - 4) // 2 + 1  # steps left after the two convolutions (3)
        self.fc = nn.Sequential(nn.Linear(channels * t + y, fc), nn.BatchNorm1d(fc))
        self.head = nn.Linear(fc + y, 1)
        self.act = nn.LeakyReLU(0.2)
        _init(self)

    def forward(self, x: Tensor, chord: Tensor | None = None, features: bool = False):
        y = None
        if self.use_chord:
            y = chord.to(x.dtype) if chord is not None else x.new_zeros(len(x), CHORD_DIM)
        fm = self.act(conv_steps(self.conv0, x, y))
        conv, norm = self.conv1
        h = self.act(norm(conv_time(conv, _cat_map(fm, y)))).flatten(1)
        cat = (lambda v: torch.cat([v, y], 1)) if y is not None else (lambda v: v)
        h = self.act(self.fc(cat(h)))
        logits = self.head(cat(h)).squeeze(1)
        return (logits, fm) if features else logits
