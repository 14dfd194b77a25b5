import dataclasses
import os
import signal

import pytest
import torch

from gankit.errors import CheckpointError, TrainingDiverged
from gankit.train import state as state_mod
from gankit.pipelines import load_generator
from gankit.train.state import checkpoint_dirs, load_checkpoint
from gankit.train.trainer import Trainer, train

PRESETS = ["mlp_gan_fashion", "dcgan_fashion", "wgan_gp_fashion", "lsgan_fashion", "cgan_fashion", "sngan_fashion"]


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_takes_d_and_g_steps(preset, tiny, tmp_path):
    cfg = tiny(preset, "train.steps=1", "data.labels=true" if preset == "cgan_fashion" else "data.labels=false")
    tr = Trainer(cfg, tmp_path)
    before = {n: [p.detach().clone() for p in m.parameters()] for n, m in tr.nets.items()}
    st = tr.fit()
    assert st.step == 1
    for name, net in tr.nets.items():
        changed = any(not torch.equal(a, b) for a, b in zip(before[name], net.parameters()))
        assert changed, f"{preset}: {name} was not updated"
    rec = [line for line in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"d_total"' in line]
    assert rec and "NaN" not in rec[0]


def _weights(run):
    tensors, st = load_checkpoint(run)
    return tensors, st


def test_resume_is_bit_exact(tiny, tmp_path):
    # 4 steps in one go == 2 steps + checkpoint + resume + 2 steps (n_critic=2, EMA, GP, flips).
    extra = ("loss.adversarial=wgan", "loss.gp_weight=10", "optim.n_critic=2", "data.hflip=true", "train.ema=0.9")
    train(tiny("dcgan_fashion", *extra, "train.steps=4"), tmp_path / "a")
    train(tiny("dcgan_fashion", *extra, "train.steps=2"), tmp_path / "b")
    train(tiny("dcgan_fashion", *extra, "train.steps=4"), tmp_path / "b", resume=True)
    ta, sa = _weights(tmp_path / "a")
    tb, sb = _weights(tmp_path / "b")
    assert sa["step"] == sb["step"] == 4
    assert ta.keys() == tb.keys() and any(k.startswith("G_ema.") for k in ta)
    for k in ta:
        assert torch.equal(ta[k], tb[k]), k
    assert torch.equal(sa["rng"]["recipe"], sb["rng"]["recipe"])
    assert sa["data"] == sb["data"]


def test_resume_with_incompatible_config_names_keys(tiny, tmp_path):
    train(tiny("dcgan_fashion", "train.steps=1"), tmp_path)
    with pytest.raises(CheckpointError, match=r"config differs from the checkpoint in optim.d_lr, train.batch_size"):
        train(tiny("dcgan_fashion", "train.steps=2", "optim.d_lr=0.1", "train.batch_size=2"), tmp_path, resume=True)
    with pytest.raises(CheckpointError, match="already holds checkpoints: pass --resume"):
        train(tiny("dcgan_fashion", "train.steps=2"), tmp_path)


def test_resume_without_checkpoint(tiny, tmp_path):
    with pytest.raises(CheckpointError, match="no checkpoint"):
        train(tiny("dcgan_fashion"), tmp_path, resume=True)


def test_keep_last_and_weights_only_loading(tiny, tmp_path):
    train(tiny("dcgan_fashion", "train.steps=5", "train.ckpt_every=1", "train.keep_last=2"), tmp_path)
    dirs = checkpoint_dirs(tmp_path)
    assert [d.name for d in dirs] == ["step_000000004", "step_000000005"]
    st = torch.load(dirs[-1] / "state.pt", weights_only=True)  # no code execution needed
    assert st["schema"] == 1 and st["config"]["train"]["steps"] == 5 and "D" in st["optim"]
    g, cfg = load_generator(tmp_path)
    assert g.gankit_weights == "G_ema" and not g.training
    assert g(torch.randn(2, 8)).shape == (2, 3, 32, 32)


def test_failed_checkpoint_write_keeps_previous(tiny, tmp_path, monkeypatch):
    tr = Trainer(tiny("dcgan_fashion", "train.steps=2", "train.ckpt_every=1"), tmp_path)
    tr.fit()
    good = checkpoint_dirs(tmp_path)[-1]
    before = load_checkpoint(good)[0]

    def disk_full(*a, **k):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(state_mod, "save_file", disk_full)
    with pytest.raises(CheckpointError, match="No space left on device.*previous checkpoints are intact"):
        tr.save()
    assert checkpoint_dirs(tmp_path)[-1] == good
    assert not [p for p in (tmp_path / "checkpoints").iterdir() if p.name.startswith(".tmp")]
    after = load_checkpoint(good)[0]
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_partial_checkpoint_folder_is_ignored(tiny, tmp_path):
    train(tiny("dcgan_fashion", "train.steps=1"), tmp_path)
    junk = tmp_path / "checkpoints" / ".tmp-step_000000099-1"
    junk.mkdir()
    (junk / "weights.safetensors").write_bytes(b"half")  # a kill mid-write leaves this
    assert checkpoint_dirs(tmp_path)[-1].name == "step_000000001"


def test_nan_guard_stops_with_clear_message(tiny, tmp_path):
    cfg = tiny("dcgan_fashion", "optim.d_lr=1e30", "optim.g_lr=1e30", "train.steps=6", "loss.adversarial=wgan")
    with pytest.raises(TrainingDiverged, match=r"NaN/Inf at step \d+: training diverged.*nan_policy=rollback"):
        train(cfg, tmp_path)


def test_nan_rollback_restores_last_checkpoint(tiny, tmp_path):
    cfg = tiny("dcgan_fashion", "train.steps=3", "train.ckpt_every=1", "train.nan_policy=rollback", "train.max_rollbacks=2")
    tr = Trainer(cfg, tmp_path)
    calls = {"n": 0}
    orig = tr.phases[1].loss  # the G phase

    def flaky(batch, step):
        out = orig(batch, step)
        calls["n"] += 1
        if calls["n"] == 2:  # poison the second step once
            out["total"] = out["total"] * float("nan")
        return out

    tr.phases[1] = dataclasses.replace(tr.phases[1], loss=flaky)
    st = tr.fit()
    assert st.step == 3 and st.rollbacks == 1
    assert '"rollback": 1' in (tmp_path / "metrics.jsonl").read_text()


def test_sigterm_saves_a_checkpoint_and_stops(tiny, tmp_path):
    cb_steps = []

    def send_term(trainer, step):
        cb_steps.append(step)
        if step == 2:
            os.kill(os.getpid(), signal.SIGTERM)

    st = Trainer(tiny("dcgan_fashion", "train.steps=50"), tmp_path, callbacks=[send_term]).fit()
    assert st.stopped_by_signal and st.step == 2
    assert checkpoint_dirs(tmp_path)[-1].name == "step_000000002"


class _Wrapped(torch.nn.Module):
    """Stands in for a successfully compiled module."""

    def __init__(self, m, error: str = ""):
        super().__init__()
        self.m, self.error = m, error

    def forward(self, *a, **k):
        return self.m(*a, **k)


class _Broken(_Wrapped):
    """Stands in for a compiled module whose first step crashes."""

    def forward(self, *a, **k):
        raise RuntimeError(self.error)


def test_compile_failure_falls_back_to_eager(tiny, tmp_path, monkeypatch):
    monkeypatch.setattr(torch, "compile", lambda m, **k: _Broken(m, "inductor: simulated backward crash"))
    ref = tmp_path / "ref"
    train(tiny("dcgan_fashion", "train.steps=2"), ref)
    tr = Trainer(tiny("dcgan_fashion", "train.steps=2", "train.compile=true"), tmp_path / "c")
    assert tr.fit().step == 2
    log = (tmp_path / "c" / "metrics.jsonl").read_text()
    assert "simulated backward crash" in log
    assert log.count("compile_fallback") == 2  # all nets, then G alone, then eager
    assert not any(isinstance(m, _Wrapped) for m in tr.recipe.nets.values())
    a, b = load_checkpoint(ref)[0], load_checkpoint(tmp_path / "c")[0]
    assert all(torch.equal(a[k], b[k]) for k in a)  # the failed attempt left no trace


def test_compile_failing_only_in_d_keeps_g_compiled(tiny, tmp_path, monkeypatch):
    """A GP/R1 double backward through a compiled D fails in aot_autograd: the trainer then
    retries with only G compiled instead of dropping compile altogether."""

    def fake_compile(m, **k):
        if "Discriminator" in type(m).__name__:
            return _Broken(m, "aot_autograd: simulated double backward failure")
        return _Wrapped(m)

    monkeypatch.setattr(torch, "compile", fake_compile)
    ref = tmp_path / "ref"
    train(tiny("wgan_gp_fashion", "train.steps=2"), ref)
    tr = Trainer(tiny("wgan_gp_fashion", "train.steps=2", "train.compile=true"), tmp_path / "c")
    st = tr.fit()
    assert st.step == 2
    assert isinstance(tr.recipe.nets["G"], _Wrapped) and not isinstance(tr.recipe.nets["D"], _Wrapped)
    log = (tmp_path / "c" / "metrics.jsonl").read_text()
    assert "simulated double backward" in log and log.count("compile_fallback") == 1
    a, b = load_checkpoint(ref)[0], load_checkpoint(tmp_path / "c")[0]
    assert all(torch.equal(a[k], b[k]) for k in a)  # same training as eager


def test_sample_grids_and_tensorboard(tiny, tmp_path):
    train(tiny("cgan_fashion", "data.labels=true", "train.steps=2", "train.sample_every=1"), tmp_path)
    assert (tmp_path / "samples" / "step_000000001.png").is_file()
    assert (tmp_path / "samples" / "latest.png").is_file()
    assert list((tmp_path / "tb").glob("events.*"))
    assert (tmp_path / "config.yaml").read_text().count("cgan_fashion") >= 1


def test_same_seed_same_initial_weights(tiny, tmp_path):
    a = Trainer(tiny("dcgan_fashion", "train.seed=5"), tmp_path / "a")
    torch.randn(100)  # unrelated global RNG use between the two must not matter
    b = Trainer(tiny("dcgan_fashion", "train.seed=5"), tmp_path / "b")
    for (ka, va), (kb, vb) in zip(a.nets["G"].state_dict().items(), b.nets["G"].state_dict().items()):
        assert torch.equal(va, vb), ka


def test_lazy_terms_are_averaged_over_their_own_steps(tiny, tmp_path):
    # R1 every 2nd D step: r1 must be averaged over the steps that computed it, and d_adv
    # (present every step) over all steps, even though the set of logged names changes.
    import json

    tr = Trainer(tiny("dcgan_fashion", "train.steps=4", "train.log_every=4", "loss.r1_gamma=1", "loss.r1_interval=2"), tmp_path)
    seen = {"d_adv": [], "r1": []}
    orig = tr.phases[0].loss  # the D phase

    def spy(batch, step):
        out = orig(batch, step)
        for k in seen:
            if k in out:
                seen[k].append(float(out[k]))
        return out

    tr.phases[0] = dataclasses.replace(tr.phases[0], loss=spy)
    tr.fit()
    rec = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"d_adv"' in x][-1]
    assert len(seen["r1"]) == 2 and len(seen["d_adv"]) == 4
    assert rec["r1"] == pytest.approx(sum(seen["r1"]) / 2, rel=1e-5)
    assert rec["d_adv"] == pytest.approx(sum(seen["d_adv"]) / 4, rel=1e-5)


def test_ema_warmup_follows_the_weights_early(tiny, tmp_path):
    tr = Trainer(tiny("dcgan_fashion", "train.steps=3", "train.ema=0.999"), tmp_path)
    tr.fit()
    g, e = dict(tr.nets["G"].named_parameters()), dict(tr.ema.net.named_parameters())
    # with a plain 0.999 decay the EMA would still be ~99.7% the initial weights after 3 steps;
    # the warm-up decay (1+s)/(10+s) makes it track the trained weights much more closely
    k = "out.weight"
    init = Trainer(tiny("dcgan_fashion", "train.steps=3", "train.ema=0.999"), tmp_path / "fresh").nets["G"].state_dict()[k]
    moved, lag = (g[k] - init).norm(), (g[k] - e[k]).norm()
    assert lag < 0.5 * moved


def test_signal_stops_a_loop_of_runs(tiny, tmp_path):
    from gankit.train.trainer import fit_or_interrupt

    def send_term(trainer, step):
        os.kill(os.getpid(), signal.SIGTERM)

    from gankit.errors import Stopped

    with pytest.raises(Stopped, match="stopped by a signal at step 1") as e:
        fit_or_interrupt(Trainer(tiny("dcgan_fashion", "train.steps=5"), tmp_path, callbacks=[send_term]))
    assert checkpoint_dirs(tmp_path)[-1].name == "step_000000001" and e.value.code == 130


def test_runs_saved_before_a_new_config_key_still_resume(tiny, tmp_path):
    """A checkpoint whose stored config lacks a key added later resumes (the key's default)."""
    train(tiny("dcgan_fashion", "train.steps=1"), tmp_path)
    ck = checkpoint_dirs(tmp_path)[-1]
    st = torch.load(ck / "state.pt", weights_only=True)
    del st["config"]["train"]["ckpt_minutes"], st["config"]["data"]["max_pixels"]
    torch.save(st, ck / "state.pt")
    assert train(tiny("dcgan_fashion", "train.steps=2"), tmp_path, resume=True).step == 2
