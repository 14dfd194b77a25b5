"""Text to image tab (GAN-INT-CLS and StackGAN runs): a caption in English or Korean, a count and
a seed -> a grid (one latent per image); a second caption -> the strip between the two captions'
embeddings (same latent along it). The same pipeline as `gankit text2img`
(gankit.pipelines.text.text_to_image / caption_strip)."""

from __future__ import annotations

import math

import gradio as gr

from gankit.app.context import AppContext, guarded, seed_value, zoom
from gankit.app.tabs import tab
from gankit.errors import GankitError

MAX_COUNT = 64
MAX_CAPTION = 300  # characters
N_EXAMPLES = 40


def text_run(ctx: AppContext, name: str):
    run = ctx.run(name, "text2img")
    if not hasattr(run.recipe, "embed"):
        raise GankitError(f"run '{name}': recipe '{run.cfg.recipe.name}' does not draw images from captions")
    return run


def caption(text, what: str = "caption") -> str:
    """The caption as typed (surrounding spaces removed); empty or over MAX_CAPTION is refused."""
    t = str(text or "").strip()
    if not t:
        raise GankitError(f"{what}: empty; write what the image should show (English or Korean)")
    if len(t) > MAX_CAPTION:
        raise GankitError(f"{what}: {len(t)} characters; at most {MAX_CAPTION}")
    return t


def grid_of(images, nrow: int, factor: int):
    """float [N, C, R, R] in [-1, 1] -> uint8 grid [H, W, 3] (no padding for one image), zoomed."""
    from gankit.editing.media import image_grid

    return zoom(image_grid(images, nrow=nrow, pad=0 if len(images) == 1 else 2), factor)


@tab("text2img", "Text to image", needs="text2img", order=45)
def build(ctx: AppContext) -> None:
    names = ctx.choices("text2img")
    pick = gr.Dropdown(names, value=names[0] if names else None, label="Run")
    status = gr.Markdown(elem_id="text2img-status")
    with gr.Row():
        text = gr.Textbox(label="Caption (English or Korean)", max_lines=2, elem_id="text2img-caption",
                          placeholder="an old woman with white hair / 흰 머리 할머니")
        examples = gr.Dropdown([], label="... or a caption the text encoder was tested on", allow_custom_value=False,
                               elem_id="text2img-examples")
    with gr.Row():
        count = gr.Slider(1, MAX_COUNT, value=8, step=1, label="Count", elem_id="text2img-count")
        seed = gr.Number(0, label="Seed", precision=0, minimum=0, elem_id="text2img-seed")
        factor = gr.Slider(1, 8, value=2, step=1, label="Zoom (screen pixels per image pixel)",
                           elem_id="text2img-zoom")
    go = gr.Button("Generate", variant="primary", elem_id="text2img-button")
    out = gr.Image(label="Images", format="png", interactive=False, elem_id="text2img-output")
    png = gr.File(label="Download PNG", interactive=False, elem_id="text2img-png")
    with gr.Accordion("Caption interpolation", open=False):
        with gr.Row():
            text_b = gr.Textbox(label="To caption", max_lines=2, elem_id="text2img-caption-b")
            steps = gr.Slider(2, 16, value=8, step=1, label="Steps")
        lerp_go = gr.Button("Interpolate", elem_id="text2img-interpolate")
        lerp_out = gr.Image(label="From the first caption to the second (same latent)", format="png",
                            interactive=False, elem_id="text2img-strip")

    @guarded(status)
    def configure(name):
        run = text_run(ctx, name)
        try:
            pool = run.recipe.caption_pool()[:N_EXAMPLES]
        except GankitError:  # a TorchScript encoder without captions: typing still works
            pool = []
        f = max(1, min(8, 128 // max(int(run.cfg.data.resolution), 1)))
        return {examples: gr.update(choices=pool, value=None), factor: f}

    def use_example(choice):
        return gr.update() if not choice else choice

    @guarded(status)
    def generate(name, cap, n, s, f):
        from gankit.editing.media import save_png
        from gankit.pipelines.text import text_to_image

        run = text_run(ctx, name)
        cap, n = caption(cap), int(n)
        if not 1 <= n <= MAX_COUNT:
            raise GankitError(f"count {n}: expected 1..{MAX_COUNT}")
        s = seed_value(s)
        imgs = text_to_image(run, [cap], n=n, seed=s)
        grid = grid_of(imgs, math.ceil(math.sqrt(n)), int(f))
        path = save_png(ctx.output(f"text2img-seed{s}", ".png"), grid)
        return {out: grid, png: str(path),
                status: f"{n} images of \u201c{cap}\u201d from {name} ({run.cfg.recipe.name}, step {run.step}), "
                        f"seed {s}, {imgs.shape[-1]} px each"}

    @guarded(status)
    def interpolate(name, a, b, t, s, f):
        from gankit.pipelines.text import caption_strip

        run = text_run(ctx, name)
        a, b = caption(a), caption(b, "to caption")
        s = seed_value(s)
        imgs = caption_strip(run, a, b, steps=int(t), n=1, seed=s)
        return {lerp_out: grid_of(imgs, len(imgs), int(f)),
                status: f"{len(imgs)} steps from \u201c{a}\u201d to \u201c{b}\u201d, seed {s}"}

    pick.change(configure, [pick], [status, examples, factor])
    examples.change(use_example, [examples], [text])
    go.click(generate, [pick, text, count, seed, factor], [status, out, png], concurrency_limit=2)
    text.submit(generate, [pick, text, count, seed, factor], [status, out, png], concurrency_limit=2)
    lerp_go.click(interpolate, [pick, text, text_b, steps, seed, factor], [status, lerp_out], concurrency_limit=2)
    ctx.pickers.append((pick, "text2img"))
    if names:
        ctx.on_load.append([(configure, [pick], [status, examples, factor])])
