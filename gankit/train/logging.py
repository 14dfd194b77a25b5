"""Run statistics to metrics.jsonl, TensorBoard and a tqdm progress bar."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any, Iterator

from tqdm.auto import tqdm


def read_records(run_dir: str | Path, max_lines: int | None = None) -> Iterator[dict]:
    """The JSON objects of RUN/metrics.jsonl (the file :class:`RunLogger` writes) in order, over
    at most ``max_lines`` lines; a line that is not one (the torn last line of a killed run) is
    skipped. A missing file raises FileNotFoundError."""
    with open(Path(run_dir) / "metrics.jsonl", encoding="utf-8", errors="replace") as f:
        for i, line in enumerate(f):
            if max_lines is not None and i >= max_lines:
                return
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict):
                yield rec


class RunLogger:
    """Writes one JSON object per log event to ``RUN/metrics.jsonl`` and mirrors scalars
    to TensorBoard (``RUN/tb``) when the tensorboard package is importable."""

    def __init__(self, run_dir: Path, start: int, total: int, progress: bool = True, tensorboard: bool = True):
        self.path = Path(run_dir) / "metrics.jsonl"
        self.tb = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter

                self.tb = SummaryWriter(str(Path(run_dir) / "tb"), purge_step=start if start else None)
            except Exception:  # tensorboard missing: JSONL still has everything
                self.tb = None
        self.bar = tqdm(total=total, initial=start, unit="it", dynamic_ncols=True, disable=not progress, desc="train")
        self.last_time, self.last_step = time.perf_counter(), start

    def log(self, step: int, stats: dict[str, float], images_per_step: int) -> dict[str, Any]:
        now = time.perf_counter()
        dt = max(now - self.last_time, 1e-9)
        it_s = (step - self.last_step) / dt
        rec = {"step": step, "time": time.time(), "it_s": round(it_s, 3), "img_s": round(it_s * images_per_step, 1)}
        rec.update({k: (v if math.isfinite(v) else str(v)) for k, v in stats.items()})
        with open(self.path, "a") as f:
            f.write(json.dumps(rec) + "\n")
        if self.tb is not None:
            for k, v in stats.items():
                self.tb.add_scalar(f"loss/{k}" if not k.startswith(("fid", "kid", "ada")) else k, v, step)
            self.tb.add_scalar("speed/img_s", rec["img_s"], step)
        shown = sorted(stats, key=lambda k: not k.endswith("_total"))[:4]  # each phase's total first
        self.bar.set_postfix({k: f"{stats[k]:.3g}" for k in shown}, refresh=False)
        self.last_time, self.last_step = now, step
        return rec

    def event(self, step: int, **fields: Any) -> None:
        """A non-loss record (sample grid written, checkpoint, rollback, FID ...)."""
        with open(self.path, "a") as f:
            f.write(json.dumps({"step": step, "time": time.time(), **fields}) + "\n")
        if self.tb is not None:
            for k, v in fields.items():
                if isinstance(v, (int, float)) and not isinstance(v, bool):
                    self.tb.add_scalar(f"eval/{k}", v, step)

    def image(self, tag: str, grid, step: int) -> None:
        if self.tb is not None:
            self.tb.add_image(tag, grid, step)

    def update(self, n: int = 1) -> None:
        self.bar.update(n)

    def write(self, msg: str) -> None:
        self.bar.write(msg)

    def close(self) -> None:
        self.bar.close()
        if self.tb is not None:
            self.tb.flush()
            self.tb.close()


class NullLogger(RunLogger):
    """What ranks other than 0 log under torchrun: nothing (rank 0 writes the run's files)."""

    def __init__(self, run_dir: Path, start: int, total: int, progress: bool = True, tensorboard: bool = True):
        self.path, self.tb = None, None

    def log(self, step: int, stats: dict[str, float], images_per_step: int) -> dict[str, Any]:
        return {"step": step, **stats}

    def event(self, step: int, **fields: Any) -> None:
        pass

    def image(self, tag: str, grid, step: int) -> None:
        pass

    def update(self, n: int = 1) -> None:
        pass

    def write(self, msg: str) -> None:
        pass

    def close(self) -> None:
        pass
