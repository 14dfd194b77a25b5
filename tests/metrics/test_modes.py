"""The mode counters (issue 13): 2-D mixtures against known coverage, KL against its formula,
the benchmark mixtures' geometry, the channel labelling of stacked images."""

from __future__ import annotations

import math

import pytest
import torch

from gankit.data.points import MixturePoints, grid_centers, ring_centers, sample_mixture
from gankit.data.stacked import split_triple, triple_label
from gankit.metrics.modes import channel_labels, histogram_stats, kl_to_uniform, point_mode_stats


def test_ring_has_8_distinct_modes_at_2pi_k_over_8():
    c = ring_centers()
    assert c.shape == (8, 2)
    assert torch.allclose(c.norm(dim=1), torch.full((8,), 2.0))
    angles = torch.atan2(c[:, 1].double(), c[:, 0].double()) % (2 * math.pi)
    assert torch.allclose(angles, torch.arange(8, dtype=torch.float64) * math.pi / 4, atol=1e-6)
    d = torch.cdist(c, c) + torch.eye(8) * 100
    # neighbours on the circle are 2 * r * sin(pi / 8) apart; linspace(0, 2 pi, 8) would give 0
    assert d.min().item() == pytest.approx(4 * math.sin(math.pi / 8), rel=1e-5)


def test_grid_is_5x5_from_minus4_to_4_step_2():
    c = grid_centers()
    assert c.shape == (25, 2)
    assert sorted(set(c[:, 0].tolist())) == [-4.0, -2.0, 0.0, 2.0, 4.0]
    assert len({tuple(p) for p in c.tolist()}) == 25


def test_points_exactly_at_5_of_8_modes():
    c = ring_centers()
    pts = c[[0, 1, 2, 3, 4]].repeat_interleave(100, 0)  # 100 points on each of 5 modes
    s = point_mode_stats(pts, c, 0.02)
    assert s["modes"] == 5 and s["hq"] == 1.0
    assert s["counts"] == [100] * 5 + [0] * 3
    assert s["kl"] == pytest.approx(math.log(8 / 5))


def test_high_quality_is_within_3_sigma_and_min_count():
    c = ring_centers()
    inside = c[0] + torch.tensor([2.9 * 0.02, 0.0])
    outside = c[1] + torch.tensor([0.0, 3.1 * 0.02])
    s = point_mode_stats(torch.stack([inside, outside]), c, 0.02)
    assert s["hq"] == 0.5 and s["modes"] == 1 and s["counts"][0] == 1 and s["counts"][1] == 0
    assert point_mode_stats(torch.stack([inside, inside, c[2]]), c, 0.02, min_count=2)["modes"] == 1


def test_uniform_noise_is_rarely_high_quality_and_nan_is_never():
    g = torch.Generator().manual_seed(0)
    noise = torch.rand(20000, 2, generator=g) * 6 - 3
    s = point_mode_stats(noise, ring_centers(), 0.02)
    # expected: 8 discs of radius 0.06 in a 6 x 6 square = 0.25 % of the points
    assert s["hq"] == pytest.approx(8 * math.pi * 0.06 ** 2 / 36, abs=0.0015)
    bad = torch.tensor([[float("nan"), 0.0], [2.0, 0.0]])
    assert point_mode_stats(bad, ring_centers(), 0.02)["hq"] == 0.5


def test_real_mixture_is_989_percent_high_quality():
    """Within 3 sigma of an isotropic 2-D Gaussian: 1 - exp(-9 / 2) = 98.89 %."""
    c = grid_centers()
    pts, _ = sample_mixture(c, 0.05, 40000, torch.Generator().manual_seed(1))
    s = point_mode_stats(pts, c, 0.05)
    assert s["modes"] == 25 and s["hq"] == pytest.approx(1 - math.exp(-4.5), abs=0.002)


def test_kl_to_uniform_formula():
    assert kl_to_uniform(torch.full((1000,), 7)) == pytest.approx(0.0, abs=1e-12)
    for k in (1, 10, 100, 999):
        counts = torch.zeros(1000, dtype=torch.long)
        counts[torch.randperm(1000)[:k]] = 13
        assert kl_to_uniform(counts) == pytest.approx(math.log(1000 / k))
    assert math.isnan(kl_to_uniform(torch.zeros(8)))
    s = histogram_stats(torch.tensor([3, 3, 5, 999]), 1000)
    # p = (1/2, 1/4, 1/4): KL = log 1000 - H(p), H = 1.5 log 2
    assert s["modes"] == 3 and s["kl"] == pytest.approx(math.log(1000) - 1.5 * math.log(2))


def test_triple_labels_round_trip_and_channel_order():
    m = torch.arange(1000)
    assert torch.equal(triple_label(split_triple(m)), m)

    class MeanClassifier(torch.nn.Module):
        """Predicts class round(4.5 * (mean + 1)) of a gray image in [-1, 1]."""

        def __init__(self):
            super().__init__()
            self.p = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            k = ((x.mean((1, 2, 3)) + 1) * 4.5).round().long()
            return torch.nn.functional.one_hot(k, 10).float()

    levels = torch.tensor([7, 2, 9]).float() / 4.5 - 1  # channel values that read as classes 7, 2, 9
    imgs = levels.view(1, 3, 1, 1).expand(2, 3, 8, 8)
    lab = channel_labels(MeanClassifier(), imgs)
    assert lab.tolist() == [[7, 2, 9]] * 2 and triple_label(lab).tolist() == [729, 729]


def test_mixture_source_is_deterministic_and_decodes_its_items():
    a, b = MixturePoints("ring8", n=1000), MixturePoints("ring8", n=1000)
    assert torch.equal(a.points, b.points) and not torch.equal(a.points, MixturePoints("ring8", 1000, seed=1).points)
    assert torch.equal(a.decoded()["x"][5], a[5][0]) and a[5][0].shape == (2,)
    assert sorted(torch.bincount(a.modes, minlength=8).tolist())[0] > 90  # all 8 modes drawn
