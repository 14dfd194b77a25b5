"""Shared fixtures for metric tests: a cheap stand-in feature extractor and tiny generators."""

import pytest
import torch


class FakeExtractor:
    """uint8 [N, C, H, W] -> float [N, 48]: 4x4 average-pooled RGB in [0, 1]; deterministic, fast."""

    sha1 = "fake-extractor"
    resampler = "nv"

    def __init__(self):
        self.calls = 0

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        x = images.float() / 255.0
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        return torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)


class TinyG(torch.nn.Module):
    """G(z, c) -> [N, 1, 8, 8] in [-1, 1] (tanh of a linear map)."""

    def __init__(self, z_dim: int = 4, n_classes: int = 0):
        super().__init__()
        self.z_dim, self.n_classes = z_dim, n_classes
        self.fc = torch.nn.Linear(z_dim + max(n_classes, 0), 64)
        self.seen_training = []

    def forward(self, z, c=None):
        self.seen_training.append(self.training)
        if self.n_classes:
            z = torch.cat([z, torch.nn.functional.one_hot(c, self.n_classes).float()], 1)
        return torch.tanh(self.fc(z)).view(-1, 1, 8, 8)


@pytest.fixture
def fake_extractor():
    return FakeExtractor()


@pytest.fixture
def tiny_g():
    torch.manual_seed(0)
    return TinyG()


@pytest.fixture
def make_g():
    """The TinyG class, for tests that need other z_dim / n_classes."""
    return TinyG
