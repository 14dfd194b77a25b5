"""MidiNet's networks and recipe: fast layers equal the convolutions, each model trains, resume is exact."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from gankit.errors import ConfigError
from gankit.models.midinet import (MidiNetDiscriminator, MidiNetGenerator, conv_steps, conv_time, tconv_pitch,
                                   tconv_time)
from gankit.train.trainer import Trainer


def test_fast_layers_equal_the_convolutions():
    torch.manual_seed(0)
    h = torch.randn(3, 5, 4, 1)
    t = nn.ConvTranspose2d(5, 6, (2, 1), (2, 1))
    assert torch.allclose(tconv_time(t, h), t(h), atol=1e-5)
    p = nn.ConvTranspose2d(5, 1, (1, 128), (1, 2))
    assert torch.allclose(tconv_pitch(p, h), p(h), atol=1e-5)
    c = nn.Conv2d(5, 7, (4, 1), (2, 2))
    h8 = torch.randn(3, 5, 8, 1)
    assert torch.allclose(conv_time(c, h8), c(h8), atol=1e-5)
    x, y = torch.rand(3, 1, 16, 128), torch.rand(3, 13)
    d = nn.Conv2d(14, 4, (2, 128), (2, 2))
    ref = d(torch.cat([x, y[:, :, None, None].expand(-1, -1, 16, 128)], 1))
    assert torch.allclose(conv_steps(d, x, y), ref, atol=1e-4)
    e = nn.Conv2d(1, 4, (1, 128), (1, 2))  # the conditioner's first layer
    assert torch.allclose(conv_steps(e, x), e(x), atol=1e-4)


@pytest.mark.parametrize("chord,prev", [(False, False), (True, False), (True, True)])
def test_networks_shapes_and_conditions(chord, prev):
    torch.manual_seed(0)
    g = MidiNetGenerator(8, chord=chord, prev=prev, width=8, fc=16, prev_channels=4).eval()
    d = MidiNetDiscriminator(chord=chord, fm_channels=4, channels=6, fc=16).eval()
    z, c, p = torch.randn(2, 8), torch.eye(13)[:2], torch.rand(2, 1, 16, 128)
    out = g(z, c, p)
    assert out.shape == (2, 1, 16, 128) and 0 <= out.min() and out.max() <= 1
    logits, fm = d(out, c, features=True)
    assert logits.shape == (2,) and fm.shape == (2, 4, 8, 1)
    # a condition the model has changes the output; one it lacks does not
    assert (not torch.allclose(g(z, c.flip(0), p), out)) == chord
    assert (not torch.allclose(g(z, c, p.flip(0)), out)) == prev


@pytest.mark.parametrize("model", [1, 2, 3])
def test_one_step_of_each_model_trains_its_groups(model, midinet_config, tmp_path, one_thread):
    tr = Trainer(midinet_config(f"recipe.kwargs.model={model}", "train.steps=1"), tmp_path / f"m{model}")
    g, d = tr.nets["G"], tr.nets["D"]
    assert (g.use_chord, g.use_prev, d.use_chord) == (model >= 2, model == 3, model >= 2)
    before = {k: [p.detach().clone() for p in n.parameters()] for k, n in tr.nets.items()}
    state = tr.fit()
    assert state.step == 1 and [ph.repeat for ph in tr.phases] == [1, 2]
    for k, n in tr.nets.items():
        assert any(not torch.equal(a, b) for a, b in zip(before[k], n.parameters())), k
    import json

    rec = [json.loads(line) for line in (tmp_path / f"m{model}" / "metrics.jsonl").read_text().splitlines()]
    logged = next(r for r in rec if "g_total" in r)
    # g_total = g_adv + 0.1 g_fm + 0.01 g_mean (averaged over the two G repeats)
    assert logged["g_total"] == pytest.approx(logged["g_adv"] + 0.1 * logged["g_fm"] + 0.01 * logged["g_mean"], rel=1e-5)
    assert logged["d_real_loss"] > 0 and logged["d_fake_loss"] > 0


def test_label_smoothing_and_regularisers_match_hand_computation(midinet_config, tmp_path):
    from gankit.data.base import Batch

    tr = Trainer(midinet_config("recipe.kwargs.model=2", "train.steps=1"), tmp_path / "h")
    r = tr.recipe
    batch = next(tr.stream)
    torch.manual_seed(1)
    r.rng.manual_seed(5)
    out = r.d_step(batch, 0)
    r.rng.manual_seed(5)
    z = torch.randn(len(batch.x), r.z_dim, generator=r.rng)
    fake = r.G(z, batch.chord)
    real_l, fake_l = r.D(batch.x, batch.chord), r.D(fake, batch.chord)
    want = (-(0.9 * torch.log(torch.sigmoid(real_l)) + 0.1 * torch.log(1 - torch.sigmoid(real_l))).mean()
            - torch.log(1 - torch.sigmoid(fake_l)).mean())
    assert float(out["total"].detach()) == pytest.approx(float(want.detach()), rel=1e-4)
    r.rng.manual_seed(6)
    g = r.g_step(Batch(x=batch.x, chord=batch.chord, prev=batch.prev), 0)
    r.rng.manual_seed(6)
    fake = r.G(torch.randn(len(batch.x), r.z_dim, generator=r.rng), batch.chord)
    want_mean = 0.5 * ((fake.mean(0) - batch.x.mean(0)) ** 2).sum()
    assert float(g["g_mean"]) == pytest.approx(float(want_mean.detach()), rel=1e-4)


def test_model_key_is_checked_and_conditions_are_not_settable(midinet_config, tmp_path):
    with pytest.raises(ConfigError, match=r"recipe.kwargs.model=4: expected 1 \(melody only\)"):
        Trainer(midinet_config("recipe.kwargs.model=4"), tmp_path / "a")
    with pytest.raises(ConfigError, match=r"model.generator.prev: unknown key"):
        Trainer(midinet_config("model.generator.prev=false"), tmp_path / "b")
    with pytest.raises(ConfigError, match=r"data.hflip: the 'chorales' dataset is piano-roll bars"):
        Trainer(midinet_config("data.hflip=true"), tmp_path / "c")


@pytest.mark.parametrize("model", [1, 3])
def test_midinet_resumes_bit_exactly(model, midinet_config, resumes_bit_exactly, one_thread):
    resumes_bit_exactly(lambda steps, out, resume: Trainer(
        midinet_config(f"recipe.kwargs.model={model}", f"train.steps={steps}"), out, resume=resume))


def test_samples_previews_and_songs(midinet_config, tmp_path):
    from gankit.data.chorales import ChoraleBars

    tr = Trainer(midinet_config("train.steps=1", "train.sample_every=1", "train.n_samples=4"), tmp_path / "s")
    tr.fit()
    assert (tmp_path / "s" / "samples" / "latest.png").is_file()
    r, src = tr.recipe, ChoraleBars(tr.cfg.data.path, "train")
    with r.sampling():
        bars = r.sampler(src)(5, torch.Generator().manual_seed(0))
        imgs, nrow = r.preview(r.preview_inputs(src, 4, 0))
        chords = src.chords[:3][None]
        raw, rolls = r.compose(chords, torch.randn(1, 3, 8))
    assert bars.shape == (5, 1, 16, 128) and 0 <= bars.min() and bars.max() <= 1
    assert imgs.shape == (4, 1, 120, 64) and imgs.min() >= -1 and imgs.max() <= 1 and nrow == 2
    assert raw.shape == rolls.shape == (1, 3, 16, 128) and rolls.sum(-1).max() <= 1  # monophonic
