"""Runs tab: pick a run; its config, loss and FID curves (metrics.jsonl), latest sample grid."""

from __future__ import annotations

import gradio as gr
import numpy as np

from gankit.app.context import AppContext, guarded, zoom
from gankit.app.runs import read_metrics
from gankit.app.tabs import tab

MAX_CONFIG_BYTES = 200_000


def curves_figure(curves: dict[str, list[tuple[int, float]]]):
    """A matplotlib Figure: training losses against step, and FID in a second panel when the
    run logged it. None when there is nothing to plot."""
    from matplotlib.figure import Figure

    losses = {k: v for k, v in curves.items() if k != "fid"}
    fid = curves.get("fid", [])
    if not losses and not fid:
        return None
    panels = int(bool(losses)) + int(bool(fid))
    fig = Figure(figsize=(6.4, 2.6 * panels), dpi=90, layout="constrained")
    axes = fig.subplots(panels, 1, squeeze=False)[:, 0]
    if losses:
        ax = axes[0]
        shown = sorted(losses, key=lambda k: (not k.endswith("total"), k))[:8]  # each phase's total first
        for k in shown:
            steps, vals = zip(*losses[k])
            ax.plot(steps, vals, label=k, linewidth=1)
        ax.set_xlabel("step")
        ax.set_ylabel("loss")
        ax.legend(fontsize=7, ncol=2)
    if fid:
        ax = axes[-1]
        steps, vals = zip(*fid)
        ax.plot(steps, vals, marker="o", color="tab:red")
        ax.set_xlabel("step")
        ax.set_ylabel("FID")
    return fig


def describe(e) -> str:
    """Markdown lines about a run entry."""
    lines = [f"### {e.name}"]
    if e.kind is not None:
        k = e.kind
        lines.append(f"recipe **{k.recipe}**, generator **{k.generator}** ({k.kind})")
    if e.caps:
        lines.append("can: " + ", ".join(sorted(e.caps)))
    if e.error:
        lines.append(f"note: {e.error}")
    return "  \n".join(lines)


def latest_grid(run_dir) -> np.ndarray | None:
    from gankit.data.images import open_image

    p = run_dir / "samples" / "latest.png"
    if not p.is_file():
        return None
    img = np.asarray(open_image(p, 3))
    return zoom(img, max(1, 256 // max(img.shape[1], 1)))


def config_text(run_dir) -> str:
    p = run_dir / "config.yaml"
    if not p.is_file():
        return "# no config.yaml in this run folder"
    data = p.read_bytes()[:MAX_CONFIG_BYTES]
    return data.decode("utf-8", errors="replace")


@tab("runs", "Runs", needs=None, order=10)
def build(ctx: AppContext) -> None:
    names = ctx.choices()
    gr.Markdown(f"Runs under `{ctx.root}` ({len(names)} found). Pick one to see its curves and latest samples.")
    with gr.Row():
        pick = gr.Dropdown(names, value=names[0] if names else None, label="Run", scale=3)
        rescan = gr.Button("Rescan folder", scale=1)
    status = gr.Markdown()
    info = gr.Markdown()
    with gr.Row():
        plot = gr.Plot(label="Loss and FID curves")
        grid = gr.Image(label="Latest sample grid", format="png", interactive=False, elem_id="runs-grid")
    config = gr.Code(label="config.yaml", language="yaml", interactive=False)

    @guarded(status)
    def show(name):
        e = ctx.entry(name)
        return {info: describe(e), plot: curves_figure(read_metrics(e.path)), grid: latest_grid(e.path),
                config: config_text(e.path)}

    outs = [status, info, plot, grid, config]
    pick.change(show, pick, outs)
    ctx.on_load.append([(show, [pick], outs)])
    ctx.rescan_button = rescan
    ctx.pickers.append((pick, None))
