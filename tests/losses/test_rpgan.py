"""The relativistic pairing loss and the zero-centred penalties R1 (reals) and R2 (fakes).

Numbers are checked against formulas written out by hand; the penalties on a tiny network
whose input gradient is known in closed form: D(x) = sum_j w_j tanh(x_j), so
grad_x D = w * (1 - tanh(x)^2).
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from gankit.losses import ADV_LOSSES, r1_penalty, r2_penalty, zero_centered_penalty
from gankit.recipes.gan import GANRecipe

REAL = [2.0, -1.0, 0.5, 0.0]
FAKE = [-0.3, 1.5, 0.0, 3.0]


def softplus(v: float) -> float:
    return math.log1p(math.exp(v))


def test_rpgan_is_registered_as_relativistic_and_others_are_not():
    assert ADV_LOSSES.get("rpgan").relativistic
    assert not any(ADV_LOSSES.get(n).relativistic for n in ("minimax", "nonsaturating", "lsgan", "wgan", "hinge"))


def test_rpgan_losses_match_the_formulas_on_hand_made_logits():
    loss = ADV_LOSSES.get("rpgan")
    r, f = torch.tensor(REAL), torch.tensor(FAKE)
    d_ref = sum(softplus(-(a - b)) for a, b in zip(REAL, FAKE)) / 4  # softplus(-(D(x) - D(G(z))))
    g_ref = sum(softplus(-(b - a)) for a, b in zip(REAL, FAKE)) / 4  # softplus(-(D(G(z)) - D(x)))
    assert loss.d_loss(r, f).item() == pytest.approx(d_ref, rel=1e-6)
    assert loss.g_loss(f, r).item() == pytest.approx(g_ref, rel=1e-6)
    # pairing, not all-pairs: permuting the fakes changes the loss
    assert loss.d_loss(r, f.flip(0)).item() != pytest.approx(d_ref, rel=1e-3)
    # shift invariance: only differences of paired logits matter
    assert loss.d_loss(r + 7, f + 7).item() == pytest.approx(d_ref, rel=1e-6)


def test_rpgan_refuses_unpaired_batches():
    with pytest.raises(ValueError, match="paired"):
        ADV_LOSSES.get("rpgan").d_loss(torch.zeros(3), torch.zeros(4))


class TanhD(nn.Module):
    """D(x) = sum_j w_j tanh(x_j) (+ the label as an offset, to check c is passed)."""

    def __init__(self, shape=(1, 2, 2)):
        super().__init__()
        self.w = nn.Parameter(torch.linspace(-1.0, 1.5, math.prod(shape)).view(1, *shape))

    def forward(self, x, c=None):
        return (self.w * torch.tanh(x)).flatten(1).sum(1)


def hand_penalty(w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """E_i ||w * (1 - tanh(x_i)^2)||^2, differentiable in w."""
    return (w * (1 - torch.tanh(x) ** 2)).flatten(1).pow(2).sum(1).mean()


def test_r1_and_r2_match_the_hand_computed_gradient_norm():
    d = TanhD()
    real = torch.tensor([[[[0.1, -0.4], [1.2, 0.0]]], [[[2.0, 0.3], [-0.7, 0.5]]]])
    fake = real.flip(-1) * 0.5 - 0.2
    assert r1_penalty(d, real).item() == pytest.approx(hand_penalty(d.w, real).item(), rel=1e-6)
    assert r2_penalty(d, fake).item() == pytest.approx(hand_penalty(d.w, fake).item(), rel=1e-6)
    assert hand_penalty(d.w, real).item() != pytest.approx(hand_penalty(d.w, fake).item(), rel=1e-2)
    # differentiable w.r.t. D's weights (create_graph), with the hand formula's gradient
    (g_auto,) = torch.autograd.grad(r2_penalty(d, fake), d.w)
    (g_hand,) = torch.autograd.grad(hand_penalty(d.w, fake), d.w)
    assert torch.allclose(g_auto, g_hand, atol=1e-6)
    x = real.clone().requires_grad_(True)
    assert zero_centered_penalty(d(x), x).item() == pytest.approx(r1_penalty(d, real).item(), rel=1e-6)


class ConstG(nn.Module):
    """A 'generator' whose images are one learned tensor (so the fakes are known exactly)."""

    kind = "noise"

    def __init__(self, img: torch.Tensor):
        super().__init__()
        self.z_dim, self.n_classes = 3, 0
        self.img = nn.Parameter(img.clone())

    def forward(self, z, c=None):
        return self.img.expand(len(z), *self.img.shape[1:]) + 0 * z.sum()


def _recipe(**loss) -> tuple[GANRecipe, torch.Tensor, torch.Tensor]:
    real = torch.tensor([[[[0.1, -0.4], [1.2, 0.0]]], [[[2.0, 0.3], [-0.7, 0.5]]]])
    fake = torch.tensor([[[[0.6, 0.2], [-1.0, 0.9]]]])
    nets = {"G": ConstG(fake), "D": TanhD()}
    return GANRecipe(nets, torch.Generator().manual_seed(0), adversarial="rpgan", r1_interval=1, **loss), real, \
        fake.expand(2, -1, -1, -1)


@pytest.mark.parametrize("g1,g2", [(0.0, 0.0), (4.0, 0.0), (4.0, 10.0), (0.0, 10.0)])
def test_d_step_adds_gamma_half_r1_on_reals_and_r2_on_fakes(g1, g2):
    from gankit.data.base import Batch

    rec, real, fake = _recipe(r1_gamma=g1, r2_gamma=g2)
    w = rec.D.w
    out = rec.d_step(Batch(x=real), 0)
    adv = ADV_LOSSES.get("rpgan").d_loss(rec.D(real), rec.D(fake))
    ref = adv + 0.5 * g1 * hand_penalty(w, real) + 0.5 * g2 * hand_penalty(w, fake)
    assert out["total"].item() == pytest.approx(ref.item(), rel=1e-6)
    assert ("r1" in out) == (g1 > 0) and ("r2" in out) == (g2 > 0)
    if g1:
        assert out["r1"].item() == pytest.approx(hand_penalty(w, real).item(), rel=1e-6)
    if g2:
        assert out["r2"].item() == pytest.approx(hand_penalty(w, fake).item(), rel=1e-6)
    # the gradient D's weights receive is the gradient of that formula
    (g_auto,) = torch.autograd.grad(out["total"], w)
    (g_ref,) = torch.autograd.grad(ref, w)
    assert torch.allclose(g_auto, g_ref, atol=1e-6)


def test_g_step_is_the_relativistic_loss_with_no_penalty():
    from gankit.data.base import Batch

    rec, real, fake = _recipe(r1_gamma=4.0, r2_gamma=10.0)
    out = rec.g_step(Batch(x=real), 0)
    assert set(out) == {"total", "g_adv"}
    ref = sum(softplus(-(float(f) - float(r))) for f, r in zip(rec.D(fake).detach(), rec.D(real).detach())) / 2
    assert out["total"].item() == pytest.approx(ref, rel=1e-6)
    out["total"].backward()
    assert rec.G.img.grad is not None and rec.G.img.grad.abs().sum() > 0


def test_lazy_r2_follows_the_r1_interval_and_is_scaled_by_it():
    from gankit.data.base import Batch

    rec, real, fake = _recipe(r2_gamma=10.0)
    rec.r1_interval = 2
    w = rec.D.w
    first, second = rec.d_step(Batch(x=real), 0), rec.d_step(Batch(x=real), 1)
    adv = ADV_LOSSES.get("rpgan").d_loss(rec.D(real), rec.D(fake))
    assert first["total"].item() == pytest.approx((adv + 0.5 * 10.0 * 2 * hand_penalty(w, fake)).item(), rel=1e-6)
    assert "r2" not in second and second["total"].item() == pytest.approx(adv.item(), rel=1e-6)
