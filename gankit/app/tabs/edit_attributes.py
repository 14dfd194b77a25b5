"""Edit attributes tab (StarGAN / ACL-GAN runs): upload an image or pick a held-out test image,
tick the attributes the result should have, and see original | result | mask | segment (the
layout of seed 001's Figure 4; mask and segment only for generators with a mask)."""

from __future__ import annotations

import gradio as gr
import torch

from gankit.app.context import AppContext, guarded, zoom
from gankit.app.tabs import tab
from gankit.app.tabs.common import reset_view
from gankit.app.uploads import read_upload, to_array, to_float
from gankit.errors import GankitError

N_TEST = 12


def _editor(ctx: AppContext, name: str):
    from gankit.pipelines import editor_of

    run = ctx.run(name, "edit_attributes")
    return run, *editor_of(run, name)


@tab("edit_attributes", "Edit attributes", needs="edit_attributes", order=30)
def build(ctx: AppContext) -> None:
    names = ctx.choices("edit_attributes")
    held: dict[str, object] = {}  # run name -> its held-out source (read once)
    pick = gr.Dropdown(names, value=names[0] if names else None, label="Run")
    status = gr.Markdown(elem_id="edit-status")
    with gr.Row():
        upload = gr.File(label="Upload an image", file_types=["image"], type="filepath", elem_id="edit-upload")
        gallery = gr.Gallery(label="... or pick a test image", columns=6, height=180, allow_preview=False,
                             elem_id="edit-gallery")
    attrs = gr.CheckboxGroup([], label="Attributes the result should have", elem_id="edit-attrs")
    with gr.Row():
        factor = gr.Slider(1, 8, value=4, step=1, label="Zoom")
        go = gr.Button("Edit", variant="primary", elem_id="edit-button")
    with gr.Row():
        panels = [gr.Image(label=t, format="png", interactive=False, elem_id=f"edit-{t}")
                  for t in ("original", "result", "mask", "segment")]
    source = gr.State(None)  # {"x": uint8 [3, R, R], "what": text}

    def test_images(name):
        if name not in held:
            held[name] = _editor(ctx, name)[0].held_out()
        return held[name]

    @guarded(status)
    def configure(name):
        _, g, attr_names = _editor(ctx, name)
        def thumbs():
            src = test_images(name)
            return [to_array(src[i][0]) for i in range(min(N_TEST, len(src)))]

        return {attrs: gr.update(choices=attr_names, value=[]), **reset_view(thumbs, gallery, source, status, panels)}

    @guarded(status)
    def from_upload(name, path, f):
        if not path:
            return {}
        _, g, _ = _editor(ctx, name)
        x = read_upload(path, ctx.limits, int(g.resolution))
        from gankit.app.uploads import display_name

        what = display_name(path)
        return {source: {"x": x, "what": what}, attrs: [], panels[0]: zoom(to_array(x), int(f)),
                status: f"{what}: tick the attributes the result should have, then Edit"}

    @guarded(status)
    def from_test(name, index, f):
        _, _, attr_names = _editor(ctx, name)
        x, c = test_images(name)[int(index)][:2]
        have = [n for n, v in zip(attr_names, c.tolist()) if v > 0.5]
        return {source: {"x": x, "what": f"test image {index}"}, attrs: have, panels[0]: zoom(to_array(x), int(f)),
                status: f"test image {index} has: {', '.join(have) or 'none of the attributes'}"}

    def on_select(name, f, evt: gr.SelectData):
        return from_test(name, evt.index, f)

    @guarded(status)
    def edit(name, src, ticked, f):
        from gankit.editing.attributes import translate
        from gankit.editing.media import to_uint8

        if src is None:
            raise GankitError("upload an image or pick a test image first")
        _, g, attr_names = _editor(ctx, name)
        target = torch.tensor([[float(n in (ticked or [])) for n in attr_names]])
        out, _ = translate(g, to_float(src["x"]), target, {})
        show = lambda t: None if t is None else zoom(to_uint8(t.float().cpu())[0], int(f))  # noqa: E731
        mask = None if out.mask is None else out.mask * 2 - 1  # [0, 1] -> [-1, 1]: black = kept, white = edited
        parts = "" if out.mask is not None else " (this generator has no mask: no mask or segment)"
        return {panels[1]: show(out.image), panels[2]: show(mask), panels[3]: show(out.segment),
                panels[0]: zoom(to_array(src["x"]), int(f)),
                status: f"{src['what']} -> {', '.join(ticked or []) or 'no attributes'}{parts}"}

    pick.change(configure, pick, [status, attrs, gallery, source, *panels])
    upload.upload(from_upload, [pick, upload, factor], [status, source, attrs, panels[0]])
    gallery.select(on_select, [pick, factor], [status, source, attrs, panels[0]])
    go.click(edit, [pick, source, attrs, factor], [status, *panels], concurrency_limit=2)
    ctx.pickers.append((pick, "edit_attributes"))
    if names:
        ctx.on_load.append([(configure, [pick], [status, attrs, gallery, source, *panels])])
