"""The unrolled GAN: the unroll's gradient, its Adam, and that D is never disturbed by it."""

from __future__ import annotations

import copy
import math

import pytest
import torch
from torch import Tensor, nn

from gankit.data.base import Batch
from gankit.errors import ConfigError
from gankit.recipes.unrolled import FunctionalAdam, UnrolledGAN
from gankit.train.state import load_checkpoint
from gankit.train.trainer import Trainer


class ConstG(nn.Module):
    """Every sample is theta: G(z) = theta (a scalar parameter), points of dimension 1."""

    kind, z_dim, n_classes = "noise", 1, 0

    def __init__(self, theta: float):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor(theta, dtype=torch.float64))

    def forward(self, z: Tensor, c=None) -> Tensor:
        return self.theta * torch.ones(len(z), 1, dtype=torch.float64)


class LinearD(nn.Module):
    """D(x) = a * x."""

    def __init__(self, a: float):
        super().__init__()
        self.a = nn.Parameter(torch.tensor(a, dtype=torch.float64))

    def forward(self, x: Tensor, c=None) -> Tensor:
        return self.a * x[:, 0]


def _quadratic(order: str, a0=0.7, theta=0.3, real=1.5):
    """WGAN loss with D(x) = a x and G = theta: L_D = a (theta - r), g = theta - r, and G's loss
    against the unrolled D is -a_1(theta) theta, a quadratic in theta for an SGD unroll."""
    g_net, d_net = ConstG(theta), LinearD(a0)
    rec = UnrolledGAN({"G": g_net, "D": d_net}, torch.Generator().manual_seed(0), adversarial="wgan",
                      unroll_steps=1, unroll_order=order)
    batch = Batch(x=torch.full((4, 1), real, dtype=torch.float64))
    return rec, batch, g_net, d_net


def _adam_a1(a0, g, m0, v0, t0, lr, b1, b2, eps):
    """One Adam step by hand: (a_1, d a_1 / d g)."""
    t = t0 + 1
    bc1, bc2 = 1 - b1 ** t, 1 - b2 ** t
    m, v = b1 * m0 + (1 - b1) * g, b2 * v0 + (1 - b2) * g * g
    den = math.sqrt(v) / math.sqrt(bc2) + eps
    a1 = a0 - lr / bc1 * m / den
    dm, dden = 1 - b1, (1 - b2) * g / (math.sqrt(v) * math.sqrt(bc2))
    da1 = -lr / bc1 * (dm * den - m * dden) / den ** 2
    return a1, da1


@pytest.mark.parametrize("order", ["second", "first"])
def test_one_step_unroll_gradient_equals_hand_computed_from_real_adam_state(order):
    rec, batch, g_net, d_net = _quadratic(order)
    lr, b1, b2, eps = 0.1, 0.5, 0.9, 0.01
    opt = torch.optim.Adam(d_net.parameters(), lr=lr, betas=(b1, b2), eps=eps)
    for grad in (0.4, -1.0):  # two real steps: non-zero moments, step count 2
        d_net.a.grad = torch.tensor(grad, dtype=torch.float64)
        opt.step()
    a0 = float(d_net.a.detach())
    st = opt.state[d_net.a]
    m0, v0, t0 = float(st["exp_avg"]), float(st["exp_avg_sq"]), int(st["step"])
    rec.optimizers = {"D": opt}
    out = rec.g_step(batch, 0)
    (grad,) = torch.autograd.grad(out["total"], g_net.theta)
    theta, g = 0.3, 0.3 - 1.5
    a1, da1 = _adam_a1(a0, g, m0, v0, t0, lr, b1, b2, eps)
    # (the recipe evaluates losses on float32 logits, as the GAN recipe does: 1e-6 tolerances)
    assert float(out["total"].detach()) == pytest.approx(-a1 * theta, rel=1e-6)
    # second order: d/dtheta [-a_1(theta) theta] = -a_1 - theta a_1'(theta), with dg/dtheta = 1
    want = -a1 - theta * da1 if order == "second" else -a1
    assert float(grad) == pytest.approx(want, rel=1e-6)
    assert abs(theta * da1) > 1e-3  # the two estimators differ far beyond the tolerance here
    assert float(d_net.a.detach()) == a0 and torch.equal(opt.state[d_net.a]["exp_avg"], torch.tensor(m0, dtype=torch.float64))


def test_fresh_adam_fallback_uses_configured_lr_and_zero_moments():
    rec, batch, g_net, d_net = _quadratic("second")
    rec.group_hparams = {"D": {"lr": 0.05, "betas": (0.5, 0.999)}}
    out = rec.g_step(batch, 0)
    (grad,) = torch.autograd.grad(out["total"], g_net.theta)
    a1, da1 = _adam_a1(0.7, 0.3 - 1.5, 0.0, 0.0, 0, 0.05, 0.5, 0.999, 1e-8)
    assert a1 == pytest.approx(0.7 + 0.05, rel=1e-7)  # a fresh Adam's first step: lr * sign(grad)
    assert float(out["total"].detach()) == pytest.approx(-a1 * 0.3, rel=1e-6)
    assert float(grad) == pytest.approx(-a1 - 0.3 * da1, rel=1e-6)
    with pytest.raises(ConfigError, match="D's optimizer settings are unknown"):
        _quadratic("second")[0].g_step(batch, 0)


def _mlp_recipe(order: str, steps: int = 2, d_norm: str = "spectral"):
    from gankit.models.mlp import MLPDiscriminator, MLPGenerator

    class G64(MLPGenerator):  # the recipe draws float32 noise
        def forward(self, z, c=None):
            return super().forward(z.double(), c)

    torch.manual_seed(0)
    g = G64(2, 1, z_dim=3, width=6, depth=1, norm="batch").double()
    d = MLPDiscriminator(2, 1, width=5, depth=2, norm=d_norm).double()
    rec = UnrolledGAN({"G": g, "D": d}, torch.Generator().manual_seed(1), unroll_steps=steps, unroll_order=order)
    opt = torch.optim.Adam(d.parameters(), lr=0.05, betas=(0.5, 0.9))
    x = torch.randn(8, 1, 2, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    d.requires_grad_(True)
    rec.loss.d_loss(d(x), d(g(torch.randn(8, 3, dtype=torch.float64)).detach())).backward()
    opt.step()  # real Adam state to start the unroll from
    rec.optimizers = {"D": opt}
    d.requires_grad_(False)  # as in the trainer's G phase
    return rec, Batch(x=x), g


def test_two_step_second_order_unroll_gradient_matches_finite_differences():
    """The autograd gradient of G's unrolled loss is the derivative of the function
    theta_G -> loss(theta_G, unroll(theta_G)) (and the first-order estimator is not). D without
    spectral norm: its power-iteration vector is a constant to autograd (as in every SN backward)
    but moves with the unrolled weights, so the finite difference would see it."""
    rec, batch, g = _mlp_recipe("second", d_norm="none")
    params = list(g.parameters())
    u = [torch.randn(p.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(i)) for i, p in enumerate(params)]

    def loss(shift: float) -> Tensor:
        rec.rng.manual_seed(5)  # the same z each call
        if shift == 0:
            return rec.g_step(batch, 0)["total"]
        with torch.no_grad():
            for p, d in zip(params, u):
                p.add_(shift * d)
        try:
            return rec.g_step(batch, 0)["total"]
        finally:
            with torch.no_grad():
                for p, d in zip(params, u):
                    p.sub_(shift * d)

    analytic = sum((gr * d).sum() for gr, d in zip(torch.autograd.grad(loss(0.0), params), u))
    eps = 1e-3  # the losses are float32 (logits cast as in the GAN recipe): a larger step, a looser match
    with torch.no_grad():
        numeric = (loss(eps) - loss(-eps)) / (2 * eps)
    assert float(analytic) == pytest.approx(float(numeric), rel=1e-4)
    rec.unroll_order = "first"
    first = sum((gr * d).sum() for gr, d in zip(torch.autograd.grad(loss(0.0), params), u))
    assert abs(float(first) - float(numeric)) > 0.1 * abs(float(numeric))


def test_lookahead_step_equals_the_real_adam_step():
    """One functional step reproduces torch's Adam step (hyper-parameters and state of D's optimizer)."""
    rec, batch, g = _mlp_recipe("first", steps=1, d_norm="none")
    d, opt = rec.D, rec.optimizers["D"]
    fake = g(torch.randn(8, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(3))).detach()
    params, _ = rec.lookahead(batch.x, fake, None, 0, create_graph=False)
    d2 = copy.deepcopy(d).requires_grad_(True)
    opt2 = torch.optim.Adam(d2.parameters(), lr=0.05, betas=(0.5, 0.9))
    opt2.load_state_dict(opt.state_dict())
    rec.loss.d_loss(d2(batch.x).float(), d2(fake).float()).backward()  # float32 logits, as the recipe
    opt2.step()
    for n, p in d2.named_parameters():
        torch.testing.assert_close(params[n], p.detach(), rtol=1e-12, atol=1e-15)


def _snapshot(tr: Trainer) -> dict:
    d = tr.nets["D"]
    return {"params": {k: v.detach().clone() for k, v in d.named_parameters()},
            "grads": {k: None if v.grad is None else v.grad.clone() for k, v in d.named_parameters()},
            "buffers": {k: v.clone() for k, v in d.named_buffers()},
            "optim": copy.deepcopy(tr.opts["D"].state_dict())}


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, Tensor):
        return torch.equal(a, b)
    return a == b


@pytest.mark.parametrize("d_norm,order,exposed", [("batch", "second", True), ("spectral", "second", True),
                                                  ("batch", "first", False), ("spectral", "second", False)])
def test_g_phase_leaves_d_params_grads_buffers_and_adam_state_untouched(tiny, tmp_path, one_thread, d_norm, order, exposed):
    tr = Trainer(tiny(None, "recipe.name=unrolled", "recipe.kwargs.unroll_steps=2", f"recipe.kwargs.unroll_order={order}",
                      f"model.discriminator.norm={d_norm}", "train.steps=2"), tmp_path)
    if exposed:  # what the trainer would do if it exposed its optimizers (read-only) to recipes
        tr.recipe.optimizers = tr.opts
    tr.train_step({})  # one D and one G phase: Adam state exists, D's grads are set
    before = _snapshot(tr)
    assert before["buffers"] and before["optim"]["state"]
    batch = next(tr.stream)
    tr._train_only("G")
    g_params = list(tr.nets["G"].parameters())
    for p in g_params:
        p.grad = None
    tr.recipe.g_step(batch, 1)["total"].backward()
    assert _same(before, _snapshot(tr))
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in g_params)
    assert any(p.grad.abs().sum() > 0 for p in g_params)


def test_k0_is_the_plain_gan(tiny, tmp_path, one_thread):
    extra = ["model.discriminator.norm=spectral", "train.steps=3", "train.ema=0.9"]
    Trainer(tiny(None, *extra), tmp_path / "gan").fit()
    Trainer(tiny(None, "recipe.name=unrolled", "recipe.kwargs.unroll_steps=0", *extra), tmp_path / "k0").fit()
    ta, _ = load_checkpoint(tmp_path / "gan")
    tb, _ = load_checkpoint(tmp_path / "k0")
    assert ta.keys() == tb.keys() and all(torch.equal(ta[k], tb[k]) for k in ta)


def test_unrolled_config_errors(tiny, tmp_path):
    with pytest.raises(ConfigError, match=r"recipe.kwargs.unroll_order 'third': expected one of second, first"):
        Trainer(tiny(None, "recipe.name=unrolled", "recipe.kwargs.unroll_order=third"), tmp_path)
    with pytest.raises(ConfigError, match=r"recipe.kwargs.unroll_steps=-1"):
        Trainer(tiny(None, "recipe.name=unrolled", "recipe.kwargs.unroll_steps=-1"), tmp_path)
    with pytest.raises(ConfigError, match=r"loss.gp_weight: with recipe.kwargs.unroll_order=second .* batch norm"):
        Trainer(tiny(None, "recipe.name=unrolled", "loss.gp_weight=10", "model.discriminator.norm=batch"), tmp_path)
    with pytest.raises(ConfigError, match=r"recipe.kwargs.unroll_step: unknown key \(did you mean 'unroll_steps'\?\)"):
        Trainer(tiny(None, "recipe.name=unrolled", "recipe.kwargs.unroll_step=3"), tmp_path)


def test_functional_adam_never_writes_what_it_reads():
    m, v = torch.zeros(3), torch.full((3,), 2.0)
    adam = FunctionalAdam({"w": (0.1, (0.5, 0.9), 1e-8, 0.0)}, {"w": m}, {"w": v}, {"w": 4.0})
    p = adam.step("w", torch.zeros(3), torch.tensor([1.0, 0.0, -1.0]))
    adam.advance()
    assert torch.equal(m, torch.zeros(3)) and torch.equal(v, torch.full((3,), 2.0)) and adam.t["w"] == 5.0
    assert p[0] < 0 < p[2] and torch.isfinite(p).all()


def test_zero_gradient_entries_give_finite_second_order_gradients():
    """v = 0 (a fresh Adam and a gradient entry exactly 0) must not make G's gradient NaN."""
    w = torch.tensor([1.0, 2.0], requires_grad=True)
    adam = FunctionalAdam.fresh(0.1, (0.5, 0.999))
    g = torch.stack([w[0] * 0, w[1] * 3])  # first entry: exactly zero gradient, still depending on w
    p = adam.step("w", torch.zeros(2), g)
    (grad,) = torch.autograd.grad(p.sum(), w)
    assert torch.isfinite(grad).all()


def test_presets_train_a_step(tiny, tmp_path, one_thread):
    from gankit.config import load_config

    Trainer(tiny("unrolled_fashion", "train.steps=1", "recipe.kwargs.unroll_steps=2"), tmp_path / "dc").fit()
    cfg = load_config("unrolled_ring8", ["train.steps=2", "train.batch_size=32", "model.z_dim=8", "model.generator.width=16",
                                         "model.discriminator.width=16", "train.sample_every=0", "train.ckpt_every=0",
                                         "train.progress=false", "train.device=cpu"])
    assert cfg.recipe.kwargs == {"unroll_steps": 5, "unroll_order": "second"}
    Trainer(cfg, tmp_path / "ring").fit()
    log = (tmp_path / "ring" / "metrics.jsonl").read_text()
    assert '"g_adv"' in log and '"d_adv"' in log
