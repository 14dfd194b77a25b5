"""Sources of the mode-coverage benchmark: 2-D mixtures and stacked Fashion-MNIST (on tiny
stand-in IDX files), and the point networks they train."""

from __future__ import annotations

import pytest
import torch

from gankit.config import load_config
from gankit.data.base import source_fields
from gankit.data.sources import build_source
from gankit.data.stacked import StackedFashion
from gankit.data.stream import BatchStream
from gankit.data.synthetic import write_fashion_idx as fake_fashion
from gankit.errors import ConfigError
from gankit.models import DISCRIMINATORS, GENERATORS, build_net


def test_stacked_fashion_is_deterministic_and_labels_its_triples(tmp_path):
    fake_fashion(tmp_path)
    a, b = StackedFashion(str(tmp_path), resolution=32), StackedFashion(str(tmp_path), resolution=32)
    assert torch.equal(a.images, b.images) and torch.equal(a.triples, b.triples)
    assert not torch.equal(a.triples, StackedFashion(str(tmp_path), resolution=32, seed=1).triples)
    assert a.images.shape == (40, 3, 32, 32) and a.n_classes == 1000
    for ch in range(3):  # every image of the split appears once per channel
        assert sorted(a.triples[:, ch].tolist()) == list(range(40))
    base_labels = torch.arange(40) % 10
    want = 100 * base_labels[a.triples[:, 0]] + 10 * base_labels[a.triples[:, 1]] + base_labels[a.triples[:, 2]]
    assert torch.equal(a.labels, want)
    x, m = a[3]
    assert x.dtype == torch.uint8 and m == int(want[3])
    # the channel is the class's fill value (resized, so up to rounding and noise)
    assert abs(float(x[1].float().mean()) - 25 * int(base_labels[a.triples[3, 1]]) - 4.5) < 3


def test_stacked_source_config(tmp_path, monkeypatch):
    monkeypatch.setenv("GANKIT_FASHION_MNIST", str(fake_fashion(tmp_path)))
    src = build_source(load_config(None, ["data.name=stacked_fashion", "data.channels=3"]).data)
    assert src.target_kind == "none" and len(src) == 40  # labels kept for evaluation, not trained on
    with pytest.raises(ConfigError, match="data.channels=1: the 'stacked_fashion' dataset is RGB"):
        build_source(load_config(None, ["data.name=stacked_fashion"]).data)


def test_point_sources_need_points_shape_and_stream_tensors():
    cfg = load_config("gan_ring8")
    src = build_source(cfg.data)
    assert source_fields(src) == (("x", "tensor"),) and len(src) == 100_000
    batch = next(BatchStream(src, 16, resident=True, hflip=False))
    assert batch.x.shape == (16, 2) and batch.x.dtype == torch.float32 and batch.x.abs().max() < 2.5
    with pytest.raises(ConfigError, match="data.channels=1, data.resolution=32: the 'grid25' dataset is 2-D points"):
        build_source(load_config(None, ["data.name=grid25"]).data)
    with pytest.raises(ConfigError, match="data.hflip: the 'ring8' dataset is 2-D points"):
        build_source(load_config("gan_ring8", ["data.hflip=true"]).data)


def test_points_mlp_networks():
    torch.manual_seed(0)
    g = build_net(GENERATORS, "model.generator", {"name": "points_mlp"}, resolution=1, channels=2, z_dim=256, n_classes=0)
    d = build_net(DISCRIMINATORS, "model.discriminator", {"name": "points_mlp", "norm": "spectral"},
                  resolution=1, channels=2, n_classes=0)
    assert g.kind == "noise" and g.z_dim == 256 and g(torch.randn(5, 256)).shape == (5, 2)
    assert d(torch.randn(5, 2)).shape == (5,)
    w = g.net[0].weight  # orthogonal rows with gain 0.8 (the unrolled-GAN paper's init)
    assert torch.allclose(w @ w.T, 0.64 * torch.eye(128), atol=1e-5)
    assert sum(isinstance(m, torch.nn.Linear) for m in g.net) == 3  # 2 hidden layers + output
    assert sum(isinstance(m, torch.nn.Linear) for m in d.net) == 2  # 1 hidden layer + logit
    assert any("parametrizations" in n for n, _ in d.named_parameters())  # spectral norm on
    x = torch.tensor([[4.0, -4.0]])  # input scale 1/4: the same as feeding [1, -1] unscaled
    quarter = build_net(DISCRIMINATORS, "model.discriminator", {"name": "points_mlp"}, resolution=1, channels=2, n_classes=0)
    plain = build_net(DISCRIMINATORS, "model.discriminator", {"name": "points_mlp", "input_scale": 1.0},
                      resolution=1, channels=2, n_classes=0)
    plain.load_state_dict(quarter.state_dict())
    assert torch.allclose(quarter(x), plain(x / 4)) and not torch.allclose(quarter(x), plain(x))
    with pytest.raises(ConfigError, match="data.resolution must be 1"):
        build_net(GENERATORS, "model.generator", {"name": "points_mlp"}, resolution=32, channels=2, z_dim=8, n_classes=0)
    with pytest.raises(ConfigError, match="unconditional"):
        build_net(DISCRIMINATORS, "model.discriminator", {"name": "points_mlp"}, resolution=1, channels=2, n_classes=8)
