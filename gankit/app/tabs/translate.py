"""Translate tab (pix2pix / CycleGAN runs): upload an image or pick a held-out test image, choose
the direction, and see input | translation | true counterpart (for test images of a paired
dataset such as the emoji styles: the same emoji drawn by the other artist)."""

from __future__ import annotations

import gradio as gr

from gankit.app.context import AppContext, guarded, zoom
from gankit.app.tabs import tab
from gankit.app.tabs.common import reset_view
from gankit.app.uploads import read_upload, to_array, to_float
from gankit.errors import GankitError

N_TEST = 12


def _translator(ctx: AppContext, name: str):
    from gankit.pipelines.translation import translator_of

    run = ctx.run(name, "translate")
    translator_of(run, name)
    return run


@tab("translate", "Translate", needs="translate", order=35)
def build(ctx: AppContext) -> None:
    names = ctx.choices("translate")
    held: dict[tuple[str, str], tuple] = {}  # (run, direction) -> (inputs, counterparts) uint8 [N, 3, R, R]
    pick = gr.Dropdown(names, value=names[0] if names else None, label="Run")
    direction = gr.Radio(["a2b", "b2a"], value="a2b", label="Direction (pix2pix runs translate one way)")
    status = gr.Markdown(elem_id="translate-status")
    with gr.Row():
        upload = gr.File(label="Upload an image", file_types=["image"], type="filepath", elem_id="translate-upload")
        gallery = gr.Gallery(label="... or pick a test image", columns=6, height=180, allow_preview=False,
                             elem_id="translate-gallery")
    with gr.Row():
        factor = gr.Slider(1, 8, value=4, step=1, label="Zoom")
        go = gr.Button("Translate", variant="primary", elem_id="translate-button")
    with gr.Row():
        panels = [gr.Image(label=t, format="png", interactive=False, elem_id=f"translate-{t.split()[0]}")
                  for t in ("input", "translation", "true counterpart")]
    source = gr.State(None)  # {"x": uint8 [3, R, R], "y": uint8 or None, "what": text}

    def test_pairs(name, d):
        if (name, d) not in held:
            from gankit.pipelines.translation import counterpart_source

            run = _translator(ctx, name)
            try:
                src = counterpart_source(run.cfg, "test")
                a, b = src.a_images[:N_TEST], src.b_images[:N_TEST]
                held[name, d] = (a, b) if d == "a2b" else (b, a)
            except GankitError:  # no true counterparts (e.g. Fashion-MNIST classes): inputs only
                src = run.held_out()
                imgs = src.a_images if d == "a2b" else src.b_images
                held[name, d] = (imgs[:N_TEST].expand(-1, 3, -1, -1), None)  # grey data shown as RGB
        return held[name, d]

    @guarded(status)
    def configure(name, d):
        return reset_view(lambda: [to_array(x) for x in test_pairs(name, d)[0]], gallery, source, status, panels)

    @guarded(status)
    def from_upload(name, path, f):
        if not path:
            return {}
        from gankit.app.uploads import display_name

        run = _translator(ctx, name)
        x = read_upload(path, ctx.limits, int(run.cfg.data.resolution))
        what = display_name(path)
        return {source: {"x": x, "y": None, "what": what}, panels[0]: zoom(to_array(x), int(f)), panels[2]: None,
                status: f"{what}: press Translate"}

    def on_select(name, d, f, evt: gr.SelectData):
        return from_test(name, d, evt.index, f)

    @guarded(status)
    def from_test(name, d, index, f):
        xs, ys = test_pairs(name, d)
        x, y = xs[int(index)], None if ys is None else ys[int(index)]
        return {source: {"x": x, "y": y, "what": f"test image {index}"}, panels[0]: zoom(to_array(x), int(f)),
                panels[2]: None if y is None else zoom(to_array(y), int(f)), status: f"test image {index}: press Translate"}

    @guarded(status)
    def run_it(name, d, src, f):
        from gankit.editing.media import to_uint8
        from gankit.pipelines.translation import translate

        if src is None:
            raise GankitError("upload an image or pick a test image first")
        run = _translator(ctx, name)
        x = to_float(src["x"])
        if run.cfg.data.channels == 1:
            x = x.mean(1, keepdim=True)
        out = translate(run, x, d)
        show = lambda t: zoom(to_uint8(t.expand(-1, 3, -1, -1))[0], int(f))  # noqa: E731
        y = src.get("y")
        return {panels[0]: zoom(to_array(src["x"]), int(f)), panels[1]: show(out),
                panels[2]: None if y is None else zoom(to_array(y), int(f)),
                status: f"{src['what']}: {d} with {run.cfg.recipe.name} (step {run.step})"}

    pick.change(configure, [pick, direction], [status, gallery, source, *panels])
    direction.change(configure, [pick, direction], [status, gallery, source, *panels])
    upload.upload(from_upload, [pick, upload, factor], [status, source, *panels])
    gallery.select(on_select, [pick, direction, factor], [status, source, *panels])
    go.click(run_it, [pick, direction, source, factor], [status, *panels], concurrency_limit=2)
    ctx.pickers.append((pick, "translate"))
    if names:
        ctx.on_load.append([(configure, [pick, direction], [status, gallery, source, *panels])])
