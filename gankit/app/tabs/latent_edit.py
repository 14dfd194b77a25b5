"""Latent edit tab (style runs), seed 003's story: upload a photo -> project it into W (progress
bar) -> a direction (saved in RUN/directions/, or computed from two exemplar folders inside the
runs folder) -> an alpha slider and an animated GIF / MP4 to download."""

from pathlib import Path

import gradio as gr
import numpy as np
import torch

from gankit.app.context import AppContext, guarded, safe_name, zoom
from gankit.app.runs import inside
from gankit.app.tabs import tab
from gankit.app.uploads import read_upload, to_array
from gankit.errors import GankitError

MAX_STEPS = 2000
MAX_EXEMPLARS = 32
DIRECTIONS = "directions"  # RUN/directions/NAME.safetensors (gankit direction --out ...)


def perceptual_choices() -> tuple[list[str], str]:
    """(choices, default): the FID Inception layers when its weight file is installed."""
    from gankit.metrics.inception import find_weights

    try:
        find_weights()
        return ["inception", "none", "tiny"], "inception"
    except GankitError:
        return ["none", "tiny"], "none"


def saved_directions(run_dir: Path) -> list[str]:
    d = run_dir / DIRECTIONS
    return sorted(p.name for p in d.glob("*.safetensors") if p.is_file()) if d.is_dir() else []


def _style(ctx: AppContext, name: str):
    run = ctx.run(name, "latent_edit")
    return run.net, ctx.entry(name).path


def _frames(G, latent, direction, alphas, factor: int) -> list[np.ndarray]:
    from gankit.editing.directions import apply_direction
    from gankit.editing.media import to_uint8
    from gankit.editing.projection import reconstruct

    ws = apply_direction(latent["ws"], direction, alphas)
    return [zoom(f, factor) for f in to_uint8(reconstruct(G, ws, latent["noises"]))]


@tab("latent_edit", "Latent edit", needs="latent_edit", order=40)
def build(ctx: AppContext) -> None:
    names = ctx.choices("latent_edit")
    perc_choices, perc_default = perceptual_choices()
    pick = gr.Dropdown(names, value=names[0] if names else None, label="Run")
    status = gr.Markdown(elem_id="latent-status")
    latent = gr.State(None)  # {"ws": [num_ws, w_dim], "noises": [...], "what": text}
    with gr.Row():
        upload = gr.File(label="Upload a photo", file_types=["image"], type="filepath", elem_id="latent-upload")
        with gr.Column():
            steps = gr.Slider(10, MAX_STEPS, value=200, step=10, label="Projection steps", elem_id="latent-steps")
            perc = gr.Dropdown(perc_choices, value=perc_default, label="Perceptual distance", elem_id="latent-perc")
            space = gr.Radio(["w", "w+"], value="w", label="Latent space")
            factor = gr.Slider(1, 8, value=4, step=1, label="Zoom")
    with gr.Row():
        project_btn = gr.Button("Project photo", variant="primary", elem_id="latent-project")
        seed = gr.Number(0, label="... or start from seed", precision=0, minimum=0)
        seed_btn = gr.Button("Start from sample", elem_id="latent-seed-button")
    recon = gr.Image(label="Target | reconstruction", format="png", interactive=False, elem_id="latent-recon")
    with gr.Row():
        direction = gr.Dropdown([], label=f"Direction (RUN/{DIRECTIONS}/*.safetensors)", scale=3)
        alpha = gr.Slider(-3, 3, value=0, step=0.1, label="alpha", scale=3)
    preview = gr.Image(label="Edited", format="png", interactive=False, elem_id="latent-preview")
    with gr.Accordion("New direction from exemplar folders", open=False):
        with gr.Row():
            with_dir = gr.Textbox(label="Folder with the attribute (inside the runs folder)")
            without_dir = gr.Textbox(label="Folder without it")
            dname = gr.Textbox(label="Save as (name)")
        dir_btn = gr.Button("Compute and save direction")
    with gr.Row():
        a_lo = gr.Number(-2, label="alpha from")
        a_hi = gr.Number(2, label="alpha to")
        n_frames = gr.Slider(2, 60, value=12, step=1, label="Frames")
        fps = gr.Slider(1, 30, value=8, step=1, label="fps")
        fmt = gr.Radio(["gif", "mp4"], value="gif", label="Format")
        boomerang = gr.Checkbox(True, label="Forward and back")
    anim_btn = gr.Button("Make animation", elem_id="latent-animate")
    with gr.Row():
        anim = gr.Image(label="Animation", interactive=False, elem_id="latent-anim")
        anim_file = gr.File(label="Download", interactive=False)

    @guarded(status)
    def configure(name):
        _, run_dir = _style(ctx, name)
        dirs = saved_directions(run_dir)
        return {direction: gr.update(choices=dirs, value=dirs[0] if dirs else None), latent: None, recon: None,
                preview: None}

    def project_photo(name, path, n, how, sp, f, progress=gr.Progress(track_tqdm=True)):
        return _project(name, path, n, how, sp, f)

    @guarded(status)
    def _project(name, path, n, how, sp, f):
        from gankit.editing.projection import prepare_target, project
        from gankit.editing.media import image_grid

        if not path:
            raise GankitError("upload a photo first")
        G, _ = _style(ctx, name)
        if not 1 <= int(n) <= MAX_STEPS:
            raise GankitError(f"projection steps {n}: expected 1..{MAX_STEPS}")
        x = read_upload(path, ctx.limits)
        res = project(G, to_array(x), space=sp, steps=int(n), perceptual=how, device=next(G.parameters()).device,
                      generator=torch.Generator().manual_seed(0), progress=True)
        target = prepare_target(to_array(x), G.resolution, G.channels)
        pair = zoom(image_grid(torch.cat([target, res.image[None]]), nrow=2), int(f))
        return {latent: {"ws": res.ws, "noises": res.noises, "what": Path(path).name}, recon: pair,
                status: f"projected in {len(res.losses)} steps: loss {res.losses[0]:.4g} -> {res.losses[-1]:.4g}"}

    @guarded(status)
    def from_seed(name, s, f):
        from gankit.editing.media import to_uint8
        from gankit.editing.projection import reconstruct

        from gankit.editing.sampling import seed_ws

        G, _ = _style(ctx, name)
        ws = seed_ws(G, [int(s or 0)])[0].float().cpu()
        img = zoom(to_uint8(reconstruct(G, ws, []))[0], int(f))
        return {latent: {"ws": ws, "noises": [], "what": f"seed {int(s or 0)}"}, recon: img}

    def _direction(run_dir: Path, choice):
        from gankit.editing.directions import load_direction

        if not choice or choice not in saved_directions(run_dir):
            raise GankitError("pick a direction (or compute one from exemplar folders)")
        return load_direction(run_dir / DIRECTIONS / choice)

    @guarded(status)
    def edit(name, lat, choice, a, f):
        if lat is None:
            raise GankitError("project a photo (or start from a sample) first")
        G, run_dir = _style(ctx, name)
        return {preview: _frames(G, lat, _direction(run_dir, choice), [float(a)], int(f))[0]}

    @guarded(status)
    def on_direction(name, lat, choice, a, f):
        return edit(name, lat, choice, a, f) if lat is not None and choice else {}

    def compute_direction(name, w_in, w_out, save_as, n, how, sp, progress=gr.Progress(track_tqdm=True)):
        return _compute(name, w_in, w_out, save_as, n, how, sp)

    @guarded(status)
    def _compute(name, w_in, w_out, save_as, n, how, sp):
        from gankit.editing.directions import (exemplar_latents, exemplar_set_direction, gather_exemplars,
                                               save_direction)
        from gankit.editing.projection import project
        from gankit.pipelines import load_image

        G, run_dir = _style(ctx, name)
        stem = safe_name(save_as)
        if not stem:
            raise GankitError("give the direction a name (letters, digits, - and _)")
        out = run_dir / DIRECTIONS / f"{stem}.safetensors"
        if out.exists():
            raise GankitError(f"direction '{out.name}' exists; choose another name")

        def files(text, what):
            folder = inside(ctx.root, text, what)
            if not folder.is_dir():
                raise GankitError(f"{what} '{text}': not a folder inside the runs folder")
            found = [inside(ctx.root, p, what) for p in gather_exemplars(folder)]  # no links out of the folder
            if len(found) > MAX_EXEMPLARS:
                raise GankitError(f"{what} '{text}': {len(found)} files; use at most {MAX_EXEMPLARS}")
            return found

        def proj(path, i):
            return project(G, load_image(path), space=sp, steps=int(n), perceptual=how, progress=True,
                           device=next(G.parameters()).device, generator=torch.Generator().manual_seed(i)).ws

        w_with = exemplar_latents(files(w_in, "with folder"), proj)
        w_without = exemplar_latents(files(w_out, "without folder"), proj)
        save_direction(out, exemplar_set_direction(w_with, w_without), {"kind": "exemplars", "with": w_in,
                                                                         "without": w_out})
        dirs = saved_directions(run_dir)
        return {direction: gr.update(choices=dirs, value=out.name),
                status: f"saved {DIRECTIONS}/{out.name} from {len(w_with)} + {len(w_without)} exemplars"}

    @guarded(status)
    def animate(name, lat, choice, lo, hi, k, rate, kind, back, f):
        from gankit.editing.media import write_animation

        if lat is None:
            raise GankitError("project a photo (or start from a sample) first")
        G, run_dir = _style(ctx, name)
        k = int(k)
        alphas = [float(lo) + (float(hi) - float(lo)) * i / (k - 1) for i in range(k)]
        frames = _frames(G, lat, _direction(run_dir, choice), alphas, int(f))
        frames = frames + (frames[-2:0:-1] if back else [])
        stem = f"{safe_name(lat['what']) or 'latent'}-{safe_name(Path(choice).stem)}"
        gif = write_animation(ctx.output(stem, ".gif"), frames, float(rate))
        down = gif if kind == "gif" else write_animation(ctx.output(stem, ".mp4"), frames, float(rate))
        return {anim: str(gif), anim_file: str(down), status: f"{len(frames)} frames, alpha {lo:g} .. {hi:g}"}

    pick.change(configure, pick, [status, direction, latent, recon, preview])
    project_btn.click(project_photo, [pick, upload, steps, perc, space, factor], [status, latent, recon],
                      concurrency_limit=1, concurrency_id="projection")
    seed_btn.click(from_seed, [pick, seed, factor], [status, latent, recon])
    alpha.release(edit, [pick, latent, direction, alpha, factor], [status, preview])
    direction.change(on_direction, [pick, latent, direction, alpha, factor], [status, preview])
    dir_btn.click(compute_direction, [pick, with_dir, without_dir, dname, steps, perc, space], [status, direction],
                  concurrency_limit=1, concurrency_id="projection")
    anim_btn.click(animate, [pick, latent, direction, a_lo, a_hi, n_frames, fps, fmt, boomerang, factor],
                   [status, anim, anim_file], concurrency_limit=2)
    ctx.pickers.append((pick, "latent_edit"))
    if names:
        ctx.on_load.append([(configure, [pick], [status, direction, latent, recon, preview])])
