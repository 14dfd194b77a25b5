"""When a run checkpoints and stops: preemption signals, time-based checkpoints, a wall-clock budget.

All timing goes through an injectable ``clock`` (seconds, monotonic), so tests drive it
without sleeping.
"""

from __future__ import annotations

import signal
import time
from typing import Any, Callable

from gankit.config import parse_duration
from gankit.errors import Stopped

Clock = Callable[[], float]

def format_duration(seconds: float) -> str:
    s = int(round(seconds))
    h, rem = divmod(s, 3600)
    m, sec = divmod(rem, 60)
    return f"{h}h{m:02d}m{sec:02d}s" if h else (f"{m}m{sec:02d}s" if m else f"{sec}s")


class StopSignals:
    """SIGINT, SIGTERM and SIGUSR1 (what Slurm's ``--signal`` sends before a job's limit)
    become a flag checked between steps; a second SIGINT/SIGTERM aborts at once, unless it
    comes within ``grace`` seconds of the first: under torchrun one Ctrl-C reaches a worker
    twice (SIGINT from the terminal, then SIGTERM from torchrun), and that is one request."""

    SIGNALS = tuple(s for s in (getattr(signal, n, None) for n in ("SIGINT", "SIGTERM", "SIGUSR1")) if s is not None)

    def __init__(self, grace: float = 0.0, clock: Clock = time.monotonic):
        self.signum: int | None = None
        self.grace, self.clock = grace, clock
        self._first = 0.0
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "StopSignals":
        for s in self.SIGNALS:
            try:
                self._old[s] = signal.signal(s, self._handle)
            except ValueError:  # not the main thread: no handlers, no flag
                pass
        return self

    def _handle(self, signum, frame) -> None:
        if self.signum is not None and signum != getattr(signal, "SIGUSR1", None):
            if self.clock() - self._first < self.grace:
                return  # the same stop request, delivered twice
            raise KeyboardInterrupt
        self.signum = signum
        self._first = self.clock()

    @property
    def name(self) -> str:
        try:
            return signal.Signals(self.signum).name
        except (ValueError, TypeError):
            return str(self.signum)

    def __exit__(self, *exc) -> None:
        for s, h in self._old.items():
            signal.signal(s, h)


class Budget:
    """Time-based checkpoints (every ``ckpt_minutes``) and a wall-clock budget (``max_time``
    seconds from ``start``). The budget stops a run when the next step plus a checkpoint
    would pass it; both estimates are the largest seen so far (a cautious guess)."""

    def __init__(self, ckpt_minutes: float, max_time: float, clock: Clock = time.monotonic, start: float | None = None):
        self.clock = clock
        self.interval = ckpt_minutes * 60.0
        self.max_time = max_time
        self.start = clock() if start is None else start
        self.last_ckpt = self.clock()
        self.step_time = 0.0
        self.ckpt_time = 0.0
        self._t = None

    def step_started(self) -> None:
        self._t = self.clock()

    def step_done(self) -> None:
        if self._t is not None:
            self.step_time = max(self.step_time, self.clock() - self._t)

    def checkpoint_done(self, started: float) -> None:
        now = self.clock()
        self.ckpt_time = max(self.ckpt_time, now - started)
        self.last_ckpt = now

    def checkpoint_due(self) -> bool:
        return self.interval > 0 and self.clock() - self.last_ckpt >= self.interval

    def elapsed(self) -> float:
        return self.clock() - self.start

    def exhausted(self) -> bool:
        """True when one more step and a checkpoint would pass ``max_time`` (0: no budget)."""
        return self.max_time > 0 and self.elapsed() + self.step_time + self.ckpt_time > self.max_time


class Deadline:
    """A wall-clock budget shared by the runs of a study or sweep (``train.max_time`` of the
    whole command): each run gets what is left, and none starts once it is spent."""

    def __init__(self, max_time: str, clock: Clock = time.monotonic):
        self.total, self.clock = parse_duration(max_time), clock
        self.start = clock()

    def remaining(self) -> str:
        """The budget left as a ``train.max_time`` value ("" when there is no budget)."""
        if not self.total:
            return ""
        left = self.total - (self.clock() - self.start)
        if left <= 0:
            raise Stopped(f"the time budget (train.max_time={format_duration(self.total)}) ran out between runs", 124)
        return f"{left:.3f}"
