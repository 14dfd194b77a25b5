"""Pieces the restoration tabs (upscale, inpaint) share."""

from __future__ import annotations

from gankit.app.context import AppContext
from gankit.errors import GankitError

N_TEST = 12  # held-out images offered in a tab's gallery


def run_doing(ctx: AppContext, name: str, capability: str, method: str, verb: str):
    """Run ``name`` (with ``capability``) whose recipe has ``method``; else a one-line error."""
    run = ctx.run(name, capability)
    if not hasattr(run.recipe, method):
        raise GankitError(f"run '{name}': recipe '{run.cfg.recipe.name}' does not {verb} images")
    return run


def held_out_images(run, n: int = N_TEST):
    """The first ``n`` held-out images, float [n, C, R, R] in [-1, 1]."""
    from gankit.recipes.srgan import source_images

    src = run.held_out()
    return source_images(src, range(min(n, len(src))))


def show(x, f: int):
    """float [1, C, H, W] in [-1, 1] (or None) -> a uint8 panel zoomed ``f`` times (or None)."""
    from gankit.app.context import zoom
    from gankit.editing.media import to_uint8

    return None if x is None else zoom(to_uint8(x)[0], f)
