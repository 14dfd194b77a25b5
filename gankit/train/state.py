"""Checkpoints: safetensors weights + a weights_only-loadable state file, written atomically.

Layout: ``RUN/checkpoints/step_000001000/{weights.safetensors, state.pt}``. A checkpoint is
written into a temporary sibling folder, every file fsynced, then renamed into place with
``os.replace``; a crash or a full disk mid-write leaves the previous checkpoints intact.
Loading never executes code: safetensors for tensors, ``torch.load(weights_only=True)`` for
the rest (optimizer states, RNG states, step, config, network specs).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file
from torch import nn

from gankit.errors import CheckpointError
from gankit.io import fsync_dir, fsync_file, write_json_atomic  # noqa: F401  (write_json_atomic re-exported)

SCHEMA = 1
WEIGHTS, STATE = "weights.safetensors", "state.pt"


def flatten_state(nets: dict[str, nn.Module]) -> dict[str, torch.Tensor]:
    """{"G": net, ...} -> {"G.layer.weight": tensor, ...} (contiguous CPU copies)."""
    out = {}
    for name, net in nets.items():
        for k, v in net.state_dict().items():
            out[f"{name}.{k}"] = v.detach().to("cpu").contiguous().clone()
    return out


def unflatten_state(tensors: dict[str, torch.Tensor], name: str) -> dict[str, torch.Tensor]:
    prefix = name + "."
    return {k[len(prefix):]: v for k, v in tensors.items() if k.startswith(prefix)}


def checkpoint_dirs(run_dir: Path) -> list[Path]:
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return []
    return sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_") and (p / STATE).is_file() and (p / WEIGHTS).is_file())


def latest_checkpoint(run_dir: Path) -> Path | None:
    dirs = checkpoint_dirs(run_dir)
    return dirs[-1] if dirs else None


def save_checkpoint(run_dir: Path, step: int, tensors: dict[str, torch.Tensor], state: dict[str, Any], keep_last: int = 3, tag: str | None = None) -> Path:
    """Write one checkpoint atomically; prune older ``step_*`` ones beyond ``keep_last``.

    tag: write ``checkpoints/<tag>`` instead of ``step_N`` (e.g. "best"), replacing it.
    """
    root = Path(run_dir) / "checkpoints"
    name = tag or f"step_{step:09d}"
    final = root / name
    tmp = root / f".tmp-{name}-{os.getpid()}"
    try:
        root.mkdir(parents=True, exist_ok=True)  # fails when e.g. 'checkpoints' is a file
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        save_file(tensors, str(tmp / WEIGHTS), metadata={"schema": str(SCHEMA), "step": str(step)})
        torch.save({**state, "schema": SCHEMA, "step": step}, tmp / STATE)
        for f in (WEIGHTS, STATE):
            fsync_file(tmp / f)
        fsync_dir(tmp)
        if final.exists():  # replacing a tag: move the old one aside first, then drop it
            old = root / f".old-{name}-{os.getpid()}"
            os.replace(final, old)
            os.replace(tmp, final)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, final)
        fsync_dir(root)
    except Exception as e:  # a full disk: OSError, torch.save's RuntimeError, safetensors' SafetensorError
        shutil.rmtree(tmp, ignore_errors=True)
        raise CheckpointError(_write_failure(final, root, _nbytes(tensors) + _nbytes(state), e)) from None
    if tag is None and keep_last > 0:
        for old in checkpoint_dirs(run_dir)[:-keep_last]:
            shutil.rmtree(old, ignore_errors=True)
    return final


def _human(n: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} GB"


def _nbytes(obj: Any) -> int:
    """Bytes of every tensor inside nested dicts/lists (weights, optimizer moments)."""
    if isinstance(obj, torch.Tensor):
        return obj.numel() * obj.element_size()
    if isinstance(obj, dict):
        return sum(_nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(v) for v in obj)
    return 0


def _write_failure(final: Path, root: Path, need: int, err: BaseException) -> str:
    """One line: what failed, free space vs. about what a checkpoint needs, what is intact."""
    text = str(err).strip()
    reason = getattr(err, "strerror", None) or (text.splitlines()[0][:120] if text else type(err).__name__)
    try:
        free = shutil.disk_usage(root).free
        space = f"{_human(free)} free in {root}, a checkpoint needs about {_human(need + 2**20)}"
    except OSError:
        space = f"a checkpoint needs about {_human(need + 2**20)}"
    return f"could not write checkpoint {final} ({reason}); {space}; the previous checkpoints are intact"


def clean_stale_temps(run_dir: Path) -> list[Path]:
    """Remove what a killed writer left in a run folder: checkpoint temp/old folders
    (``checkpoints/.tmp-*``, ``.old-*``) and hidden atomic-write temp files (``.*.tmp``)."""
    run_dir = Path(run_dir)
    gone = []
    root = run_dir / "checkpoints"
    if root.is_dir():
        for p in root.iterdir():
            if p.name.startswith(".old-"):
                # a tag (e.g. 'best') moved aside while being replaced: if the new one never
                # landed, the old one is the only copy, so put it back
                tag = root / p.name[len(".old-"):].rsplit("-", 1)[0]
                if not tag.exists():
                    os.replace(p, tag)
                    continue
            if p.name.startswith((".tmp-", ".old-")):
                shutil.rmtree(p, ignore_errors=True)
                gone.append(p)
    if run_dir.is_dir():
        for p in run_dir.rglob(".*.tmp"):
            if p.is_file():
                p.unlink(missing_ok=True)
                gone.append(p)
    return gone


def resolve_checkpoint(path: str | os.PathLike) -> Path:
    """A run dir (-> its latest checkpoint), a checkpoint dir, or a file inside one."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"'{p}' does not exist (expected a run directory or a checkpoint)")
    if p.is_file():
        if not ((p.parent / STATE).is_file() and (p.parent / WEIGHTS).is_file()):
            raise CheckpointError(f"{p}: is a file, not a run directory or a checkpoint "
                                  f"(expected RUN/ or RUN/checkpoints/step_N/ holding {WEIGHTS} and {STATE})")
        p = p.parent
    if (p / STATE).is_file() and (p / WEIGHTS).is_file():
        return p
    latest = latest_checkpoint(p)
    if latest is None:
        raise CheckpointError(f"'{p}' holds no checkpoint (expected RUN/checkpoints/step_*/{{{WEIGHTS},{STATE}}})")
    return latest


def load_checkpoint(path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return (flat tensors, state) of a checkpoint; never unpickles code."""
    ck = resolve_checkpoint(path)
    try:
        tensors = load_file(str(ck / WEIGHTS), device=str(device))
        state = torch.load(ck / STATE, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt or foreign file: one line, no torch internals
        raise CheckpointError(f"{ck}: unreadable checkpoint ({type(e).__name__}: {str(e).splitlines()[0][:200]})") from None
    if state.get("schema") != SCHEMA:
        raise CheckpointError(f"{ck}: checkpoint schema {state.get('schema')} but this gankit reads schema {SCHEMA}")
    for k, v in tensors.items():  # never sample, evaluate or resume from garbage
        if v.is_floating_point() and not bool(torch.isfinite(v).all()):
            raise CheckpointError(f"{ck}: weight '{k}' holds NaN/Inf values (the run diverged before this checkpoint)")
    return tensors, state
