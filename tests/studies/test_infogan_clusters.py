"""The generation side of benchmarks/infogan_clusters.py: classes covered, KL to uniform and the
code -> class agreement of generated images, on generators whose output is known."""

import contextlib
import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from gankit.metrics.label_classifier import save_label_classifier
from gankit.models.classifier import AttrClassifier
from gankit.models.infogan import InfoGANGenerator


class CodeImages(InfoGANGenerator):
    """InfoGAN's latent contract (codes read out of z) with images that show the category:
    category k -> a flat gray level k / 9; ``collapsed``: always category 0's image."""

    collapsed = False

    def forward(self, z):
        cat, _ = self.codes(z)
        k = torch.zeros_like(cat[:, 0]) if self.collapsed else cat[:, 0]
        return (k.float() / 9 * 2 - 1).view(-1, 1, 1, 1).expand(-1, 1, 8, 8)


def _level_classes(images_u8):
    """Gray level k -> class (3k + 1) mod 10: a permutation, so the Hungarian match must find it."""
    k = (images_u8.float().mean((1, 2, 3)) / 255 * 9).round().long()
    return (3 * k + 1) % 10


def _run(collapsed=False):
    g = CodeImages(8, 1, 4, n_cat=10, n_cat_codes=1, n_cont=1, width=2, fc=4)
    g.collapsed = collapsed
    return SimpleNamespace(recipe=SimpleNamespace(nets={"G": g}, sample_role="G", device="cpu",
                                                  sampling=contextlib.nullcontext))


def _real():
    k = torch.arange(10).repeat(20)
    imgs = (k.float() / 9 * 255).round().to(torch.uint8).view(-1, 1, 1, 1).expand(-1, 1, 8, 8)
    return imgs, ((3 * k + 1) % 10).numpy()


def test_codes_that_show_their_category_cover_every_class_and_match_it(benchmark_module):
    mod = benchmark_module("infogan_clusters")
    res = mod.generated_classes(_run(), _level_classes, 2000, 0, *_real(), batch=300)
    assert res["n_generated"] == 2000 and sum(res["class_histogram"]) == 2000
    assert res["classes_covered"] == 10
    assert 0 <= res["kl_to_uniform"] < 0.01  # uniform codes: KL ~ (K - 1) / 2N
    assert res["code_class_accuracy"] == 1.0
    assert res["code_to_class"] == {k: (3 * k + 1) % 10 for k in range(10)}
    assert res["real"] == {"n": 200, "kl_to_uniform": pytest.approx(0.0, abs=1e-12), "accuracy": 1.0}


def test_a_collapsed_generator_covers_one_class(benchmark_module):
    mod = benchmark_module("infogan_clusters")
    res = mod.generated_classes(_run(collapsed=True), _level_classes, 1000, 0, *_real())
    assert res["classes_covered"] == 1 and res["class_histogram"][1] == 1000
    assert res["kl_to_uniform"] == pytest.approx(math.log(10))
    assert res["code_class_accuracy"] < 0.2  # only the code that was matched to class 1 counts


def test_classifier_folder_errors_and_resizing(tmp_path, benchmark_module):
    mod = benchmark_module("infogan_clusters")
    with pytest.raises(SystemExit, match="no saved classifier"):
        mod.classifier_fn(str(tmp_path / "none"))
    torch.manual_seed(0)
    save_label_classifier(AttrClassifier(16, 1, 10, width=2, n_layers=3), tmp_path / "clf", {"test": {"accuracy": 0.5}})
    classes, acc = mod.classifier_fn(str(tmp_path / "clf"))
    assert acc == 0.5
    out = classes(torch.randint(0, 256, (5, 1, 28, 28), dtype=torch.uint8))  # 28 px resized to the classifier's 16
    assert out.shape == (5,) and out.dtype == torch.long and bool(((out >= 0) & (out < 10)).all())
    assert np.array_equal(classes(torch.zeros(3, 1, 16, 16, dtype=torch.uint8)).numpy(),
                          classes(torch.zeros(3, 1, 28, 28, dtype=torch.uint8)).numpy())
