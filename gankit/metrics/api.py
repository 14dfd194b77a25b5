"""High-level metric evaluation: sources in, numbers with their protocol out.

Every number comes with a protocol string such as
``fid50k, inception-2015-12-05 (TF port), resize=nv, gen=run:foo, ref=fashion-mnist:train (60000)``.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gankit.errors import GankitError
from gankit.metrics.features import extract_features, sharded_features, source_features
from gankit.metrics.fid import feature_stats, frechet_distance, load_stats
from gankit.metrics.inception import NETWORK_NAME, InceptionFeatures, load_inception
from gankit.metrics.inception_score import inception_score, load_classifier
from gankit.metrics.kid import kid
from gankit.metrics.pr import precision_recall
from gankit.metrics.sources import GeneratorSource

METRICS = ("fid", "kid", "pr", "is")


def count_label(n: int) -> str:
    """50000 -> '50k', 5000 -> '5k', 1234 -> '1234' (the StyleGAN naming: fid50k)."""
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


def protocol_string(metric: str, n_gen: int, ref_name: str, n_ref: int, resampler: str = "nv", extra: str = "") -> str:
    """The protocol written next to a number; ``metric`` is e.g. 'fid' or 'kid'."""
    parts = [f"{metric}{count_label(n_gen)}", NETWORK_NAME, f"resize={resampler}"]
    if extra:
        parts.append(extra)
    parts.append(f"ref={ref_name} ({n_ref})")
    return ", ".join(parts)


@dataclass
class StatsRef:
    """A reference given only as mu/sigma (an .npz): supports FID, not KID or PR."""

    path: Path
    mu: np.ndarray = field(repr=False, default=None)
    sigma: np.ndarray = field(repr=False, default=None)
    meta: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "StatsRef":
        mu, sigma, meta = load_stats(path)
        return cls(Path(path), mu, sigma, meta)

    @property
    def name(self) -> str:
        return str(self.meta.get("name", f"stats:{self.path.name}"))

    @property
    def n(self) -> int:
        return int(self.meta.get("n", 0))


def _check_stats_match(ref: StatsRef, ex) -> None:
    """Saved statistics made with another resize or network cannot be compared: refuse."""
    for key, mine in (("resampler", getattr(ex, "resampler", None)), ("extractor_sha1", getattr(ex, "sha1", None))):
        theirs = ref.meta.get(key)
        if theirs is not None and mine is not None and str(theirs) != str(mine):
            raise GankitError(f"{ref.path}: statistics were made with {key}={theirs} but this run uses {mine}")


def _features(source, ex, shard=(0, 1), gather=None, **kw):
    """source_features, or (torchrun: ``shard`` = (rank, world) with world > 1) the network work
    split over ranks (:func:`sharded_features`; not cached, not resumable)."""
    if shard[1] > 1:
        return sharded_features(source, ex, kw.get("n"), shard, gather, kw.get("chunk"),
                                kw.get("progress", False) and shard[0] == 0, kw.get("label") or source.name), False
    return source_features(source, ex, **kw)


def _reference(ref, ex, need_stats: bool, shard=(0, 1), gather=None, **kw):
    """(features or None, mu, sigma, image count) of a reference source or StatsRef."""
    if isinstance(ref, StatsRef):
        if kw.get("progress"):
            print(f"{kw.get('label') or ref.name}: mu/sigma from {ref.path} ({ref.n} images)", file=sys.stderr)
        return None, ref.mu, ref.sigma, ref.n
    feats, _ = _features(ref, ex, shard, gather, **kw)
    mu, sigma = feature_stats(feats) if need_stats else (None, None)
    return feats, mu, sigma, len(feats)


def evaluate(gen, ref, metrics=("fid",), extractor: InceptionFeatures | None = None, n: int | None = None,
             n_ref: int | None = None, device: str | torch.device = "cpu", cache_dir=None, use_cache: bool = True,
             kid_subsets: int = 100, kid_subset_size: int = 1000, pr_k: int = 3, seed: int = 0,
             chunk: int | None = None, progress: bool = False, is_model: str | None = None,
             is_splits: int = 10, save_every: int | None = None, shard: tuple[int, int] = (0, 1),
             gather=None) -> dict:
    """Compute ``metrics`` (subset of 'fid', 'kid', 'pr') of source ``gen`` against ``ref``.

    gen: a source (sources.py). ref: a source or a :class:`StatsRef`. n / n_ref cap the number
    of images used per side (None: all of the source). 'is' (Inception Score of gen alone)
    needs ``is_model``, a user classifier (inception_score.py). Features are cached and
    extracted resumably (features.py; ``save_every``: images per saved chunk) for sources with
    a fingerprint. Under torchrun, ``shard=(rank, world)`` and ``gather`` (every rank's object)
    split the feature extraction over ranks (same values, no cache). Returns a JSON-ready dict
    ``{metric: {value fields..., "protocol": str}, "n_gen", "n_ref", ...}``; a value that
    needs a caveat (KID subset size clamped) carries a one-line ``note``.
    """
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise GankitError(f"--metrics: unknown {', '.join(unknown)}; expected a comma list of {', '.join(METRICS)}")
    if "is" in metrics:
        classifier = load_classifier(is_model, device, getattr(extractor, "resampler", "nv"))  # fail early
    if isinstance(ref, StatsRef) and any(m in ("kid", "pr") for m in metrics):
        raise GankitError(f"{ref.path}: a mu/sigma statistics file supports only fid; kid and pr need a "
                          "reference folder or dataset")
    ex = extractor or load_inception(device=device)
    save = {"save_every": save_every} if save_every is not None else {}
    if isinstance(ref, StatsRef):
        _check_stats_match(ref, ex)
    feats_g, _ = _features(gen, ex, shard, gather, n=n, chunk=chunk, cache_dir=cache_dir, use_cache=use_cache,
                           progress=progress, label=f"gen {gen.name}", **save)
    feats_r, mu_r, sigma_r, ref_count = _reference(ref, ex, "fid" in metrics, shard, gather, n=n_ref, chunk=chunk,
                                                   cache_dir=cache_dir, use_cache=use_cache, progress=progress,
                                                   label=f"ref {ref.name}", **save)
    ng = len(feats_g)
    res: dict = {"n_gen": ng, "n_ref": ref_count, "gen": gen.name, "ref": ref.name,
                 "extractor": {"network": NETWORK_NAME, "sha1": getattr(ex, "sha1", "?"),
                               "resampler": getattr(ex, "resampler", "?")}}
    rs = getattr(ex, "resampler", "?")
    if "fid" in metrics:
        r = frechet_distance(*feature_stats(feats_g), mu_r, sigma_r)
        res["fid"] = {"value": r.value, "imag_residue": r.imag_residue,
                      "protocol": protocol_string("fid", ng, ref.name, ref_count, rs)}
    if "kid" in metrics:
        k = kid(feats_g, feats_r, kid_subsets, kid_subset_size, seed=seed, device=device)
        sub = (f"1 subset x {k.subset_size} (all images)" if k.whole_set
               else f"{k.subsets} subsets x {k.subset_size}")
        res["kid"] = {"value": k.mean, "std": None if k.whole_set else k.std,
                      "protocol": protocol_string("kid", ng, ref.name, ref_count, rs, f"{sub}, cubic kernel, unbiased")}
        if k.note:
            res["kid"]["note"] = k.note
    if "pr" in metrics:
        p = precision_recall(feats_g, feats_r, k=pr_k, device=device)
        proto = protocol_string("pr", ng, ref.name, ref_count, rs, f"k={p.k}, inception pool3 features (not VGG16)")
        res["precision"] = {"value": p.precision, "protocol": proto}
        res["recall"] = {"value": p.recall, "protocol": proto}
    if "is" in metrics:
        logits = extract_features(gen, classifier, n=ng, chunk=chunk)
        mean, std = inception_score(logits, is_splits)
        res["is"] = {"value": mean, "std": std, "protocol": f"is{count_label(ng)}, user classifier sha1="
                     f"{classifier.sha1[:12]}, resize={classifier.resampler}, {is_splits} splits"}
    return res


class FIDMonitor:
    """Cheap periodic FID for training: reference statistics computed once, then each call
    samples ``n_samples`` images from the generator in batches and returns
    ``{"fid": float, "protocol": str}``.

    ref: path to a stats .npz (mu/sigma), or a source (e.g. ``fashion_mnist_source('train')``)
    whose statistics are computed (and cached by content) on construction.
    """

    def __init__(self, ref, n_samples: int = 5000, batch: int = 64, device: str | torch.device = "cpu",
                 extractor: InceptionFeatures | None = None, cache_dir=None, seed: int = 0):
        self.n, self.batch, self.device, self.seed = n_samples, batch, torch.device(device), seed
        self.extractor = extractor or load_inception(device=self.device)
        if isinstance(ref, (str, os.PathLike)):
            ref = StatsRef.load(ref)
        if isinstance(ref, StatsRef):
            self.mu, self.sigma, self.ref_name, self.ref_n = ref.mu, ref.sigma, ref.name, ref.n
        else:
            feats, _ = source_features(ref, self.extractor, cache_dir=cache_dir)
            self.mu, self.sigma = feature_stats(feats)
            self.ref_name, self.ref_n = ref.name, len(feats)

    @property
    def protocol(self) -> str:
        return protocol_string("fid", self.n, self.ref_name, self.ref_n, self.extractor.resampler)

    def __call__(self, sample, shard: tuple[int, int] = (0, 1), gather=None) -> dict:
        """FID of a sampler ``sample(b, rng) -> images`` (see GeneratorSource); a fixed seed,
        so calls are comparable.

        shard=(rank, world) with ``gather(obj) -> [obj of every rank]`` (torchrun): every rank
        draws the same image sequence (cheap) but extracts Inception features (the costly
        part) of batches ``k`` with ``k % world == rank`` only; the features are gathered in
        order, so the value equals the one-process value."""
        src = GeneratorSource(sample, self.n, self.batch, self.seed)
        rank, world = shard
        if world > 1:
            feats = sharded_features(src, self.extractor, self.n, shard, gather)
        else:
            feats, _ = source_features(src, self.extractor, use_cache=False)
        r = frechet_distance(*feature_stats(feats), self.mu, self.sigma)
        return {"fid": r.value, "protocol": self.protocol}
