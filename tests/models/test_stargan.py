"""StarGAN / ACL-GAN networks: shapes, heads, mask composite, framing, bidirectional growing."""

import pytest
import torch
import torch.nn.functional as F

from gankit.errors import ConfigError
from gankit.models.base import DISCRIMINATORS, GENERATORS, build_net
from gankit.models.stargan import (DiscOut, EditOut, StarGANDiscriminator, StarGANGenerator, composite,
                                   frame_mask)

A = 4


def _gen(**kw):
    torch.manual_seed(0)
    return StarGANGenerator(32, 3, A, width=8, n_res=1, **kw)


def _inputs(n=2, r=32, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(n, 3, r, r, generator=g) * 2 - 1, torch.randint(0, 2, (n, A), generator=g).float()


def test_registered_and_built_with_injected_shape_args():
    assert GENERATORS.get("stargan") is StarGANGenerator
    assert DISCRIMINATORS.get("stargan") is StarGANDiscriminator
    g = build_net(GENERATORS, "model.generator", {"name": "stargan", "width": 8, "n_res": 1},
                  resolution=32, channels=3, c_dim=A)
    assert g.gankit_spec["kwargs"]["c_dim"] == A
    with pytest.raises(ConfigError, match="n_layers"):
        build_net(DISCRIMINATORS, "model.discriminator", {"name": "stargan", "n_layers": 6},
                  resolution=32, channels=3, c_dim=A)


def test_generator_output_shape_range_and_conditioning():
    g = _gen()
    x, c = _inputs()
    y = g(x, c)
    assert y.shape == x.shape and y.abs().max() <= 1
    assert not torch.allclose(y, g(x, 1 - c))  # the attribute vector changes the edit
    parts = g.forward_parts(x, c)
    assert isinstance(parts, EditOut) and parts.mask is None and parts.segment is None
    assert torch.equal(g(x, c, parts=True).image, y)
    with pytest.raises(ValueError, match=r"c must be \[2, 4\]"):
        g(x, c[:, :2])


def test_composite_keeps_input_exactly_where_mask_is_zero():
    x, _ = _inputs()
    seg = torch.rand_like(x)
    m = (torch.rand(2, 1, 32, 32) > 0.5).float()
    y = composite(x, m, seg)
    keep = (m == 0).expand_as(x)
    assert torch.equal(y[keep], x[keep])
    assert torch.equal(y[~keep], seg[~keep])


def test_masked_generator_is_composite_and_frame_is_exact():
    g = _gen(mask=True, frame=3)
    x, c = _inputs()
    out = g.forward_parts(x, c)
    assert out.mask.shape == (2, 1, 32, 32) and out.segment.shape == x.shape
    assert torch.allclose(out.image, out.mask * out.segment + (1 - out.mask) * x)
    border = frame_mask(32, 3, 32, x) == 0
    assert border.sum() == 32 * 32 - 26 * 26
    assert torch.all(out.mask[border.expand_as(out.mask)] == 0)
    b = border.expand_as(x)
    assert torch.equal(out.image[b], x[b])  # bit-exact, not just close
    assert (out.mask[~border.expand_as(out.mask)] > 0).all()  # inside the frame the mask is free


def test_frame_without_mask_still_fixes_border():
    g = _gen(frame=2)
    x, c = _inputs()
    y = g(x, c)
    b = (frame_mask(32, 2, 32, x) == 0).expand_as(x)
    assert torch.equal(y[b], x[b]) and not torch.equal(y[~b], x[~b])


def test_frame_scales_up_at_low_stages():
    fm = frame_mask(8, 1, 32, torch.zeros(1))  # 1/4 px rounds up to one pixel
    assert fm[0, 0, 0].sum() == 0 and fm[0, 0, 1, 1] == 1 and fm[0, 0, 1:7, 1:7].all()


@pytest.mark.parametrize("mask", [False, True])
def test_growing_generator_shapes_at_every_stage(mask):
    g = _gen(grow=True, mask=mask, frame=2)
    assert g.n_stages == 3 and g.stage == 2  # a grown net starts as the full network
    for stage, r in enumerate([8, 16, 32]):
        for alpha in (0.0, 0.5, 1.0):
            g.set_stage(stage, alpha)
            x, c = _inputs(r=r)
            parts = g.forward_parts(x, c)
            assert parts.image.shape == (2, 3, r, r)
            assert (parts.mask is not None) == mask
    with pytest.raises(ValueError):
        g.set_stage(3)
    with pytest.raises(ValueError, match=r"\[N, 3, 16, 16\]"):
        g.set_stage(1)
        g(*_inputs(r=8))


@pytest.mark.parametrize("mask", [False, True])
def test_a_mid_growth_generator_edits_full_size_images(mask):
    """Scoring a checkpoint taken mid-growth: the edit is made at the stage's resolution,
    upsampled, and composited with the full-size input (the frame stays exact)."""
    g = _gen(grow=True, mask=mask, frame=2)
    g.set_stage(1, 0.5)
    x, c = _inputs(r=32)
    with torch.no_grad():
        out = g(x, c, parts=True)
        low = g(F.adaptive_avg_pool2d(x, 16), c, parts=True)
    assert out.image.shape == x.shape
    up = lambda t: F.interpolate(t, size=(32, 32), mode="bilinear", align_corners=False)  # noqa: E731
    if mask:
        assert torch.allclose(out.segment, up(low.segment)) and out.mask.shape == (2, 1, 32, 32)
        assert torch.allclose(out.image, out.mask * out.segment + (1 - out.mask) * x, atol=1e-6)
    else:
        inner = (slice(None), slice(None), slice(2, 30), slice(2, 30))
        assert torch.allclose(out.image[inner], up(low.image)[inner])
    assert torch.equal(out.image[..., :2, :], x[..., :2, :]) and torch.equal(out.image[..., -2:], x[..., -2:])


def test_generator_fade_in_blend_at_alpha_0_and_1():
    g = _gen(grow=True, mask=True)
    x, c = _inputs(r=16)
    g.set_stage(0)
    old = F.interpolate(g.raw(F.avg_pool2d(x, 2), c), scale_factor=2.0, mode="nearest")
    g.set_stage(1, 0.0)
    assert torch.allclose(g.raw(x, c), old, atol=1e-6)  # alpha 0: the previous stage, upsampled
    g.set_stage(1, 1.0)
    new = g.raw(x, c)
    with torch.no_grad():  # alpha 1: the old stage's stem/to-RGB (level 2) no longer matter
        for p in list(g.from_rgb["2"].parameters()) + list(g.to_rgb["2"].parameters()):
            p.add_(0.1)
    assert torch.allclose(g.raw(x, c), new)
    g.set_stage(1, 0.5)  # in between both blends (encoder and decoder side) are active
    mid = g.raw(x, c)
    assert torch.isfinite(mid).all() and not torch.allclose(mid, new) and not torch.allclose(mid, old)


@pytest.mark.parametrize("heads,polarity,k", [("adv_cls", "both", A), ("attribute", "both", 2 * A),
                                               ("attribute", "positive", A)])
def test_discriminator_heads(heads, polarity, k):
    d = StarGANDiscriminator(32, 3, A, width=8, n_layers=3, heads=heads, polarity=polarity)
    out = d(_inputs()[0])
    assert isinstance(out, DiscOut) and out.aux.shape == (2, k)
    if heads == "adv_cls":
        assert out.adv.shape == (2, 1, 4, 4)
    else:
        assert out.adv is None


def test_growing_discriminator_shapes_and_fade():
    torch.manual_seed(0)
    d = StarGANDiscriminator(32, 3, A, width=8, n_layers=3, heads="attribute", grow=True, grow_stages=3)
    for stage, r in enumerate([8, 16, 32]):
        for alpha in (0.0, 1.0):
            d.set_stage(stage, alpha)
            assert d(torch.randn(2, 3, r, r)).aux.shape == (2, 2 * A)
    x = torch.randn(2, 3, 32, 32)
    d.set_stage(1)
    low = d(F.avg_pool2d(x, 2)).aux
    d.set_stage(2, 0.0)
    assert torch.allclose(d(x).aux, low, atol=1e-6)
    d.set_stage(2, 1.0)
    full = d(x).aux
    with torch.no_grad():
        for p in d.from_rgb["1"].parameters():
            p.add_(0.1)
    assert torch.allclose(d(x).aux, full) and not torch.allclose(d(x).aux, low)


def test_norm_is_exactly_affine_instance_norm():
    from gankit.models.stargan import _norm

    torch.manual_seed(0)
    gn, inn = _norm(6), torch.nn.InstanceNorm2d(6, affine=True)
    with torch.no_grad():
        gn.weight.normal_(), gn.bias.normal_()
        inn.weight.copy_(gn.weight), inn.bias.copy_(gn.bias)
    x = torch.randn(3, 6, 5, 5) * 3 + 1
    assert torch.allclose(gn(x), inn(x), atol=1e-5)
