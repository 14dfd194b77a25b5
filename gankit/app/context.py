"""What every tab shares: the runs folder and its runs, loaded runs, upload limits, a folder
for files to download, and the guard that turns errors into a message on the page."""

from __future__ import annotations

import functools
import logging
import re
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gankit.app.runs import RunCache, RunEntry, discover_runs
from gankit.app.uploads import Limits
from gankit.errors import GankitError

log = logging.getLogger("gankit.app")

__all__ = ["AppContext", "guarded", "refused", "seed_value", "zoom", "safe_name"]


@dataclass
class AppContext:
    root: Path
    cache: RunCache
    limits: Limits = field(default_factory=Limits)
    out_dir: Path | None = None
    runs: list[RunEntry] = field(default_factory=list)
    # filled by the tabs while the page is built: run pickers (dropdown, capability) that a
    # rescan updates, chains of handlers run when a page loads [(fn, inputs, outputs), ...], the rescan button
    pickers: list = field(default_factory=list)
    on_load: list = field(default_factory=list)
    rescan_button: object = None

    def __post_init__(self) -> None:
        self.root = Path(self.root).resolve()
        if self.out_dir is None:
            self.out_dir = Path(tempfile.mkdtemp(prefix="gankit-app-"))
        if not self.runs:
            self.rescan()

    def rescan(self) -> list[RunEntry]:
        self.runs = discover_runs(self.root)
        return self.runs

    def choices(self, cap: str | None = None) -> list[str]:
        """Names of the runs that can do ``cap`` (all runs when None)."""
        return [e.name for e in self.runs if cap is None or cap in e.caps]

    def entry(self, name: str | None) -> RunEntry:
        """A discovered run by its name; the browser names runs, it never gives paths."""
        for e in self.runs:
            if e.name == name:
                return e
        raise GankitError("pick a run first" if not name else f"run '{name}' is not in the runs folder (rescan?)")

    def run(self, name: str | None, cap: str):
        """The loaded run ``name`` (it must have capability ``cap``)."""
        e = self.entry(name)
        if cap not in e.caps:
            raise GankitError(f"run '{name}' cannot do this ({e.error or 'its generator is of kind ' + str(e.kind.kind)})")
        return self.cache.get(e.path)

    def output(self, stem: str, suffix: str) -> Path:
        """A new file path in the app's download folder."""
        return self.out_dir / f"{safe_name(stem) or 'out'}-{uuid.uuid4().hex[:8]}{suffix}"


def safe_name(text: str, limit: int = 64) -> str:
    """Letters, digits, '-', '_' and '.' only (no folders), at most ``limit`` characters."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("._")[:limit]


def refused(message: str) -> str:
    return f"**Refused:** {message}"


def guarded(status):
    """Decorator for event handlers that return {component: value}: a GankitError (bad input,
    an upload over the limits, a run that cannot do it) becomes a message in ``status``; any
    other error too, with its traceback in the server log, never in the page."""

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kw):
            try:
                out = fn(*args, **kw)
            except GankitError as e:
                return {status: refused(str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__)}
            except Exception as e:  # a bug: keep the traceback out of the page
                log.exception("gankit app: %s failed", fn.__name__)
                return {status: f"**Error:** {type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''} "
                                "(details in the server log)"}
            out.setdefault(status, "")
            return out

        return wrapper

    return deco


def seed_value(value) -> int:
    """A seed from the page's number box: a whole number >= 0, else a GankitError."""
    if value is None or not float(value).is_integer() or not 0 <= int(value) < 2**63:
        raise GankitError(f"seed {value}: expected a whole number >= 0")
    return int(value)


def zoom(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement of uint8 [H, W, 3] by an integer factor (tiny images)."""
    f = max(1, int(factor))
    return image if f == 1 else np.repeat(np.repeat(image, f, axis=0), f, axis=1)
