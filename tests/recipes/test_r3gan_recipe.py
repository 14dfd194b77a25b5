"""The r3gan recipe's cosine schedules (values at start, middle, end), their effect through the
real Trainer, one training step of each new preset, the RpGAN loss on other architectures and in
the style recipe, and one-line errors for bad keys."""

from __future__ import annotations

import json
import math

import pytest
import torch

from gankit.config import load_config
from gankit.data.base import Batch
from gankit.errors import ConfigError
from gankit.models.r3gan import R3GANDiscriminator, R3GANGenerator
from gankit.recipes.r3gan import R3GANRecipe
from gankit.recipes.schedules import cosine_ramp, ema_beta
from gankit.train.trainer import Trainer

from tests.conftest import tiny_config

# the r3gan presets list their widths; the tiny fixture's width=8 replaces them
R3_TINY = ["model.generator.widths=null", "model.discriminator.widths=null"]
STYLE_TINY = ["model.generator.w_dim=8", "model.generator.mapping_layers=1", "model.generator.max_channels=8",
              "model.discriminator.max_channels=8", "model.generator.width=4", "model.discriminator.width=4"]


@pytest.fixture(autouse=True)
def _threads(one_thread):
    yield


def _recipe(**kw) -> R3GANRecipe:
    torch.manual_seed(0)
    nets = {"G": R3GANGenerator(8, 1, 4, width=8, blocks=1), "D": R3GANDiscriminator(8, 1, width=8, blocks=1)}
    r = R3GANRecipe(nets, torch.Generator().manual_seed(1), **{"adversarial": "rpgan", **kw})
    r.batch_size = 10
    return r


def test_cosine_ramp_and_ema_beta():
    assert cosine_ramp(0, 2.0, 1.0, 100) == 2.0
    assert cosine_ramp(50, 2.0, 1.0, 100) == pytest.approx(1.5)
    assert cosine_ramp(25, 2.0, 1.0, 100) == pytest.approx(2.0 - (1 - math.cos(math.pi / 4)) / 2)  # not linear
    assert cosine_ramp(100, 2.0, 1.0, 100) == cosine_ramp(1e9, 2.0, 1.0, 100) == 1.0
    assert cosine_ramp(5, 2.0, 1.0, 0) == 1.0
    assert ema_beta(64, 0) == 0.0 and ema_beta(64, 64) == 0.5 and ema_beta(10, 100) == pytest.approx(0.5 ** 0.1)


def test_schedule_values_at_start_middle_and_end():
    # 1000 images per ramp, 10 images per step: step 0 = start, 50 = middle, 100 = end
    r = _recipe(ramp_kimg=1.0, lr_final=0.25, beta2=[0.9, 0.99], gamma_final=0.1, ema_kimg=0.2, r1_gamma=2.0,
                r2_gamma=4.0, augment="diff", aug_p=0.4)
    s0, s50, s100, s200 = (r.schedule(s) for s in (0, 50, 100, 200))
    assert s0 == {"lr_factor": 1.0, "beta2": 0.9, "ema": 0.0}  # EMA half-life 0: the average is G
    assert s50["lr_factor"] == pytest.approx(0.625) and s50["beta2"] == pytest.approx(0.945)
    assert s50["ema"] == pytest.approx(0.5 ** (10 / 100))  # half-life 100 images at half way
    assert s100 == s200 == pytest.approx({"lr_factor": 0.25, "beta2": 0.99, "ema": 0.5 ** (10 / 200)})
    assert r.schedule(25)["lr_factor"] == pytest.approx(1 - 0.75 * (1 - math.cos(math.pi / 4)) / 2)
    assert [r.penalty_gammas(s) for s in (0, 100)] == [(2.0, 4.0), pytest.approx((0.2, 0.4))]
    assert r.penalty_gammas(50) == pytest.approx((1.1, 2.2))
    assert [r.aug_prob(s) for s in (0, 50, 100)] == pytest.approx([0.0, 0.2, 0.4])


def test_schedule_switches():
    r = _recipe(beta2=None, ema_kimg=0.0)
    assert set(r.schedule(3)) == {"lr_factor"}  # optim's betas and train.ema stay in charge
    assert _recipe().aug_prob(10**6) == 0.0  # augment none
    r = _recipe(r1_gamma=1.0, r2_gamma=1.0, r1_interval=1)
    out = r.d_step(Batch(x=torch.randn(4, 1, 8, 8)), 0)
    assert {"r1", "r2", "d_adv"} <= set(out) and "aug_p" not in out
    with pytest.raises(RuntimeError, match="batch_size"):
        R3GANRecipe(r.nets, torch.Generator()).schedule(1)


def test_scheduled_lr_beta2_gamma_and_ema_reach_the_trainer(tiny, tmp_path):
    seen = []
    cfg = tiny("r3gan_fashion32", *R3_TINY, "train.steps=4", "recipe.kwargs.ramp_kimg=0.012", "recipe.kwargs.ema_kimg=0.008",
               "optim.g_lr=0.001", "train.ema=0.9")  # 4 images per step: 3 steps ramp
    tr = Trainer(cfg, tmp_path, callbacks=[lambda t, s: seen.append((t.opts["G"].param_groups[0]["lr"],
                                                                      t.opts["D"].param_groups[0]["betas"]))])
    e0 = None

    def after_first(t, s):
        nonlocal e0
        if s == 1:  # step 0 used half-life 0: the EMA equals G
            for k, p in t.nets["G"].named_parameters():
                assert torch.equal(dict(t.ema.net.named_parameters())[k], p.detach()), k
            e0 = {k: v.clone() for k, v in t.ema.net.named_parameters()}
            t.g1 = {k: v.detach().clone() for k, v in t.nets["G"].named_parameters()}

    tr.callbacks.insert(0, after_first)
    tr.fit()
    fac = [cosine_ramp(4 * s, 1.0, 0.25, 12) for s in range(4)]
    assert [lr for lr, _ in seen] == pytest.approx([0.001 * f for f in fac])
    assert [b for _, b in seen] == [pytest.approx((0.0, cosine_ramp(4 * s, 0.9, 0.99, 12))) for s in range(4)]
    assert e0 is not None
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"r2"' in x]
    assert len(rows) == 4 and all(r["r1"] > 0 and r["r2"] > 0 for r in rows)  # R1 and R2 every step


@pytest.mark.parametrize("preset,extra", [
    ("r3gan_fashion32", R3_TINY),
    ("r3gan_emoji64", R3_TINY + ["recipe.kwargs.augment=ada", "recipe.kwargs.aug_p=0", "recipe.kwargs.ada_kimg=0.1"]),
    ("r3gan_cifar10", R3_TINY),
    ("r3gan_ffhq64", R3_TINY),
    ("style_rpgan_fashion32", STYLE_TINY + ["recipe.kwargs.r1_interval=1"]),
])
def test_one_training_step_of_each_preset(preset, extra, tmp_path):
    cfg = tiny_config(preset, *extra, "train.steps=1")
    tr = Trainer(cfg, tmp_path)
    st = tr.fit()
    assert st.step == 1 and (tmp_path / "checkpoints").is_dir()
    row = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"d_total"' in x][-1]
    assert row["r1"] > 0 and row["r2"] > 0 and math.isfinite(row["g_total"])
    full = load_config(preset)  # the preset itself, untouched by the tiny overrides
    assert full.description and "\n" not in full.description
    if preset.startswith("r3gan"):
        assert full.loss.adversarial == "rpgan" and full.loss.r1_interval == 1 and full.recipe.name == "r3gan"
        assert full.loss.r1_gamma == full.loss.r2_gamma > 0 and full.optim.g_betas[0] == 0.0
    else:
        assert full.recipe.kwargs["loss"] == "rpgan" and full.recipe.kwargs["r2_gamma"] > 0


def test_official_preset_values():
    c = load_config("r3gan_cifar10")
    assert (c.train.batch_size, c.model.z_dim, c.loss.r1_gamma, c.recipe.kwargs["ema_kimg"], c.recipe.kwargs["aug_p"]) == \
        (512, 64, 0.05, 5000, 0.55)
    assert c.data.labels and c.data.hflip and c.model.generator["width"] == 768 and c.model.generator["blocks"] == 2
    f = load_config("r3gan_ffhq64")
    assert (f.train.batch_size, f.loss.r1_gamma, f.recipe.kwargs["ema_kimg"], f.recipe.kwargs["aug_p"]) == (256, 2.0, 500, 0.3)
    for cfg in (c, f):
        k = cfg.recipe.kwargs
        assert (k["ramp_kimg"], k["lr_final"], k["beta2"], k["gamma_final"]) == (20000, 0.25, [0.9, 0.99], 0.1)
        assert cfg.optim.g_lr == cfg.optim.d_lr == 2e-4


def test_rpgan_with_r1_and_r2_on_another_architecture(tiny, tmp_path):
    cfg = tiny("dcgan_fashion", "loss.adversarial=rpgan", "loss.r1_gamma=1", "loss.r2_gamma=1", "loss.r1_interval=1",
               "train.steps=2")
    Trainer(cfg, tmp_path).fit()
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines() if '"d_total"' in x]
    assert len(rows) == 2 and all({"r1", "r2", "g_adv"} <= set(r) for r in rows)


class _Spy(torch.nn.Module):
    """Wraps D and records its logits in call order."""

    def __init__(self, d):
        super().__init__()
        self.d, self.calls = d, []

    def forward(self, x, c=None):
        out = self.d(x, c)
        self.calls.append(out.detach().float())
        return out


def test_style_recipe_rpgan_and_r2():
    from gankit.models.style import StyleDiscriminator, StyleGenerator
    from gankit.recipes.style import StyleRecipe

    torch.manual_seed(0)
    g = StyleGenerator(8, 3, 8, w_dim=8, mapping_layers=1, width=4, max_channels=8)
    spy = _Spy(StyleDiscriminator(8, 3, width=4, max_channels=8))
    r = StyleRecipe({"G": g, "D": spy}, torch.Generator().manual_seed(1), loss="rpgan", r1_gamma=1.0, r2_gamma=2.0,
                    r1_interval=2)
    x = torch.rand(4, 3, 8, 8) * 2 - 1
    out = r.d_step(Batch(x=x), 0)
    real, fake = spy.calls[:2]
    assert out["d_adv"].item() == pytest.approx(torch.nn.functional.softplus(fake - real).mean().item(), rel=1e-5)
    assert out["r2"].item() > 0 and out["r1"].item() > 0
    spy.calls.clear()
    r.d_step(Batch(x=x), 1)
    assert len(spy.calls) == 2  # lazy: no R1/R2 passes on the second D step
    spy.calls.clear()
    gout = r.g_step(Batch(x=x), 0)
    fake, real = spy.calls
    assert gout["g_adv"].item() == pytest.approx(torch.nn.functional.softplus(real - fake).mean().item(), rel=1e-5)


@pytest.mark.parametrize("override,message", [
    ("recipe.kwargs.ramp_kmig=10", r"recipe.kwargs.ramp_kmig: unknown key \(did you mean 'ramp_kimg'\?\)"),
    ("recipe.kwargs.augment=flip", r"recipe.kwargs.augment: 'flip' is not one of none, diff, ada"),
    ("recipe.kwargs.aug_p=0.3", r"recipe.kwargs.aug_p: augmentation is off \(augment: none\)"),
    ("recipe.kwargs.ada_target=0.5", r"recipe.kwargs.ada_target: used by augment: ada only"),
    ("recipe.kwargs.beta2=[0.9]", r"recipe.kwargs.beta2=\[0.9\]: expected \[start, end\] in \[0, 1\)"),
    ("recipe.kwargs.lr_final=0", r"recipe.kwargs.lr_final=0.0: expected a factor > 0"),
    ("recipe.kwargs.ema_kimg=-1", r"recipe.kwargs.ema_kimg=-1.0: expected a value >= 0"),
    ("recipe.kwargs.r1_gamma=1", r"recipe.kwargs.r1_gamma: recipe 'r3gan' takes it from loss.r1_gamma"),
    ("loss.r2_gamma=-1", r"loss.r2_gamma=-1.0: expected a value >= 0"),
    ("loss.adversarial=rpgna", r"rpgna.*did you mean 'rpgan'"),
    ("model.generator.group_size=3", r"model.generator \(r3gan\): width x expansion = 8 x 2 = 16 is not a multiple of group_size 3"),
])
def test_bad_keys_are_one_line_config_errors(tiny, tmp_path, override, message):
    with pytest.raises(ConfigError, match=message) as e:
        Trainer(tiny("r3gan_fashion32", *R3_TINY, override), tmp_path)
    assert "\n" not in str(e.value)


def test_style_recipe_bad_loss_and_r2_keys(tiny, tmp_path):
    with pytest.raises(ConfigError, match=r"recipe.kwargs.loss: 'hinge' is not one of logistic, rpgan"):
        Trainer(tiny("style_rpgan_fashion32", *STYLE_TINY, "recipe.kwargs.loss=hinge"), tmp_path)
    with pytest.raises(ConfigError, match=r"loss.r2_gamma: .*set recipe.kwargs.r2_gamma instead"):
        Trainer(tiny("style_fashion32", *STYLE_TINY, "loss.r2_gamma=1"), tmp_path)
