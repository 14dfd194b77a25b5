"""Training methods: each turns a batch into named losses (see recipes.base).

Importing this package registers every recipe in ``RECIPES``.
"""

from gankit.recipes.base import RECIPES, Recipe
from gankit.recipes import aclgan, gan, infogan, midinet, r3gan, stargan, style, unrolled  # noqa: E402,F401

__all__ = ["RECIPES", "Recipe"]
