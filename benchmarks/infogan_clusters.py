"""InfoGAN disentanglement: clustering accuracy of the categorical code on real test images.

    PYTHONPATH=. python benchmarks/infogan_clusters.py RUN [--n 2000] [--baselines pixels,inception]
                                                        [--inception FILE] [--json OUT.json]

Q's argmax of the 10-way code on the first N images of the run's data, test split
(Fashion-MNIST: the 10k test set), matched one-to-one to the true labels by the Hungarian
algorithm (gankit.metrics.clustering). Baselines on the same images: k-means (k = number of
categories, best of 10 k-means++ starts) on raw pixels and on the Inception pool3 features
(the FID network; needs its weight file, see docs/metrics.md). Chance is about 10%.

D's batch norm uses the statistics of each batch of real images (``--bn batch``, as D sees a
real batch in training; its running averages mix real and generated batches) or the running
averages (``--bn running``).
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
    print(f"{n} test images, {k} clusters, Hungarian-matched accuracy (chance ~{1 / k:.0%}):")
    for name in ("infogan_q", "kmeans_pixels", "kmeans_inception"):
        if name in res:
            print(f"  {name:18s} {res[name]['accuracy']:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
