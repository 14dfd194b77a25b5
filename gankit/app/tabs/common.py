"""Pieces several tabs share (the run check, held-out images and panels of the restoration tabs; the
view reset when a run is picked)."""

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


def reset_view(load_thumbs, gallery, source, status, panels) -> dict:
    """Gradio updates for a newly picked run: its test-image thumbnails from ``load_thumbs()``
    (when the run's data moved, none and a note that uploads still work), no picked image,
    empty panels."""
    note = ""
    try:
        thumbs = load_thumbs()
    except GankitError as e:
        thumbs, note = [], f"test images unavailable ({str(e).splitlines()[0][:200]}); upload an image"
    return {gallery: thumbs, source: None, status: note, **{p: None for p in panels}}
