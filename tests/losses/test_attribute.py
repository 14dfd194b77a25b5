"""ACL-GAN attribute loss, StarGAN classification loss and content losses vs their formulas."""

import pytest
import torch
import torch.nn.functional as F

from gankit.errors import ConfigError
from gankit.losses.attribute import (ATTR_LOSSES, attribute_gradient_penalty, classification_loss, head_weights,
                                     lsgan_attr_d_loss, lsgan_attr_g_loss, sample_gp_heads, wgan_attr_d_loss,
                                     wgan_attr_g_loss)
from gankit.losses.content import content_l1, content_l1_outside_mask, cycle_l1, mask_l1
from gankit.models.stargan import StarGANDiscriminator, composite

# two samples, three attributes; hand-made logits for presence heads then absence heads
ATT = torch.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])        # real attributes
ATT_T = torch.tensor([[0.0, 1.0, 1.0], [1.0, 0.0, 0.0]])      # targets given to G
REAL = torch.tensor([[0.5, 2.0, -1.0, 3.0, 0.2, 0.1], [1.5, -2.0, 0.0, 0.7, 0.4, 5.0]])
FAKE = torch.tensor([[0.3, -0.5, 2.0, 1.0, 0.0, -3.0], [-1.0, 4.0, 0.6, 0.9, 0.8, 0.25]])


def test_head_weights_polarities():
    assert torch.equal(head_weights(ATT, "positive"), ATT)
    both = head_weights(ATT, "both")
    assert both.tolist() == [[1, 0, 1, 0, 1, 0], [0, 0, 1, 1, 1, 0]]
    assert (both.view(2, 2, 3).sum(1) == 1).all()  # exactly one head per attribute cares
    with pytest.raises(ValueError):
        head_weights(ATT, "negative")


def _manual_lsgan(real, fake, w, wt):
    d = g = 0.0
    for n in range(2):
        for k in range(real.shape[1]):
            d += w[n, k] * (real[n, k] - 1) ** 2 / 2 + wt[n, k] * fake[n, k] ** 2 / 2
            g += wt[n, k] * (fake[n, k] - 1) ** 2 / 2
    return float(d), float(g)


def test_lsgan_attribute_loss_positive_polarity_matches_formula():
    real, fake = REAL[:, :3], FAKE[:, :3]
    # by hand: D = mean_n[sum_c att (D-1)^2] + mean_n[sum_c att' D^2]
    d_hand = ((0.5 - 1) ** 2 + (-1 - 1) ** 2 + (0 - 1) ** 2) / 2 + ((-0.5) ** 2 + 2.0**2 + (-1.0) ** 2) / 2
    g_hand = ((-0.5 - 1) ** 2 + (2 - 1) ** 2 + (-1 - 1) ** 2) / 2
    assert lsgan_attr_d_loss(real, fake, ATT, ATT_T).item() == pytest.approx(d_hand)
    assert lsgan_attr_g_loss(fake, ATT_T).item() == pytest.approx(g_hand)


def test_lsgan_attribute_loss_both_polarities_matches_loops():
    w, wt = head_weights(ATT, "both"), head_weights(ATT_T, "both")
    d, g = _manual_lsgan(REAL, FAKE, w, wt)
    assert lsgan_attr_d_loss(REAL, FAKE, w, wt).item() == pytest.approx(d)
    assert lsgan_attr_g_loss(FAKE, wt).item() == pytest.approx(g)
    # the absence heads add terms the seed's positive-only form lacks
    assert g > lsgan_attr_g_loss(FAKE[:, :3], ATT_T).item()


def test_wgan_attribute_loss_matches_formula():
    w, wt = head_weights(ATT, "both"), head_weights(ATT_T, "both")
    d = ((wt * FAKE).sum() - (w * REAL).sum()) / 2
    assert wgan_attr_d_loss(REAL, FAKE, w, wt).item() == pytest.approx(d.item())
    assert wgan_attr_g_loss(FAKE, wt).item() == pytest.approx(-((wt * FAKE).sum() / 2).item())


def test_forms_registered_and_unknown_form_is_config_error():
    assert ATTR_LOSSES.get("lsgan").needs_gp is False and ATTR_LOSSES.get("wgan-gp").needs_gp is True
    with pytest.raises(ConfigError, match="did you mean 'lsgan'"):
        ATTR_LOSSES.get("lsgn")


@pytest.mark.parametrize("form", ["lsgan", "wgan-gp"])
def test_dont_care_logits_get_exactly_zero_gradient(form):
    loss = ATTR_LOSSES.get(form)
    w, wt = head_weights(ATT, "positive"), head_weights(ATT_T, "positive")
    real, fake = REAL[:, :3].clone().requires_grad_(), FAKE[:, :3].clone().requires_grad_()
    gr, gf = torch.autograd.grad(loss.d_loss(real, fake, w, wt), [real, fake])
    assert torch.all(gr[w == 0] == 0) and torch.all(gr[w == 1] != 0)
    assert torch.all(gf[wt == 0] == 0) and torch.all(gf[wt == 1] != 0)
    (gg,) = torch.autograd.grad(loss.g_loss(fake, wt), [fake])
    assert torch.all(gg[wt == 0] == 0) and torch.all(gg[wt == 1] != 0)


@pytest.mark.parametrize("polarity", ["positive", "both"])
def test_gradient_does_not_reach_dont_care_heads_of_d(polarity):
    torch.manual_seed(0)
    d = StarGANDiscriminator(16, 3, 3, width=4, n_layers=2, heads="attribute", polarity=polarity)
    x, fake = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    att = torch.tensor([[0.0, 1.0, 1.0], [0.0, 0.0, 1.0]])  # attribute 0 absent in reals and targets
    w = head_weights(att, polarity)
    loss = lsgan_attr_d_loss(d(x).aux, d(fake).aux, w, w.flip(0))
    loss.backward()
    row_grad = d.aux_head.weight.grad.flatten(1).abs().sum(1)  # one row per head
    cared = (w + w.flip(0)).sum(0) > 0
    assert torch.all(row_grad[~cared] == 0) and torch.all(row_grad[cared] > 0)
    if polarity == "both":  # the absence head of attribute 0 is trained, its presence head is not
        assert row_grad[0] == 0 and row_grad[3] > 0


def test_sample_gp_heads_only_picks_cared_heads():
    g = torch.Generator().manual_seed(0)
    w, wt = head_weights(ATT, "positive"), head_weights(ATT_T, "positive")
    for _ in range(20):
        idx = sample_gp_heads(w, wt, g)
        assert ((w + wt).gather(1, idx[:, None]) > 0).all()
    none = torch.zeros(2, 3)
    assert sample_gp_heads(none, none, g).shape == (2,)  # falls back to any head


def test_attribute_gradient_penalty_is_per_sample_per_head():
    torch.manual_seed(0)
    d = StarGANDiscriminator(16, 3, 3, width=4, n_layers=2, heads="attribute", polarity="positive")
    real, fake = torch.randn(2, 3, 16, 16), torch.randn(2, 3, 16, 16)
    alpha, idx = torch.tensor([0.25, 0.8]), torch.tensor([2, 0])
    gp = attribute_gradient_penalty(lambda z: d(z).aux, real, fake, alpha, idx)
    expected = 0.0
    for n in range(2):
        xh = (alpha[n] * real[n : n + 1] + (1 - alpha[n]) * fake[n : n + 1]).requires_grad_()
        (gr,) = torch.autograd.grad(d(xh).aux[0, idx[n]], xh)
        expected += (gr.norm() - 1) ** 2 / 2
    assert gp.item() == pytest.approx(expected.item(), rel=1e-5)
    gp.backward()
    assert d.aux_head.weight.grad is not None


def test_classification_loss_is_bce_summed_over_attributes():
    logits = torch.tensor([[2.0, -1.0, 0.5], [0.0, 3.0, -2.0]])
    p = torch.sigmoid(logits)
    hand = -(ATT * p.log() + (1 - ATT) * (1 - p).log()).sum() / 2
    assert classification_loss(logits, ATT).item() == pytest.approx(hand.item(), rel=1e-6)
    with pytest.raises(ValueError):
        classification_loss(logits, ATT[:, :2])


def test_content_losses():
    g = torch.Generator().manual_seed(0)
    x, s = torch.rand(2, 3, 8, 8, generator=g) * 2 - 1, torch.rand(2, 3, 8, 8, generator=g) * 2 - 1
    m = torch.rand(2, 1, 8, 8, generator=g)
    y = composite(x, m, s)
    assert cycle_l1(x, s).item() == pytest.approx(F.l1_loss(x, s).item())
    # one-pass L1 of a composite = mask-weighted L1 of the segment
    assert content_l1(x, y).item() == pytest.approx((m * (s - x).abs()).mean().item(), rel=1e-5)
    assert content_l1_outside_mask(x, y, m).item() == pytest.approx(
        (m * (1 - m) * (s - x).abs()).mean().item(), rel=1e-5)
    assert content_l1_outside_mask(x, y, torch.ones_like(m)).item() == 0
    assert mask_l1(m).item() == pytest.approx(m.mean().item())
    with pytest.raises(ValueError):
        content_l1(x, y[:, :2])
    with pytest.raises(ValueError):
        content_l1_outside_mask(x, y, m[:, :, :4])
