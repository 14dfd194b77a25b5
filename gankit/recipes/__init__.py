"""Training methods: each turns a batch into named losses (see recipes.base).

Importing this package registers every recipe in ``RECIPES``.
"""

from gankit.recipes.base import RECIPES, Recipe
from gankit.recipes import aclgan, gan, infogan, midinet, r3gan, stargan, style, unrolled  # noqa: E402,F401
from gankit.recipes import inpaint, srgan  # noqa: E402,F401  (restoration)
from gankit.recipes import stackgan, text2img  # noqa: E402,F401  (text-to-image)
from gankit.recipes import cyclegan, pix2pix  # noqa: E402,F401  (translation)

__all__ = ["RECIPES", "Recipe"]
