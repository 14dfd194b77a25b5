"""``gankit app``: a local web app (Gradio) over the pipeline layer (docs/app.md).

Layer: beside the CLI, above pipelines (it imports the library, never ``gankit.cli``). Gradio
is imported only by the tab modules and :mod:`gankit.app.server`, so run discovery, upload
limits and path checks work (and are tested) without it.

    gankit/app/runs.py      run discovery, capabilities, paths kept inside the runs folder, curves
    gankit/app/uploads.py   upload limits (bytes, pixels) and decoding with messages
    gankit/app/context.py   what tabs share; errors -> a message on the page
    gankit/app/tabs/        one module per tab, registered with the capability it needs
    gankit/app/server.py    offline Gradio page, queue, launch
"""
