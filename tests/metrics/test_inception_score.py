"""Inception Score: known values from logits; needs a user classifier, says so without one."""

import warnings

import numpy as np
import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics.api import evaluate
from gankit.metrics.inception_score import inception_score, load_classifier
from gankit.metrics.sources import ArraySource


def test_is_known_values():
    confident = np.eye(5)[np.arange(50) % 5] * 60.0  # sure of each class, classes balanced
    assert inception_score(confident, splits=5)[0] == pytest.approx(5.0, rel=1e-6)
    same = np.tile([10.0, 0, 0, 0], (20, 1))  # every sample the same class
    assert inception_score(same, splits=2)[0] == pytest.approx(1.0, abs=1e-9)
    uniform = np.zeros((20, 7))  # no confidence at all
    assert inception_score(uniform, splits=2) == (pytest.approx(1.0), pytest.approx(0.0))
    with pytest.raises(GankitError):
        inception_score(np.zeros((3, 4)), splits=10)


def test_is_requires_user_classifier(tmp_path, fake_extractor):
    src = ArraySource(np.zeros((4, 3, 8, 8), np.uint8))
    with pytest.raises(GankitError, match="no logits"):
        evaluate(src, src, ("is",), fake_extractor)
    with pytest.raises(GankitError, match="does not exist"):
        load_classifier(tmp_path / "nope.pt")
    (tmp_path / "bad.pt").write_bytes(b"junk")
    with pytest.raises(GankitError, match="not a TorchScript"):
        load_classifier(tmp_path / "bad.pt")


def test_is_with_user_classifier_file(tmp_path, fake_extractor):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(3, 6))
    path = tmp_path / "cls.pt"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit.save deprecation notice on new torch
        torch.jit.save(torch.jit.script(net), str(path))
    imgs = torch.randint(0, 256, (20, 3, 8, 8), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    res = evaluate(ArraySource(imgs, batch=7), ArraySource(imgs), ("is",), fake_extractor, is_model=str(path),
                   is_splits=2)
    assert res["is"]["protocol"].startswith("is20, user classifier")
    cls = load_classifier(path)
    with torch.no_grad():
        logits = cls(imgs).numpy()
    assert res["is"]["value"] == pytest.approx(inception_score(logits, 2)[0], rel=1e-6)
    assert res["is"]["value"] >= 1.0
