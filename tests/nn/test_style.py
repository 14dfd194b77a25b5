"""Style layers: modulated conv against an explicit per-sample reference, demodulation,
equalized learning rate, mapping, noise, AdaIN and minibatch std."""

import math

import pytest
import torch
import torch.nn.functional as F

from gankit.nn.style import (
    AdaINConv, EqualConv2d, EqualLinear, MappingNetwork, MinibatchStd, ModulatedConv2d, NoiseInjection, ToRGB,
    modulated_conv2d,
)


def reference_modconv(x, weight, styles, demodulate):
    """Explicit loop: build each sample's weight, convolve that sample alone."""
    outs = []
    for n in range(x.shape[0]):
        w = weight * styles[n].view(1, -1, 1, 1)
        if demodulate:
            w = w / torch.sqrt((w ** 2).sum(dim=(1, 2, 3), keepdim=True) + 1e-8)
        outs.append(F.conv2d(x[n : n + 1], w, padding=weight.shape[-1] // 2))
    return torch.cat(outs)


@pytest.mark.parametrize("demodulate", [True, False])
@pytest.mark.parametrize("up", [False, True])
@pytest.mark.parametrize("fused", [True, False])
def test_modulated_conv_matches_per_sample_reference(demodulate, up, fused):
    torch.manual_seed(0)
    conv = ModulatedConv2d(5, 7, 3, w_dim=6, demodulate=demodulate, up=up, fused=fused)
    with torch.no_grad():
        conv.affine.bias.normal_()  # make styles differ clearly from 1
    x, w = torch.randn(3, 5, 8, 8), torch.randn(3, 6)
    out = conv(x, w)
    styles = conv.affine(w)
    xin = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False) if up else x
    ref = reference_modconv(xin, conv.weight * conv.weight_gain, styles, demodulate)
    assert out.shape == (3, 7, 16 if up else 8, 16 if up else 8)
    torch.testing.assert_close(out, ref, atol=1e-5, rtol=1e-5)


def test_samples_get_different_weights():
    torch.manual_seed(0)
    weight = torch.randn(4, 3, 3, 3)
    x = torch.randn(1, 3, 6, 6).repeat(2, 1, 1, 1)
    styles = torch.stack([torch.ones(3), torch.tensor([1.0, 0.0, 3.0])])
    out = modulated_conv2d(x, weight, styles, demodulate=False, padding=1)
    torch.testing.assert_close(out[0], F.conv2d(x[:1], weight, padding=1)[0])
    assert not torch.allclose(out[0], out[1])


@pytest.mark.parametrize("fused", [True, False])
def test_demodulation_gives_unit_output_variance(fused):
    torch.manual_seed(0)
    x = torch.randn(8, 32, 24, 24)
    weight = torch.randn(16, 32, 3, 3)
    styles = torch.rand(8, 32) * 5 + 0.1  # large, uneven styles: without demod variance explodes
    out = modulated_conv2d(x, weight, styles, demodulate=True, padding=1, fused=fused)[:, :, 1:-1, 1:-1]
    assert abs(out.var().item() - 1.0) < 0.05
    # and per output channel, not only on average
    per_channel = out.transpose(0, 1).flatten(1).var(dim=1)
    assert (per_channel - 1.0).abs().max().item() < 0.15
    raw = modulated_conv2d(x, weight, styles, demodulate=False, padding=1, fused=fused)[:, :, 1:-1, 1:-1]
    assert raw.var().item() > 10


def test_default_fusion_follows_train_mode(monkeypatch):
    import gankit.nn.style as style_mod

    torch.manual_seed(0)
    conv = ModulatedConv2d(4, 4, 3, w_dim=3)
    x, w = torch.randn(2, 4, 6, 6), torch.randn(2, 3)
    seen = []
    real = style_mod.modulated_conv2d
    monkeypatch.setattr(style_mod, "modulated_conv2d", lambda *a, **k: seen.append(k["fused"]) or real(*a, **k))
    train_out = conv.train()(x, w)
    torch.testing.assert_close(conv.eval()(x, w), train_out, atol=1e-5, rtol=1e-5)
    assert seen == [False, True]  # shared-weight form to train, grouped conv to infer


def test_equalized_lr_scaling_and_lr_mul():
    torch.manual_seed(0)
    lin = EqualLinear(100, 50, lr_mul=0.01, bias_init=1.0)
    # stored weights are N(0, 1/lr_mul^2); the effective weight is N(0, 1/fan_in)
    assert 80 < lin.weight.std().item() < 120
    x = torch.randn(2, 100)
    torch.testing.assert_close(lin(x), x @ (lin.weight * 0.01 / 10).t() + 1.0)
    conv = EqualConv2d(8, 4, 3)
    xi = torch.randn(1, 8, 5, 5)
    torch.testing.assert_close(conv(xi), F.conv2d(xi, conv.weight / math.sqrt(72), conv.bias, padding=1))


def test_mapping_normalizes_z_and_embeds_classes():
    torch.manual_seed(0)
    m = MappingNetwork(8, 16, num_layers=3)
    z = torch.randn(4, 8)
    # 2nd-moment normalization: the scale of z does not matter
    torch.testing.assert_close(m(z), m(z * 7.0), atol=1e-5, rtol=1e-4)
    assert m(z).shape == (4, 16) and len(m.layers) == 3
    mc = MappingNetwork(8, 16, num_layers=2, n_classes=3)
    c = torch.tensor([0, 1, 2, 0])
    w = mc(z, c)
    assert not torch.allclose(w[0], mc(z, torch.tensor([1, 1, 2, 0]))[0])
    torch.testing.assert_close(w, mc(z, F.one_hot(c, 3).float()))
    with pytest.raises(ValueError, match="labels"):
        mc(z)


def test_noise_modes():
    torch.manual_seed(0)
    noise = NoiseInjection(4)
    x = torch.zeros(2, 3, 4, 4)
    torch.testing.assert_close(noise(x, "random"), x)  # strength starts at 0
    with torch.no_grad():
        noise.strength.fill_(2.0)
    assert torch.equal(noise(x, "none"), x)
    torch.testing.assert_close(noise(x, "const"), (2.0 * noise.noise_const).expand(2, 3, 4, 4))
    g1, g2 = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    a, b = noise(x, "random", g1), noise(x, "random", g2)
    assert torch.equal(a, b) and not torch.equal(a[0], a[1])
    assert torch.equal(a[:, 0], a[:, 2])  # one noise map shared by all channels
    with pytest.raises(ValueError):
        noise(x, "fixed")


def test_adain_normalizes_then_applies_style():
    torch.manual_seed(0)
    layer = AdaINConv(4, 6, w_dim=5, resolution=8, up=True)
    x, w = torch.randn(2, 4, 4, 4) * 3 + 2, torch.randn(2, 5)
    out = layer(x, w, "none")
    scale, shift = layer.style_scale(w), layer.style_shift(w)
    torch.testing.assert_close(out.mean(dim=(2, 3)), shift, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out.std(dim=(2, 3), unbiased=False), scale.abs(), atol=1e-3, rtol=1e-3)
    assert out.shape == (2, 6, 8, 8)


def test_torgb_is_not_demodulated():
    rgb = ToRGB(4, 3, w_dim=5)
    assert rgb.conv.demodulate is False and rgb(torch.randn(2, 4, 8, 8), torch.randn(2, 5)).shape == (2, 3, 8, 8)


def reference_mbstd(x, group):
    n = x.shape[0]
    out = []
    for i in range(n):
        members = [j for j in range(n) if j % (n // group) == i % (n // group)]
        std = x[members].std(dim=0, unbiased=False).mean()
        out.append(torch.cat([x[i], std.expand(1, *x.shape[2:])]))
    return torch.stack(out)


@pytest.mark.parametrize("n,group", [(8, 4), (6, 3), (5, 1), (2, 2)])
def test_minibatch_std_against_reference(n, group):
    torch.manual_seed(0)
    x = torch.randn(n, 3, 4, 4)
    out = MinibatchStd(group_size=4)(x)
    assert out.shape == (n, 4, 4, 4)
    torch.testing.assert_close(out, reference_mbstd(x, group), atol=1e-4, rtol=1e-4)


def test_minibatch_std_sees_diversity():
    same = torch.randn(1, 3, 4, 4).repeat(4, 1, 1, 1)
    assert MinibatchStd()(same)[:, -1].max() < 1e-3
    assert MinibatchStd()(torch.randn(4, 3, 4, 4))[:, -1].min() > 0.3
    assert MinibatchStd(num_channels=3)(torch.randn(4, 3, 4, 4)).shape == (4, 6, 4, 4)
