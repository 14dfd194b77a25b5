"""A collapse monitor for ordinary training: the diversity ratio of generated samples.

Every ``train.collapse_every`` steps the recipe samples ``train.collapse_samples`` outputs of
its sample network (the EMA copy when there is one) from a fixed seed, and the monitor logs

    rho = mean pairwise L2 distance between generated samples
          / mean pairwise L2 distance between as many real samples (fixed, drawn once)

in metrics.jsonl (``diversity``) and TensorBoard. Distances are taken on the samples
themselves (images average-pooled to at most 32x32 first, so the cost stays a few
milliseconds at any resolution); rho near 1 means the generated set is as spread out as the
data, rho near 0 means the samples are all alike. A sharp drop is the signature of mode
collapse: when rho falls below ``train.collapse_drop`` times the highest rho the run has
reached (once that peak is at least :data:`MIN_PEAK`, so the near-constant output of a
fresh generator does not count), a warning is printed above the progress bar and a
``collapse_warning`` event is written. A generator that collapses before it ever reaches a
peak is caught by the floor: rho below ``train.collapse_floor`` (0.35; 0 = off) at two
consecutive checks also warns (one low check alone may be a fresh generator). The floor
comes from this project's CPU runs: of 72 runs with the monitor, the four with rho < 0.35 at
some check were all collapsed (an InfoGAN control drawing one texture for every sample, a
stacked Fashion-MNIST GAN at 16-52 of 1,000 modes, two acGAN runs); the rule flags three of
them (the fourth recovered at the next check); one more collapsed acGAN run bottomed at 0.42
and is not caught; every other run stayed at or above 0.49. The peak and the last rho
survive resumes (checkpoint extra state).
Pixel distances are crude for judging quality but reliable for this one question: a
collapsed generator gives near-identical samples whatever the feature space.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from gankit.data.base import FIELD_KINDS, source_fields
from gankit.data.stream import collate_fields

MIN_PEAK = 0.25  # a drop is judged only after rho has reached this once
MAX_SIDE = 32  # images are pooled to at most this side before distances


def features(x: Tensor) -> Tensor:
    """Samples [N, ...] -> float64 rows [N, D] (images pooled to at most 32x32)."""
    x = x.detach().float()
    if x.dim() == 4 and max(x.shape[-2:]) > MAX_SIDE:
        x = F.adaptive_avg_pool2d(x, (min(MAX_SIDE, x.shape[-2]), min(MAX_SIDE, x.shape[-1])))
    return x.reshape(len(x), -1).double().cpu()


def spread(x: Tensor) -> float:
    """Mean L2 distance over all pairs i != j of the rows of ``features(x)``."""
    f = features(x)
    n = len(f)
    if n < 2:
        return 0.0
    return float(torch.cdist(f, f).sum() / (n * (n - 1)))


def real_samples(source, n: int, seed: int) -> Tensor:
    """``n`` items of the source's main field (fixed seeded choice) in the model's value range."""
    fields = source_fields(source)
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(source), generator=g)[: min(n, len(source))].tolist()
    items = [it for it in (source[i] for i in idx) if it[0] is not None]
    name, kind = fields[0]
    return FIELD_KINDS.get(kind).to_model(collate_fields(items, fields)[name])


class CollapseMonitor:
    """Trainer callback ``cb(trainer, step)`` (see the module docstring)."""

    def __init__(self, source, every: int, n: int, drop: float, seed: int, floor: float = 0.0):
        self.every, self.n, self.drop, self.seed, self.floor = every, n, drop, seed, floor
        self.real_spread = spread(real_samples(source, n, seed + 77))

    def measure(self, trainer) -> float:
        with trainer.recipe.sampling(trainer.sample_net()) as r:
            x = r.sampler(trainer.source)(self.n, torch.Generator().manual_seed(self.seed + 78))
        return spread(x) / max(self.real_spread, 1e-12)

    def __call__(self, trainer, step: int) -> None:
        if not self.every or step % self.every:
            return
        rho = self.measure(trainer)
        # the peak lives in the trainer's checkpointed extra state (a resume or rollback restores it)
        peak = max(float(trainer.extra_state.get("diversity_peak", 0.0)), rho)
        last = trainer.extra_state.get("diversity_last")
        trainer.extra_state["diversity_peak"], trainer.extra_state["diversity_last"] = peak, rho
        dropped = peak >= MIN_PEAK and rho < self.drop * peak
        low = self.floor > 0 and last is not None and max(rho, float(last)) < self.floor
        trainer.logger.event(step, diversity=round(rho, 5), diversity_peak=round(peak, 5),
                             collapse_warning=dropped or low)
        if dropped:
            trainer.logger.write(f"step {step}: WARNING sample diversity {rho:.3f} fell below {self.drop:g} x its peak "
                                 f"{peak:.3f}: the generator may be collapsing (see docs/mode_collapse.md)")
        elif low:
            trainer.logger.write(f"step {step}: WARNING sample diversity {rho:.3f} has stayed below {self.floor:g} "
                                 f"(previous check {float(last):.3f}): the generator looks collapsed "
                                 "(see docs/mode_collapse.md)")
