"""Periodic FID during training, with a ``best`` checkpoint kept by FID.

Used by the trainer when ``train.fid_every > 0``: every N steps the recipe samples
``train.fid_samples`` images from its sample network (the EMA copy when there is one; fixed
seed, so values are comparable over time; editors edit training inputs), the FID against
the reference is logged to metrics.jsonl / TensorBoard with its protocol string, and
``checkpoints/best`` is replaced when the FID improves. The reference statistics are
computed once (and cached by content) when training starts. This module does not import
the trainer: a callback gets it as an argument and uses ``recipe``, ``source``,
``sample_net()``, ``save(tag)``, ``extra_state`` and ``logger``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch

from gankit.config import Config
from gankit.errors import ConfigError


def reference_for(cfg: Config, source=None):
    """The FID reference: ``train.fid_ref`` or, by default, the training data itself (the
    training source's images when it is neither Fashion-MNIST nor a folder; not cached)."""
    from gankit.metrics.api import StatsRef
    from gankit.metrics.sources import DatasetSource, FolderSource, dataset_preset_source

    spec = cfg.train.fid_ref
    if not spec:
        if cfg.data.name == "fashion_mnist":
            spec = f"fashion-mnist:{cfg.data.split}"
        elif cfg.data.name == "folder" and cfg.data.path:
            spec = cfg.data.path
        elif source is not None:
            return DatasetSource(source, name=f"{cfg.data.name}:{cfg.data.split} (training data)")
        else:
            raise ConfigError(f"train.fid_ref: no default FID reference for dataset '{cfg.data.name}'; "
                              "give fashion-mnist[:split], an image folder or a mu/sigma .npz")
    preset = dataset_preset_source(spec)
    if preset is not None:
        return preset
    p = Path(spec)
    if p.suffix == ".npz":
        return StatsRef.load(p)
    if not p.is_dir():
        raise ConfigError(f"train.fid_ref '{spec}': not a dataset preset, image folder or .npz")
    return FolderSource(p)


def _saved_best(run_dir: Path | None) -> float:
    """The FID of ``checkpoints/best`` (it can be newer than the checkpoint a run resumes from)."""
    if run_dir is None or not (Path(run_dir) / "checkpoints" / "best" / "state.pt").is_file():
        return math.inf
    try:
        st = torch.load(Path(run_dir) / "checkpoints" / "best" / "state.pt", map_location="cpu", weights_only=True)
        return float(st.get("extra", {}).get("best_fid", math.inf))
    except Exception:  # an unreadable 'best' is replaced by the next improvement
        return math.inf


class PeriodicFID:
    """Trainer callback ``cb(trainer, step)``; ``extra_state`` carries the best FID across resumes."""

    def __init__(self, cfg: Config, device: torch.device, extra_state: dict[str, Any], source=None, extractor=None,
                 run_dir: Path | None = None, shard: tuple[int, int] = (0, 1)):
        from gankit.metrics.api import FIDMonitor

        t = cfg.train
        self.every = t.fid_every
        self.shard = shard
        self.monitor = FIDMonitor(reference_for(cfg, source), n_samples=t.fid_samples, batch=min(250, max(16, t.batch_size)),
                                  device=device, extractor=extractor, seed=t.seed)
        self.best = min(float(extra_state.get("best_fid", math.inf)), _saved_best(run_dir))

    def __call__(self, trainer, step: int) -> None:
        if not self.every or step % self.every:
            return
        with trainer.recipe.sampling(trainer.sample_net()) as r:
            # torchrun: feature extraction split over ranks, the same value on every rank
            res = self.monitor(r.sampler(trainer.source), self.shard, trainer.dist.gather_objects)
        fid = float(res["fid"])
        improved = fid < self.best
        if improved:
            self.best = fid
            trainer.extra_state["best_fid"] = fid
            trainer.save(tag="best")
        trainer.logger.event(step, fid=fid, fid_protocol=res["protocol"], best_fid=self.best, best_saved=improved)
        trainer.logger.write(f"step {step}: FID {fid:.2f} ({res['protocol']}){' (best)' if improved else ''}")
