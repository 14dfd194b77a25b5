"""Defects found by a second review of the redesign, each reproduced here first."""

from __future__ import annotations

import json
import math

import pytest
import torch

from gankit.config import load_config
from gankit.errors import ConfigError
from gankit.train.state import checkpoint_dirs, clean_stale_temps, flatten_state, load_checkpoint, save_checkpoint
from gankit.train.trainer import Trainer


def _events(run) -> list[dict]:
    return [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]


def test_one_divergence_is_one_rollback(tiny, tmp_path):
    """A NaN weight caught at a checkpoint used to leave its NaN losses in the log buffer, so
    the next flush rolled back a second time (lr halved twice)."""
    cfg = tiny("dcgan_fashion", "train.steps=10", "train.ckpt_every=2", "train.log_every=4",
               "train.nan_policy=rollback")
    tr = Trainer(cfg, tmp_path)
    done = {"poisoned": False}

    def poison(trainer, phase):
        if trainer.step == 5 and phase.group == "D" and not done["poisoned"]:
            done["poisoned"] = True
            with torch.no_grad():
                next(trainer.nets["D"].parameters()).view(-1)[0] = float("nan")

    tr.step_hooks.append(poison)
    st = tr.fit()
    assert st.step == 10 and st.rollbacks == 1
    assert [e["lr_scale"] for e in _events(tmp_path) if "rollback" in e] == [0.5]


def test_style_samples_depend_only_on_the_seed(tiny, tmp_path):
    from gankit.pipelines import load_run

    over = ["model.generator.w_dim=8", "model.generator.mapping_layers=1", "model.generator.max_channels=8",
            "model.discriminator.max_channels=8", "model.generator.width=4", "model.discriminator.width=4",
            "train.steps=1", "data.resolution=16"]
    Trainer(tiny("style_fashion32", *over), tmp_path).fit()
    run = load_run(tmp_path)
    torch.manual_seed(1)
    a = run.sample(3, seed=7)
    torch.manual_seed(2)  # the global RNG must not matter
    assert torch.equal(a, run.sample(3, seed=7)) and not torch.equal(a, run.sample(3, seed=8))
    g1, _ = run.preview(4)
    torch.manual_seed(3)
    assert torch.equal(g1, run.preview(4)[0])


class _AttrSource(torch.utils.data.Dataset):
    """8 random 16x16 images with 3 binary attributes."""

    target_kind, attr_names, resolution, channels = "attributes", ["a", "b", "c"], 16, 3

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.images = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8, generator=g)
        self.labels = (torch.rand(8, 3, generator=g) < 0.5).float()

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return self.images[i], self.labels[i]


@pytest.mark.parametrize("preset", ["stargan_emoji", "aclgan_emoji"])
def test_generator_only_editor_checkpoint_loads_and_edits(preset, tmp_path):
    from gankit.data.base import Batch
    from gankit.pipelines import load_run

    cfg = load_config(preset, ["model.generator.width=4", "model.generator.n_res=1", "model.discriminator.width=4",
                               "model.discriminator.n_layers=2", "data.resolution=16", "data.attrs=[]",
                               "train.batch_size=4", "train.steps=1", "train.progress=false", "train.sample_every=0",
                               "train.device=cpu", "data.num_workers=0"])
    tr = Trainer(cfg, tmp_path / "full", source=_AttrSource())
    tr.fit()
    tensors, st = load_checkpoint(tmp_path / "full")
    g_only = {k: v for k, v in tensors.items() if k.startswith("G.")}
    save_checkpoint(tmp_path / "export", 1, g_only, {**st, "specs": {"G": st["specs"]["G"]}})
    run = load_run(tmp_path / "export")
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    out = run.sample(2, seed=0, inputs=Batch(x=x, c=torch.tensor([[0.0, 1, 0], [1, 0, 1]])))
    assert out.shape == (2, 3, 16, 16) and torch.isfinite(out).all()


def test_old_configs_with_keys_now_refused_still_load(tiny, tmp_path):
    from gankit.pipelines import load_run

    Trainer(tiny("dcgan_fashion", "train.steps=1"), tmp_path).fit()
    ck = checkpoint_dirs(tmp_path)[-1]
    st = torch.load(ck / "state.pt", weights_only=True)
    st["config"]["recipe"]["kwargs"] = {"gp_weight": 0.0}  # an old gankit let kwargs override loss.*
    torch.save(st, ck / "state.pt")
    assert load_run(tmp_path).sample(2).shape == (2, 3, 32, 32)


@pytest.mark.parametrize("overrides,key", [
    (["train.fid_ref=x"], "train.fid_ref"), (["train.ema=0", "train.ema_start=5"], "train.ema_start"),
    (["train.rollback_lr_factor=0.1"], "train.rollback_lr_factor"), (["train.max_rollbacks=9"], "train.max_rollbacks"),
])
def test_keys_whose_feature_is_off_are_errors(overrides, key):
    with pytest.raises(ConfigError, match=rf"^{key}: "):
        load_config("dcgan_fashion", overrides)


def test_grow_steps_without_growing_networks_is_an_error():
    from gankit.train.build import build_recipe, build_nets

    cfg = load_config("aclgan_emoji", ["recipe.kwargs.grow_steps=100", "model.generator.width=4",
                                       "model.discriminator.width=4"])

    class Src:
        attr_names = cfg.data.attrs

    with pytest.raises(ConfigError, match=r"recipe.kwargs.grow_steps=100: the networks do not grow"):
        build_recipe(cfg, build_nets(cfg, Src()), torch.Generator())


def test_the_budget_counts_callbacks(tiny, tmp_path):
    tr = Trainer(tiny("dcgan_fashion", "train.steps=20", "train.max_time=60s", "train.ckpt_minutes=0",
                      "train.ckpt_every=0"), tmp_path)
    clock = {"t": 0.0}
    tr.clock = lambda: clock["t"]

    def slow_eval(trainer, step):  # a 25 s evaluation after every step
        clock["t"] += 25.0

    tr.callbacks.append(slow_eval)
    st = tr.fit()
    assert st.stopped_by_budget and clock["t"] <= 60.0 and st.step == 2


def test_a_tag_moved_aside_by_a_killed_replace_is_put_back(tmp_path):
    t = {"w": torch.ones(2)}
    save_checkpoint(tmp_path, 5, t, {"x": 1}, tag="best")
    root = tmp_path / "checkpoints"
    (root / "best").rename(root / ".old-best-4242")  # killed between the two renames
    clean_stale_temps(tmp_path)
    assert (root / "best").is_dir() and load_checkpoint(root / "best")[1]["x"] == 1


def test_best_fid_survives_a_resume_from_an_older_checkpoint(tmp_path):
    from gankit.train.fid import _saved_best

    save_checkpoint(tmp_path, 7, flatten_state({}), {"extra": {"best_fid": 12.5}}, tag="best")
    assert _saved_best(tmp_path) == 12.5 and _saved_best(tmp_path / "none") == math.inf
