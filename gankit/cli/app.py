"""``gankit app RUN_OR_RUNS_DIR``: serve the web app (docs/app.md)."""

from __future__ import annotations

import argparse

from gankit.errors import GankitError


def add_parsers(sub) -> None:
    p = sub.add_parser("app", help="local web app: runs, sampling, attribute and latent editing (needs gankit[app])",
                       description="Serve a Gradio page over the runs in a folder (or one run). Offline: no analytics, "
                                   "nothing fetched from the internet. Binds 127.0.0.1 unless --host says otherwise.")
    p.add_argument("runs", metavar="RUN_OR_RUNS_DIR", help="a run folder, or a folder of runs (searched 3 levels deep)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0: every interface; warned)")
    p.add_argument("--port", type=int, default=7860)
    p.add_argument("--device", default="auto", help="auto (the GPU when present) | cpu | cuda | cuda:N")
    p.add_argument("--max-upload-mb", type=float, default=20.0, help="largest upload in megabytes (10^6 bytes)")
    p.add_argument("--max-pixels", type=int, default=4096 * 4096, help="largest uploaded image, width x height")
    p.set_defaults(func=cmd_app)


def cmd_app(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gankit.app.uploads import Limits

    if not 1 <= args.port <= 65535:
        raise GankitError(f"--port {args.port}: expected 1..65535")
    if not args.max_upload_mb > 0 or args.max_pixels < 1:
        raise GankitError(f"--max-upload-mb {args.max_upload_mb} / --max-pixels {args.max_pixels}: expected positive limits")
    if not Path(args.runs).is_dir():
        raise GankitError(f"{args.runs}: expected a run folder or a folder of runs")
    import importlib.util

    if importlib.util.find_spec("gradio") is None:  # not imported here: the server sets its offline switches first
        raise GankitError("gankit app needs Gradio: pip install 'gankit[app]' (or 'gradio>=5')")
    from gankit.app.server import launch

    launch(args.runs, args.host, args.port, args.device, Limits(int(args.max_upload_mb * 1e6), args.max_pixels))
    return 0
