"""R3GAN networks: shapes, identity blocks at init, variance through fresh networks, the paper's
widths and cardinality, conditioning, fixed-filter resampling, one-line config errors."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from gankit.errors import ConfigError
from gankit.models import DISCRIMINATORS, GENERATORS, build_net, rebuild_net
from gankit.models.contracts import is_kind, sample_noise
from gankit.models.r3gan import (R3GANDiscriminator, R3GANGenerator, ResidualBlock, msr_init, stage_widths)
from gankit.nn.resample import Downsample2x, Upsample2x, lowpass_kernel

SMALL = {"width": 16, "blocks": 1}


@pytest.fixture(autouse=True)
def _seed(one_thread):
    torch.manual_seed(0)


@pytest.mark.parametrize("res,ch", [(8, 1), (16, 3), (32, 1), (64, 3)])
def test_shapes_and_contract(res, ch):
    g = R3GANGenerator(res, ch, 8, **SMALL)
    d = R3GANDiscriminator(res, ch, **SMALL)
    x = g(torch.randn(3, 8))
    assert x.shape == (3, ch, res, res) and d(x).shape == (3,)
    assert is_kind(g, "noise") and not is_kind(g, "conditional") and g.z_dim == 8 and g.n_classes == 0
    assert sample_noise(g, 2, torch.Generator().manual_seed(1)).shape == (2, ch, res, res)
    assert len(g.stages) == len(d.stages) == int(math.log2(res)) - 1


def test_every_block_is_the_identity_at_init():
    g = R3GANGenerator(32, 3, 8, width=16, blocks=2)
    d = R3GANDiscriminator(32, 3, width=16, blocks=2)
    blocks = [m for net in (g, d) for m in net.modules() if isinstance(m, ResidualBlock)]
    assert len(blocks) == 2 * 4 * 2
    for b in blocks:
        x = torch.randn(2, b.expand.in_channels, 8, 8)
        assert torch.equal(b(x), x)
        assert torch.count_nonzero(b.project.weight) == 0
        assert b.expand.weight.std() > 0 and b.spatial.weight.std() > 0  # only the last layer is zero


def test_residual_branch_adds_one_over_L_of_the_variance():
    # With the zero layer given a variance-scaling init (as after training), one branch's
    # output has about 1/L of its input's second moment (gain x L^(-1/4) on the two inner layers).
    L = 4
    b = ResidualBlock(64, 2, 16, 3, n_blocks=L)
    msr_init(b.project, 1.0)
    x = torch.randn(32, 64, 16, 16)
    ratio = b.branch(x).pow(2).mean().item() / x.pow(2).mean().item()
    assert ratio == pytest.approx(1 / L, rel=0.25)


@pytest.mark.parametrize("L", [2, 16])
def test_variance_stays_bounded_through_a_deep_stack_of_blocks(L):
    # (1 + 1/L)^L <= e however deep: the stream neither explodes nor dies
    blocks = torch.nn.Sequential(*[ResidualBlock(32, 2, 16, 3, n_blocks=L) for _ in range(L)])
    for b in blocks:
        msr_init(b.project, 1.0)
    x = torch.randn(16, 32, 8, 8)
    ratio = blocks(x).pow(2).mean().item() / x.pow(2).mean().item()
    assert 1.0 < ratio < math.e * 1.3


def test_fresh_networks_keep_activations_of_order_one():
    g = R3GANGenerator(32, 3, 64, width=32, blocks=1)
    d = R3GANDiscriminator(32, 3, width=32, blocks=1)
    z = torch.randn(32, 64)
    with torch.no_grad():
        h = g.basis(z)
        assert h.pow(2).mean().item() == pytest.approx(1.0, rel=0.25)  # basis ~ N(0,1) x linear(z) ~ N(0,1)
        for stage in g.stages:
            h2 = stage(h)
            assert 0.2 < h2.pow(2).mean().item() / h.pow(2).mean().item() <= 1.0  # only interpolation smooths
            h = h2
        img = g(z)
        assert 0.2 < img.std().item() < 2.0
        logits = d(torch.randn(32, 3, 32, 32))
        assert 1e-3 < logits.std().item() < 10.0 and logits.isfinite().all()


def test_paper_widths_and_cardinality():
    assert stage_widths(32, 768, None, "g") == [768] * 4  # CIFAR-10 / ImageNet-32: 3/4 x 1024 per stage
    assert stage_widths(64, 768, None, "g") == [768] * 4 + [384]  # FFHQ-64
    assert stage_widths(256, 768, None, "g") == [768] * 4 + [384, 192, 96]  # FFHQ-256
    # official cardinality 96 at width 768 (x2 expansion): 16 channels per group
    assert ResidualBlock(768, 2, 16, 3, n_blocks=8).spatial.groups == 96
    assert ResidualBlock(384, 2, 16, 3, n_blocks=8).spatial.groups == 48
    assert ResidualBlock(8, 2, 16, 3, n_blocks=1).spatial.groups == 1  # narrower than a group: one group


def test_discriminator_mirrors_the_generator():
    g = R3GANGenerator(32, 1, 8, widths=[32, 16, 16, 8], blocks=[1, 2, 1, 1])
    d = R3GANDiscriminator(32, 1, widths=[32, 16, 16, 8], blocks=[1, 2, 1, 1])
    assert g.widths == [32, 16, 16, 8] and d.widths == [8, 16, 16, 32]
    count = [sum(isinstance(m, ResidualBlock) for m in s.modules()) for s in d.stages]
    assert count == [1, 1, 2, 1]


def test_conditioning_uses_the_label():
    g = R3GANGenerator(16, 3, 8, n_classes=5, **SMALL)
    d = R3GANDiscriminator(16, 3, n_classes=5, **SMALL)
    for p in d.parameters():  # a trained-like D (the zero layers would hide the label's effect on h)
        torch.nn.init.normal_(p, 0, 0.3)
    z = torch.randn(4, 8)
    a, b = g(z, torch.zeros(4, dtype=torch.long)), g(z, torch.full((4,), 3))
    assert not torch.allclose(a, b) and is_kind(g, "conditional")
    assert not torch.allclose(d(a, torch.zeros(4, dtype=torch.long)), d(a, torch.full((4,), 3)))
    with pytest.raises(ValueError, match="conditional"):
        g(z)
    with pytest.raises(ValueError, match="conditional"):
        d(a)


def test_resamplers_are_fixed_bilinear_filters():
    v = torch.tensor([1.0, 3, 3, 1]) / 8  # [1, 2, 1] * [1, 1]: bilinear at half-pixel centres
    assert torch.allclose(lowpass_kernel(), torch.outer(v, v))
    x = torch.randn(2, 3, 8, 8)
    up = Upsample2x()(x)
    ref = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
    assert up.shape == (2, 3, 16, 16) and torch.allclose(up[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], atol=1e-6)
    const = torch.ones(1, 2, 8, 8)
    assert torch.allclose(Downsample2x()(const)[..., 1:-1, 1:-1], torch.ones(1, 2, 2, 2))
    assert Downsample2x()(x).shape == (2, 3, 4, 4)
    assert not list(Upsample2x().state_dict())  # a constant: nothing in checkpoints
    assert sum(p.numel() for p in Upsample2x().parameters()) == 0


def test_registered_and_rebuilt_from_spec():
    g = build_net(GENERATORS, "model.generator", {"name": "r3gan", "width": 8, "blocks": 1},
                  resolution=16, channels=1, z_dim=4, n_classes=0)
    d = build_net(DISCRIMINATORS, "model.discriminator", {"name": "r3gan", "width": 8}, resolution=16, channels=1,
                  n_classes=0)
    g2 = rebuild_net(GENERATORS, g.gankit_spec)
    g2.load_state_dict(g.state_dict())
    z = torch.randn(2, 4)
    assert torch.equal(g(z), g2(z)) and d(g(z)).shape == (2,)


@pytest.mark.parametrize("kwargs,message", [
    ({"width": 8, "group_size": 5}, r"width x expansion = 8 x 2 = 16 is not a multiple of group_size 5"),
    ({"width": 16, "widths": [8, 8, 8]}, r"set either width or widths"),
    ({"widths": [8, 8]}, r"widths needs one width per stage 4x4 .. 16x16 \(3\), got 2"),
    ({"blocks": [1, 1]}, r"blocks needs one count per stage \(3\)"),
    ({"blocks": 0}, r"blocks must be >= 1, got 0"),
    ({"kernel_size": 4}, r"kernel_size must be odd"),
    ({"expansion": 0}, r"expansion must be >= 1"),
    ({"width": "wide"}, r"model.generator.width: expected int, got str"),
    ({"cardinality": 4}, r"model.generator.cardinality: unknown key"),
])
def test_bad_keys_are_one_line_config_errors(kwargs, message):
    with pytest.raises(ConfigError, match=message) as e:
        build_net(GENERATORS, "model.generator", {"name": "r3gan", **kwargs}, resolution=16, channels=1, z_dim=4,
                  n_classes=0)
    assert "\n" not in str(e.value)


def test_unsupported_resolution():
    with pytest.raises(ConfigError, match=r"model.discriminator \(r3gan\): resolution 24: this network supports powers of two >= 8"):
        build_net(DISCRIMINATORS, "model.discriminator", {"name": "r3gan"}, resolution=24, channels=1, n_classes=0)
