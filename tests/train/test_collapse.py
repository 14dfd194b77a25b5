"""The collapse monitor: diversity ratio, warning on a sharp drop, peak kept across resumes."""

from __future__ import annotations

import contextlib
import json

import pytest
import torch

from gankit.config import load_config
from gankit.data.synthetic import Synthetic
from gankit.errors import ConfigError
from gankit.train.collapse import CollapseMonitor, real_samples, spread
from gankit.train.state import load_checkpoint
from gankit.train.trainer import Trainer


def test_spread_is_the_mean_pairwise_distance_and_pools_large_images():
    assert spread(torch.tensor([[0.0, 0.0], [2.0, 0.0]])) == pytest.approx(2.0)
    pts = torch.tensor([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0]])
    assert spread(pts) == pytest.approx((3 + 4 + 5) / 3)
    assert spread(torch.zeros(5, 3)) == 0.0 and spread(torch.ones(1, 2)) == 0.0
    big = torch.zeros(2, 1, 64, 64)
    big[1] = 1.0  # pooled to 32x32: the distance is sqrt(32*32)
    assert spread(big) == pytest.approx(32.0)


class _Logger:
    def __init__(self):
        self.events, self.lines = [], []

    def event(self, step, **f):
        self.events.append({"step": step, **f})

    def write(self, msg):
        self.lines.append(msg)


class _Recipe:
    def __init__(self):
        self.out = None

    @contextlib.contextmanager
    def sampling(self, net):
        yield self

    def sampler(self, source):
        return lambda b, rng: self.out[:b]


class _Trainer:
    def __init__(self, source, extra=None):
        self.recipe, self.source, self.logger = _Recipe(), source, _Logger()
        self.extra_state = {} if extra is None else extra

    def sample_net(self):
        return None


def test_warns_when_diversity_falls_below_half_its_peak_and_the_peak_survives_a_resume():
    src = Synthetic(n=64, resolution=8)
    mon = CollapseMonitor(src, every=2, n=32, drop=0.5, seed=0)
    tr = _Trainer(src)
    tr.recipe.out = real_samples(src, 32, seed=5)  # other real images: rho near 1
    constant = tr.recipe.out[:1].expand(32, -1, -1, -1)
    tr.recipe.out = constant  # a fresh generator's near-constant output: no peak yet, no warning
    mon(tr, 2)
    assert tr.logger.events[-1]["diversity"] == 0 and not tr.logger.events[-1]["collapse_warning"] and not tr.logger.lines
    tr.recipe.out = real_samples(src, 32, seed=5)
    mon(tr, 3)  # not a multiple of every: nothing
    mon(tr, 4)
    rho = tr.logger.events[-1]["diversity"]
    assert 0.7 < rho < 1.3 and not tr.logger.events[-1]["collapse_warning"]
    assert tr.extra_state["diversity_peak"] == pytest.approx(rho, abs=1e-5)
    tr.recipe.out = torch.cat([constant[:31], tr.recipe.out[:1]])  # 31 of 32 alike: rho far below half the peak
    mon(tr, 6)
    assert tr.logger.events[-1]["collapse_warning"] and "collapsing" in tr.logger.lines[-1]
    # a resumed run's monitor starts from the checkpointed peak and still sees the collapse
    again = _Trainer(src, dict(tr.extra_state))
    again.recipe.out = constant
    CollapseMonitor(src, every=2, n=32, drop=0.5, seed=0)(again, 8)
    assert again.logger.events[-1]["collapse_warning"]


def test_training_logs_diversity_and_checkpoints_its_peak(tiny, tmp_path):
    tr = Trainer(tiny(None, "train.collapse_every=2", "train.collapse_samples=8"), tmp_path)
    tr.fit()
    recs = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    div = [r for r in recs if "diversity" in r]
    assert [r["step"] for r in div] == [2, 4] and all(r["diversity"] > 0 for r in div)
    _, st = load_checkpoint(tmp_path)
    assert st["extra"]["diversity_peak"] == pytest.approx(max(r["diversity"] for r in div), abs=1e-5)


def test_collapse_keys_are_checked():
    with pytest.raises(ConfigError, match=r"train.collapse_drop=1.5: expected a value in \(0, 1\)"):
        load_config(None, ["train.collapse_drop=1.5"])
    with pytest.raises(ConfigError, match=r"train.collapse_samples: the collapse monitor is off"):
        load_config(None, ["train.collapse_every=0", "train.collapse_samples=64"])


def test_a_generator_collapsed_from_the_start_is_caught_by_the_floor_at_its_second_low_check():
    src = Synthetic(n=64, resolution=8)
    real = real_samples(src, 32, seed=5)
    alike = torch.cat([real[:1].expand(30, -1, -1, -1), real[1:3]])  # 30 of 32 alike: rho ~ 0.1, never a peak
    mon = CollapseMonitor(src, every=2, n=32, drop=0.5, seed=0, floor=0.35)
    tr = _Trainer(src)
    tr.recipe.out = alike
    mon(tr, 2)  # one low check may be a fresh generator: no warning
    assert 0 < tr.logger.events[-1]["diversity"] < 0.35 and not tr.logger.events[-1]["collapse_warning"]
    mon(tr, 4)
    assert tr.logger.events[-1]["collapse_warning"] and "has stayed below 0.35" in tr.logger.lines[-1]
    assert tr.extra_state["diversity_peak"] < 0.25  # the peak rule alone would never have fired
    # the last rho is checkpointed: a resumed run warns at its first low check
    again = _Trainer(src, dict(tr.extra_state))
    again.recipe.out = alike
    CollapseMonitor(src, every=2, n=32, drop=0.5, seed=0, floor=0.35)(again, 6)
    assert again.logger.events[-1]["collapse_warning"]
    # floor 0 turns the rule off
    off = CollapseMonitor(src, every=2, n=32, drop=0.5, seed=0, floor=0.0)
    tr2 = _Trainer(src)
    tr2.recipe.out = alike
    off(tr2, 2)
    off(tr2, 4)
    assert not any(e["collapse_warning"] for e in tr2.logger.events) and not tr2.logger.lines
    with pytest.raises(ConfigError, match=r"train.collapse_floor=1(\.0)?: expected a value in \[0, 1\)"):
        load_config(None, ["train.collapse_floor=1"])
    with pytest.raises(ConfigError, match=r"train.collapse_floor: the collapse monitor is off"):
        load_config(None, ["train.collapse_every=0", "train.collapse_floor=0.2"])
