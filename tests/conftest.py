"""Shared fixtures: tiny configs that train in a fraction of a second on the CPU."""

from __future__ import annotations

import os

import pytest
import torch

torch.set_num_threads(min(2, os.cpu_count() or 1))

TINY = [
    "data.name=synthetic", "data.path=null", "data.resolution=32", "data.channels=3", "data.limit=32", "data.num_workers=0",
    "train.batch_size=4", "train.steps=4", "train.log_every=1", "train.sample_every=0", "train.ckpt_every=0",
    "train.n_samples=4", "train.progress=false", "train.device=cpu",
    "model.z_dim=8", "model.generator.width=8", "model.discriminator.width=8",
]


def tiny_config(preset: str | None = None, *extra: str):
    """A preset (or defaults) shrunk to tiny synthetic data and networks."""
    from gankit.config import load_config

    overrides = list(TINY)
    if preset == "mlp_gan_fashion":
        overrides = [o for o in overrides if not o.startswith("data.resolution")] + ["data.resolution=28"]
    return load_config(preset, overrides + list(extra))


@pytest.fixture
def one_thread():
    """Tiny convolutions run fastest on one thread (and do not fight a busy machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture
def tiny():
    return tiny_config


@pytest.fixture
def cli(capsys):
    """Run the gankit CLI in-process: cli(*args) -> (exit code, stdout, stderr)."""
    from gankit.cli.main import main

    def run(*args):
        code = main([str(a) for a in args])
        out, err = capsys.readouterr()
        return code, out, err

    return run


@pytest.fixture
def resumes_bit_exactly(tmp_path):
    """check(make): a 4-step run equals a 2-step run resumed to 4 steps (weights, recipe state and
    RNG). ``make(steps, out, resume)`` builds the Trainer; torch's seed is reset before each."""
    from gankit.train.state import load_checkpoint

    def check(make) -> None:
        for steps, out, resume in ((4, "a", False), (2, "b", False), (4, "b", True)):
            torch.manual_seed(0)
            make(steps, tmp_path / out, resume).fit()
        ta, sa = load_checkpoint(tmp_path / "a")
        tb, sb = load_checkpoint(tmp_path / "b")
        assert sa["step"] == sb["step"] == 4 and ta.keys() == tb.keys()
        for k in ta:
            assert torch.equal(ta[k], tb[k]), k
        assert sa["recipe"] == sb["recipe"] and torch.equal(sa["rng"]["recipe"], sb["rng"]["recipe"])

    return check


@pytest.fixture
def benchmark_module():
    """benchmark_module(name) -> the script benchmarks/<name>.py loaded as a module."""
    import importlib.util
    from pathlib import Path

    def load(name: str):
        path = Path(__file__).resolve().parents[1] / "benchmarks" / f"{name}.py"
        spec = importlib.util.spec_from_file_location(name, path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod

    return load
