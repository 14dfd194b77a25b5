"""Sample tab (noise, conditional and style runs): seeded samples with a count, a class and a
truncation (style); a style-mixing grid (style); a latent interpolation strip; PNG download."""

from __future__ import annotations

import math

import gradio as gr

from gankit.app.context import AppContext, guarded, seed_value, zoom
from gankit.app.tabs import tab
from gankit.errors import GankitError

MAX_COUNT = 64
MAX_SEEDS = 8


def parse_seeds(text: str, what: str) -> list[int]:
    """'1, 2, 3' -> [1, 2, 3] (at most MAX_SEEDS non-negative integers)."""
    try:
        seeds = [int(s) for s in str(text).replace(" ", "").split(",") if s != ""]
    except ValueError:
        raise GankitError(f"{what} '{text}': expected seeds separated by commas, e.g. 1,2,3") from None
    if not seeds or len(seeds) > MAX_SEEDS or min(seeds) < 0:
        raise GankitError(f"{what} '{text}': expected 1 to {MAX_SEEDS} seeds >= 0")
    return seeds


def grid_of(images, nrow: int, factor: int):
    """float [N, C, R, R] in [-1, 1] -> uint8 grid [H, W, 3] (no padding for one image), zoomed."""
    from gankit.editing.media import image_grid

    return zoom(image_grid(images, nrow=nrow, pad=0 if len(images) == 1 else 2), factor)


def _label(choice) -> int | None:
    return None if choice in (None, "", "random") else int(choice)


@tab("sample", "Sample", needs="sample", order=20)
def build(ctx: AppContext) -> None:
    names = ctx.choices("sample")
    pick = gr.Dropdown(names, value=names[0] if names else None, label="Run")
    status = gr.Markdown(elem_id="sample-status")
    with gr.Row():
        seed = gr.Number(0, label="Seed", precision=0, minimum=0, elem_id="sample-seed")
        count = gr.Slider(1, MAX_COUNT, value=8, step=1, label="Count", elem_id="sample-count")
        factor = gr.Slider(1, 8, value=2, step=1, label="Zoom (screen pixels per image pixel)", elem_id="sample-zoom")
        trunc = gr.Slider(0.0, 1.5, value=1.0, step=0.05, label="Truncation ψ", visible=False)
        label = gr.Dropdown(["random"], value="random", label="Class", visible=False)
    go = gr.Button("Sample", variant="primary", elem_id="sample-button")
    out = gr.Image(label="Samples", format="png", interactive=False, elem_id="sample-output")
    png = gr.File(label="Download PNG", interactive=False, elem_id="sample-png")
    with gr.Accordion("Style mixing", open=False, visible=False) as mix_box:
        gr.Markdown("Rows take coarse styles (layers below the crossover: pose, shape) from the row seeds, "
                    "columns the rest (colours, texture) from the column seeds.")
        with gr.Row():
            rows = gr.Textbox("0,1,2", label="Row seeds")
            cols = gr.Textbox("10,11,12", label="Column seeds")
            cross = gr.Slider(1, 2, value=1, step=1, label="Crossover layer")
        mix_go = gr.Button("Mix styles")
        mix_out = gr.Image(label="Style mixing", format="png", interactive=False)
    with gr.Accordion("Latent interpolation", open=False):
        with gr.Row():
            seed_b = gr.Number(1, label="To seed", precision=0, minimum=0)
            steps = gr.Slider(2, 16, value=8, step=1, label="Steps")
        lerp_go = gr.Button("Interpolate")
        lerp_out = gr.Image(label="Interpolation (W for style runs, z otherwise)", format="png", interactive=False)

    @guarded(status)
    def configure(name):
        run = ctx.run(name, "sample")
        g = run.net
        style = getattr(g, "kind", "") == "style"
        nc = int(getattr(g, "n_classes", 0) or 0)
        n_ws = int(getattr(g, "num_ws", 2))
        return {trunc: gr.update(visible=style), mix_box: gr.update(visible=style),
                label: gr.update(choices=["random"] + [str(i) for i in range(nc)], value="random", visible=nc > 0),
                cross: gr.update(maximum=max(n_ws - 1, 2), value=max(1, min(n_ws // 2, n_ws - 1))),
                factor: max(1, min(8, 128 // max(int(run.cfg.data.resolution), 1)))}

    @guarded(status)
    def sample(name, s, n, f, psi, lab):
        from gankit.editing.media import save_png
        from gankit.editing.sampling import sample_images

        g = ctx.run(name, "sample").net
        n = int(n)
        if not 1 <= n <= MAX_COUNT:
            raise GankitError(f"count {n}: expected 1..{MAX_COUNT}")
        s = seed_value(s)
        imgs = sample_images(g, n, s, float(psi) if g.kind == "style" else 1.0, _label(lab))
        grid = grid_of(imgs, math.ceil(math.sqrt(n)), int(f))
        path = save_png(ctx.output(f"samples-seed{s}", ".png"), grid)
        return {out: grid, png: str(path), status: f"{n} samples of {name}, seed {s}, {imgs.shape[-1]} px each"}

    @guarded(status)
    def mix(name, r, c, k, f, psi, lab):
        from gankit.editing.sampling import mixing_grid

        g = ctx.run(name, "sample").net
        imgs, nrow = mixing_grid(g, parse_seeds(r, "row seeds"), parse_seeds(c, "column seeds"), int(k), float(psi),
                                 _label(lab))
        return {mix_out: grid_of(imgs, nrow, int(f))}

    @guarded(status)
    def interpolate(name, a, b, t, f, psi, lab):
        from gankit.editing.sampling import interpolation

        g = ctx.run(name, "sample").net
        imgs = interpolation(g, seed_value(a), seed_value(b), int(t), float(psi) if g.kind == "style" else 1.0, _label(lab))
        return {lerp_out: grid_of(imgs, len(imgs), int(f))}

    conf_outs = [status, trunc, mix_box, label, cross, factor]
    pick.change(configure, pick, conf_outs)
    go.click(sample, [pick, seed, count, factor, trunc, label], [status, out, png], concurrency_limit=2)
    mix_go.click(mix, [pick, rows, cols, cross, factor, trunc, label], [status, mix_out], concurrency_limit=2)
    lerp_go.click(interpolate, [pick, seed, seed_b, steps, factor, trunc, label], [status, lerp_out],
                  concurrency_limit=2)
    ctx.pickers.append((pick, "sample"))
    if names:  # the first image appears as the page opens
        ctx.on_load.append([(configure, [pick], conf_outs),
                            (sample, [pick, seed, count, factor, trunc, label], [status, out, png])])
