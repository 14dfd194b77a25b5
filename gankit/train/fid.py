"""Periodic FID during training, with a ``best`` checkpoint kept by FID.

Used by the trainer when ``train.fid_every > 0``: every N steps the EMA generator (or G) is
sampled (``train.fid_samples`` images, fixed seed, so values are comparable over time), its
FID against the reference is logged to metrics.jsonl / TensorBoard with its protocol string,
and ``checkpoints/best`` is replaced when the FID improves. The reference statistics are
computed once (and cached by content) when training starts.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from gankit.errors import ConfigError

if TYPE_CHECKING:  # pragma: no cover
    from gankit.train.trainer import Trainer


def reference_for(trainer: "Trainer"):
    """The FID reference: ``train.fid_ref`` or, by default, the training data itself."""
    from gankit.metrics.api import StatsRef
    from gankit.metrics.sources import FolderSource, dataset_preset_source

    cfg = trainer.cfg
    spec = cfg.train.fid_ref
    if not spec:
        if cfg.data.name == "fashion_mnist":
            spec = f"fashion-mnist:{cfg.data.split}"
        elif cfg.data.path:
            spec = cfg.data.path
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


class PeriodicFID:
    """Trainer callback: ``cb(trainer, step)``."""

    def __init__(self, trainer: "Trainer", extractor=None):
        from gankit.metrics.api import FIDMonitor

        t = trainer.cfg.train
        self.every = t.fid_every
        self.monitor = FIDMonitor(reference_for(trainer), n_samples=t.fid_samples, batch=min(250, max(16, t.batch_size)),
                                  device=trainer.device, extractor=extractor, seed=t.seed)
        self.best = float(trainer.extra_state.get("best_fid", math.inf))

    def __call__(self, trainer: "Trainer", step: int) -> None:
        if not self.every or step % self.every:
            return
        g = trainer.ema.net if trainer.ema is not None else trainer.nets["G"]
        was_training = g.training
        g.eval()
        res = self.monitor(g, g.z_dim, getattr(g, "n_classes", 0))
        g.train(was_training)
        fid = float(res["fid"])
        improved = fid < self.best
        if improved:
            self.best = fid
            trainer.extra_state["best_fid"] = fid
            trainer.save(tag="best")
        trainer.logger.event(step, fid=fid, fid_protocol=res["protocol"], best_fid=self.best, best_saved=improved)
        trainer.logger.write(f"step {step}: FID {fid:.2f} ({res['protocol']}){' (best)' if improved else ''}")
