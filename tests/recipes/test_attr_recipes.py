"""StarGAN and ACL-GAN recipes: one D and one G step each, target sampling, growing, errors."""

import pytest
import torch

from gankit.data.base import Batch
from gankit.errors import ConfigError
from gankit.models.stargan import StarGANDiscriminator, StarGANGenerator
from gankit.recipes.aclgan import ACLGANRecipe
from gankit.recipes.base import RECIPES
from gankit.recipes.stargan import StarGANRecipe, grow_schedule

A, R = 3, 16


def _nets(heads, polarity="both", gkw=None, grow=False):
    torch.manual_seed(0)
    g = StarGANGenerator(R, 3, A, width=4, n_res=1, grow=grow, **(gkw or {}))
    d = StarGANDiscriminator(R, 3, A, width=4, n_layers=3, heads=heads, polarity=polarity, grow=grow,
                             grow_stages=3)
    return {"G": g, "D": d}


def _batch(n=4):
    g = torch.Generator().manual_seed(3)
    c = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])[:n]
    return Batch(torch.rand(n, 3, R, R, generator=g) * 2 - 1, c)


def _make(kind, nets=None, **kw):
    if kind == "stargan":
        return StarGANRecipe(nets or _nets("adv_cls"), torch.Generator().manual_seed(0), **kw)
    return ACLGANRecipe(nets or _nets("attribute"), torch.Generator().manual_seed(0), **kw)


def _grads(net):
    return [p.grad for p in net.parameters()]


def _check_step(recipe, out, trained, other, keys):
    assert set(keys) <= set(out) and all(v.dim() == 0 and torch.isfinite(v) for v in out.values())
    for net in recipe.nets.values():
        net.zero_grad(set_to_none=True)
    out["total"].backward()  # the test does the backward: recipes never do
    assert all(g is not None for g in _grads(recipe.nets[trained]))
    assert sum(g.abs().sum() for g in _grads(recipe.nets[trained])) > 0
    assert all(g is None for g in _grads(recipe.nets[other]))


CASES = [
    ("stargan", {}, {}, ["d_adv", "d_cls", "gp"], ["g_adv", "g_cls", "g_rec"]),
    ("aclgan", {}, {}, ["d_att"], ["g_att", "g_content"]),
    ("aclgan", {"form": "wgan-gp", "content": "l1_outside_mask", "lambda_mask": 0.1},
     {"mask": True, "frame": 1}, ["d_att", "gp"], ["g_att", "g_content", "mask_mean"]),
]


@pytest.mark.parametrize("kind,rkw,gkw,dkeys,gkeys", CASES)
def test_one_d_and_one_g_step(kind, rkw, gkw, dkeys, gkeys):
    heads = "adv_cls" if kind == "stargan" else "attribute"
    recipe = _make(kind, _nets(heads, gkw=gkw), **rkw)
    assert RECIPES.get(kind) is type(recipe)
    batch = _batch()
    _check_step(recipe, recipe.d_step(batch, 0), "D", "G", ["total", *dkeys])
    _check_step(recipe, recipe.g_step(batch, 0), "G", "D", ["total", *gkeys])
    assert all(p.requires_grad for p in recipe.D.parameters())  # D frozen only while G's graph was built


def test_positive_polarity_recipe_step():
    recipe = _make("aclgan", _nets("attribute", polarity="positive"), polarity="positive")
    _check_step(recipe, recipe.g_step(_batch(), 0), "G", "D", ["total", "g_att"])


def test_targets_are_a_seeded_shuffle_of_the_batch_attributes():
    c = _batch().c
    t1, t2 = _make("aclgan").sample_targets(c), _make("aclgan").sample_targets(c)
    assert torch.equal(t1, t2)  # same seed, same targets
    assert sorted(map(tuple, t1.tolist())) == sorted(map(tuple, c.tolist()))
    r = _make("aclgan")
    assert any(not torch.equal(r.sample_targets(c), c) for _ in range(5))


def test_judge_changed_weights_only_the_heads_of_changed_attributes():
    c = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    t = torch.tensor([[0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])  # row 0 removes attribute 0; row 1 changes nothing
    w_all = _make("aclgan", judge="all").fake_weights(c, t)
    assert w_all.tolist() == [[0, 0, 1, 1, 1, 0], [0, 1, 0, 1, 0, 1]]  # presence heads, then absence heads
    w = _make("aclgan").fake_weights(c, t)  # the default
    assert w.tolist() == [[0, 0, 0, 1, 0, 0], [0, 0, 0, 0, 0, 0]]  # only attribute 0's absence head
    pos = _make("aclgan", _nets("attribute", polarity="positive"), polarity="positive", judge="changed")
    assert pos.fake_weights(c, torch.tensor([[1.0, 1.0, 1.0], [0.0, 1.0, 0.0]])).tolist() == [[0, 1, 0], [0, 0, 0]]
    # and the losses use them: with nothing changed, the G attribute loss is exactly zero
    r = _make("aclgan", judge="changed")
    r.sample_targets = lambda c: c.clone()
    out = r.g_step(_batch(), 0)
    assert float(out["g_att"]) == 0.0 and float(out["g_content"]) > 0
    assert float(r.d_step(_batch(), 0)["d_att"]) > 0  # the real term still trains D


def test_content_ramp_raises_lambda_linearly():
    r = _make("aclgan", lambda_content=2.0, content_ramp=100)
    assert [r.content_weight(s) for s in (0, 50, 100, 500)] == [0.0, 1.0, 2.0, 2.0]
    assert _make("aclgan", lambda_content=2.0).content_weight(0) == 2.0
    out = r.g_step(_batch(), 50)
    assert float(out["lambda_content"]) == 1.0
    assert float(out["total"]) == pytest.approx(float(out["g_att"]) + 1.0 * float(out["g_content"]), rel=1e-6)


def test_grow_schedule():
    assert [grow_schedule(s, 2, 3) for s in range(0, 12, 1)] == [
        (0, 1.0), (0, 1.0), (1, 0.0), (1, 0.5), (1, 1.0), (1, 1.0),
        (2, 0.0), (2, 0.5), (2, 1.0), (2, 1.0), (2, 1.0), (2, 1.0)]


@pytest.mark.parametrize("kind", ["stargan", "aclgan"])
def test_growing_recipe_follows_schedule_and_resizes_reals(kind):
    heads = "adv_cls" if kind == "stargan" else "attribute"
    recipe = _make(kind, _nets(heads, grow=True), grow_steps=1)
    for step, (stage, r) in enumerate([(0, 4), (1, 8), (1, 8), (2, 16)]):
        out = recipe.d_step(_batch(), step)
        assert recipe.G.stage == recipe.D.stage == stage and torch.isfinite(out["total"])
        assert recipe.to_stage(_batch().x).shape[-1] == r
    out = recipe.g_step(_batch(), 4)  # step 4: stage 2 stable
    out["total"].backward()
    assert recipe.state_dict() == {"stage": 2, "alpha": 1.0}


def test_translate_returns_edit_parts():
    recipe = _make("aclgan", _nets("attribute", gkw={"mask": True}))
    b = _batch()
    out = recipe.translate(b.x, 1 - b.c)
    assert out.image.shape == b.x.shape and out.mask.shape == (4, 1, R, R) and not out.image.requires_grad


def test_config_errors():
    with pytest.raises(ConfigError, match="heads must be 'attribute'"):
        _make("aclgan", _nets("adv_cls"))
    with pytest.raises(ConfigError, match="heads must be 'adv_cls'"):
        _make("stargan", _nets("attribute"))
    with pytest.raises(ConfigError, match="recipe.kwargs.polarity 'positive'"):
        _make("aclgan", polarity="positive")
    with pytest.raises(ConfigError, match="mask: true"):
        _make("aclgan", content="l1_outside_mask")
    with pytest.raises(ConfigError, match="did you mean"):
        _make("aclgan", form="wgan_gp")
    with pytest.raises(ConfigError, match="recipe.kwargs.judge 'some'"):
        _make("aclgan", judge="some")
    with pytest.raises(ConfigError, match="content_ramp must be >= 0"):
        _make("aclgan", content_ramp=-1)
    nets = _nets("attribute")
    nets["D"] = StarGANDiscriminator(R, 3, A, width=4, n_layers=3, heads="attribute", grow=True, grow_stages=2)
    with pytest.raises(ConfigError, match="grow_stages"):
        _make("aclgan", nets)
    recipe = _make("stargan")
    with pytest.raises(ConfigError, match="binary attribute vectors"):
        recipe.d_step(Batch(_batch().x, torch.tensor([0, 1, 2, 0])), 0)
    with pytest.raises(ConfigError, match="c_dim is 3"):
        recipe.g_step(Batch(_batch().x, torch.ones(4, 5)), 0)


def test_nets_can_be_swapped_by_attribute():
    recipe = _make("aclgan")
    new_g = StarGANGenerator(R, 3, A, width=4, n_res=1)
    recipe.G = new_g  # the trainer swaps in compiled modules this way
    assert recipe.nets["G"] is new_g and recipe.G is new_g
