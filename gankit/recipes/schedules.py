"""Hyper-parameter ramps for :meth:`Recipe.schedule`: pure functions of the training progress.

A recipe's schedule must depend on the step alone (a resumed run then continues the same
schedule bit for bit), so every ramp here takes the progress and returns a number.
"""

from __future__ import annotations

import math


def cosine_ramp(t: float, start: float, end: float, length: float) -> float:
    """``start`` at t = 0, ``end`` from t = length on, half a cosine in between.

    value = start + (end - start) * (1 - cos(pi * t / length)) / 2; the official R3GAN
    schedules (lr, beta2, gamma, EMA horizon, augmentation p) all have this shape, counted
    in images. ``length <= 0`` gives ``end`` at once."""
    if length <= 0 or t >= length:
        return float(end)
    if t <= 0:
        return float(start)
    return float(start + (end - start) * 0.5 * (1.0 - math.cos(math.pi * t / length)))


def ema_beta(batch_size: int, half_life_images: float) -> float:
    """Per-step EMA decay whose weight of a step halves after ``half_life_images`` images:
    0.5 ** (batch_size / half_life). A half-life of 0 gives 0 (the average is the network)."""
    if half_life_images <= 0:
        return 0.0
    return 0.5 ** (batch_size / half_life_images)
