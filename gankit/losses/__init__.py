"""Losses: adversarial (d, g) pairs in a registry, and discriminator penalties."""

from gankit.losses.adversarial import ADV_LOSSES, AdvLoss
from gankit.losses.penalties import (clip_weights, gradient_penalty, interpolate, r1_penalty, r2_penalty,
                                    zero_centered_penalty)

__all__ = ["ADV_LOSSES", "AdvLoss", "gradient_penalty", "r1_penalty", "clip_weights", "interpolate", "r2_penalty",
           "zero_centered_penalty"]
