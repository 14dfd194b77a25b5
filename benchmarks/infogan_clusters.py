"""InfoGAN disentanglement: clustering accuracy of the categorical code on real test images.

    PYTHONPATH=. python benchmarks/infogan_clusters.py RUN [--n 2000] [--baselines pixels,inception]
                                                        [--inception FILE] [--json OUT.json]

Q's argmax of the 10-way code on the first N images of the run's data, test split
(Fashion-MNIST: the 10k test set), matched one-to-one to the true labels by the Hungarian
algorithm (gankit.metrics.clustering). Baselines on the same images: k-means (k = number of
categories, best of 10 k-means++ starts) on raw pixels and on the Inception pool3 features
(the FID network; needs its weight file, see docs/metrics.md). Chance is about 10%.

D's batch norm uses the statistics of each batch of real images (``--bn batch``, as D sees a
real batch in training; its running averages mix real and generated images) or the running
averages (``--bn running``).

The generation side (``--classifier DIR``, a saved gankit Fashion-MNIST classifier such as the
one ``gankit study modes --benchmark stacked`` trains into ``<out>/classifier``): ``--n-gen``
generated images (the run's EMA generator, codes drawn from the prior) are classified; reported
are the classes' histogram (classes covered, KL to uniform over the 10 classes: the mode
coverage of plain Fashion-MNIST) and how well the categorical code predicts the class of the
image it generated (Hungarian-matched accuracy of code against class). The same classifier on
the real test images is the calibration row (its KL and accuracy are the best a generator can
reach through this classifier).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time

import numpy as np
import torch


def q_accuracy(run, images: torch.Tensor, labels: np.ndarray, batch_stats: bool, batch: int = 500) -> dict:
    from gankit.metrics.clustering import hungarian_accuracy

    x = images.float() / 127.5 - 1
    pred = torch.cat([run.recipe.classify(x[i:i + batch], batch_stats=batch_stats).cpu()
                      for i in range(0, len(x), batch)]).numpy()
    acc, mapping = hungarian_accuracy(pred, labels)
    return {"accuracy": acc, "clusters_used": int(len(np.unique(pred))), "mapping": mapping}


def classifier_fn(classifier_dir: str):
    """(classes of uint8 images [N, 1, R, R] -> long [N], the classifier's test accuracy) of a
    saved gankit Fashion-MNIST classifier; images are resized to its resolution as the data
    sources resize Fashion-MNIST (antialiased bilinear on uint8)."""
    from pathlib import Path

    from gankit.data.transforms import resize_uint8
    from gankit.metrics.label_classifier import load_label_classifier, predict

    found = load_label_classifier(Path(classifier_dir))
    if found is None:
        sys.exit(f"{classifier_dir}: no saved classifier (classifier.json + classifier.safetensors) in this folder")
    clf, meta = found
    res = clf.resolution

    def classes(images_u8: torch.Tensor) -> torch.Tensor:
        return predict(clf, resize_uint8(images_u8, res) if images_u8.shape[-1] != res else images_u8)

    return classes, meta["test"]["accuracy"]


def generated_classes(run, classes, n: int, seed: int, real: torch.Tensor, real_labels: np.ndarray,
                      batch: int = 500) -> dict:
    """The generation side: ``n`` images of the run's sample network (codes from the prior,
    noise from ``seed``) labelled by ``classes`` (uint8 images -> class indices): classes
    covered, KL of the class histogram to uniform, and the Hungarian-matched accuracy of the
    first categorical code against the class of the image it generated. ``real`` (uint8) and
    ``real_labels``: the calibration, the same ``classes`` on real images."""
    from gankit.data.transforms import to_uint8
    from gankit.metrics.clustering import hungarian_accuracy
    from gankit.metrics.modes import histogram_stats

    rec = run.recipe
    g = rec.nets[rec.sample_role]
    rng = torch.Generator().manual_seed(seed)
    preds, cats = [], []
    with rec.sampling():
        for i in range(0, n, batch):
            z = torch.randn(min(batch, n - i), g.z_dim, generator=rng)
            cats.append(g.codes(z)[0][:, 0])
            preds.append(classes(to_uint8(g(z.to(rec.device)).float().cpu())))
    pred, cat = torch.cat(preds), torch.cat(cats)
    code_acc, mapping = hungarian_accuracy(cat.numpy(), pred.numpy())
    real_pred = classes(real)
    hist = histogram_stats(pred, 10)
    return {"n_generated": n, "classes_covered": hist["modes"], "kl_to_uniform": hist["kl"],
            "class_histogram": torch.bincount(pred, minlength=10).tolist(),
            "code_class_accuracy": code_acc, "code_to_class": mapping,
            "real": {"n": len(real), "kl_to_uniform": histogram_stats(real_pred, 10)["kl"],
                     "accuracy": float((real_pred.numpy() == real_labels).mean())}}


def kmeans_accuracy(features: np.ndarray, labels: np.ndarray, k: int, seed: int) -> dict:
    from gankit.metrics.clustering import hungarian_accuracy, kmeans

    acc, _ = hungarian_accuracy(kmeans(features, k, seed=seed), labels)
    return {"accuracy": acc}


def inception_features(images: torch.Tensor, path: str | None, device: str) -> np.ndarray:
    from gankit.metrics.features import extract_features
    from gankit.metrics.inception import load_inception
    from gankit.metrics.sources import ArraySource

    ex = load_inception(path, device=device)
    return extract_features(ArraySource(images, name="real", batch=50), ex, progress=True, desc="inception")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("run")
    p.add_argument("--n", type=int, default=2000, help="test images (the first N; default 2000)")
    p.add_argument("--baselines", default="pixels,inception", help="comma list of pixels, inception (or none)")
    p.add_argument("--inception", help="Inception weight file (default: found as for gankit eval)")
    p.add_argument("--bn", choices=("batch", "running"), default="batch")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", help="also write the results here")
    p.add_argument("--classifier", help="a saved gankit Fashion-MNIST classifier folder: also measure the "
                   "generated images' classes (coverage of the 10 classes, code-class agreement)")
    p.add_argument("--n-gen", type=int, default=10000, help="generated images for --classifier (default 10000)")
    args = p.parse_args(argv)

    from gankit.pipelines import load_run
    from gankit.recipes.infogan import InfoGANRecipe

    run = load_run(args.run, args.device)
    if not isinstance(run.recipe, InfoGANRecipe):
        sys.exit(f"{args.run}: a '{run.cfg.recipe.name}' run; this measures InfoGAN runs")
    from gankit.data.sources import build_source

    src = build_source(dataclasses.replace(run.cfg.data, split="test", limit=0))  # the run's data.limit is for training
    n = min(args.n, len(src))
    images, labels = src.images[:n], np.asarray(src.labels[:n])
    k = run.recipe.D.n_cat
    res = {"run": str(run.checkpoint), "step": run.step, "weights": run.weights, "n": n, "split": "test", "k": k,
           "bn": args.bn}
    t = time.time()
    res["infogan_q"] = q_accuracy(run, images, labels, args.bn == "batch")
    res["infogan_q"]["seconds"] = round(time.time() - t, 1)
    wanted = [b for b in args.baselines.split(",") if b and b != "none"]
    if "pixels" in wanted:
        t = time.time()
        res["kmeans_pixels"] = kmeans_accuracy(images.reshape(n, -1).numpy().astype(np.float64) / 255, labels, k, args.seed)
        res["kmeans_pixels"]["seconds"] = round(time.time() - t, 1)
    if "inception" in wanted:
        t = time.time()
        feats = inception_features(images, args.inception, args.device)
        res["kmeans_inception"] = kmeans_accuracy(feats, labels, k, args.seed)
        res["kmeans_inception"]["seconds"] = round(time.time() - t, 1)
    if args.classifier:
        if args.n_gen < 1:
            sys.exit(f"--n-gen {args.n_gen}: expected at least 1 generated image")
        classes, clf_acc = classifier_fn(args.classifier)
        res["generated"] = {"classifier": args.classifier, "classifier_test_accuracy": clf_acc,
                            **generated_classes(run, classes, args.n_gen, args.seed, src.images[:len(src)],
                                                np.asarray(src.labels[:len(src)]))}
    print(f"{n} test images, {k} clusters, Hungarian-matched accuracy (chance ~{1 / k:.0%}):")
    for name in ("infogan_q", "kmeans_pixels", "kmeans_inception"):
        if name in res:
            print(f"  {name:18s} {res[name]['accuracy']:.3f}")
    if "generated" in res:
        gen = res["generated"]
        print(f"{gen['n_generated']} generated images through the classifier (test accuracy "
              f"{gen['classifier_test_accuracy']:.3f}): classes covered {gen['classes_covered']}/10, "
              f"KL to uniform {gen['kl_to_uniform']:.3f} (real test images: {gen['real']['kl_to_uniform']:.3f}), "
              f"code -> class accuracy {gen['code_class_accuracy']:.3f} (classifier on real: "
              f"{gen['real']['accuracy']:.3f}); class histogram {gen['class_histogram']}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
