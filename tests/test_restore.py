"""Restoration: SRGAN (4x super-resolution) and the context encoder (inpainting).

Losses against their formulas, the 4x PixelShuffle generator, masks, the SRResNet warm-up,
one step and bit-exact resume of each recipe, metrics, and the feature network loader.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from gankit.config import load_config
from gankit.data.base import Batch
from gankit.data.degrade import bicubic_down, block_masks, crop_blocks, fill_holes
from gankit.errors import ConfigError
from gankit.losses.restore import border_weighted_l2, feature_content, pixel_mse
from gankit.metrics.feature_layers import LayerFeatures, load_feature_net
from gankit.metrics.restoration import blur_fill, hole_l1, hole_psnr, luma, psnr
from gankit.models import DISCRIMINATORS, GENERATORS, build_net
from gankit.train.trainer import Trainer

COMMON = ["data.name=synthetic", "data.path=null", "data.resolution=32", "data.channels=3", "data.limit=16",
          "data.num_workers=0", "train.batch_size=4", "train.log_every=1", "train.sample_every=0",
          "train.ckpt_every=0", "train.n_samples=4", "train.progress=false", "train.device=cpu", "data.split=train"]
SR_TINY = COMMON + ["model.generator={name: srresnet, width: 4, blocks: 1, scale: 4}",
                    "model.discriminator={name: srgan, width: 4, fc: 8}", "recipe.kwargs.warmup=2", "data.hflip=true"]
CE_TINY = COMMON + ["model.generator={name: context_encoder, width: 4, max_width: 8}",
                    "model.discriminator={name: context_d, width: 4, max_width: 8}", "recipe.kwargs.overlap=1"]


def _clean(overrides):  # synthetic data has no split key
    return [o for o in overrides if not o.startswith("data.split")]


def sr_config(steps: int, *extra: str):
    return load_config("srgan_emoji", _clean(SR_TINY) + [f"train.steps={steps}", *extra])


def ce_config(steps: int, *extra: str):
    return load_config("inpaint_fashion", _clean(CE_TINY) + [f"train.steps={steps}", *extra])


@pytest.fixture
def feature_file(tmp_path):
    """A tiny TorchScript feature network (stands in for a user's VGG file)."""
    torch.manual_seed(3)
    net = torch.jit.script(nn.Sequential(nn.Conv2d(3, 4, 3, 2, 1), nn.ReLU()))
    path = tmp_path / "features.pt"
    net.save(str(path))
    return path


# ------------------------------------------------------------------------------- networks
@pytest.mark.parametrize("scale,stages", [(4, 2), (2, 1)])
def test_srresnet_upsamples_by_pixel_shuffle_stages(scale, stages):
    g = build_net(GENERATORS, "model.generator", {"name": "srresnet", "width": 4, "blocks": 2, "scale": scale},
                  resolution=32, channels=3)
    assert sum(isinstance(m, nn.PixelShuffle) for m in g.modules()) == stages
    out = g(torch.randn(2, 3, 8, 8))
    assert out.shape == (2, 3, 8 * scale, 8 * scale) and out.abs().max() <= 1
    with pytest.raises(ConfigError, match="scale must be a power of 2, got 3"):
        build_net(GENERATORS, "model.generator", {"name": "srresnet", "scale": 3}, resolution=33, channels=3)


def test_context_encoder_bottleneck_is_channel_wise():
    g = build_net(GENERATORS, "model.generator", {"name": "context_encoder", "width": 4, "max_width": 8},
                  resolution=32, channels=1)
    fc = g.bottleneck[0]
    x = torch.randn(2, 8, 4, 4)
    y = fc(x)
    x2 = x.clone()
    x2[:, 3] += 1.0  # change one channel: only that channel of the output may change
    d = (fc(x2) - y).abs().sum((0, 2, 3))
    assert d[3] > 0 and d[torch.arange(8) != 3].max() == 0
    assert g(torch.randn(2, 1, 32, 32)).shape == (2, 1, 32, 32)
    d_net = build_net(DISCRIMINATORS, "model.discriminator", {"name": "context_d", "width": 4}, resolution=32, channels=1)
    assert d_net(torch.randn(2, 1, 16, 16)).shape == d_net(torch.randn(2, 1, 32, 32)).shape == (2,)


# --------------------------------------------------------------------------------- losses
def test_pixel_and_feature_content_losses_match_formulas():
    a, b = torch.zeros(1, 1, 2, 2), torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    assert pixel_mse(a, b).item() == pytest.approx((1 + 4 + 9 + 16) / 4)
    assert feature_content(a, b, 0.5).item() == pytest.approx((0.25 + 1 + 2.25 + 4) / 4)
    assert feature_content(a, b).item() == pytest.approx(7.5 / 12.75**2)


def test_border_weighted_l2_weights_the_overlap_ring_ten_times():
    erase, block, corners = block_masks(1, 6, 4, 1, "center")
    assert corners.tolist() == [[1, 1]] and block.sum() == 16 and erase.sum() == 4
    assert erase[0, 0, 2:4, 2:4].eq(1).all() and block[0, 0, 1:5, 1:5].eq(1).all()
    x = torch.zeros(1, 2, 6, 6)
    pred = torch.full((1, 2, 6, 6), 5.0)  # outside the block: ignored
    pred = torch.where(block.bool(), torch.full_like(pred, 3.0), pred)  # ring: error 3
    pred = torch.where(erase.bool(), torch.full_like(pred, 2.0), pred)  # erased: error 2
    # (4 px * 2^2 * 1 + 12 px * 3^2 * 10) per channel, 2 channels, over 2 * 16 block values
    assert border_weighted_l2(pred, x, erase, block, 10.0).item() == pytest.approx((16 + 1080) * 2 / 32)
    assert border_weighted_l2(pred, x, erase, block, 1.0).item() == pytest.approx((16 + 108) * 2 / 32)


def test_random_blocks_and_fill_and_crop():
    rng = torch.Generator().manual_seed(0)
    erase, block, corners = block_masks(8, 16, 8, 2, "random", rng)
    assert (erase.sum((1, 2, 3)) == 16).all() and (block.sum((1, 2, 3)) == 64).all()
    assert len({tuple(c) for c in corners.tolist()}) > 1 and corners.max() <= 8
    x = torch.randn(8, 3, 16, 16)
    filled = fill_holes(x, erase, torch.tensor([0.1, 0.2, 0.3]))
    assert torch.equal(filled[:, 1][erase[:, 0] == 1], torch.full((8 * 16,), 0.2))
    assert torch.equal(filled[erase.expand_as(x) == 0], x[erase.expand_as(x) == 0])
    crops = crop_blocks(x, corners, 8)
    t, l = corners[5].tolist()
    assert torch.equal(crops[5], x[5, :, t:t + 8, l:l + 8])


# ---------------------------------------------------------------------------- SRGAN recipe
def test_srgan_warmup_updates_only_g_with_the_pixel_loss(tmp_path, one_thread):
    tr = Trainer(sr_config(2), tmp_path / "warm")
    assert [p.name for p in tr.phases if p.active(1)] == ["warm"]
    assert [p.name for p in tr.phases if p.active(2)] == ["d", "g"]
    d0 = {k: v.clone() for k, v in tr.nets["D"].state_dict().items()}
    g0 = {k: v.clone() for k, v in tr.nets["G"].state_dict().items()}
    batch = Batch(x=torch.rand(2, 3, 32, 32) * 2 - 1)
    out = tr.recipe.warm_step(batch, 0)
    ref = F.mse_loss(tr.nets["G"](bicubic_down(batch.x, 4)), batch.x)
    assert out["total"].item() == pytest.approx(ref.item(), rel=1e-6)
    tr.fit()
    assert all(torch.equal(d0[k], v) for k, v in tr.nets["D"].state_dict().items())
    assert any(not torch.equal(g0[k], v) for k, v in tr.nets["G"].state_dict().items())
    logged = (tmp_path / "warm" / "metrics.jsonl").read_text()
    assert '"warm_total"' in logged and '"d_total"' not in logged and '"g_adv"' not in logged


def test_srgan_g_loss_is_content_plus_1e3_adversarial(feature_file, tmp_path, one_thread):
    tr = Trainer(sr_config(4, f"recipe.kwargs.feature_net={feature_file}"), tmp_path / "g")
    r = tr.recipe
    batch = Batch(x=torch.rand(2, 3, 32, 32) * 2 - 1)
    out = r.g_step(batch, 2)
    sr = r.G(bicubic_down(batch.x, 4))
    f = torch.jit.load(str(feature_file))
    content = ((f(sr) - f(batch.x)) / 12.75).square().mean()
    adv = F.softplus(-r.D(sr)).mean()  # non-saturating: -log sigmoid(D(G(x)))
    assert out["content"].item() == pytest.approx(content.item(), rel=1e-5)
    assert out["g_adv"].item() == pytest.approx(adv.item(), rel=1e-5)
    assert out["total"].item() == pytest.approx(content.item() + 1e-3 * adv.item(), rel=1e-5)
    mse = Trainer(sr_config(4, "recipe.kwargs.content=mse", "recipe.kwargs.adv_weight=0.5"), tmp_path / "m").recipe
    o = mse.g_step(batch, 2)
    assert o["content"].item() == pytest.approx(o["pixel_mse"].item(), rel=1e-6)
    assert o["total"].item() == pytest.approx(o["content"].item() + 0.5 * o["g_adv"].item(), rel=1e-5)


def test_srgan_lr_drop_schedule_and_bad_kwargs(tmp_path):
    r = Trainer(sr_config(4, "recipe.kwargs.lr_drop=3"), tmp_path / "a").recipe
    assert r.schedule(2) == {} and r.schedule(3) == {"lr_factor": 0.1}
    for kw, needle in (("content=vgg", "recipe.kwargs.content='vgg': expected features or mse"),
                       ("warmup=-1", "recipe.kwargs.warmup=-1: expected a value >= 0"),
                       ("feature_net=/nope.pt", "recipe.kwargs.feature_net='/nope.pt': no such file")):
        with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
            Trainer(sr_config(4, f"recipe.kwargs.{kw}"), tmp_path / "b")
    with pytest.raises(ConfigError, match="content=mse uses no feature network"):
        Trainer(sr_config(4, "recipe.kwargs.content=mse", "recipe.kwargs.feature_layer=mixed"), tmp_path / "c")


def test_srgan_resumes_bit_exactly_across_the_warmup_boundary(feature_file, resumes_bit_exactly, one_thread):
    # steps 0-1 warm-up, 2-3 GAN: the 2-step run stops exactly at the phase change
    resumes_bit_exactly(lambda steps, out, resume: Trainer(
        sr_config(steps, f"recipe.kwargs.feature_net={feature_file}"), out, resume=resume))


# ------------------------------------------------------------------- context encoder recipe
def test_context_encoder_g_loss_is_0999_l2_plus_0001_adversarial(tmp_path, one_thread):
    tr = Trainer(ce_config(1, "recipe.kwargs.fill=[0.25]"), tmp_path / "ce")
    r = tr.recipe
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    out = r.g_step(Batch(x=x), 0)
    erase, block, corners = block_masks(2, 32, 16, 1, "center")
    inp = torch.where(erase.bool().expand_as(x), torch.full_like(x, 0.25), x)
    pred = r.G(inp)
    w = erase + 10 * (block - erase)
    l2 = (w * (pred - x).square()).sum() / (3 * block.sum())
    adv = F.softplus(-r.D(pred[:, :, 8:24, 8:24])).mean()  # D sees the 16 px hole block
    assert out["l2"].item() == pytest.approx(l2.item(), rel=1e-5)
    assert out["g_adv"].item() == pytest.approx(adv.item(), rel=1e-5)
    assert out["total"].item() == pytest.approx(0.999 * l2.item() + 0.001 * adv.item(), rel=1e-5)
    full = Trainer(ce_config(1, "recipe.kwargs.d_sees=full"), tmp_path / "full").recipe
    seen = []
    full.D.register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    full.d_step(Batch(x=x), 0)
    assert seen == [(2, 3, 32, 32)] * 2


def test_context_encoder_fill_defaults_to_the_first_batch_mean(tmp_path, one_thread):
    tr = Trainer(ce_config(1), tmp_path / "ce")
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    tr.recipe.d_step(Batch(x=x), 0)
    assert torch.allclose(tr.recipe.fill, x.mean((0, 2, 3)))
    tr.recipe.d_step(Batch(x=x + 0.5), 1)  # kept: later batches do not move it
    assert torch.allclose(tr.recipe.fill, x.mean((0, 2, 3)))
    for kw, needle in (("mask=circle", "expected center or random"), ("hole=1.5", "expected a fraction"),
                       ("d_sees=all", "expected hole or full"), ("fill=[0.1,0.2]", "expected 1 or 3 values"),
                       ("fill=[3.0]", r"expected values in \[-1, 1\]")):
        with pytest.raises(ConfigError, match=needle):
            Trainer(ce_config(1, f"recipe.kwargs.{kw}"), tmp_path / "bad")


def test_context_encoder_resumes_bit_exactly_with_random_blocks(resumes_bit_exactly, one_thread):
    resumes_bit_exactly(lambda steps, out, resume: Trainer(ce_config(steps, "recipe.kwargs.mask=random"), out,
                                                          resume=resume))


# -------------------------------------------------------------------------------- metrics
def test_psnr_luma_and_hole_metrics_match_formulas():
    a = torch.zeros(2, 3, 8, 8)
    b = a + 1 / 127.5  # one uint8 level apart everywhere
    assert psnr(a, b).tolist() == pytest.approx([10 * math.log10(255**2)] * 2, abs=1e-4)
    assert math.isinf(psnr(a, a)[0].item())
    assert luma(torch.full((1, 3, 1, 1), 255.0)).item() == pytest.approx(235.0, abs=1e-3)
    assert psnr(a, b, crop=2).shape == (2,)
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, 2:4, 2:4] = 1
    c = a.clone()
    c[:, :, 2:4, 2:4] = 0.5  # error 0.5 inside the hole only
    c[:, :, 6:, 6:] = -1  # outside: ignored
    assert hole_l1(c, a, mask).tolist() == pytest.approx([0.5, 0.5])
    q = (0.5 * 127.5 + 128) // 1 - 128  # uint8 level difference of 0.5 vs 0
    assert hole_psnr(c, a, mask)[0].item() == pytest.approx(10 * math.log10(255**2 / q**2), rel=1e-5)


def test_blur_fill_keeps_the_context_and_fills_smoothly():
    x = torch.linspace(-1, 1, 16).view(1, 1, 1, 16).expand(1, 1, 16, 16).contiguous()
    mask = torch.zeros(1, 1, 16, 16)
    mask[..., 4:12, 4:12] = 1
    out = blur_fill(x, mask, 2.0)
    assert torch.equal(out[mask.expand_as(x) == 0], x[mask.expand_as(x) == 0])
    assert torch.allclose(blur_fill(torch.full_like(x, 0.3), mask, 2.0), torch.full_like(x, 0.3), atol=1e-6)
    assert (out[0, 0, 8, 5:11].diff() > 0).all()  # the ramp continues through the hole


def test_ssim_agrees_with_scikit_image():
    metrics = pytest.importorskip("skimage.metrics")
    from gankit.editing.scoring import ssim

    g = torch.Generator().manual_seed(0)
    a = torch.rand(1, 3, 32, 32, generator=g) * 2 - 1
    b = (a + 0.3 * torch.randn(1, 3, 32, 32, generator=g)).clamp(-1, 1)
    ref = metrics.structural_similarity(a[0].numpy(), b[0].numpy(), data_range=2.0, channel_axis=0,
                                        gaussian_weights=True, sigma=1.5, use_sample_covariance=False)
    assert ssim(a, b).item() == pytest.approx(ref, abs=2e-3)


# ------------------------------------------------------------------------ feature networks
def test_layer_features_cut_the_stack_and_pass_gradients():
    layers = nn.Sequential()
    layers.add_module("conv", nn.Conv2d(3, 2, 3))
    layers.add_module("conv_1", nn.Conv2d(2, 5, 3))
    layers.add_module("pool", nn.AdaptiveAvgPool2d(1))
    f = LayerFeatures(layers, "conv_1")
    x = torch.rand(2, 1, 12, 12).requires_grad_(True)  # gray is repeated to RGB
    y = f(x)
    assert y.shape == (2, 5, 8, 8)
    y.sum().backward()
    assert x.grad.abs().sum() > 0 and not any(p.requires_grad for p in layers.parameters())
    with pytest.raises(ConfigError, match="recipe.kwargs.feature_layer='mixed_99': not a layer"):
        LayerFeatures(layers, "mixed_99", "recipe.kwargs.feature_layer")


def test_feature_file_loads_and_bad_files_are_one_line(feature_file, tmp_path):
    f = load_feature_net(str(feature_file))
    assert f(torch.zeros(1, 3, 8, 8)).shape == (1, 4, 4, 4)
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(ConfigError, match="not a TorchScript file"):
        load_feature_net(str(junk))
    with pytest.raises(ConfigError, match="no such file"):
        load_feature_net(str(tmp_path / "missing.pt"))


def test_skimage_photos_source():
    pytest.importorskip("skimage")
    from gankit.config import DataConfig
    from gankit.data.sources import build_source

    src = build_source(DataConfig(name="skimage", resolution=16, channels=1))
    assert len(src) == 15 and src[0][0].shape == (1, 16, 16) and src[0][0].dtype == torch.uint8


def test_presets_load_with_the_papers_settings():
    from gankit.train.build import check_config

    sr = load_config("srgan_emoji")
    check_config(sr)
    assert sr.model.generator == {"name": "srresnet", "width": 64, "blocks": 16, "scale": 4}
    assert sr.recipe.kwargs["adv_weight"] == 0.001 and sr.optim.g_betas == [0.9, 0.999] and sr.optim.g_lr == 1e-4
    ce = load_config("inpaint_fashion")
    check_config(ce)
    k = ce.recipe.kwargs
    assert (k["l2_weight"], k["adv_weight"], k["border_weight"], k["hole"], k["d_sees"]) == (0.999, 0.001, 10.0, 0.5, "hole")
    assert ce.optim.g_lr == 10 * ce.optim.d_lr
