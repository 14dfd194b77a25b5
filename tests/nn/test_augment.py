"""Differentiable augmentation and ADA's adaptive probability."""

import pytest
import torch

from gankit.errors import ConfigError
from gankit.nn.augment import AdaptiveAugment, augment, brightness, contrast, cutout, saturation, translation


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def images(n=6, c=3, r=16):
    return torch.rand(n, c, r, r, generator=gen(123)) * 2 - 1


def test_p_zero_is_identity():
    x = images()
    assert torch.equal(augment(x, p=0.0, generator=gen()), x)


@pytest.mark.parametrize("policy", ["color", "translation", "cutout", "color,translation,cutout"])
def test_shapes_and_change(policy):
    x = images()
    y = augment(x, policy, p=1.0, generator=gen())
    assert y.shape == x.shape and y.dtype == x.dtype
    assert not torch.allclose(y, x)


def test_same_seed_same_output_and_different_seed_differs():
    x = images()
    a = augment(x, p=0.5, generator=gen(7))
    b = augment(x, p=0.5, generator=gen(7))
    c = augment(x, p=0.5, generator=gen(8))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_gradients_flow():
    x = images().requires_grad_(True)
    augment(x, p=1.0, generator=gen()).square().sum().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0


def test_per_sample_probability():
    x = images(n=400, c=3, r=4)
    y = augment(x, "color", p=0.5, generator=gen())
    changed = (y != x).flatten(1).any(1).float().mean().item()
    # P(at least one of the 3 colour ops) = 1 - 0.5^3 = 0.875
    assert 0.8 < changed < 0.95


def fixed_rand(*values):
    it = iter(values)
    return lambda *shape: next(it).reshape(shape)


def test_color_ops_arithmetic():
    x = images(n=2)
    r = torch.tensor([0.0, 1.0])
    torch.testing.assert_close(brightness(x, fixed_rand(r)), x + torch.tensor([-0.5, 0.5]).view(2, 1, 1, 1))
    m = x.mean(1, keepdim=True)
    torch.testing.assert_close(saturation(x, fixed_rand(torch.tensor([0.0, 0.5]))), torch.stack([m[0].expand(3, -1, -1), x[1]]))
    mi = x.mean(dim=(1, 2, 3), keepdim=True)
    torch.testing.assert_close(contrast(x, fixed_rand(torch.tensor([0.0, 0.5]))), torch.stack([(x[0] - mi[0]) * 0.5 + mi[0], x[1]]))


def test_translation_shifts_with_zero_fill():
    x = torch.arange(1, 17.0).view(1, 1, 4, 4).repeat(2, 1, 1, 1)
    # 4 * 0.25 -> shift range [-1, 1]; rand 0.99 -> +1 row; rand 0.5 -> 0 columns, and the reverse
    y = translation(x, fixed_rand(torch.tensor([0.99, 0.0]), torch.tensor([0.5, 0.5])), ratio=0.25)
    torch.testing.assert_close(y[0, 0, 1:], x[0, 0, :3])
    assert torch.all(y[0, 0, 0] == 0)
    torch.testing.assert_close(y[1, 0, :3], x[1, 0, 1:])
    assert torch.all(y[1, 0, 3] == 0)


def test_cutout_zeroes_a_square():
    x = torch.ones(1, 2, 8, 8)
    y = cutout(x, fixed_rand(torch.tensor([0.5]), torch.tensor([0.5])), ratio=0.5)
    assert (y == 0).sum().item() == 2 * 16  # a 4x4 square in both channels
    assert torch.all(y[0, :, 2:6, 2:6] == 0)


def test_bad_policy_and_p():
    with pytest.raises(ConfigError, match="did you mean 'color'"):
        augment(images(), "colr")
    with pytest.raises(ConfigError, match="p"):
        augment(images(), p=1.5)


def test_ada_update_arithmetic():
    ada = AdaptiveAugment(target=0.6, interval=2, speed_kimg=1.0, batch_size=10)
    step = 10 * 2 / 1000.0
    assert ada.step_size == pytest.approx(step)
    ada.accumulate(torch.ones(10))
    assert not ada.update() and ada.p == 0.0  # only one of two batches yet
    ada.accumulate(torch.tensor([1.0] * 7 + [-1.0] * 3))
    assert ada.update()
    assert ada.r_t == pytest.approx(17 / 20 * 1 - 3 / 20)  # (10 + 7 - 3) / 20 = 0.7 > 0.6
    assert ada.p == pytest.approx(step)
    for _ in range(2):
        ada.accumulate(-torch.ones(10))
    ada.update()
    assert ada.r_t == -1.0 and ada.p == 0.0  # back down, clamped at 0
    ada.p = 0.999
    for _ in range(2):
        ada.accumulate(torch.ones(10, 1))
    ada.update()
    assert ada.p == 1.0  # clamped at 1
    assert ada.stats() == {"aug_p": 1.0, "ada_rt": 1.0}


def test_ada_state_dict_round_trip_is_exact():
    a = AdaptiveAugment(interval=4, speed_kimg=0.5, batch_size=8)
    logits = [torch.randn(8, generator=gen(i)) + 0.5 for i in range(11)]
    for lg in logits[:6]:
        a.accumulate(lg)
        a.update()
    b = AdaptiveAugment(interval=4, speed_kimg=0.5, batch_size=8)
    b.load_state_dict(torch.load(_saved(a.state_dict()), weights_only=True))
    assert b.state_dict() == a.state_dict() and b.state_dict()["batches"] == 2
    for lg in logits[6:]:
        a.accumulate(lg)
        b.accumulate(lg)
        assert a.update() == b.update()
        assert a.p == b.p and a.r_t == b.r_t
    with pytest.raises(ConfigError, match="sign_sum"):
        b.load_state_dict({"p": 0.1})


def _saved(state):
    import io

    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return buf
