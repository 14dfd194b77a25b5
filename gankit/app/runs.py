"""Runs the app serves: discovery under one folder, what each can do, paths kept inside the
folder, metrics curves, and a cache of loaded runs.

A run folder holds ``config.yaml`` and/or ``checkpoints/step_*`` (as ``gankit train`` writes
them). What a run can do (its *capabilities*) is read from its config alone
(:func:`gankit.pipelines.run_kind`), so listing runs loads no weights; the web app builds a tab
for each capability some run has.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gankit.errors import GankitError
from gankit.train.logging import read_records

__all__ = ["RunEntry", "discover_runs", "inside", "read_metrics", "RunCache", "CAPABILITY_RULES", "capabilities_of"]

SKIP_DIRS = {"checkpoints", "samples", "tb", "__pycache__", "node_modules", ".git"}


@dataclass
class RunEntry:
    """One run: ``name`` (its path relative to the runs folder, '.' for the folder itself), its
    folder, what it trains (RunKind, None when its config cannot be read) and capabilities."""

    name: str
    path: Path
    kind: Any = None
    caps: frozenset[str] = frozenset()
    error: str | None = None
    has_checkpoint: bool = False


# Restoration runs are image-to-image too, but their input is degraded (their own tabs:
# Upscale, Inpaint), so the translate tab does not claim them. Keyed by recipe name.
RESTORATION_RECIPES = {"srgan": "upscale", "context_encoder": "inpaint"}
# Text-to-image generators are of kind "noise" but need a caption embedding: the Sample tab would
# draw them from a zero embedding (no caption), so they get the Text to image tab instead.
TEXT2IMG_RECIPES = ("gan_int_cls", "stackgan1", "stackgan2")
# Music generators are of kind "noise" too, but draw piano rolls from chords: the Compose tab.
MUSIC_RECIPES = ("midinet",)

# Capability rules: RunKind -> names. A later method (translation, upscaling, inpainting, text,
# music) adds one rule here, and a tab module that declares ``needs = "<name>"``.
CAPABILITY_RULES: list[Callable[[Any], set[str]]] = [
    lambda k: ({"sample"} if k.kind in ("noise", "conditional", "style")
               and k.recipe not in TEXT2IMG_RECIPES + MUSIC_RECIPES else set()),
    lambda k: {"style", "latent_edit"} if k.kind == "style" else set(),
    lambda k: {"edit_attributes"} if k.attribute_editor else set(),
    lambda k: ({"translate"} if k.kind == "image_to_image" and not k.attribute_editor
               and k.recipe not in RESTORATION_RECIPES else set()),
    lambda k: {RESTORATION_RECIPES[k.recipe]} if k.recipe in RESTORATION_RECIPES else set(),
    lambda k: {"text2img"} if k.recipe in TEXT2IMG_RECIPES else set(),
    lambda k: {"compose"} if k.recipe in MUSIC_RECIPES else set(),
]


def capabilities_of(kind) -> frozenset[str]:
    caps: set[str] = set()
    for rule in CAPABILITY_RULES:
        caps |= rule(kind)
    return frozenset(caps)


def _is_run(p: Path) -> bool:
    return (p / "config.yaml").is_file() or (p / "checkpoints").is_dir()


def _entry(root: Path, p: Path) -> RunEntry:
    from gankit.config import config_from_dict, read_yaml
    from gankit.pipelines import run_kind
    from gankit.train.state import latest_checkpoint, load_checkpoint

    name = p.relative_to(root).as_posix() if p != root else "."
    ck = latest_checkpoint(p)
    e = RunEntry(name, p, has_checkpoint=ck is not None)
    try:
        if (p / "config.yaml").is_file():
            cfg = config_from_dict(read_yaml(p / "config.yaml"))
        else:  # checkpoint only: its stored config (code-free loader)
            cfg = config_from_dict(load_checkpoint(ck)[1]["config"])
        e.kind = run_kind(cfg)
        e.caps = capabilities_of(e.kind) if ck is not None else frozenset()
        if ck is None:
            e.error = "no checkpoint yet (curves and samples only)"
    except GankitError as err:
        e.error = str(err).splitlines()[0][:300]
    return e


def discover_runs(root: str | os.PathLike, max_depth: int = 3, limit: int = 500) -> list[RunEntry]:
    """Run folders at ``root`` or below it (``max_depth`` levels, symbolic links not followed,
    at most ``limit`` runs), sorted by name. ``root`` itself may be one run."""
    root = Path(root).resolve()
    if not root.is_dir():
        raise GankitError(f"{root}: expected a run folder or a folder of runs")
    if _is_run(root):
        return [_entry(root, root)]
    found: list[RunEntry] = []
    stack = [(root, 0)]
    while stack and len(found) < limit:
        d, depth = stack.pop()
        try:
            subs = sorted((c for c in d.iterdir() if c.is_dir() and not c.is_symlink()), reverse=True)
        except OSError:
            continue
        for c in subs:
            if c.name.startswith(".") or c.name in SKIP_DIRS:
                continue
            if _is_run(c):
                found.append(_entry(root, c))
            elif depth + 1 < max_depth:
                stack.append((c, depth + 1))
    return sorted(found, key=lambda e: e.name)


def inside(root: str | os.PathLike, rel: str | os.PathLike, what: str = "path") -> Path:
    """``root / rel`` resolved (symbolic links and '..' followed), refused unless it is ``root``
    or below it. Absolute paths are accepted only when they resolve inside ``root``."""
    base = Path(root).resolve()
    text = str(rel).strip()
    if not text or "\x00" in text:
        raise GankitError(f"{what}: give a path inside the runs folder")
    target = (base / text).resolve()
    if target != base and base not in target.parents:
        raise GankitError(f"{what} '{text}': outside the runs folder; give a path inside {base.name}/")
    return target


def read_metrics(run_dir: str | os.PathLike, max_lines: int = 200_000) -> dict[str, list[tuple[int, float]]]:
    """Curves from RUN/metrics.jsonl: {name: [(step, value), ...]} for the training losses
    (records with a speed, i.e. logged steps) and ``fid`` (evaluation events). Lines that are
    not JSON objects (a run killed mid-write) and non-finite values are skipped."""
    curves: dict[str, list[tuple[int, float]]] = {}
    if not (Path(run_dir) / "metrics.jsonl").is_file():
        return curves
    skip = {"step", "time", "it_s", "img_s"}
    for rec in read_records(run_dir, max_lines):
        try:
            step = int(rec["step"])
        except (ValueError, KeyError, TypeError):
            continue
        keys = [k for k in rec if k not in skip] if "it_s" in rec else [k for k in ("fid",) if k in rec]
        for k in keys:
            v = rec[k]
            if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) != float("inf") and v == v:
                curves.setdefault(k, []).append((step, float(v)))
    return curves


@dataclass
class RunCache:
    """Loaded runs (gankit.pipelines.load_run: code-free checkpoint loading) keyed by folder and
    checkpoint, at most ``size`` at a time; loading is serialized, using a run is not."""

    device: str = "cpu"
    size: int = 4
    _runs: dict[tuple[str, str], Any] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def get(self, path: str | os.PathLike):
        from gankit.train.state import resolve_checkpoint

        ck = resolve_checkpoint(path)
        key = (str(Path(path).resolve()), str(ck))
        with self._lock:
            run = self._runs.pop(key, None)
            if run is None:
                from gankit.pipelines import load_run

                run = load_run(ck, self.device)
            self._runs[key] = run  # most recently used last
            while len(self._runs) > self.size:
                self._runs.pop(next(iter(self._runs)))
            return run
