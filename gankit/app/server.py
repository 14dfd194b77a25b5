"""Build and serve the Gradio app, offline: no analytics, no telemetry, no fonts or scripts
from the internet (the page's assets all come from the app's own server), long work in
Gradio's queue."""

from __future__ import annotations

import ipaddress
import os
import sys
import threading
from pathlib import Path

from gankit.app.context import AppContext
from gankit.app.runs import RunCache
from gankit.app.uploads import Limits
from gankit.errors import GankitError

# Set before gradio is imported: it reads them at import time.
OFFLINE_ENV = {
    "GRADIO_ANALYTICS_ENABLED": "False",  # no usage reports, no version check
    "HF_HUB_OFFLINE": "1",                # never reach the model hub (themes by name, gr.load)
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "GRADIO_SSR_MODE": "False",           # client-side rendering: no Node server
}
SYSTEM_FONTS = ["ui-sans-serif", "system-ui", "sans-serif"]
MONO_FONTS = ["ui-monospace", "SFMono-Regular", "monospace"]

__all__ = ["OFFLINE_ENV", "build_app", "make_context", "launch", "is_loopback"]


def set_offline_env() -> None:
    for k, v in OFFLINE_ENV.items():
        os.environ[k] = v


def is_loopback(host: str) -> bool:
    """True for localhost and loopback addresses (127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def make_context(root: str | os.PathLike, device: str = "auto", limits: Limits | None = None) -> AppContext:
    from gankit.train.build import resolve_device

    return AppContext(Path(root), RunCache(str(resolve_device(device))), limits or Limits())


def build_app(ctx: AppContext):
    """The gr.Blocks page: one tab per registered tab whose capability some run has."""
    set_offline_env()
    import gradio as gr

    from gankit.app.tabs import tabs_for

    caps: set[str] = set().union(*(e.caps for e in ctx.runs)) if ctx.runs else set()
    with gr.Blocks(title="gankit", analytics_enabled=False) as demo:
        gr.Markdown(f"## gankit · {ctx.root.name}/ · {len(ctx.runs)} run(s) · device {ctx.cache.device}")
        if not ctx.runs:
            gr.Markdown(f"No runs under `{ctx.root}` (a run folder holds config.yaml and checkpoints/). "
                        "Train one with `gankit train`, then Rescan.")
        for t in tabs_for(caps):
            with gr.Tab(t.title, id=t.key, elem_id=f"tab-{t.key}"):
                t.build(ctx)
        _wire(demo, ctx)
    return demo


def _wire(demo, ctx: AppContext) -> None:
    import gradio as gr

    if ctx.rescan_button is not None and ctx.pickers:
        def rescan():
            ctx.rescan()
            return [gr.update(choices=ctx.choices(cap)) for _, cap in ctx.pickers]

        ctx.rescan_button.click(rescan, None, [p for p, _ in ctx.pickers])
    for chain in ctx.on_load:
        (fn, inputs, outputs), rest = chain[0], chain[1:]
        ev = demo.load(fn, inputs, outputs)
        for fn, inputs, outputs in rest:
            ev = ev.then(fn, inputs, outputs)


def preload(ctx: AppContext) -> None:
    """Load the run each tab shows first, so the page's first sample does not wait for it."""
    firsts = {ctx.choices(cap)[0] for _, cap in ctx.pickers if cap and ctx.choices(cap)}
    for name in sorted(firsts):
        try:
            ctx.cache.get(ctx.entry(name).path)
        except Exception:  # the tab says what is wrong when the run is picked
            pass


def launch(root: str | os.PathLike, host: str = "127.0.0.1", port: int = 7860, device: str = "auto",
           limits: Limits | None = None, block: bool = True, quiet: bool = False):
    """Serve the app for the runs under ``root``. Returns (demo, local url); with ``block`` it
    serves until interrupted. A host other than loopback is reachable from other machines: warned."""
    set_offline_env()
    import gradio as gr

    ctx = make_context(root, device, limits)
    if not is_loopback(host):
        print(f"gankit app: WARNING: listening on {host}:{port}, reachable from other machines: anyone who can "
              f"connect can run the models and see the runs under {ctx.root}. Use --host 127.0.0.1 to keep it local.",
              file=sys.stderr)
    demo = build_app(ctx)
    demo.queue(default_concurrency_limit=1, max_size=64)
    theme = gr.themes.Default(font=SYSTEM_FONTS, font_mono=MONO_FONTS)
    try:
        _, url, _ = demo.launch(server_name=host, server_port=port, share=False, inbrowser=False, quiet=quiet,
                                prevent_thread_lock=True, max_file_size=ctx.limits.max_bytes, footer_links=[],
                                show_error=False, ssr_mode=False, mcp_server=False, enable_monitoring=False,
                                run_history=False, theme=theme)
    except OSError as e:  # port taken, address not on this machine
        raise GankitError(f"gankit app: cannot serve on {host}:{port} ({str(e).splitlines()[0][:200]}); "
                          "choose another --port or --host") from None
    threading.Thread(target=preload, args=(ctx,), daemon=True).start()  # while the browser loads the page
    if not quiet:
        print(f"gankit app: {len(ctx.runs)} run(s) under {ctx.root} on {ctx.cache.device}; open {url}", flush=True)
    if block:
        try:
            demo.block_thread()
        finally:
            demo.close()
    return demo, url
