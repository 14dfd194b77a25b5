"""The trainer: the only place that calls backward() and optimizer.step().

It knows no GAN: the recipe declares its networks, optimizer groups and phases
(:mod:`gankit.recipes.base`), and one training step runs the active phases in order. The
trainer owns one Adam per group, the learning-rate schedule, the EMA of the recipe's sample
network, bf16 autocast, channels_last, optional torch.compile (with a clean fallback to
eager), the NaN guard, sample grids, logging and checkpoints (periodic, on SIGINT/SIGTERM,
and at the end). ``Trainer.fit`` continues exactly from the latest checkpoint when ``resume``
is set. Studies observe training through ``callbacks`` (after each step) and ``step_hooks``
(after each phase's backward, before its optimizer step), never by patching.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable

import torch
from torch import Tensor, nn

from gankit.config import Config, save_yaml
from gankit.data.stream import BatchStream, stored_gb
from gankit.errors import CheckpointError, ConfigError, Stopped, TrainingDiverged
from gankit.nn.random import batch_shard
from gankit.train import build, distributed
from gankit.train.checkpointing import CheckpointMixin
from gankit.train.collapse import CollapseMonitor
from gankit.train.compile import CompileMixin
from gankit.train.control import Budget, Clock, StopSignals, format_duration, parse_duration
from gankit.train.ema import EMA
from gankit.train.logging import NullLogger, RunLogger
from gankit.recipes.base import Phase
from gankit.train.fid import PeriodicFID
from gankit.train.samples import SampleWriter
from gankit.train.state import clean_stale_temps, latest_checkpoint, load_checkpoint

log = logging.getLogger(__name__)

StepHook = Callable[["Trainer", Phase], None]


# Logged losses between flushes: (sum vector, steps) per tuple of names. The set of names can
# change from step to step (lazy terms such as R1), so each name is averaged over its own steps.
Stats = dict[tuple[str, ...], tuple[Tensor, int]]


@dataclass
class TrainState:
    step: int
    run_dir: Path
    last_checkpoint: Path | None
    stopped_by_signal: bool = False
    rollbacks: int = 0
    stopped_by_budget: bool = False  # train.max_time ran out: saved, continue with --resume

    @property
    def stopped(self) -> bool:
        return self.stopped_by_signal or self.stopped_by_budget


class Trainer(CheckpointMixin, CompileMixin):
    """Train ``cfg`` into ``run_dir``. Call :meth:`fit`."""

    def __init__(self, cfg: Config, run_dir: str | Path, resume: bool = False, source=None,
                 callbacks: list[Callable[["Trainer", int], None]] | None = None):
        self.cfg, self.run_dir, self.resume = cfg, Path(run_dir), resume
        # torchrun: join the process group, one device per rank (a single process: a no-op)
        self.dist, device_name = distributed.setup(cfg.train.device, cfg.train.ddp)
        self.device = build.resolve_device(device_name)
        self.callbacks = callbacks or []
        self.fid_extractor = None  # tests may inject a small stand-in feature network
        t = cfg.train
        if t.amp == "bf16" and self.device.type != "cuda":
            log.warning("train.amp=bf16 is used on CUDA only; running float32 on %s", self.device)
        self.amp = t.amp == "bf16" and self.device.type == "cuda"
        self.channels_last = t.channels_last and self.device.type == "cuda"
        build.check_config(cfg, data=source is None)  # config mistakes first, before any data is read
        self.source = source if source is not None else build.build_source_for(cfg)
        torch.manual_seed(t.seed)  # weight initialisation follows train.seed
        self.nets = build.build_nets(cfg, self.source)
        if t.sync_bn:
            self.nets = distributed.convert_sync_bn(self.nets, self.device, self.dist)
        for net in self.nets.values():
            net.to(self.device)
            if self.channels_last:
                net.to(memory_format=torch.channels_last)
        self.dist.broadcast_state(self.nets.values())  # every rank starts from rank 0's weights
        if self.dist.rank:
            torch.manual_seed(t.seed + 1_000_003 * self.dist.rank)  # torch's own draws (dropout) differ per rank
        # the recipe's generator is the same on every rank: per-sample draws are slices of the
        # global batch's (gankit.nn.random), so the generators stay in lockstep
        self.rng = torch.Generator(device=self.device).manual_seed(t.seed)
        self.recipe = build.build_recipe(cfg, self.nets, self.rng, check=False)  # checked above
        self.phases: list[Phase] = self.recipe.phases()
        self._check_phases()
        # fused Adam: one kernel per step on CUDA (the multi-tensor default launches several)
        fused = {"fused": True} if self.device.type == "cuda" else {}
        hp = build.group_hparams(cfg, type(self.recipe))
        self.opts = {g: torch.optim.Adam(self._params(roles), lr=hp[g]["lr"], betas=hp[g]["betas"], **fused)
                     for g, roles in self.recipe.groups.items()}
        self.base_lr = {g: hp[g]["lr"] for g in self.opts}
        self.recipe.optimizers = MappingProxyType(self.opts)  # read-only (the unrolled GAN mirrors D's Adam)
        self.sample_role = self.recipe.sample_role
        self.ema = EMA(self.nets[self.sample_role], t.ema) if t.ema > 0 else None
        self.stream = BatchStream(self.source, t.batch_size, self.device, t.seed, self._resident(), cfg.data.hflip,
                                  cfg.data.num_workers, channels_last=self.channels_last, rank=self.dist.rank,
                                  world=self.dist.world)
        if t.ddp == "wrapper" and self.dist.active:
            if t.compile:
                raise ConfigError("train.compile with train.ddp=wrapper: compile works with train.ddp=grads only")
            self.recipe.nets = distributed.wrap(self.nets, self.dist)
        self.step_hooks: list[StepHook] = []
        self.clock: Clock = time.monotonic  # tests inject a fake clock (time-based checkpoints, budget)
        self.lr_scale = 1.0  # lowered by each NaN rollback (train.rollback_lr_factor)
        if self.stream.n_bad:
            log.warning("data.skip_bad: skipped %d unreadable image(s) of %d", self.stream.n_bad, len(self.source))
        self.step = 0
        self.rollbacks = 0
        self.extra_state: dict[str, Any] = {}  # small values carried in checkpoints (e.g. best FID)
        self.last_ckpt: Path | None = None
        self.compiled_names: list[str] = []  # nets currently swapped for torch.compile'd versions

    # ----- construction helpers -------------------------------------------------------------
    def _params(self, names: tuple[str, ...]) -> list[nn.Parameter]:
        return [p for n in names for p in self.nets[n].parameters()]

    def _check_phases(self) -> None:
        r = self.recipe
        for role in (x for roles in r.groups.values() for x in roles):
            if role not in self.nets:
                raise ConfigError(f"recipe '{self.cfg.recipe.name}': group member '{role}' is not one of its networks")
        for ph in self.phases:
            if ph.group not in r.groups:
                raise ConfigError(f"recipe '{self.cfg.recipe.name}': phase '{ph.name}' updates unknown group '{ph.group}'")
            if ph.repeat < 1 or ph.every < 1:
                raise ConfigError(f"recipe '{self.cfg.recipe.name}': phase '{ph.name}' needs repeat >= 1 and every >= 1")

    def sample_net(self) -> nn.Module:
        """What samples and metrics use: the EMA copy of the sample network, else the network."""
        return self.ema.net if self.ema is not None else self.nets[self.sample_role]

    def _resident(self) -> bool:
        mode = self.cfg.data.resident
        if mode in ("true", "false"):
            return mode == "true"
        return stored_gb(self.source) <= self.cfg.data.resident_max_gb

    # ----- the loop ---------------------------------------------------------------------------
    def _autocast(self):
        if self.amp:
            return torch.autocast(device_type="cuda", dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _set_lr(self) -> dict[str, float]:
        """Each group's lr: its base lr x the rollback scale x the linear decay factor x the
        recipe's schedule factor; Adam's beta2 from the recipe's schedule when it sets one.
        Returns the recipe's schedule of this step."""
        o, total = self.cfg.optim, self.cfg.train.steps
        frac = 1.0
        if o.lr_decay_start and self.step >= o.lr_decay_start:
            frac = max(0.0, 1.0 - (self.step - o.lr_decay_start) / max(1, total - o.lr_decay_start))
        sched = self.recipe.schedule(self.step)
        frac *= sched.get("lr_factor", 1.0)
        for g, opt in self.opts.items():
            for group in opt.param_groups:
                group["lr"] = self.base_lr[g] * self.lr_scale * frac
                if "beta2" in sched:
                    group["betas"] = (group["betas"][0], sched["beta2"])
        return sched

    def _train_only(self, group: str) -> None:
        """Parameter gradients for ``group``'s networks only (the others build no weight grads)."""
        members = set(self.recipe.groups[group])
        for n, net in self.nets.items():
            net.requires_grad_(n in members)
        if self.dist.mode == "wrapper":
            distributed.set_sync(self.recipe.nets, members)

    def train_step(self, stats: Stats) -> None:
        """One step: every active phase in order (each ``repeat`` times); adds losses to ``stats``."""
        sched = self._set_lr()
        batch = None
        names: list[str] = []
        values: list[Tensor] = []
        d = self.dist
        reduce = d.active and d.mode == "grads"
        for ph in self.phases:
            if not ph.active(self.step):
                continue
            self._train_only(ph.group)
            opt = self.opts[ph.group]
            for _ in range(ph.repeat):
                if ph.new_batch or batch is None:
                    batch = next(self.stream)
                with self._autocast(), batch_shard(d.rank, d.world):
                    out = ph.loss(batch, self.step)
                opt.zero_grad(set_to_none=True)
                out["total"].backward()
                if reduce:
                    d.reduce_grads(self._params(self.recipe.groups[ph.group]))
                for hook in self.step_hooks:
                    hook(self, ph)
                opt.step()
                if ph.after is not None:
                    ph.after()
                for k, v in out.items():
                    names.append(f"{ph.name}_total" if k == "total" else k)
                    values.append(v.detach().float().reshape(()))
        for net in self.nets.values():
            net.requires_grad_(True)
        d.broadcast_state(self.nets.values(), buffers_only=True)  # batch-norm statistics: rank 0's
        if self.ema is not None:
            # warm-up: the average may not remember more steps than have been taken, so
            # early samples are not dominated by the random initialisation
            warm = sched["ema"] if "ema" in sched else min(self.cfg.train.ema, (1 + self.step) / (10 + self.step))
            self.ema.update(0.0 if self.step < self.cfg.train.ema_start else warm)
        self._accumulate(stats, names, values)
        self.step += 1

    @staticmethod
    def _accumulate(stats: Stats, names: list[str], values: list[Tensor]) -> None:
        """Add this step's losses into ``stats`` with one stack and one add (few launches).
        A name repeated within a step (a repeated phase) is averaged over its repeats."""
        if not values:
            return
        key = tuple(names)
        vec = torch.stack(values)
        prev = stats.get(key)
        stats[key] = (vec, 1) if prev is None else (prev[0] + vec, prev[1] + 1)

    def _check_finite_params(self) -> None:
        flags = [p.isfinite().all() for n in self.nets for p in self.nets[n].parameters()]
        if flags and not bool(torch.stack(flags).all()):
            raise TrainingDiverged(f"a parameter became NaN/Inf by step {self.step}")

    def _diverged(self, what: str) -> None:
        """NaN/Inf seen: stop with a clear message, or roll back to the last checkpoint.

        Rollbacks count over the whole run (the counter survives the reload), each one scales
        every learning rate by ``train.rollback_lr_factor`` and, with
        ``train.rollback_skip_data``, skips the batches that led to the divergence; after
        ``train.max_rollbacks`` the run stops with a message."""
        t = self.cfg.train
        ck = latest_checkpoint(self.run_dir)
        if t.nan_policy != "rollback" or ck is None or self.rollbacks >= t.max_rollbacks:
            if t.nan_policy == "rollback" and ck is not None:
                raise TrainingDiverged(f"{what} at step {self.step}: training diverged again after {self.rollbacks} "
                                       f"rollback(s) (train.max_rollbacks={t.max_rollbacks}, learning rates x"
                                       f"{self.lr_scale:g}); lower optim.g_lr / optim.d_lr")
            hint = "" if t.nan_policy == "rollback" else "; set train.nan_policy=rollback to restart from the last checkpoint"
            raise TrainingDiverged(f"{what} at step {self.step}: training diverged (try a lower learning rate{hint})")
        rollbacks, scale, consumed = self.rollbacks + 1, self.lr_scale * t.rollback_lr_factor, self.stream.consumed
        tensors, st = load_checkpoint(ck, self.device)
        self.load_state(tensors, st)
        self.rollbacks, self.lr_scale = rollbacks, scale
        if t.rollback_skip_data:
            self.stream.load_state_dict({"consumed": consumed})
        # Re-seed the recipe's RNG so the retried steps do not replay the same divergence.
        self.rng.manual_seed(self.cfg.train.seed + 1_000_003 * self.rollbacks)
        self.logger.write(f"rollback {self.rollbacks}/{t.max_rollbacks}: {what}; resumed from {ck.name} "
                          f"with learning rates x{self.lr_scale:g}")
        self.logger.event(self.step, rollback=self.rollbacks, reason=what, checkpoint=ck.name, lr_scale=self.lr_scale)

    def _flush(self, stats: Stats) -> bool:
        """Log averaged stats (one device sync); False when a loss is not finite."""
        if not stats:
            return True
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        for names, (vec, n) in stats.items():  # one entry unless the set of losses changed
            for name, v in zip(names, self.dist.mean(vec).tolist()):  # every rank's losses, averaged
                sums[name] = sums.get(name, 0.0) + v
                counts[name] = counts.get(name, 0) + n
        rec = {name: sums[name] / counts[name] for name in sums}
        self.logger.log(self.step, rec, self.cfg.train.batch_size)
        bad = [n for n, v in rec.items() if v != v or v in (float("inf"), float("-inf"))]
        if bad:
            self._diverged(f"loss {', '.join(bad)} is NaN/Inf")
            return False
        return True

    def _prepare_run_dir(self) -> None:
        main = self.dist.is_main
        if main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
            for p in clean_stale_temps(self.run_dir):
                log.info("removed %s (left by a writer that was killed)", p)
        self.dist.barrier()
        if self.resume:
            ck = latest_checkpoint(self.run_dir)
            if ck is None:
                raise CheckpointError(f"--resume: no checkpoint in {self.run_dir}/checkpoints")
            tensors, st = load_checkpoint(ck, self.device)
            self.check_compatible(st["config"])
            self.load_state(tensors, st)
            self.last_ckpt = ck
        elif latest_checkpoint(self.run_dir) is not None:
            raise CheckpointError(f"{self.run_dir} already holds checkpoints: pass --resume to continue it, or choose another --out")
        self.dist.barrier()  # every rank has looked before rank 0 writes anything
        if main:
            save_yaml(self.cfg, self.run_dir / "config.yaml")

    def fit(self) -> TrainState:
        t = self.cfg.train
        self._prepare_run_dir()
        self.logger = (RunLogger if self.dist.is_main else NullLogger)(self.run_dir, self.step, t.steps, t.progress)
        self.samples = SampleWriter(self.recipe, self.source, t.n_samples, t.seed, self.run_dir / "samples",
                                    self.run_dir, self.sample_net, self.logger)
        if t.fid_every and not any(isinstance(cb, PeriodicFID) for cb in self.callbacks):
            self.callbacks.append(PeriodicFID(self.cfg, self.device, self.extra_state, self.source, self.fid_extractor,
                                              self.run_dir, shard=(self.dist.rank, self.dist.world)))
        if (t.collapse_every and self.dist.is_main
                and not any(isinstance(cb, CollapseMonitor) for cb in self.callbacks)):
            self.callbacks.append(CollapseMonitor(self.source, t.collapse_every, t.collapse_samples, t.collapse_drop, t.seed,
                                                  t.collapse_floor))
        budget = Budget(t.ckpt_minutes, parse_duration(t.max_time), self.clock)
        stop = ""
        try:
            # torchrun forwards a stop to every worker once more: give a checkpoint time (its
            # SIGKILL follows 30 s after its SIGTERM)
            with StopSignals(grace=20.0 if self.dist.active else 0.0) as flag:
                self._maybe_compile()
                stop = self._loop(flag, budget)
                if not stop and (not t.sample_every or self.step % t.sample_every) and self.dist.is_main:
                    self.samples.write(self.step)
        finally:
            self.logger.close()
        return TrainState(self.step, self.run_dir, self.last_ckpt, stop == "signal", self.rollbacks, stop == "budget")

    def _loop(self, flag: StopSignals, budget: Budget) -> str:
        """Train to ``train.steps``; returns "" when done, "signal" or "budget" when stopped
        early (a checkpoint of the current step is saved in every case)."""
        t = self.cfg.train
        stats: Stats = {}
        first, stop = True, ""
        while True:
            while self.step < t.steps:
                # a signal, the budget and a time-based checkpoint are decided by all ranks together
                signalled, exhausted = self.dist.agree([flag.signum is not None, budget.exhausted()], self.device)
                if signalled:
                    stop = "signal"
                    self.logger.write(f"{flag.name if flag.signum is not None else 'a signal to another rank'}: "
                                      f"saving a checkpoint at step {self.step} and stopping")
                    break
                if exhausted:
                    stop = "budget"
                    self.logger.write(f"train.max_time={t.max_time}: {format_duration(budget.elapsed())} used; "
                                      f"saving a checkpoint at step {self.step} and stopping")
                    break
                budget.step_started()  # a step's time includes its logging, samples and callbacks
                if first and self.compiled_names:
                    self._first_step_with_fallback(stats)
                else:
                    self.train_step(stats)
                first = False
                self.logger.update()
                if self.step % t.log_every == 0 or self.step == t.steps:
                    ok = self._flush(stats)
                    stats = {}
                    if not ok:
                        continue
                if t.sample_every and self.step % t.sample_every == 0 and self.dist.is_main:
                    self.samples.write(self.step)
                for cb in self.callbacks:
                    cb(self, self.step)
                budget.step_done()
                due = (t.ckpt_every and self.step % t.ckpt_every == 0) or budget.checkpoint_due()
                due, signalled = self.dist.agree([bool(due), flag.signum is not None], self.device)
                if due and self.step < t.steps and not signalled:
                    if self._checkpoint_or_rollback(budget):
                        stats = {}  # losses of the rolled-back steps: never logged or judged again
            ok = self._flush(stats)
            stats = {}
            if ok:
                self._checkpoint_or_rollback(budget)
            if stop or self.step >= t.steps:
                if stop == "budget":
                    self.logger.event(self.step, stopped="max_time", elapsed=round(budget.elapsed(), 3))
                return stop  # else a final NaN check rolled back: train the lost steps again

    def time_steps(self, steps: int, warmup: int = 20, log_every: int = 50) -> float:
        """Seconds taken by ``steps`` training iterations after ``warmup`` (for benchmarks).

        Runs the real step (compile fallback included) with the usual logging cadence, but
        writes no checkpoints, samples or TensorBoard events; the device is synchronised at
        both ends of the timed span.
        """

        self._prepare_run_dir()
        self.logger = (RunLogger if self.dist.is_main else NullLogger)(self.run_dir, self.step, warmup + steps,
                                                                       progress=False, tensorboard=False)
        self._maybe_compile()
        stats: Stats = {}
        t0 = 0.0
        try:
            for i in range(warmup + steps):
                if i == warmup:
                    _sync(self.device)
                    t0 = time.perf_counter()
                if i == 0 and self.compiled_names:
                    self._first_step_with_fallback(stats)
                else:
                    self.train_step(stats)
                if self.step % log_every == 0:
                    self._flush(stats)
                    stats = {}
            _sync(self.device)
            return time.perf_counter() - t0
        finally:
            self.logger.close()

    def _checkpoint_or_rollback(self, budget: Budget | None = None) -> bool:
        """Save a checkpoint; True when a parameter was NaN/Inf and the run rolled back instead."""
        started = self.clock()
        try:
            path = self.save()
        except TrainingDiverged as e:
            self._diverged(str(e))
            return True
        if budget is not None:
            budget.checkpoint_done(started)
        self.logger.event(self.step, checkpoint=path.name)
        return False


def fit_or_interrupt(trainer: Trainer) -> TrainState:
    """``trainer.fit()`` for loops of runs (studies, sweeps): a signal or the time budget saves
    the current run's checkpoint and then stops the whole loop (:class:`Stopped`) instead of
    starting the next run; running the same command again continues it."""
    state = trainer.fit()
    if state.stopped:
        why = "the time budget (train.max_time) ran out" if state.stopped_by_budget else "stopped by a signal"
        raise Stopped(f"{why} at step {state.step} of {trainer.run_dir} (saved)", 124 if state.stopped_by_budget else 130)
    return state


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def train(cfg: Config, run_dir: str | Path, resume: bool = False, **kw: Any) -> TrainState:
    """Convenience: ``Trainer(cfg, run_dir, resume).fit()``."""
    return Trainer(cfg, run_dir, resume, **kw).fit()
