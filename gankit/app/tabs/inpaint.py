"""Inpaint tab (context-encoder runs): pick a held-out test image or upload one, choose the hole
(the centred block the run trained on, or a block at a seeded random position) and see masked
input | filled | original, with the PSNR inside the hole (as `gankit score-inpaint` measures it)
for the network and for the plain fill it starts from."""

from __future__ import annotations

import gradio as gr
import torch

from gankit.app.context import AppContext, guarded
from gankit.app.tabs import tab
from gankit.app.tabs.common import held_out_images, reset_view, run_doing, show
from gankit.app.uploads import read_upload, to_float
from gankit.errors import GankitError

MODES = [("centre block", "center"), ("random block (seeded)", "random")]
PANELS = ("masked input", "filled", "original")


def inpainter(ctx: AppContext, name: str):
    return run_doing(ctx, name, "inpaint", "inpaint", "inpaint")


def erase_mask(run, x, mode: str = "center", seed: int = 0):
    """The region to fill, float [N, 1, R, R] in {0, 1}: the run's centre block, or a block of the
    same size at a position drawn from ``seed`` (gankit.data.degrade.block_masks)."""
    from gankit.data.degrade import block_masks, hole_size

    rec = run.recipe
    if mode == "center":
        return rec.masks(x, "center")[0].cpu()
    if mode != "random":
        raise GankitError(f"hole {mode!r}: expected center or random")
    r = x.shape[-1]
    return block_masks(len(x), r, hole_size(r, rec.hole), rec.overlap, "random", torch.Generator().manual_seed(seed))[0]


def inpaint_views(run, x, mode: str = "center", seed: int = 0) -> dict:
    """float views of ``x`` [N, C, R, R]: erase, masked (the network's input), filled, original,
    and the hole PSNRs of the filled and the masked (plain fill) images against ``x``."""
    from gankit.metrics.restoration import hole_psnr

    erase = erase_mask(run, x, mode, seed)
    with run.recipe.sampling() as r:
        masked = r.masked_input(x.to(r.device), erase.to(r.device)).float().cpu()
        filled = r.inpaint(x, erase).float().cpu()
    return {"erase": erase, "masked": masked, "filled": filled, "original": x,
            "psnr": float(hole_psnr(filled, x, erase)[0]), "fill_psnr": float(hole_psnr(masked, x, erase)[0])}


@tab("inpaint", "Inpaint", needs="inpaint", order=55)
def build(ctx: AppContext) -> None:
    names = ctx.choices("inpaint")
    held: dict[str, object] = {}  # run -> float [N, C, R, R] test images
    pick = gr.Dropdown(names, value=names[0] if names else None, label="Run")
    status = gr.Markdown(elem_id="inpaint-status")
    with gr.Row():
        upload = gr.File(label="Upload an image", file_types=["image"], type="filepath", elem_id="inpaint-upload")
        gallery = gr.Gallery(label="... or pick a test image", columns=6, height=180, allow_preview=False,
                             elem_id="inpaint-gallery")
    with gr.Row():
        mode = gr.Radio(MODES, value="center", label="Hole")
        seed = gr.Number(0, label="Seed (random block)", precision=0, minimum=0)
        factor = gr.Slider(1, 8, value=4, step=1, label="Zoom")
        go = gr.Button("Inpaint", variant="primary", elem_id="inpaint-button")
    with gr.Row():
        panels = [gr.Image(label=t, format="png", interactive=False, elem_id=f"inpaint-{t.split()[0]}")
                  for t in PANELS]
    source = gr.State(None)  # {"x": float [1, C, R, R], "what": text}

    def tests(name):
        if name not in held:
            held[name] = held_out_images(inpainter(ctx, name))
        return held[name]

    @guarded(status)
    def configure(name):
        from gankit.editing.media import to_uint8

        return reset_view(lambda: list(to_uint8(tests(name))), gallery, source, status, panels)

    @guarded(status)
    def from_upload(name, path, f):
        if not path:
            return {}
        from gankit.app.uploads import display_name

        run = inpainter(ctx, name)
        x = to_float(read_upload(path, ctx.limits, int(run.cfg.data.resolution)))
        if run.cfg.data.channels == 1:
            x = x.mean(1, keepdim=True)
        what = display_name(path)
        return {source: {"x": x, "what": what}, panels[0]: None, panels[1]: None, panels[2]: show(x, int(f)),
                status: f"{what}: press Inpaint"}

    def on_select(name, f, evt: gr.SelectData):
        return from_test(name, evt.index, f)

    @guarded(status)
    def from_test(name, index, f):
        x = tests(name)[int(index)][None]
        return {source: {"x": x, "what": f"test image {index}"}, panels[0]: None, panels[1]: None,
                panels[2]: show(x, int(f)), status: f"test image {index}: press Inpaint"}

    @guarded(status)
    def run_it(name, src, m, s, f):
        if src is None:
            raise GankitError("upload an image or pick a test image first")
        if s is None or not float(s).is_integer() or not 0 <= int(s) < 2**63:
            raise GankitError(f"seed {s}: expected a whole number >= 0")
        run = inpainter(ctx, name)
        v = inpaint_views(run, src["x"], str(m), int(s))
        f = int(f)
        hole = "centre block" if m == "center" else f"random block (seed {int(s)})"
        return {panels[0]: show(v["masked"], f), panels[1]: show(v["filled"], f), panels[2]: show(v["original"], f),
                status: f"{src['what']}: {hole} filled by {run.cfg.recipe.name} (step {run.step}); PSNR inside the "
                        f"hole: {v['psnr']:.2f} dB (the plain fill: {v['fill_psnr']:.2f} dB)"}

    pick.change(configure, [pick], [status, gallery, source, *panels])
    upload.upload(from_upload, [pick, upload, factor], [status, source, *panels])
    gallery.select(on_select, [pick, factor], [status, source, *panels])
    go.click(run_it, [pick, source, mode, seed, factor], [status, *panels], concurrency_limit=2)
    ctx.pickers.append((pick, "inpaint"))
    if names:
        ctx.on_load.append([(configure, [pick], [status, gallery, source, *panels])])
