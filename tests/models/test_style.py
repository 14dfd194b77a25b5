"""Style generator (mapping, truncation, w_avg, mixing, both synthesis variants) and the
residual/minibatch-std discriminator."""

import pytest
import torch

from gankit.models.base import DISCRIMINATORS, GENERATORS, build_net
from gankit.models.style import StyleDiscriminator, StyleGenerator

TINY = dict(w_dim=16, mapping_layers=2, width=4, max_channels=8)


def make_g(synthesis="modulated", resolution=16, n_classes=0, seed=0):
    torch.manual_seed(seed)
    return StyleGenerator(resolution, 3, 8, n_classes=n_classes, synthesis=synthesis, **TINY)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("resolution,num_ws", [(8, 4), (32, 8), (64, 10)])
def test_mapping_shapes_and_num_ws(resolution, num_ws):
    g = make_g(resolution=resolution)
    ws = g.mapping(torch.randn(5, 8))
    assert g.num_ws == num_ws and ws.shape == (5, num_ws, 16)
    assert torch.equal(ws[:, 0], ws[:, -1])  # the same w broadcast to every layer


@pytest.mark.parametrize("synthesis", ["modulated", "adain"])
def test_synthesis_shape_and_gradients(synthesis):
    g = make_g(synthesis, resolution=32)
    d = StyleDiscriminator(32, 3, width=4, max_channels=8)
    z = torch.randn(4, 8)
    x = g(z, generator=gen())
    assert x.shape == (4, 3, 32, 32) and torch.isfinite(x).all()
    d(x).mean().backward()
    for name, p in list(g.named_parameters()):
        if "strength" in name:
            continue  # noise strengths start at 0 -> their grads are real but tiny; checked below
        assert p.grad is not None and p.grad.abs().sum() > 0, name
    assert all(p.grad is not None for p in d.parameters())


def test_noise_modes_in_synthesis():
    g = make_g()
    for m in g.modules():
        if hasattr(m, "strength"):
            m.strength.data.fill_(0.5)
    ws = g.mapping(torch.randn(2, 8))
    a, b = g.synthesis(ws, "random", gen(1)), g.synthesis(ws, "random", gen(1))
    assert torch.equal(a, b) and not torch.equal(a, g.synthesis(ws, "random", gen(2)))
    assert torch.equal(g.synthesis(ws, "const"), g.synthesis(ws, "const"))
    assert not torch.equal(g.synthesis(ws, "const"), g.synthesis(ws, "none"))
    assert len(g.noise_buffers()) == g.num_ws - 1  # one per conv layer (ToRGB has none)
    with pytest.raises(ValueError, match="ws must be"):
        g.synthesis(ws[:, :3])


def test_truncation_toward_w_avg():
    g = make_g().eval()
    g.w_avg.normal_()
    z = torch.randn(3, 8)
    w = g.mapping(z)
    assert torch.equal(g.mapping(z, truncation=0.0), g.w_avg.expand_as(w))
    assert torch.equal(g.mapping(z, truncation=1.0), w)
    torch.testing.assert_close(g.mapping(z, truncation=0.5), (w + g.w_avg) / 2)


def test_w_avg_updates_only_in_train_mode():
    g = make_g()
    z = torch.randn(6, 8)
    g.eval()
    g.mapping(z)
    assert torch.equal(g.w_avg, torch.zeros(16))
    g.train()
    w = g.mapping(z)[:, 0]
    torch.testing.assert_close(g.w_avg, 0.005 * w.mean(0))  # lerp(mean, 0, 0.995)
    before = g.w_avg.clone()
    g.mapping(torch.randn(6, 8), update_w_avg=False)
    assert torch.equal(g.w_avg, before)


def test_style_mixing_takes_layers_from_the_right_w():
    g = make_g()
    n, L = 64, g.num_ws
    ws, ws2 = torch.randn(n, L, 16), torch.randn(n, L, 16)
    mixed = g.mix_ws(ws, ws2, prob=1.0, generator=gen())
    cuts = []
    for i in range(n):
        from2 = [torch.equal(mixed[i, l], ws2[i, l]) for l in range(L)]
        from1 = [torch.equal(mixed[i, l], ws[i, l]) for l in range(L)]
        k = from2.index(True)
        assert 1 <= k <= L - 1
        assert all(from1[:k]) and all(from2[k:])
        cuts.append(k)
    assert len(set(cuts)) > 3  # crossover point is random
    assert torch.equal(g.mix_ws(ws, ws2, prob=0.0, generator=gen()), ws)
    assert torch.equal(g.mix_ws(ws, ws2, 0.5, gen(3)), g.mix_ws(ws, ws2, 0.5, gen(3)))


def test_forward_with_mixing_is_reproducible():
    g = make_g().eval()
    z = torch.randn(2, 8)
    a = g(z, mix_prob=1.0, generator=gen(5))
    assert torch.equal(a, g(z, mix_prob=1.0, generator=gen(5)))
    assert not torch.equal(a, g(z, noise_mode="none", mix_prob=0.0))


def test_conditional_generator_and_discriminator():
    g = make_g(n_classes=4)
    d = StyleDiscriminator(16, 3, n_classes=4, width=4, max_channels=8)
    z, c = torch.randn(4, 8), torch.tensor([0, 1, 2, 3])
    x = g(z, c, noise_mode="none")
    assert not torch.allclose(x[0], g(z, torch.tensor([1, 1, 2, 3]), noise_mode="none")[0])
    with torch.no_grad():
        d.embed.weight.normal_()
    out = d(x, c)
    assert out.shape == (4,)
    assert not torch.allclose(out, d(x, torch.tensor([3, 2, 1, 0])))
    with pytest.raises(ValueError, match="labels"):
        d(x)


@pytest.mark.parametrize("resolution", [32, 64, 128])
def test_discriminator_shapes(resolution):
    d = StyleDiscriminator(resolution, 1, width=2, max_channels=8, mbstd_group=4)
    out = d(torch.randn(6, 1, resolution, resolution))
    assert out.shape == (6,)
    assert len(d.blocks) == {32: 3, 64: 4, 128: 5}[resolution]
    with pytest.raises(ValueError, match="expected images"):
        d(torch.randn(2, 3, resolution, resolution))


def test_discriminator_uses_minibatch_std():
    torch.manual_seed(0)
    d = StyleDiscriminator(8, 3, width=4, max_channels=4)
    x = torch.randn(4, 3, 8, 8)
    alone = d(x[:1].repeat(4, 1, 1, 1))[0]  # same sample in a batch of copies: std channel 0
    assert not torch.allclose(d(x)[0], alone)


def test_registered_and_buildable_from_config():
    assert GENERATORS.get("style") is StyleGenerator and DISCRIMINATORS.get("style") is StyleDiscriminator
    g = build_net(GENERATORS, "model.generator", {"name": "style", "synthesis": "adain", **TINY},
                  resolution=32, channels=1, z_dim=8, n_classes=0)
    assert g.synthesis_kind == "adain" and g.gankit_spec["kwargs"]["width"] == 4


def test_bad_arguments():
    with pytest.raises(ValueError, match="synthesis"):
        StyleGenerator(32, 3, 8, synthesis="stylegan3")
    with pytest.raises(ValueError, match="power of two"):
        StyleGenerator(48, 3, 8)
    with pytest.raises(ValueError, match="power of two"):
        StyleDiscriminator(100, 3)


def test_state_dict_round_trip_includes_w_avg():
    g = make_g()
    g.w_avg.fill_(0.25)
    h = make_g(seed=1)
    h.load_state_dict(g.state_dict())
    z = torch.randn(2, 8)
    assert torch.equal(h.w_avg, g.w_avg)
    assert torch.equal(h(z, noise_mode="const", truncation=0.7), g(z, noise_mode="const", truncation=0.7))


@pytest.mark.parametrize("synthesis", ["modulated", "adain"])
def test_double_backward_for_r1_and_path_length(synthesis):
    """Lazy R1 (D) and path-length regularization (G) differentiate through input gradients."""
    g, d = make_g(synthesis, resolution=8), StyleDiscriminator(8, 3, width=4, max_channels=8)
    x = torch.randn(4, 3, 8, 8, requires_grad=True)
    (gx,) = torch.autograd.grad(d(x).sum(), x, create_graph=True)
    gx.square().sum().backward()
    assert d.from_rgb.weight.grad.abs().sum() > 0
    ws = g.mapping(torch.randn(4, 8))
    img = g.synthesis(ws, "const")
    (gw,) = torch.autograd.grad((img * torch.randn_like(img)).sum(), ws, create_graph=True)
    gw.square().sum(2).mean(1).sqrt().mean().backward()
    assert g.const.grad is not None and g.const.grad.abs().sum() > 0
