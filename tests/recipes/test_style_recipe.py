"""The style recipe: finite losses with backward, lazy R1/path-length cadence, ADA p state
through the real Trainer's checkpoint round trip."""

from __future__ import annotations

import pytest
import torch

from gankit.data.base import Batch
from gankit.errors import ConfigError
from gankit.models.style import StyleDiscriminator, StyleGenerator
from gankit.recipes.base import RECIPES
from gankit.recipes.style import StyleRecipe

from tests.conftest import tiny_config

SMALL_G = {"w_dim": 16, "mapping_layers": 1, "width": 4, "max_channels": 8}
SMALL_D = {"width": 4, "max_channels": 8}

STYLE_TINY = [
    "model.generator.w_dim=16", "model.generator.mapping_layers=2", "model.generator.max_channels=8",
    "model.discriminator.max_channels=8", "model.generator.width=4", "model.discriminator.width=4",
    "data.channels=3", "data.hflip=false",
]


def _recipe(**kw) -> StyleRecipe:
    torch.manual_seed(0)
    nets = {"G": StyleGenerator(8, 3, 8, **SMALL_G), "D": StyleDiscriminator(8, 3, **SMALL_D)}
    return StyleRecipe(nets, torch.Generator().manual_seed(1), **kw)


def _batch(n: int = 4) -> Batch:
    return Batch(torch.rand(n, 3, 8, 8, generator=torch.Generator().manual_seed(2)) * 2 - 1, None)


def test_registered():
    assert RECIPES.get("style") is StyleRecipe


def test_one_d_and_g_step_backward_finite():
    r = _recipe(r1_gamma=1.0, r1_interval=1, pl_weight=2.0, pl_interval=1, augment="diff", aug_p=0.5)
    d = r.d_step(_batch(), 0)
    assert {"total", "d_adv", "r1", "ada_p"} <= set(d) and float(d["ada_p"]) == 0.5
    d["total"].backward()
    grads = [p.grad for p in r.D.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert float(d["r1"]) > 0
    r.D.zero_grad(set_to_none=True)
    g = r.g_step(_batch(), 0)
    assert {"total", "g_adv", "pl", "pl_mean"} <= set(g)
    g["total"].backward()
    gg = [p.grad for p in r.G.parameters() if p.grad is not None]
    assert gg and all(torch.isfinite(x).all() for x in gg)
    assert all(torch.isfinite(v).all() for v in list(d.values()) + list(g.values()))
    assert float(r.pl_mean) > 0  # the running mean moved off zero


def test_r1_and_pl_lazy_intervals():
    r = _recipe(r1_gamma=1.0, r1_interval=3, pl_weight=1.0, pl_interval=2)
    d_outs = [r.d_step(_batch(), i) for i in range(5)]
    # the penalty enters the total only on every 3rd D step; "r1" is logged every step
    # (its latest value) so that each step returns the same keys
    applied = [not torch.allclose(o["total"], o["d_adv"]) for o in d_outs]
    assert applied == [True, False, False, True, False]
    assert all("r1" in o for o in d_outs) and torch.equal(d_outs[1]["r1"], d_outs[0]["r1"])
    g_outs = [r.g_step(_batch(), i) for i in range(4)]
    assert [not torch.allclose(o["total"], o["g_adv"]) for o in g_outs] == [True, False, True, False]
    assert len({tuple(o) for o in g_outs}) == 1 and len({tuple(o) for o in d_outs}) == 1


def test_r1_scaled_by_interval():
    """The lazily applied R1 term is gamma/2 * interval * penalty."""
    r = _recipe(r1_gamma=2.0, r1_interval=4, mix_prob=0.0)
    out = r.d_step(_batch(), 0)
    assert torch.allclose(out["total"], out["d_adv"] + 0.5 * 2.0 * 4 * out["r1"], rtol=1e-5)


def test_ada_updates_p_and_logs():
    r = _recipe(augment="ada", aug_p=0.0, ada_interval=1, ada_kimg=0.1, ada_target=0.6)
    d = r.D
    r.D = lambda x, c=None: d(x, c) * 0 + 5.0  # D(real) > 0 everywhere: r_t = 1 > target, p rises
    for i in range(3):
        out = r.d_step(_batch(4), i)
    # step size = batch * interval / (kimg * 1000) = 4 / 100
    assert r.ada.p == pytest.approx(0.12) and float(out["ada_p"]) == pytest.approx(0.12)
    st = r.state_dict()
    r2 = _recipe(augment="ada", ada_interval=1, ada_kimg=0.1)
    r2.load_state_dict(st)
    assert r2.ada.p == r.ada.p and r2.d_calls == 3
    r.D = lambda x, c=None: d(x, c) * 0 - 5.0  # r_t = -1 < target: p falls again
    r.d_step(_batch(4), 3)
    assert r.ada.p == pytest.approx(0.08) and r.ada.r_t == -1.0


def test_bad_kwargs_are_config_errors():
    with pytest.raises(ConfigError, match="augment"):
        _recipe(augment="sometimes")
    with pytest.raises(ConfigError, match="policy"):
        _recipe(augment="diff", aug_policy="colour")


def _trainer(run_dir, steps: int, resume: bool = False):
    from gankit.train.trainer import Trainer

    extra = STYLE_TINY + ["recipe.kwargs.ada_kimg=0.2", "recipe.kwargs.ada_interval=1", "recipe.kwargs.r1_interval=2",
                          "recipe.kwargs.pl_weight=1.0", "recipe.kwargs.pl_interval=2", "train.batch_size=4",
                          "data.resolution=8", "model.generator.mapping_layers=1", f"train.steps={steps}"]
    torch.manual_seed(0)  # the trainer seeds torch only after building the nets
    return Trainer(tiny_config("style_emoji64", *extra), run_dir, resume=resume)


def test_ada_p_restored_through_trainer_resume(tmp_path):
    """4 steps == 2 steps + checkpoint + resume + 2 steps, with ADA p moving every D step."""
    full = _trainer(tmp_path / "full", 4)
    full.fit()
    half = _trainer(tmp_path / "half", 2)
    half.fit()
    resumed = _trainer(tmp_path / "half", 2, resume=True)
    resumed.fit()  # loads the step-2 checkpoint; nothing left to train
    assert resumed.recipe.ada.state_dict() == half.recipe.ada.state_dict()
    assert resumed.recipe.ada.p == half.recipe.ada.p
    cont = _trainer(tmp_path / "half", 4, resume=True)
    cont.fit()
    assert cont.recipe.state_dict() == full.recipe.state_dict()
    assert 0.0 < full.recipe.ada.p  # p moved, so the comparison is not trivially 0 == 0
    import json

    logged = [json.loads(line) for line in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    logged = [r for r in logged if "ada_p" in r]
    assert logged and logged[-1]["ada_p"] == pytest.approx(full.recipe.ada.p, abs=1e-6)  # logged once, not summed
    for k, v in full.nets["G"].state_dict().items():
        assert torch.equal(v, cont.nets["G"].state_dict()[k]), k


@pytest.mark.parametrize("preset", ["style_fashion32", "style_fashion64", "style_emoji64", "style_emoji128"])
def test_presets_build(preset):
    """Each preset's networks and recipe kwargs construct at the preset's own resolution."""
    from gankit.config import load_config
    from gankit.models import DISCRIMINATORS, GENERATORS, build_net

    cfg = load_config(preset)
    shape = {"resolution": cfg.data.resolution, "channels": cfg.data.channels, "n_classes": 0}
    g = build_net(GENERATORS, "model.generator", cfg.model.generator, z_dim=cfg.model.z_dim, **shape)
    d = build_net(DISCRIMINATORS, "model.discriminator", cfg.model.discriminator, **shape)
    r = RECIPES.get(cfg.recipe.name)({"G": g, "D": d}, torch.Generator(), **cfg.recipe.kwargs)
    assert (r.ada is not None) == (cfg.data.name == "emoji")  # ADA on for the small emoji set
    assert cfg.description and g.resolution == cfg.data.resolution
