"""The evaluators of ``gankit study modes``: what is measured on a generator, and its calibration.

An evaluator is called inside ``recipe.sampling(net)`` with the recipe; it draws its samples
from its own seeded CPU generator (so training's random numbers are untouched and the same
weights give the same numbers) and returns ``(metrics, kept)``: a dict of numbers for the
tables and a small tensor for the figures (points for a scatter, images for a grid).
``info()`` describes the protocol and the calibration rows: the same counter applied to
data whose number of modes is known.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor

from gankit.data.fashion_mnist import FashionMNIST
from gankit.data.points import sample_mixture
from gankit.data.stacked import triple_label
from gankit.data.transforms import to_float, to_uint8
from gankit.errors import GankitError
from gankit.io import write_json_atomic
from gankit.metrics.label_classifier import (fingerprint, load_label_classifier, save_label_classifier,
                                             train_label_classifier)
from gankit.metrics.modes import channel_labels, histogram_stats, point_mode_stats

EVAL_SEED = 12345


class PointEval:
    """Modes covered and % high-quality points of ``n`` generated points (VEEGAN's counter)."""

    kind = "points"

    def __init__(self, source, n: int = 2500, n_keep: int = 500, threshold: float = 3.0, min_count: int = 1):
        if not hasattr(source, "centers"):
            raise GankitError(f"modes study: dataset {type(source).__name__} is not a 2-D mixture (ring8, grid25)")
        self.centers, self.sigma, self.n, self.n_keep = source.centers, source.sigma, n, n_keep
        self.threshold, self.min_count = threshold, min_count

    def stats(self, points: Tensor) -> dict:
        s = point_mode_stats(points, self.centers, self.sigma, self.threshold, self.min_count)
        return {"modes": s["modes"], "hq": s["hq"], "kl": s["kl"], "counts": s["counts"]}

    def __call__(self, recipe) -> tuple[dict, Tensor]:
        pts = recipe.sample(self.n, torch.Generator().manual_seed(EVAL_SEED)).float().cpu()
        return self.stats(pts), pts[: self.n_keep].contiguous()

    def info(self) -> dict:
        """Calibration: the real mixture, and uniform noise over the figure's square (1.5 x the
        outermost centre), i.e. a generator that spreads its samples without finding a mode."""
        g = torch.Generator().manual_seed(EVAL_SEED)
        real = self.stats(sample_mixture(self.centers, self.sigma, self.n, g)[0])
        lim = 1.5 * float(self.centers.abs().max())
        noise = self.stats((torch.rand(self.n, self.centers.shape[1], generator=g) * 2 - 1) * lim)
        k = len(self.centers)
        return {"kind": self.kind, "n_modes": k, "sigma": self.sigma, "n_eval": self.n,
                "rule": f"{self.n} samples; a sample is high quality within {self.threshold:g} sigma "
                        f"(= {self.threshold * self.sigma:g}) of its nearest mode centre; a mode is covered "
                        f"by >= {self.min_count} high-quality sample(s) (VEEGAN, PacGAN)",
                "calibration": [{"data": f"real mixture ({k} modes)", "true_modes": k, **real},
                                {"data": f"uniform noise on [-{lim:g}, {lim:g}]²", "true_modes": None, **noise}]}


class StackedEval:
    """Modes (of 1,000) with >= 1 sample and KL(mode histogram || uniform) of ``n`` generated
    stacked images, each channel labelled by a Fashion-MNIST classifier (trained once and
    cached in ``cache_dir``)."""

    kind = "stacked"

    def __init__(self, resolution: int, cache_dir: Path, n: int = 26000, n_keep: int = 36, steps: int = 2000,
                 width: int = 16, log: Callable[[str], None] = print):
        self.n, self.n_keep, self.log, self.cache_dir = n, n_keep, log, cache_dir
        tr, te = FashionMNIST(None, "train", resolution, 1), FashionMNIST(None, "test", resolution, 1)
        self.test = (te.images, te.labels)
        self.classifier, self.report = self._classifier(cache_dir, (tr.images, tr.labels), steps, width)

    def _classifier(self, cache_dir: Path, train: tuple[Tensor, Tensor], steps: int, width: int):
        want = {"steps": steps, "batch": 128, "lr": 2e-3, "width": width, "seed": 0}
        found = load_label_classifier(cache_dir)
        if found is not None and found[1].get("settings") == want and found[1].get("data") == fingerprint(*train):
            self.log(f"modes study: reusing the Fashion-MNIST classifier in {cache_dir} "
                     f"(test accuracy {found[1]['test']['accuracy']:.4f})")
            return found
        self.log(f"modes study: training the Fashion-MNIST classifier ({steps} steps) into {cache_dir}")
        model, report = train_label_classifier(train, self.test, steps=steps, width=width, log=self.log)
        save_label_classifier(model, cache_dir, report)
        self.log(f"modes study: classifier test accuracy {report['test']['accuracy']:.4f}")
        return model.requires_grad_(False), report

    def stats(self, images: Tensor) -> dict:
        """uint8 images [N, 3, R, R] -> {"modes", "kl"} of the classified label triples."""
        labels = [triple_label(channel_labels(self.classifier, to_float(images[i:i + 2000])))
                  for i in range(0, len(images), 2000)]
        s = histogram_stats(torch.cat(labels), 1000)
        return {"modes": s["modes"], "kl": s["kl"]}

    def __call__(self, recipe) -> tuple[dict, Tensor]:
        rng = torch.Generator().manual_seed(EVAL_SEED)
        labels, keep = [], None
        for i in range(0, self.n, 500):
            imgs = recipe.sample(min(500, self.n - i), rng).float().cpu().clamp(-1, 1)
            if keep is None:
                keep = to_uint8(imgs[: self.n_keep]).contiguous()
            labels.append(triple_label(channel_labels(self.classifier, imgs)))
        s = histogram_stats(torch.cat(labels), 1000)
        return {"modes": s["modes"], "kl": s["kl"]}, keep

    def real(self, n_triples: int | None, g: torch.Generator) -> Tensor:
        """``n`` real stacked test images (uint8 [n, 3, R, R]) whose label triples are drawn uniformly from
        ``n_triples`` random triples (None: any triple, i.e. three independent images)."""
        images, labels = self.test
        by_class = [torch.nonzero(labels == k).squeeze(1) for k in range(10)]
        if n_triples is None:
            t = torch.randint(0, 10, (self.n, 3), generator=g)
        else:
            allowed = torch.randperm(1000, generator=g)[:n_triples]
            m = allowed[torch.randint(0, n_triples, (self.n,), generator=g)]
            t = torch.stack([m // 100, m // 10 % 10, m % 10], 1)
        chans = []
        for ch in range(3):
            pick = torch.empty(self.n, dtype=torch.long)
            for k in range(10):
                sel = t[:, ch] == k
                pool = by_class[k]
                pick[sel] = pool[torch.randint(0, len(pool), (int(sel.sum()),), generator=g)]
            chans.append(images[pick, 0])
        return torch.stack(chans, 1)

    def info(self) -> dict:
        """Protocol, classifier accuracy and calibration rows; the calibration is computed once
        per classifier and sample count and kept beside the classifier."""
        path = self.cache_dir / f"calibration_{self.n}.json"
        key = {"classifier": {k: self.report[k] for k in ("settings", "data", "test")}, "n": self.n, "seed": EVAL_SEED}
        try:
            saved = json.loads(path.read_text())
            if saved.get("key") == key:
                return saved["info"]
        except (OSError, ValueError):
            pass
        info = self._info()
        write_json_atomic(path, {"key": key, "info": info}, indent=1)
        return info

    def _info(self) -> dict:
        self.log(f"modes study: calibrating the counter on {self.n} real and noise images")
        g = torch.Generator().manual_seed(EVAL_SEED)
        rows = []
        for k, name in ((None, "real stacked test images, all triples"), (100, "real, only 100 label triples"),
                        (10, "real, only 10 label triples")):
            rows.append({"data": name, "true_modes": 1000 if k is None else k, **self.stats(self.real(k, g))})
        noise = torch.randint(0, 256, (self.n, 3, *self.test[0].shape[2:]), generator=g, dtype=torch.uint8)
        rows.append({"data": "uniform noise images", "true_modes": None, **self.stats(noise)})
        t = self.report["test"]
        return {"kind": self.kind, "n_modes": 1000, "n_eval": self.n,
                "rule": f"{self.n} samples; each channel labelled by the classifier; a mode (label triple) "
                        "is covered by >= 1 sample; KL(generated mode histogram || uniform over 1,000)",
                "classifier": {"test_accuracy": t["accuracy"], "per_class": t["per_class"], **self.report["settings"]},
                "calibration": rows}
