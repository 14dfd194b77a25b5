"""Studies survive kill -9: started again with the same arguments they continue mid-run and
give the same numbers as an uninterrupted study, leaving no temporary files."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gankit.train.state import checkpoint_dirs

ROOT = Path(__file__).resolve().parents[2]
TINY = ["data.limit=16", "data.num_workers=0", "train.batch_size=4", "optim.n_critic=1", "train.device=cpu",
        "train.progress=false", "train.log_every=5", "model.z_dim=8", "model.generator.width=4",
        "model.discriminator.width=4", "train.seed=3"]


def _cmd(args: list[str]) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "gankit.cli.main", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _kill_after_first_checkpoint(args: list[str], runs: Path, seed: int) -> None:
    proc = _cmd(args)
    t0 = time.monotonic()
    while not any(checkpoint_dirs(d) for d in runs.glob("*") if d.is_dir()):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() - t0 < 120, "no checkpoint appeared"
        time.sleep(0.02)
    time.sleep(random.Random(seed).uniform(0.0, 0.4))
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _finish(args: list[str]) -> str:
    proc = _cmd(args)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    return out


def _no_temps(root: Path) -> None:
    assert not list(root.rglob(".tmp-*")) and not list(root.rglob(".*.tmp"))


@pytest.mark.slow
def test_norm_study_killed_midway_continues_to_the_same_numbers(tmp_path):
    base = ["study", "norm", "--data", "synthetic", "--epochs", "2,4", "--feature-net", "random", "--n-samples", "12",
            "--n-ref", "8", "--kid-subsets", "4", "--grid", "4", "--variants", "baseline,sn", "data.channels=3", *TINY]
    killed = tmp_path / "killed"
    args = [*base, "--out", str(killed), "train.ckpt_minutes=0.002"]
    _kill_after_first_checkpoint(args, killed / "runs", seed=1)
    out = _finish(args)
    _finish([*base, "--out", str(tmp_path / "whole"), "train.ckpt_minutes=0"])
    a = json.loads((killed / "norm_study.json").read_text())["runs"]
    b = json.loads((tmp_path / "whole" / "norm_study.json").read_text())["runs"]
    strip = lambda rows: [{k: v for k, v in r.items() if k != "checkpoint"} for r in rows]  # noqa: E731
    assert strip(a) == strip(b)
    assert "continuing" in out or "reusing finished run" in out
    _no_temps(killed)


@pytest.mark.slow
def test_saturation_study_killed_midway_continues_to_the_same_curves(tmp_path):
    base = ["study", "saturation", "dcgan_fashion", "--steps", "40", "data.name=synthetic", "data.resolution=32",
            "data.channels=3", *TINY]
    killed = tmp_path / "killed"
    args = [*base, "--out", str(killed), "train.ckpt_minutes=0.002"]
    _kill_after_first_checkpoint(args, killed, seed=2)
    _finish(args)
    _finish([*base, "--out", str(tmp_path / "whole"), "train.ckpt_minutes=0"])
    a = json.loads((killed / "saturation.json").read_text())["curves"]
    b = json.loads((tmp_path / "whole" / "saturation.json").read_text())["curves"]
    assert a == b and len(a["minimax"]["g_grad_norm"]) == 40
    _no_temps(killed)
