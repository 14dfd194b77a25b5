"""pix2pix and CycleGAN: losses against their formulas, the history pool, one step of each recipe
(each phase trains only its group), bit-exact CycleGAN resume, and one-line errors."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from gankit.config import load_config
from gankit.data.base import Batch
from gankit.data.synthetic import make_images
from gankit.data.translation import PairedImages, UnpairedImages
from gankit.errors import ConfigError
from gankit.losses.translation import HistoryPool, gan_d_loss, gan_g_loss, l1
from gankit.models import DISCRIMINATORS, GENERATORS, build_net
from gankit.train.trainer import Trainer

R = 16
SMALL = ["data.resolution=16", "data.channels=3", "train.batch_size=2", "train.steps=1", "train.log_every=1",
         "train.sample_every=0", "train.ckpt_every=0", "train.n_samples=2", "train.progress=false", "train.device=cpu",
         "model.generator.width=4", "model.discriminator.width=4", "model.discriminator.n_layers=1"]
P2P = ["model.generator.dropout=0.0", *SMALL]
CYC = ["model.generator.n_blocks=1", "recipe.kwargs.pool_size=2", *SMALL]


def paired(n: int = 8) -> PairedImages:
    a, _ = make_images(n, R, 3, seed=4)
    return PairedImages(a, 255 - a)


def unpaired() -> UnpairedImages:
    a, _ = make_images(6, R, 3, seed=5)
    b, _ = make_images(5, R, 3, seed=6)
    return UnpairedImages(a, b)


def test_adversarial_and_l1_losses_match_their_formulas():
    real, fake = torch.tensor([[0.5, -1.0], [2.0, 0.0]]), torch.tensor([[0.25, 1.0], [-2.0, 3.0]])
    assert gan_g_loss(fake, "lsgan").item() == pytest.approx(((0.25 - 1) ** 2 + 0 + 9 + 4) / 4)
    d_ls = 0.5 * (((0.5 - 1) ** 2 + 4 + 1 + 1) / 4 + (0.0625 + 1 + 4 + 9) / 4)
    assert gan_d_loss(real, fake, "lsgan", 0.5).item() == pytest.approx(d_ls)
    sig = torch.sigmoid
    assert gan_g_loss(fake, "vanilla").item() == pytest.approx(-torch.log(sig(fake)).mean().item(), rel=1e-6)
    d_bce = -torch.log(sig(real)).mean() - torch.log(1 - sig(fake)).mean()
    assert gan_d_loss(real, fake, "vanilla", 1.0).item() == pytest.approx(d_bce.item(), rel=1e-5)
    assert l1(real, fake).item() == pytest.approx((0.25 + 2 + 4 + 3) / 4)


def test_history_pool_fills_then_swaps_with_probability_half():
    pool = HistoryPool(3)
    imgs = torch.arange(5.0).view(5, 1, 1, 1)
    rng = torch.Generator().manual_seed(0)
    out = pool.query(imgs[:3], rng)
    assert torch.equal(out, imgs[:3]) and len(pool.images) == 3  # filling: returned as they are
    ref = torch.Generator().manual_seed(0)
    torch.rand(3, generator=ref), torch.randint(0, 3, (3,), generator=ref)  # the draws of the first call
    u, k = torch.rand(2, generator=ref).tolist(), torch.randint(0, 3, (2,), generator=ref).tolist()
    stored = [0.0, 1.0, 2.0]
    expect = []
    for j, new in enumerate((3.0, 4.0)):
        if u[j] > 0.5:
            expect.append(stored[k[j]])
            stored[k[j]] = new
        else:
            expect.append(new)
    out = pool.query(imgs[3:], rng)
    assert out.flatten().tolist() == expect
    assert [float(t) for t in pool.images] == stored
    state = pool.state_dict()
    again = HistoryPool(3)
    again.load_state_dict(state)
    assert state == again.state_dict() and [float(t) for t in again.images] == stored
    assert torch.equal(HistoryPool(0).query(imgs, rng), imgs)


def test_pool_returns_an_older_fake_about_half_the_time():
    pool, rng = HistoryPool(4), torch.Generator().manual_seed(1)
    pool.query(torch.zeros(4, 1, 1, 1), rng)
    new = torch.arange(1.0, 401.0).view(400, 1, 1, 1)
    out = pool.query(new, rng).flatten()
    old = out != new.flatten()
    assert 0.4 < float(old.float().mean()) < 0.6
    assert 0 < int((out == 0).sum()) <= 4  # each stored zero comes back at most once
    assert bool((out[old] < new.flatten()[old]).all())  # what comes back is always an earlier fake


def _trainer(preset, extra, out, source, steps=1):
    return Trainer(load_config(preset, [*extra, f"train.steps={steps}"]), out, source=source)


def _snap(nets):
    return {n: [p.detach().clone() for p in m.parameters()] for n, m in nets.items()}


def _changed(before, nets):
    return {n for n, m in nets.items() if any(not torch.equal(a, p) for a, p in zip(before[n], m.parameters()))}


def test_pix2pix_losses_match_the_formula_and_each_phase_trains_its_group(tmp_path, one_thread):
    tr = _trainer("pix2pix_emoji", P2P, tmp_path / "p", paired())
    rec = tr.recipe
    batch = next(iter(tr.stream))
    x, y = batch.a, batch.b
    out = rec.g_step(batch, 0)
    fake = rec.G(x)
    expect = F.softplus(-rec.D(x, fake)).mean() + 100.0 * (fake - y).abs().mean()
    assert out["total"].item() == pytest.approx(expect.item(), rel=1e-5)
    d = rec.d_step(batch, 0)
    d_expect = 0.5 * (F.softplus(-rec.D(x, y)).mean() + F.softplus(rec.D(x, fake.detach())).mean())
    assert d["total"].item() == pytest.approx(d_expect.item(), rel=1e-5)
    for phase, group in (("g", "G"), ("d", "D")):
        t = _trainer("pix2pix_emoji", P2P, tmp_path / phase, paired())
        t.phases = [p for p in t.phases if p.name == phase]
        before = _snap(t.nets)
        t.fit()
        assert _changed(before, t.nets) == set(t.recipe.groups[group])


def test_cyclegan_losses_match_the_formula_and_each_phase_trains_its_group(tmp_path, one_thread):
    tr = _trainer("cyclegan_emoji", CYC, tmp_path / "c", unpaired())
    rec, n = tr.recipe, tr.nets
    batch = next(iter(tr.stream))
    a, b = batch.a, batch.b
    out = rec.g_step(batch, 0)
    G, Fn, DA, DB = n["G"], n["F"], n["D_A"], n["D_B"]
    fb, fa = G(a), Fn(b)
    gan = ((DB(fb) - 1) ** 2).mean() + ((DA(fa) - 1) ** 2).mean()
    cyc = 10 * (Fn(fb) - a).abs().mean() + 10 * (G(fa) - b).abs().mean()
    idt = 0.5 * (10 * (G(b) - b).abs().mean() + 10 * (Fn(a) - a).abs().mean())
    assert out["total"].item() == pytest.approx((gan + cyc + idt).item(), rel=1e-5)
    d = rec.d_step(batch, 0)  # the pools are filling: they return this step's fakes
    d_expect = (0.5 * (((DA(a) - 1) ** 2).mean() + (DA(fa.detach()) ** 2).mean())
                + 0.5 * (((DB(b) - 1) ** 2).mean() + (DB(fb.detach()) ** 2).mean()))
    assert d["total"].item() == pytest.approx(d_expect.item(), rel=1e-5)
    assert len(rec.pool_a.images) == len(rec.pool_b.images) == 2
    for phase, group in (("g", "G"), ("d", "D")):
        t = _trainer("cyclegan_emoji", CYC, tmp_path / phase, unpaired())
        t.phases = [p for p in t.phases if p.name == phase]
        before = _snap(t.nets)
        t.fit()
        assert _changed(before, t.nets) == set(t.recipe.groups[group]) == set(
            {"G": ("G", "F"), "D": ("D_A", "D_B")}[group])


def test_cyclegan_resumes_bit_exactly_with_its_pools(resumes_bit_exactly, one_thread):
    src = unpaired()
    resumes_bit_exactly(lambda steps, out, resume: Trainer(
        load_config("cyclegan_emoji", [*CYC, f"train.steps={steps}", "train.ckpt_every=2", "data.hflip=true"]), out,
        resume=resume, source=src))


def test_pix2pix_resumes_bit_exactly_with_dropout(resumes_bit_exactly, one_thread):
    src = paired()
    resumes_bit_exactly(lambda steps, out, resume: Trainer(
        load_config("pix2pix_emoji", [*SMALL, f"train.steps={steps}", "train.ckpt_every=2"]), out, resume=resume,
        source=src))


def test_cyclegan_lr_is_constant_then_decays_linearly(tmp_path, one_thread):
    tr = _trainer("cyclegan_emoji", [*CYC, "optim.lr_decay_start=2"], tmp_path / "lr", unpaired(), steps=4)
    lrs = []
    tr.callbacks.append(lambda t, s: lrs.append(t.opts["G"].param_groups[0]["lr"]))
    tr.fit()
    assert lrs == pytest.approx([2e-4, 2e-4, 2e-4, 1e-4])


def test_unet_and_resnet_translator_shapes_and_dropout_noise():
    g = build_net(GENERATORS, "model.generator", {"name": "unet", "width": 4, "dropout_at_test": True}, resolution=32,
                  channels=3)
    assert len(g.downs) == 5 and g.drop_levels == {1, 2, 3}
    x = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    g.eval()
    assert not torch.equal(g(x), g(x))  # dropout kept at test time: noise
    g2 = build_net(GENERATORS, "model.generator", {"name": "unet", "width": 4}, resolution=32, channels=3).eval()
    assert torch.equal(g2(x), g2(x)) and g2(x).abs().max() <= 1
    r = build_net(GENERATORS, "model.generator", {"name": "resnet_translator", "width": 4, "n_blocks": 2},
                  resolution=16, channels=1)
    assert r(torch.zeros(1, 1, 16, 16)).shape == (1, 1, 16, 16)
    assert sum(isinstance(m, torch.nn.ReflectionPad2d) for m in r.modules()) == 2 + 2 * 2
    d = build_net(DISCRIMINATORS, "model.discriminator", {"name": "patch", "width": 4, "n_layers": 3}, resolution=64,
                  channels=3)
    assert d(torch.zeros(2, 3, 64, 64)).shape == (2, 1, 6, 6)  # 70x70 receptive fields on a 64px image


@pytest.mark.parametrize("extra,needle", [
    ("recipe.kwargs.gan_mode=wgan", "recipe.kwargs.gan_mode: 'wgan' is not one of lsgan, vanilla"),
    ("recipe.kwargs.direction=up", "recipe.kwargs.direction: 'up' is not one of a2b, b2a"),
    ("model.discriminator.n_layers=4", "n_layers=4 downsamples a 16px image to 1px"),
    ("model.generator.norm=group", "norm must be one of batch, instance, none, got 'group'"),
    ("loss.adversarial=lsgan", "loss.adversarial: recipe 'pix2pix' does not read the loss section"),
])
def test_bad_pix2pix_settings_are_one_line(tmp_path, extra, needle):
    with pytest.raises(ConfigError) as e:
        _trainer("pix2pix_emoji", [*P2P, extra], tmp_path, paired())
    assert needle in str(e.value) and "\n" not in str(e.value)


def test_recipes_refuse_data_without_a_and_b(tmp_path):
    tr = _trainer("cyclegan_emoji", CYC, tmp_path / "c", unpaired())
    with pytest.raises(ConfigError, match="fields a, b"):
        tr.recipe.g_step(Batch(x=torch.zeros(2, 3, R, R)), 0)
    with pytest.raises(ConfigError, match="recipe.kwargs.pool_size: expected a value >= 0"):
        _trainer("cyclegan_emoji", [*CYC, "recipe.kwargs.pool_size=-1"], tmp_path / "d", unpaired())


def test_pix2pix_b2a_trains_and_samples_from_b(tmp_path, one_thread):
    tr = _trainer("pix2pix_emoji", [*P2P, "recipe.kwargs.direction=b2a"], tmp_path, paired())
    rec = tr.recipe
    batch = next(iter(tr.stream))
    out = rec.g_step(batch, 0)
    fake = rec.G(batch.b)
    expect = F.softplus(-rec.D(batch.b, fake)).mean() + 100.0 * (fake - batch.a).abs().mean()
    assert out["total"].item() == pytest.approx(expect.item(), rel=1e-5)
    with rec.sampling() as s:
        assert torch.equal(s.sample(2, torch.Generator(), batch), rec.G(batch.b[:2]))
        with pytest.raises(ConfigError, match="translates b2a only"):
            s.translate(batch.a, "a2b")
