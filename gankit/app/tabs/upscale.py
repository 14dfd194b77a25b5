"""Upscale tab (SRGAN runs): upload an image or pick a held-out test image and see low-res input |
bicubic | SRGAN output | true high-res. A test image (or an upload marked "high-res original")
is shrunk by the run's scale first, as in training, so the result can be compared with it
(PSNR as `gankit score-sr` measures it); any other upload is the low-res input itself."""

from __future__ import annotations

import gradio as gr

from gankit.app.context import AppContext, guarded
from gankit.app.tabs import tab
from gankit.app.tabs.common import held_out_images, reset_view, run_doing, show
from gankit.app.uploads import check_upload, read_upload, to_float
from gankit.errors import GankitError

MAX_LR_SIDE = 128  # an upload used as the low-res input: its centre square, shrunk to at most this side
AS_LOW, AS_HIGH = "low-res input (upscale it)", "high-res original (shrink it first, compare)"
PANELS = ("low-res input", "bicubic", "SRGAN", "true high-res")


def upscaler(ctx: AppContext, name: str):
    return run_doing(ctx, name, "upscale", "upscale", "upscale")


def upscale_views(run, lr=None, hr=None) -> dict:
    """float [1, C, ., .] views: lr, bicubic, sr (and hr). With ``hr`` the input is its bicubic
    downsample by the run's scale, and the PSNRs of SR and bicubic (``score-sr``'s protocol:
    uint8, ``scale`` px border cropped) come too."""
    from gankit.data.degrade import bicubic_down, bicubic_up
    from gankit.metrics.restoration import psnr

    s = int(run.recipe.scale)
    if hr is not None:
        lr = bicubic_down(hr, s)
    with run.recipe.sampling() as r:
        sr = r.upscale(lr).float().cpu()
    out = {"lr": lr, "bicubic": bicubic_up(lr, s), "sr": sr, "hr": hr, "scale": s}
    if hr is not None:
        out["psnr"] = float(psnr(sr, hr, crop=s)[0])
        out["bicubic_psnr"] = float(psnr(out["bicubic"], hr, crop=s)[0])
    return out


@tab("upscale", "Upscale", needs="upscale", order=50)
def build(ctx: AppContext) -> None:
    names = ctx.choices("upscale")
    held: dict[str, object] = {}  # run -> float [N, C, R, R] test images
    pick = gr.Dropdown(names, value=names[0] if names else None, label="Run")
    status = gr.Markdown(elem_id="upscale-status")
    with gr.Row():
        with gr.Column():
            upload = gr.File(label="Upload an image", file_types=["image"], type="filepath", elem_id="upscale-upload")
            as_what = gr.Radio([AS_LOW, AS_HIGH], value=AS_LOW, label="The upload is the")
        gallery = gr.Gallery(label="... or pick a test image", columns=6, height=180, allow_preview=False,
                             elem_id="upscale-gallery")
    with gr.Row():
        factor = gr.Slider(1, 8, value=2, step=1, label="Zoom (screen pixels per output pixel)")
        go = gr.Button("Upscale", variant="primary", elem_id="upscale-button")
    with gr.Row():
        panels = [gr.Image(label=t, format="png", interactive=False, elem_id=f"upscale-{i}")
                  for i, t in enumerate(PANELS)]
    source = gr.State(None)  # {"lr": float [1, C, h, w] or None, "hr": float or None, "what": text}

    def tests(name):
        if name not in held:
            held[name] = held_out_images(upscaler(ctx, name))
        return held[name]

    def shown(run, src, f):
        s = int(run.recipe.scale)
        lr = src["lr"] if src["hr"] is None else None
        return {panels[0]: show(lr, s * f) if lr is not None else None, panels[1]: None, panels[2]: None,
                panels[3]: show(src["hr"], f)}

    @guarded(status)
    def configure(name):
        from gankit.editing.media import to_uint8

        return reset_view(lambda: list(to_uint8(tests(name))), gallery, source, status, panels)

    @guarded(status)
    def from_upload(name, path, as_, f):
        if not path:
            return {}
        from gankit.app.uploads import display_name

        run = upscaler(ctx, name)
        what, note = display_name(path), ""
        if as_ == AS_HIGH:
            x = to_float(read_upload(path, ctx.limits, int(run.cfg.data.resolution)))
            src = {"lr": None, "hr": x, "what": what}
        else:
            w, h = check_upload(path, ctx.limits)
            side = min(w, h)
            res = min(side, MAX_LR_SIDE)
            x = to_float(read_upload(path, ctx.limits, res))
            note = f" (centre {side} px square shrunk to {res} px)" if res < side else ""
            src = {"lr": x, "hr": None, "what": what}
        if run.cfg.data.channels == 1:
            src = {k: v.mean(1, keepdim=True) if k in ("lr", "hr") and v is not None else v for k, v in src.items()}
        return {source: src, **shown(run, src, int(f)), status: f"{what}{note}: press Upscale"}

    def on_select(name, f, evt: gr.SelectData):
        return from_test(name, evt.index, f)

    @guarded(status)
    def from_test(name, index, f):
        x = tests(name)[int(index)][None]
        src = {"lr": None, "hr": x, "what": f"test image {index}"}
        return {source: src, **shown(upscaler(ctx, name), src, int(f)), status: f"test image {index}: press Upscale"}

    @guarded(status)
    def run_it(name, src, f):
        if src is None:
            raise GankitError("upload an image or pick a test image first")
        run = upscaler(ctx, name)
        v = upscale_views(run, lr=src["lr"], hr=src["hr"])
        s, f = v["scale"], int(f)
        h, w = v["lr"].shape[-2:]
        text = (f"{src['what']}: {w}x{h} -> {v['sr'].shape[-1]}x{v['sr'].shape[-2]} (x{s}) with "
                f"{run.cfg.recipe.name} (step {run.step})")
        if "psnr" in v:
            text += (f"; PSNR vs the true high-res ({s} px border cropped): SRGAN {v['psnr']:.2f} dB, "
                     f"bicubic {v['bicubic_psnr']:.2f} dB")
        return {panels[0]: show(v["lr"], s * f), panels[1]: show(v["bicubic"], f), panels[2]: show(v["sr"], f),
                panels[3]: show(v["hr"], f), status: text}

    pick.change(configure, [pick], [status, gallery, source, *panels])
    upload.upload(from_upload, [pick, upload, as_what, factor], [status, source, *panels])
    gallery.select(on_select, [pick, factor], [status, source, *panels])
    go.click(run_it, [pick, source, factor], [status, *panels], concurrency_limit=2)
    ctx.pickers.append((pick, "upscale"))
    if names:
        ctx.on_load.append([(configure, [pick], [status, gallery, source, *panels])])
