"""Long work survives interruption (time-based checkpoints, a wall-clock budget, SIGUSR1,
kill -9) and faults do not loop or lose data (NaN rollbacks, a full disk)."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gankit.config import parse_duration
from gankit.errors import CheckpointError, ConfigError, TrainingDiverged
from gankit.train.control import Budget
from gankit.train.state import checkpoint_dirs, load_checkpoint
from gankit.train.trainer import Trainer

ROOT = Path(__file__).resolve().parents[2]


class FakeClock:
    """Seconds that advance only when a step runs (``per_step`` each)."""

    def __init__(self, per_step: float):
        self.t, self.per_step = 1000.0, per_step

    def __call__(self) -> float:
        return self.t

    def hook(self, trainer, phase) -> None:
        if phase.group == "G":
            self.t += self.per_step


def _with_clock(tr: Trainer, per_step: float) -> FakeClock:
    clock = FakeClock(per_step)
    tr.clock = clock
    tr.step_hooks.append(clock.hook)
    return clock


def _events(run: Path) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_parse_duration():
    assert parse_duration("3h50m") == 13800 and parse_duration("90m") == 5400 and parse_duration("1.5h") == 5400
    assert parse_duration("45s") == 45 and parse_duration("3600") == 3600 and parse_duration("") == 0
    with pytest.raises(ConfigError, match=r"train.max_time='3x': expected a duration"):
        parse_duration("3x")


def test_checkpoints_by_time_with_an_injected_clock(tiny, tmp_path):
    cfg = tiny("dcgan_fashion", "train.steps=7", "train.ckpt_every=0", "train.ckpt_minutes=1", "train.keep_last=0")
    tr = Trainer(cfg, tmp_path)
    _with_clock(tr, 40.0)  # a step "takes" 40 s: due at 80 s (step 2), then 160 s (step 4), 240 s (step 6)
    tr.fit()
    assert [d.name for d in checkpoint_dirs(tmp_path)] == [f"step_{s:09d}" for s in (2, 4, 6, 7)]


def test_keep_last_counts_time_based_checkpoints(tiny, tmp_path):
    cfg = tiny("dcgan_fashion", "train.steps=7", "train.ckpt_every=0", "train.ckpt_minutes=1", "train.keep_last=2")
    tr = Trainer(cfg, tmp_path)
    _with_clock(tr, 40.0)
    tr.fit()
    assert [d.name for d in checkpoint_dirs(tmp_path)] == ["step_000000006", "step_000000007"]


def test_max_time_stops_cleanly_and_resume_is_bit_exact(tiny, tmp_path):
    over = ("train.ckpt_every=0", "train.ckpt_minutes=0", "train.ema=0.9")
    full = Trainer(tiny("dcgan_fashion", "train.steps=6", *over), tmp_path / "full")
    full.fit()
    budget = Trainer(tiny("dcgan_fashion", "train.steps=6", "train.max_time=150s", *over), tmp_path / "cut")
    _with_clock(budget, 40.0)  # after step 3: 120 s used + one more 40 s step > 150 s
    st = budget.fit()
    assert st.stopped_by_budget and not st.stopped_by_signal and st.step == 3
    assert [e for e in _events(tmp_path / "cut") if e.get("stopped") == "max_time"]
    Trainer(tiny("dcgan_fashion", "train.steps=6", *over), tmp_path / "cut", resume=True).fit()
    ta, _ = load_checkpoint(tmp_path / "full")
    tb, _ = load_checkpoint(tmp_path / "cut")
    assert all(torch.equal(ta[k], tb[k]) for k in ta)


def test_budget_estimates_are_cautious():
    t = {"now": 0.0}
    b = Budget(0, 100, clock=lambda: t["now"])
    for dt in (10, 30, 10):
        b.step_started()
        t["now"] += dt
        b.step_done()
    assert b.step_time == 30 and not b.exhausted()
    t["now"] = 71
    assert b.exhausted()  # 71 + 30 > 100


def _always_nan_after(tr: Trainer, step0: int) -> None:
    g = tr.phases[-1]
    orig = g.loss

    def loss(batch, step):
        out = orig(batch, step)
        if step >= step0:
            out["total"] = out["total"] * float("nan")
        return out

    tr.phases[-1] = dataclasses.replace(g, loss=loss)


def test_rollbacks_count_across_reloads_back_off_and_stop(tiny, tmp_path):
    cfg = tiny("dcgan_fashion", "train.steps=50", "train.ckpt_every=2", "train.nan_policy=rollback",
               "train.max_rollbacks=3", "train.log_every=1")
    tr = Trainer(cfg, tmp_path)
    _always_nan_after(tr, 2)  # diverges every time after the step-2 checkpoint
    with pytest.raises(TrainingDiverged, match=r"diverged again after 3 rollback\(s\).*learning rates x0.125"):
        tr.fit()
    rb = [e for e in _events(tmp_path) if "rollback" in e]
    assert [e["rollback"] for e in rb] == [1, 2, 3] and [e["lr_scale"] for e in rb] == [0.5, 0.25, 0.125]
    assert all(g["lr"] == pytest.approx(2e-4 * 0.125) for opt in tr.opts.values() for g in opt.param_groups)
    assert tr.stream.consumed > 3  # the batches that diverged were skipped, not replayed


def test_disk_full_during_a_checkpoint_is_one_line_and_leaves_no_temp(tiny, tmp_path, monkeypatch):
    import gankit.train.state as state

    def full_disk(*a, **k):
        raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 64 vs 0")

    tr = Trainer(tiny("dcgan_fashion", "train.steps=2"), tmp_path)
    monkeypatch.setattr(state.torch, "save", full_disk)
    with pytest.raises(CheckpointError) as e:
        tr.fit()
    msg = str(e.value)
    assert "\n" not in msg and str(tmp_path) in msg and "free in" in msg and "needs about" in msg
    assert not [p for p in (tmp_path / "checkpoints").iterdir()]  # no temp folder left


def test_stale_temp_files_of_a_killed_writer_are_removed_on_resume(tiny, tmp_path):
    Trainer(tiny("dcgan_fashion", "train.steps=2"), tmp_path).fit()
    (tmp_path / "checkpoints" / ".tmp-step_000000003-999999").mkdir()
    (tmp_path / ".config.yaml.abc123.tmp").write_text("half")
    Trainer(tiny("dcgan_fashion", "train.steps=3"), tmp_path, resume=True).fit()
    assert not list(tmp_path.rglob(".tmp-*")) and not list(tmp_path.rglob(".*.tmp"))


CHILD = """
import sys, torch
from gankit.cli.main import main
sys.exit(main(sys.argv[1:]))
"""


TINY = ["data.name=synthetic", "data.path=null", "data.resolution=32", "data.channels=3", "data.limit=32",
        "data.num_workers=0", "train.batch_size=4", "train.sample_every=0", "train.n_samples=4", "train.progress=false",
        "train.device=cpu", "model.z_dim=8", "model.generator.width=8", "model.discriminator.width=8"]


def _tiny_args(out: Path, steps: int, *extra: str) -> list[str]:
    return ["train", "dcgan_fashion", "--out", str(out), "--steps", str(steps), *TINY, "train.ckpt_every=0",
            "train.log_every=10", *extra]


def _spawn(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-c", CHILD, *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for_checkpoint(run: Path, proc: subprocess.Popen, timeout: float = 60.0) -> None:
    t0 = time.monotonic()
    while not checkpoint_dirs(run):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < timeout, "no checkpoint appeared"
        time.sleep(0.02)


KILL_STEPS, KILL_INTERVAL_MIN = 300, 0.004  # 0.24 s between checkpoints


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> Path:
    """The reference: the same run without interruption, in a child process with the same threads."""
    run = tmp_path_factory.mktemp("whole") / "run"
    p = _spawn(_tiny_args(run, KILL_STEPS, "train.ckpt_minutes=0"))
    assert p.wait(timeout=120) == 0, p.communicate()
    return run


@pytest.mark.parametrize("seed", [0, 1])
def test_kill_9_loses_at_most_one_interval_and_resume_is_bit_exact(tmp_path, seed, uninterrupted):
    run = tmp_path / "killed"
    args = _tiny_args(run, KILL_STEPS, f"train.ckpt_minutes={KILL_INTERVAL_MIN}")
    proc = _spawn(args)
    _wait_for_checkpoint(run, proc)
    time.sleep(random.Random(seed).uniform(0.0, 0.6))
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        killed_at = time.time()
        proc.wait()
        last = checkpoint_dirs(run)[-1]
        # (a) at most one interval of work lost (plus one step and the write itself)
        assert killed_at - last.stat().st_mtime < KILL_INTERVAL_MIN * 60 + 1.0
    p = _spawn(args + ["--resume"])  # same process settings (threads) as the killed run
    assert p.wait(timeout=120) == 0, p.communicate()
    ta, _ = load_checkpoint(run)
    tb, _ = load_checkpoint(uninterrupted)
    assert all(torch.equal(ta[k], tb[k]) for k in ta)  # (b) bit-exact
    assert not list(run.rglob(".tmp-*")) and not list(run.rglob(".*.tmp"))  # (c) no temporary files


def test_sigusr1_saves_and_prints_the_continue_command(tmp_path):
    run = tmp_path / "run"
    proc = _spawn(_tiny_args(run, 100000, "train.ckpt_minutes=0.002"))
    _wait_for_checkpoint(run, proc)
    proc.send_signal(signal.SIGUSR1)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "SIGUSR1: saving a checkpoint" in out + err and "continue with: gankit train dcgan_fashion" in out
    assert "--resume" in out and checkpoint_dirs(run)


def test_a_checkpoint_with_nan_weights_is_refused_naming_the_tensor(tiny, tmp_path):
    from safetensors.torch import load_file, save_file

    from gankit.pipelines import load_run

    Trainer(tiny("dcgan_fashion", "train.steps=1"), tmp_path).fit()
    ck = checkpoint_dirs(tmp_path)[-1]
    tensors = load_file(str(ck / "weights.safetensors"))
    name = next(k for k in tensors if k.startswith("G.") and tensors[k].is_floating_point())
    tensors[name] = tensors[name].clone().fill_(float("nan"))
    save_file(tensors, str(ck / "weights.safetensors"))
    with pytest.raises(CheckpointError, match=rf"weight '{name}' holds NaN/Inf"):
        load_run(tmp_path)
    with pytest.raises(CheckpointError, match=rf"weight '{name}' holds NaN/Inf"):
        Trainer(tiny("dcgan_fashion", "train.steps=2"), tmp_path, resume=True).fit()


def test_weights_of_another_architecture_name_both_networks(tiny, tmp_path):
    from gankit.train.state import load_checkpoint as load, save_checkpoint

    Trainer(tiny("dcgan_fashion", "train.steps=1"), tmp_path / "a").fit()
    tensors, st = load(tmp_path / "a")
    wide = Trainer(tiny("dcgan_fashion", "train.steps=2", "model.generator.width=16"), tmp_path / "b")
    save_checkpoint(tmp_path / "b", 1, tensors, {**st, "config": wide.cfg.to_dict()})  # weights of width 8
    with pytest.raises(CheckpointError, match=r"made with dcgan .*'width': 8.*this run configures dcgan .*'width': 16"):
        wide.resume = True
        wide.fit()


def test_a_full_disk_anywhere_is_one_line_naming_the_file(tmp_path, monkeypatch, capsys):
    import errno

    import gankit.io as gio
    from gankit.cli.main import main

    def full(path, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(gio, "write_text_atomic", full)
    assert main(["train", "dcgan_fashion", "--out", str(tmp_path / "run"), "--steps", "1", *TINY]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "run/config.yaml: No space left on device" in err and "Traceback" not in err
