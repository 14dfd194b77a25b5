"""torchrun (DDP) on the CPU with gloo: 2 ranks x B/2 train like 1 process x B, ranks agree,
resume is exact, a killed rank stops the job, FID is the same split over ranks."""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from gankit.config import load_config
from gankit.data.stream import BatchStream
from gankit.errors import ConfigError, DataError
from gankit.nn import random as rnd
from gankit.train.state import latest_checkpoint, load_checkpoint
from gankit.train.trainer import Trainer

HERE = Path(__file__).parent
DRIVER = HERE / "ddp_driver.py"
_spec = importlib.util.spec_from_file_location("ddp_driver", DRIVER)
driver = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(driver)

COMMON = ["train.log_every=1", "train.sample_every=0", "train.ckpt_every=0", "train.progress=false",
          "train.device=cpu", "data.num_workers=0", "train.collapse_every=0"]
# gan: no batch norm (per-rank batch statistics differ from the global batch's), spectral norm
# in D (its power-iteration vectors must stay equal on both ranks), WGAN-GP (per-sample alphas)
GAN = ["data.name=synthetic", "data.path=null", "data.resolution=32", "data.channels=3", "data.limit=32",
       "train.batch_size=8", "model.z_dim=8", "model.generator.width=8", "model.discriminator.width=8",
       "model.generator.norm=none", "model.discriminator.norm=spectral", "loss.adversarial=wgan",
       "loss.gp_weight=10", "optim.n_critic=2", "train.ema=0.9", "data.hflip=true"] + COMMON
STAR = ["model.generator.width=4", "model.generator.n_res=1", "model.discriminator.width=4",
        "model.discriminator.n_layers=2", "data.resolution=16", "data.path=null", "data.attrs=[]",
        "train.batch_size=8", "optim.n_critic=2"] + COMMON
# style: lazy R1 (every 2nd step), style mixing, random noise maps and ADA all draw per sample;
# minibatch-std groups of 1 (groups are formed within each rank's batch, as in StyleGAN2-ADA)
STYLE_BASE = ["model.z_dim=8", "model.generator.w_dim=8", "model.generator.mapping_layers=1",
         "model.generator.max_channels=8", "model.generator.width=4", "model.discriminator.width=4",
         "model.discriminator.max_channels=8", "model.discriminator.mbstd_group=1", "data.resolution=16",
         "data.path=null", "train.batch_size=8", "recipe.kwargs.r1_interval=2", "recipe.kwargs.mix_prob=0.9",
         "recipe.kwargs.augment=ada", "recipe.kwargs.aug_p=0.3", "recipe.kwargs.ada_interval=1",
         "recipe.kwargs.ada_kimg=0.1"]
STYLE = STYLE_BASE + ["recipe.kwargs.pl_weight=0"] + COMMON
# the path-length penalty takes the first batch/pl_shrink samples of each rank's batch (as
# StyleGAN2-ADA), another subset than one process takes: on in the rank and resume checks only
STYLE_PL = STYLE_BASE + ["recipe.kwargs.pl_weight=2", "recipe.kwargs.pl_interval=2"] + COMMON
JOBS = {"gan": (None, GAN, None), "stargan": ("stargan_emoji", STAR, "attr"), "style": ("style_emoji64", STYLE, "attr")}
EXTRA = {"style_pl": ("style_emoji64", STYLE_PL, "attr")}
# train.ddp=wrapper: DistributedDataParallel around each network instead of the per-phase
# all_reduce; the same maths, so the same comparison with one process holds
JOBS["stargan_wrapper"] = ("stargan_emoji", STAR + ["train.ddp=wrapper"], "attr")
STEPS = 3
# float32 sums of a batch split in two are added in another order (relative differences of
# about 1e-7 in losses and gradients). Adam's step lr * m / (sqrt(v) + eps) is insensitive to
# that except where a gradient is within rounding of zero: there the step's sign can flip. So:
# all losses agree to 1e-5, all but at most 2% of the weights to ATOL, and no weight by more
# than a sign flip of every step (2 * lr * steps).
ATOL = 2e-5


def torchrun(spec: dict, tmp: Path, timeout: float = 240, nproc: int = 2) -> subprocess.CompletedProcess:
    path = tmp / f"spec{time.monotonic_ns()}.json"
    path.write_text(json.dumps(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parents[1])}
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", str(DRIVER),
           str(path)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def job(name: str, out: Path, steps: int, resume: bool = False) -> dict:
    preset, over, source = {**JOBS, **EXTRA}[name]
    return {"preset": preset, "overrides": over + [f"train.steps={steps}"], "out": str(out), "resume": resume,
            "source": source}


def single(name: str, out: Path, steps: int) -> dict[str, torch.Tensor]:
    """The same run in this process (world size 1): its networks after ``steps``."""
    preset, over, source = JOBS[name]
    torch.manual_seed(0)
    tr = Trainer(load_config(preset, over + [f"train.steps={steps}"]), out,
                 source=driver.AttrSource() if source == "attr" else None)
    tr.fit()
    return {f"{n}.{p}": t.detach().clone() for n, m in tr._all_nets().items() for p, t in m.state_dict().items()}


@pytest.fixture(scope="module")
def ddp(tmp_path_factory):
    """One torchrun job (2 ranks) for every distributed run the tests look at."""
    tmp = tmp_path_factory.mktemp("ddp")
    runs = [job(n, tmp / n, STEPS) for n in (*JOBS, *EXTRA)]
    runs += [job("style_pl", tmp / "resumed", 2), job("style_pl", tmp / "resumed", 4, resume=True),
             job("style_pl", tmp / "straight", 4)]
    torchrun({"runs": runs, "fid": str(tmp / "fid.json")}, tmp)
    return tmp


@pytest.mark.parametrize("name", list(JOBS))
def test_two_ranks_of_half_batches_train_like_one_process(ddp, name, tmp_path, one_thread):
    two = torch.load(ddp / name / "rank0.pt")
    one = single(name.removesuffix("_wrapper"), tmp_path / name, STEPS)
    assert two.keys() == one.keys()
    # every logged loss of every step agrees (the same batches, noise and penalties)
    logs = [[json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines() if '"d_total"' in x]
            for run in (ddp / name, tmp_path / name)]
    assert len(logs[0]) == len(logs[1]) == STEPS
    for a, b in zip(*logs):
        for k in (k for k in a if k.endswith(("_total", "_adv", "gp", "r1", "_cls", "_rec"))):
            assert a[k] == pytest.approx(b[k], rel=1e-5, abs=1e-6), (k, a["step"])
    lr = max(load_config(JOBS[name][0], JOBS[name][1]).optim.g_lr, load_config(JOBS[name][0], JOBS[name][1]).optim.d_lr)
    n = far = 0
    for k, v in one.items():
        if v.is_floating_point():
            diff = (two[k] - v).abs()
            far += int((diff > ATOL + 1e-4 * v.abs()).sum())
            n += v.numel()
            assert float(diff.max()) <= 2 * lr * STEPS + ATOL, k  # at most a sign flip of Adam's step each step
        else:
            assert torch.equal(two[k], v), k
    assert far <= 0.02 * n, f"{far} of {n} weights differ by more than {ATOL}"
    # the networks did train (a check that compares untouched weights could not fail)
    init = Trainer(load_config(JOBS[name][0], JOBS[name][1] + ["train.steps=1"]), tmp_path / "init",
                   source=driver.AttrSource() if JOBS[name][2] else None)
    assert any(not torch.allclose(p, one[f"G.{n}"]) for n, p in init.nets["G"].state_dict().items()
               if p.is_floating_point())


@pytest.mark.parametrize("name", [*JOBS, *EXTRA])
def test_ranks_hold_identical_networks_ema_and_buffers(ddp, name):
    r0, r1 = torch.load(ddp / name / "rank0.pt"), torch.load(ddp / name / "rank1.pt")
    assert r0.keys() == r1.keys()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k
    if name == "gan":  # spectral norm's power-iteration vector and the EMA copy are among them
        assert any(k.endswith("weight_u") or "_u" in k.rsplit(".", 1)[-1] for k in r0) or any("parametrizations" in k for k in r0)
        assert any(k.startswith("G_ema.") for k in r0)


def test_resume_with_the_same_world_size_is_bit_exact(ddp):
    ta, sa = load_checkpoint(ddp / "straight")
    tb, sb = load_checkpoint(ddp / "resumed")
    assert sa["step"] == sb["step"] == 4 and ta.keys() == tb.keys()
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k
    assert sa["recipe"] == sb["recipe"]
    assert sa["world_size"] == 2 and len(sa["rng"]["ranks"]) == 2
    for a, b in zip(sa["rng"]["ranks"], sb["rng"]["ranks"]):
        assert torch.equal(a["torch"], b["torch"]) and torch.equal(a["recipe"], b["recipe"])
    # rank 1's torch generator is offset (dropout differs per rank); the recipe's are in lockstep
    r0, r1 = sa["rng"]["ranks"]
    assert not torch.equal(r0["torch"], r1["torch"]) and torch.equal(r0["recipe"], r1["recipe"])


def test_only_rank_zero_writes_and_logs_are_averaged(ddp):
    run = ddp / "gan"
    lines = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines if "d_total" in r] == [1, 2, 3]  # one writer: no duplicated records
    assert len(list((run / "checkpoints").iterdir())) == 1


def test_fid_split_over_ranks_equals_one_process(ddp):
    from gankit.metrics.api import FIDMonitor
    from gankit.metrics.sources import ArraySource, noise_sampler

    mon = FIDMonitor(ArraySource(driver.fid_ref(), name="ref"), n_samples=37, batch=5, extractor=driver.Pooled())
    one = mon(noise_sampler(driver.TinyG()))["fid"]
    two = json.loads((ddp / "fid.json").read_text())["fid"]
    assert two[0] == two[1] == pytest.approx(one, rel=1e-9, abs=1e-12)
    assert one > 0
    # gankit eval's computation (both sides' features split over ranks): the same values
    whole, split = driver.evaluate_job(), json.loads((ddp / "fid.json").read_text())["evaluate"]
    assert split["n_gen"] == whole["n_gen"] == 23 and split["n_ref"] == whole["n_ref"] == 40
    for k in ("fid", "kid", "precision", "recall"):
        assert split[k] == pytest.approx(whole[k], rel=1e-9, abs=1e-12), k


def test_a_resume_with_another_world_size_continues(ddp, tmp_path, one_thread):
    import shutil

    run = tmp_path / "gan"
    shutil.copytree(ddp / "gan", run)
    preset, over, _ = JOBS["gan"]
    st = Trainer(load_config(preset, over + [f"train.steps={STEPS + 2}"]), run, resume=True).fit()
    assert st.step == STEPS + 2 and load_checkpoint(run)[1]["world_size"] == 1


@pytest.mark.slow
def test_killing_one_rank_stops_the_job_and_the_checkpoint_resumes(tmp_path, one_thread):
    out = tmp_path / "killed"
    preset, over, source = JOBS["gan"]
    spec = {"runs": [{"preset": preset, "overrides": over + ["train.steps=100000", "train.ckpt_every=5"],
                      "out": str(out), "source": source}]}
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(spec))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(HERE.parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
                             str(DRIVER), str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while latest_checkpoint(out) is None or latest_checkpoint(out).name < "step_000000010":
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, "no checkpoint within 120 s"
            time.sleep(0.5)
        workers = subprocess.run(["pgrep", "-f", f"ddp_driver.py {path}"], capture_output=True, text=True).stdout.split()
        workers = [int(p) for p in workers if int(p) != proc.pid]
        assert len(workers) >= 2, workers
        os.kill(max(workers), signal.SIGKILL)  # one rank dies without a word
        t0 = time.monotonic()
        proc.wait(timeout=90)
        stopped_in = time.monotonic() - t0
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode != 0 and stopped_in < 90
    tensors, st = load_checkpoint(out)  # the last checkpoint is whole
    assert st["step"] >= 10 and st["world_size"] == 2
    res = Trainer(load_config(preset, over + [f"train.steps={st['step'] + 2}"]), out, resume=True).fit()
    assert res.step == st["step"] + 2


# ------------------------------------------------------------------ single-process units
def test_stream_ranks_split_every_global_batch_in_order():
    src = driver.AttrSource(n=16)
    one = BatchStream(src, 8, seed=3, hflip=True, num_workers=0)
    parts = [BatchStream(src, 8, seed=3, hflip=True, num_workers=0, rank=r, world=2) for r in range(2)]
    for _ in range(5):  # crosses an epoch boundary (2 batches per epoch)
        b = next(one)
        halves = [next(p) for p in parts]
        assert torch.equal(torch.cat([h.x for h in halves]), b.x)
        assert torch.equal(torch.cat([h.c for h in halves]), b.c)
    loader = BatchStream(src, 8, seed=3, hflip=True, num_workers=0, rank=1, world=2, resident=False)
    ref = BatchStream(src, 8, seed=3, hflip=True, num_workers=0, rank=1, world=2)
    assert torch.equal(next(loader).x, next(ref).x)
    with pytest.raises(DataError, match=r"train.batch_size=6 is the global batch.*multiple of the number of processes \(4\)"):
        BatchStream(src, 6, rank=0, world=4, num_workers=0)


def test_per_sample_draws_are_slices_of_the_global_draw():
    g = torch.Generator().manual_seed(5)
    whole = torch.randn(6, 3, generator=g)
    parts = []
    for r in range(2):
        g.manual_seed(5)
        with rnd.batch_shard(r, 2):
            parts.append(rnd.randn(3, 3, generator=g))
            assert rnd.shard() == (r, 2)
    assert rnd.shard() == (0, 1)
    assert torch.equal(torch.cat(parts), whole)
    g.manual_seed(5)
    assert torch.equal(rnd.randn(6, 3, generator=g), whole)  # outside a shard: a plain draw
    x = torch.arange(4.0)
    assert rnd.gather(x) is x and rnd.local(x) is x


def test_sync_bn_on_cpu_and_bad_ddp_mode_are_refused():
    from gankit.train.distributed import Dist, convert_sync_bn, setup

    with pytest.raises(ConfigError, match=r"train.sync_bn: PyTorch's SyncBatchNorm runs on CUDA only"):
        convert_sync_bn({"G": torch.nn.BatchNorm2d(2)}, torch.device("cpu"), Dist(0, 2))
    nets = {"G": torch.nn.BatchNorm2d(2)}
    assert convert_sync_bn(nets, torch.device("cpu"), Dist()) is nets  # one process: nothing to sync
    with pytest.raises(ConfigError, match=r"train.ddp 'fast': expected one of grads, wrapper"):
        setup("cpu", "fast")
    with pytest.raises(ConfigError, match=r"train.ddp: 'fast' is not one of grads, wrapper"):
        load_config(None, ["train.ddp=fast"])


def test_single_process_collectives_are_no_ops():
    from gankit.train.distributed import Dist

    d = Dist()
    p = torch.nn.Parameter(torch.ones(3))
    p.grad = torch.full((3,), 2.0)
    d.reduce_grads([p])
    assert torch.equal(p.grad, torch.full((3,), 2.0))
    assert d.agree([0, 1]) == [0, 1] and d.gather_objects(5) == [5] and d.broadcast_object(7) == 7


def test_a_checkpoint_that_cannot_be_written_is_one_error(tmp_path, tiny, one_thread):
    """Rank 0's failed write becomes the same CheckpointError on every rank; in one process the
    case that used to escape as a FileExistsError traceback ('checkpoints' is a file) is one line."""
    from gankit.errors import CheckpointError

    out = tmp_path / "run"
    out.mkdir()
    (out / "checkpoints").write_text("not a folder")
    with pytest.raises(CheckpointError, match=r"could not write checkpoint .*checkpoints/step_000000004 \(File exists\)"):
        Trainer(tiny(None, "train.collapse_every=0"), out).fit()


def test_setup_outside_torchrun(monkeypatch):
    """No torchrun: a plain process (no group, no collectives); a half-set environment is one line."""
    from gankit.train.distributed import setup

    monkeypatch.delenv("WORLD_SIZE", raising=False)
    d, dev = setup("cpu")
    assert not d.active and d.world == 1 and dev == "cpu"
    monkeypatch.setenv("WORLD_SIZE", "1")  # e.g. left by another launcher: still plain
    monkeypatch.delenv("MASTER_ADDR", raising=False)
    assert not setup("cpu")[0].active
    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(ConfigError, match=r"WORLD_SIZE=2 but MASTER_ADDR is not set: start the processes with torchrun"):
        setup("cpu")
    monkeypatch.setenv("WORLD_SIZE", "two")
    with pytest.raises(ConfigError, match=r"RANK / WORLD_SIZE / LOCAL_RANK: expected integers"):
        setup("cpu")
