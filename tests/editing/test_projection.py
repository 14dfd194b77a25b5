"""Projection into W / W+ on a tiny random style generator (CPU, seconds)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from gankit.editing import projection as P
from gankit.errors import GankitError
from gankit.models.style import StyleGenerator


pytestmark = pytest.mark.usefixtures("one_thread")


def tiny_generator(seed: int = 0, resolution: int = 16) -> StyleGenerator:
    torch.manual_seed(seed)
    G = StyleGenerator(resolution, 3, 16, w_dim=16, mapping_layers=2, width=8, max_channels=16).eval()
    for layer in G.modules():  # noise strengths start at 0: make the noise maps matter
        if hasattr(layer, "strength"):
            layer.strength.data.fill_(0.1)
    return G.requires_grad_(False)


def own_output(G, seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        ws = G.mapping(torch.randn(1, G.z_dim, generator=g), update_w_avg=False)
        return G.synthesis(ws, noise_mode="none")[0]


@pytest.mark.parametrize("space", ["w", "w+"])
def test_projection_lowers_loss(space):
    G = tiny_generator()
    before = {k: v.clone() for k, v in G.state_dict().items()}
    target = own_output(G)
    res = P.project(G, target, space=space, steps=30, perceptual="tiny", w_avg_samples=256, frame_every=10,
                    generator=torch.Generator().manual_seed(0))
    assert len(res.losses) == len(res.distances) == 30
    assert res.distances[-1] < 0.7 * res.distances[0]
    assert res.losses[-1] < res.losses[0]
    assert res.ws.shape == (G.num_ws, G.w_dim) and res.image.shape == (3, 16, 16)
    if space == "w":
        assert torch.equal(res.ws, res.ws[:1].expand_as(res.ws))
    else:
        assert not torch.equal(res.ws, res.ws[:1].expand_as(res.ws))
    assert len(res.frames) == 4 and res.frames[0].shape == (16, 32, 3) and res.frames[0].dtype == np.uint8
    # the caller's generator is untouched (a copy is optimized, noise buffers included)
    assert all(torch.equal(before[k], v) for k, v in G.state_dict().items())
    # noise maps are renormalized to zero mean, unit variance
    for n in res.noises:
        assert abs(float(n.mean())) < 1e-4 and abs(float(n.square().mean()) - 1) < 1e-3
    # the stored noises reproduce the reconstruction
    again = P.reconstruct(G, res.ws, res.noises)[0]
    assert torch.allclose(again, res.image, atol=1e-5)


def test_uint8_target_and_pixel_only():
    G = tiny_generator()
    img = ((own_output(G).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(1, 2, 0).numpy()
    big = np.kron(img, np.ones((2, 2, 1), dtype=np.uint8))  # 32x32 HWC: resized to 16
    res = P.project(G, big, steps=20, perceptual="none", w_avg_samples=64, optimize_noise=False)
    assert res.noises == [] and res.distances[-1] < res.distances[0]


def test_prepare_target_shapes():
    x = P.prepare_target(np.zeros((20, 24), np.uint8), 16, 3)
    assert x.shape == (1, 3, 16, 16) and float(x.max()) == pytest.approx(-1.0)
    y = P.prepare_target(torch.full((4, 8, 8), 255, dtype=torch.uint8), 8, 1)
    assert y.shape == (1, 1, 8, 8) and torch.allclose(y, torch.ones_like(y))
    with pytest.raises(GankitError):
        P.prepare_target(np.zeros((2, 3, 4, 5), np.uint8), 16, 3)


def test_schedule_and_regularizer():
    assert P.lr_schedule(0.0, 0.1) == 0.0
    assert P.lr_schedule(0.5, 0.1) == pytest.approx(0.1)
    assert P.lr_schedule(1.0, 0.1) == pytest.approx(0.0)
    assert 0 < P.lr_schedule(0.9, 0.1) < 0.1
    g = torch.Generator().manual_seed(0)
    white = [torch.randn(1, 1, 64, 64, generator=g)]
    smooth = [torch.nn.functional.interpolate(torch.randn(1, 1, 8, 8, generator=g), size=64, mode="bilinear")]
    assert P.noise_regularizer(smooth) > 100 * P.noise_regularizer(white)


def test_multiscale_l1():
    x, y = torch.zeros(2, 3, 16, 16), torch.ones(2, 3, 16, 16)
    assert torch.allclose(P.multiscale_l1(x, y), torch.ones(2))
    assert torch.equal(P.multiscale_l1(x, x), torch.zeros(2))


def test_bad_inputs():
    G = tiny_generator()
    with pytest.raises(GankitError, match="space"):
        P.project(G, own_output(G), space="z", steps=1, perceptual="none")
    with pytest.raises(GankitError, match="style generator"):
        P.project(torch.nn.Linear(2, 2), own_output(G), steps=1, perceptual="none")
    with pytest.raises(GankitError, match="TorchScript"):
        P.build_perceptual("/nonexistent/lpips.pt")
    with pytest.raises(GankitError, match="unknown"):
        P.project(G, own_output(G), steps=1, perceptual="none", not_an_option=1)


def test_scripted_lpips_network(tmp_path):
    class L1(torch.nn.Module):
        def forward(self, x, y):
            return (x - y).abs().mean(dim=(1, 2, 3))

    path = tmp_path / "lpips.pt"
    torch.jit.script(L1()).save(str(path))
    d = P.build_perceptual(str(path))
    y = torch.zeros(1, 3, 8, 8)
    d.set_target(y)
    assert torch.allclose(d(torch.ones(2, 3, 8, 8)), torch.ones(2))


def _inception_or_skip():
    from gankit.metrics.inception import find_weights

    try:
        find_weights()
    except GankitError as e:
        pytest.skip(f"Inception weights missing: {e}")


def test_inception_perceptual_taps():
    _inception_or_skip()
    d = P.build_perceptual("inception", size=160)  # smaller than 299 to keep CPU time down
    g = torch.Generator().manual_seed(0)
    y = torch.rand(1, 3, 16, 16, generator=g) * 2 - 1
    d.set_target(y)
    assert len(d._target) == len(P.InceptionPerceptual.TAPS)
    x = (torch.rand(1, 3, 16, 16, generator=g) * 2 - 1).requires_grad_(True)
    dist = d(x)
    dist.sum().backward()
    assert float(d(y)) < 1e-6 < float(dist.detach())
    assert x.grad is not None and float(x.grad.abs().sum()) > 0
