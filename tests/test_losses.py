import math

import pytest
import torch

from gankit.losses import ADV_LOSSES, clip_weights, gradient_penalty, interpolate, r1_penalty

R = torch.tensor([2.0, -1.0, 0.5])
F_ = torch.tensor([-0.3, 1.5, 0.0])
sig = torch.sigmoid


def test_registry_has_the_survey_losses():
    assert {"minimax", "nonsaturating", "lsgan", "wgan", "hinge"} <= set(ADV_LOSSES.keys())


@pytest.mark.parametrize("name,d_ref,g_ref", [
    ("minimax", lambda r, f: -(sig(r).log() + (1 - sig(f)).log()).mean(), lambda f: (1 - sig(f)).log().mean()),
    ("nonsaturating", lambda r, f: -(sig(r).log().mean() + (1 - sig(f)).log().mean()), lambda f: -sig(f).log().mean()),
    ("lsgan", lambda r, f: 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f ** 2).mean(), lambda f: 0.5 * ((f - 1) ** 2).mean()),
    ("wgan", lambda r, f: f.mean() - r.mean(), lambda f: -f.mean()),
    ("hinge", lambda r, f: torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean(), lambda f: -f.mean()),
])
def test_loss_matches_formula(name, d_ref, g_ref):
    loss = ADV_LOSSES.get(name)
    assert loss.d_loss(R, F_).item() == pytest.approx(d_ref(R, F_).item(), rel=1e-5)
    assert loss.g_loss(F_).item() == pytest.approx(g_ref(F_).item(), rel=1e-5)


def test_minimax_saturates_where_nonsaturating_does_not():
    # When D confidently rejects the fake (very negative logit) the minimax gradient vanishes.
    f = torch.tensor([-8.0], requires_grad=True)
    (g1,) = torch.autograd.grad(ADV_LOSSES.get("minimax").g_loss(f), f)
    (g2,) = torch.autograd.grad(ADV_LOSSES.get("nonsaturating").g_loss(f), f)
    assert abs(g1.item()) < 1e-3 < abs(g2.item())


def test_gp_alpha_is_per_sample():
    real, fake = torch.ones(3, 2, 4, 4), torch.zeros(3, 2, 4, 4)
    alpha = torch.tensor([0.0, 0.25, 1.0])
    x = interpolate(real, fake, alpha)
    for i, a in enumerate(alpha):
        assert torch.all(x[i] == a)  # one value per sample, shared by all its elements


def test_gradient_penalty_matches_closed_form():
    # D(x) = <w, x>: grad = w everywhere, so GP = (||w|| - 1)^2 exactly.
    w = torch.randn(1, 3, 4, 4)
    d = lambda x: (x * w).flatten(1).sum(1)
    real, fake = torch.randn(5, 3, 4, 4), torch.randn(5, 3, 4, 4)
    gp = gradient_penalty(d, real, fake, torch.rand(5))
    assert gp.item() == pytest.approx((w.norm().item() - 1) ** 2, rel=1e-5)
    assert gp.requires_grad is False or gp.grad_fn is not None


def test_gradient_penalty_is_differentiable_wrt_d():
    lin = torch.nn.Linear(12, 1)
    d = lambda x: lin(x.flatten(1)).squeeze(1)
    gp = gradient_penalty(d, torch.randn(4, 3, 2, 2), torch.randn(4, 3, 2, 2), torch.rand(4))
    gp.backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_r1_closed_form():
    # D(x) = 0.5 * ||x||^2 per sample: grad = x, R1 = E||x||^2.
    x = torch.randn(6, 2, 3, 3)
    d = lambda h: 0.5 * h.flatten(1).pow(2).sum(1)
    assert r1_penalty(d, x).item() == pytest.approx(x.flatten(1).pow(2).sum(1).mean().item(), rel=1e-5)


def test_clip_weights():
    p = torch.nn.Parameter(torch.tensor([-1.0, 0.005, 2.0]))
    clip_weights([p], 0.01)
    assert p.tolist() == pytest.approx([-0.01, 0.005, 0.01])
    assert math.isclose(p.abs().max().item(), 0.01, rel_tol=1e-6)
