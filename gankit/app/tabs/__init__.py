"""The app's tabs: one module each, registered with the capability it needs.

A tab module defines ``build(ctx)`` (Gradio components and events, called inside a
``gr.Tab``) and registers it::

    @tab("sample", "Sample", needs="sample", order=20)
    def build(ctx): ...

The app shows a tab when ``needs`` is None or some run in the folder has that capability
(see :data:`gankit.app.runs.CAPABILITY_RULES`). A later method (translation, upscaling,
inpainting, text-to-image, music with audio playback) is one more module listed in
:data:`TAB_MODULES`, and one capability rule.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass

from gankit.registry import Registry

__all__ = ["Tab", "TABS", "tab", "tabs_for", "TAB_MODULES"]

TAB_MODULES = ["gankit.app.tabs.runs", "gankit.app.tabs.sample", "gankit.app.tabs.edit_attributes",
               "gankit.app.tabs.latent_edit", "gankit.app.tabs.translate", "gankit.app.tabs.text2img",
               "gankit.app.tabs.upscale", "gankit.app.tabs.inpaint", "gankit.app.tabs.compose"]


@dataclass(frozen=True)
class Tab:
    key: str
    title: str
    needs: str | None
    order: int
    build: Callable


TABS: Registry[Tab] = Registry("app tab")


def tab(key: str, title: str, needs: str | None = None, order: int = 50):
    """Register ``build(ctx)`` as the tab ``key``."""

    def deco(build: Callable) -> Callable:
        TABS.register(key)(Tab(key, title, needs, order, build))
        return build

    return deco


def _load() -> None:
    from gankit.app.server import set_offline_env

    set_offline_env()  # before the tab modules import gradio
    for mod in TAB_MODULES:
        importlib.import_module(mod)


def tabs_for(caps: set[str] | frozenset[str]) -> list[Tab]:
    """The tabs to show for runs with these capabilities (their union), in order."""
    _load()
    tabs = [TABS.get(k) for k in TABS.keys()]
    return sorted((t for t in tabs if t.needs is None or t.needs in caps), key=lambda t: (t.order, t.key))
