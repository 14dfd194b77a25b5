"""gankit upscale / inpaint / score-sr / score-inpaint end to end on tiny runs, and bad inputs."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.config import load_config
from gankit.train.trainer import Trainer

COMMON = ["data.name=synthetic", "data.path=null", "data.resolution=32", "data.channels=3", "data.limit=16",
          "data.num_workers=0", "train.batch_size=4", "train.log_every=1", "train.sample_every=0",
          "train.ckpt_every=0", "train.progress=false", "train.device=cpu", "train.steps=2"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("restore_runs")
    Trainer(load_config("srgan_emoji", COMMON + ["model.generator={name: srresnet, width: 4, blocks: 1}",
                                                 "model.discriminator={name: srgan, width: 4, fc: 8}",
                                                 "recipe.kwargs.warmup=2"]), root / "sr").fit()
    Trainer(load_config("inpaint_fashion", COMMON + ["model.generator={name: context_encoder, width: 4, max_width: 8}",
                                                     "model.discriminator={name: context_d, width: 4, max_width: 8}"]),
            root / "ce").fit()
    return root


def _png(path, w, h, seed=0, mode="RGB"):
    rng = np.random.default_rng(seed)
    shape = (h, w, 3) if mode == "RGB" else (h, w)
    Image.fromarray(rng.integers(0, 256, shape, dtype=np.uint8), mode).save(path)
    return path


def _mask(path, w, h, box, value=255):
    a = np.zeros((h, w), np.uint8)
    t, l, b, r = box
    a[t:b, l:r] = value
    Image.fromarray(a, "L").save(path)
    return path


def _one_line_error(code, err, *needles):
    assert code == 2 and err.startswith("gankit: error: ") and err.count("\n") == 1, err
    for n in needles:
        assert n in err, err


def test_upscale_image_and_folder(runs, cli, tmp_path):
    img = _png(tmp_path / "a.png", 12, 10)
    code, out, err = cli("upscale", runs / "sr", "--image", img, "--out", tmp_path / "big.png")
    assert code == 0, err
    assert Image.open(tmp_path / "big.png").size == (48, 40)
    folder = tmp_path / "in"
    folder.mkdir()
    _png(folder / "x.png", 8, 8)
    _png(folder / "y.jpg", 6, 9, seed=1)
    (folder / "notes.txt").write_text("not an image")
    code, out, err = cli("upscale", runs / "sr", "--dir", folder, "--out", tmp_path / "outdir")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "outdir").iterdir()) == ["x.png", "y.png"]
    assert Image.open(tmp_path / "outdir" / "y.png").size == (24, 36)


def test_inpaint_changes_only_the_hole(runs, cli, tmp_path):
    img = _png(tmp_path / "a.png", 40, 48)
    mask = _mask(tmp_path / "m.png", 40, 48, (10, 8, 30, 24))
    code, out, err = cli("inpaint", runs / "ce", "--image", img, "--mask", mask, "--out", tmp_path / "o.png")
    assert code == 0, err
    a, o = np.asarray(Image.open(img)), np.asarray(Image.open(tmp_path / "o.png"))
    keep = np.asarray(Image.open(mask)) == 0
    assert o.shape == a.shape and np.array_equal(o[keep], a[keep]) and not np.array_equal(o[~keep], a[~keep])


def test_scores_print_and_write_json(runs, cli, tmp_path):
    sets = "test,skimage" if _has_skimage() else "test"
    code, out, err = cli("score-sr", runs / "sr", "--sets", sets, "--limit", "4")
    assert code == 0, err
    res = json.loads(out)
    assert res == json.loads((runs / "sr" / "score_sr.json").read_text())
    assert res["scale"] == 4 and res["test"]["images"] == 4
    assert 0 < res["test"]["bicubic_psnr"] < 60 and -1 <= res["test"]["ssim"] <= 1
    if _has_skimage():
        assert res["skimage"]["images"] == 4
    code, out, err = cli("score-sr", runs / "sr", "--limit", "2", "--json", tmp_path / "sr.json", "--figure",
                         tmp_path / "sr.png", "--also", runs / "sr")
    assert code == 0, err
    # 6 rows (images) of LR | bicubic | the --also run | the run | HR, 32 px tiles with 2 px padding, x3
    assert Image.open(tmp_path / "sr.png").size == (3 * (5 * 34 + 2), 3 * (6 * 34 + 2))
    code, out, err = cli("score-inpaint", runs / "ce", "--json", tmp_path / "s.json", "--figure", tmp_path / "ce.png")
    assert Image.open(tmp_path / "ce.png").size == (3 * (4 * 34 + 2), 3 * (8 * 34 + 2))
    assert code == 0, err
    res = json.loads((tmp_path / "s.json").read_text())
    assert res["images"] == 16 and {"model_psnr", "model_l1", "mean_fill_psnr", "mean_fill_l1", "blur_fill_psnr",
                                     "blur_fill_l1"} <= set(res)
    assert res["blur_fill_l1"] < res["mean_fill_l1"] + 1  # both are finite and measured in the hole


def _has_skimage() -> bool:
    try:
        import skimage  # noqa: F401
        return True
    except ImportError:
        return False


@pytest.mark.parametrize("case", ["size", "gray", "empty", "not_image", "mask_not_image"])
def test_bad_masks_and_images_are_one_line(runs, cli, tmp_path, case):
    img = _png(tmp_path / "a.png", 32, 32)
    mask = _mask(tmp_path / "m.png", 32, 32, (8, 8, 24, 24))
    needles = ()
    if case == "size":
        mask = _mask(tmp_path / "m.png", 16, 16, (4, 4, 8, 8))
        needles = ("mask is 16x16 but the image is 32x32",)
    elif case == "gray":
        mask = _mask(tmp_path / "m.png", 32, 32, (8, 8, 24, 24), value=128)
        needles = ("mask is not binary",)
    elif case == "empty":
        mask = _mask(tmp_path / "m.png", 32, 32, (0, 0, 0, 0))
        needles = ("no white (hole) pixels",)
    elif case == "not_image":
        img = tmp_path / "a.png"
        img.write_bytes(b"this is text")
        needles = ("a.png",)
    else:
        mask = tmp_path / "m.png"
        mask.write_bytes(b"\x00\x01garbage")
        needles = ("m.png",)
    code, out, err = cli("inpaint", runs / "ce", "--image", img, "--mask", mask, "--out", tmp_path / "o.png")
    _one_line_error(code, err, *needles)
    assert not (tmp_path / "o.png").exists()


def test_wrong_run_kind_and_bad_options_are_one_line(runs, cli, tmp_path):
    img = _png(tmp_path / "a.png", 8, 8)
    _one_line_error(*cli("upscale", runs / "ce", "--image", img, "--out", tmp_path / "o.png")[::2],
                    "recipe 'context_encoder' is not a super-resolution (srgan) run")
    _one_line_error(*cli("inpaint", runs / "sr", "--image", img, "--mask", img, "--out", tmp_path / "o.png")[::2],
                    "is not an inpainting (context_encoder) run")
    _one_line_error(*cli("upscale", runs / "sr", "--image", img, "--out", tmp_path / "o.txt")[::2],
                    "expected an image file name")
    _one_line_error(*cli("upscale", runs / "sr", "--dir", tmp_path / "missing", "--out", tmp_path / "d")[::2],
                    "not a folder")
    _one_line_error(*cli("score-sr", runs / "sr", "--sets", "val")[::2], "--sets val")
    _one_line_error(*cli("score-inpaint", tmp_path / "nothing")[::2], "does not exist")


class _L1Distance(torch.nn.Module):
    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (x - y).abs().mean((1, 2, 3))


def test_score_sr_reports_lpips_with_a_user_network(runs, cli, tmp_path):
    net = tmp_path / "lpips.pt"
    torch.jit.script(_L1Distance()).save(str(net))
    code, out, err = cli("score-sr", runs / "sr", "--limit", "3", "--lpips", net, "--json", tmp_path / "l.json")
    assert code == 0, err
    res = json.loads(out)["test"]
    # the stand-in "LPIPS" is the mean |a - b| in [-1, 1] units: bicubic's must be positive and below 2
    assert 0 < res["bicubic_lpips"] < 2 and 0 < res["lpips"] < 2
    _one_line_error(*cli("score-sr", runs / "sr", "--lpips", tmp_path / "none.pt")[::2], "--lpips", "no such file")
