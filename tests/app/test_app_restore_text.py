"""The Upscale, Inpaint and Text to image tabs without a browser: their handlers called directly on
tiny runs trained here (SRGAN warm-up, context encoder, GAN-INT-CLS), checked against the
pipelines' own outputs and hand-computed PSNRs; bad input gives the app's one-line messages."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

gr = pytest.importorskip("gradio")

from gankit.config import load_config  # noqa: E402
from gankit.train.trainer import Trainer  # noqa: E402

COMMON = ["data.name=synthetic", "data.path=null", "data.resolution=32", "data.channels=3", "data.limit=16",
          "data.num_workers=0", "train.batch_size=4", "train.log_every=1", "train.sample_every=0",
          "train.ckpt_every=0", "train.progress=false", "train.device=cpu", "train.steps=2"]


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    from gankit.data.text import CharVocab
    from gankit.models.text_encoder import CharCNNRNN, ImageEncoder, save_text_encoder
    from tests.conftest import tiny_config
    from tests.test_text2img import CAPS, R, TinyCaptions

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    base = tmp_path_factory.mktemp("app_restore_text")
    runs = base / "runs"
    Trainer(load_config("srgan_emoji", COMMON + ["model.generator={name: srresnet, width: 4, blocks: 1}",
                                                 "model.discriminator={name: srgan, width: 4, fc: 8}",
                                                 "recipe.kwargs.warmup=2"]), runs / "sr").fit()
    Trainer(load_config("inpaint_fashion", COMMON + ["model.generator={name: context_encoder, width: 4, max_width: 8}",
                                                     "model.discriminator={name: context_d, width: 4, max_width: 8}"]),
            runs / "ce").fit()
    vocab = CharVocab.build(c for cs in CAPS for c in cs)
    enc = save_text_encoder(base / "te", CharCNNRNN(len(vocab), 8, char_dim=4, width=8), vocab,
                            ImageEncoder(R, 3, 8, 4), {"test_captions": [c for cs in CAPS for c in cs]})
    cfg = tiny_config(None, "recipe.name=gan_int_cls", f"recipe.kwargs.text_encoder={enc}",
                      "model.generator.name=gan_int_cls", "model.discriminator.name=text_match",
                      f"data.resolution={R}", "model.generator.width=4", "model.discriminator.width=4", "train.steps=1")
    Trainer(cfg, runs / "t2i", source=TinyCaptions(R)).fit()
    torch.set_num_threads(n)
    return runs


@pytest.fixture(scope="module")
def ctx(root):
    from gankit.app.context import AppContext
    from gankit.app.runs import RunCache

    return AppContext(root, RunCache())


def _handlers(ctx, key):
    """The tab's event handlers by function name (built once in a Blocks, as the app does)."""
    from gankit.app.tabs import TABS, tabs_for

    tabs_for({key})  # imports the tab modules
    with gr.Blocks() as demo:
        TABS.get(key).build(ctx)
    return {f.fn.__name__: f.fn for f in demo.fns.values() if getattr(f, "fn", None)}


def _by_id(out: dict) -> dict:
    """A handler's {component: value} by the components' elem_id (the State by 'state')."""
    return {("state" if isinstance(k, gr.State) else k.elem_id): v for k, v in out.items()}


def _png(path, w, h, seed=0):
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    return path


def _psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    d = (a.astype(np.float64) - b.astype(np.float64)) ** 2
    mse = d.mean() if mask is None else d[mask].mean()
    return 10 * math.log10(255.0**2 / mse)


def test_capabilities_of_restoration_and_text_runs(ctx):
    from gankit.app.tabs import tabs_for

    caps = {e.name: set(e.caps) for e in ctx.runs}
    # a text-to-image generator is of kind "noise", but the Sample tab would feed it no caption
    assert caps == {"sr": {"upscale"}, "ce": {"inpaint"}, "t2i": {"text2img"}}
    assert ctx.choices("sample") == [] and ctx.choices("text2img") == ["t2i"]
    assert [t.key for t in tabs_for({"upscale", "inpaint", "text2img", "sample"})] == \
        ["runs", "sample", "text2img", "upscale", "inpaint"]


def test_upscale_tab_test_image_with_psnr_against_the_true_high_res(ctx):
    from gankit.data.degrade import bicubic_down
    from gankit.recipes.srgan import source_images

    fns = _handlers(ctx, "upscale")
    assert len(_by_id(fns["configure"]("sr"))["upscale-gallery"]) == 12
    picked = _by_id(fns["on_select"]("sr", 1, SimpleNamespace(index=2)))
    src = picked["state"]
    run = ctx.run("sr", "upscale")
    s = run.recipe.scale
    hr = source_images(run.held_out(), [2])
    assert s == 4 and torch.equal(src["hr"], hr) and src["lr"] is None
    shown = _by_id(fns["run_it"]("sr", src, 1))
    lr_p, bic_p, sr_p, hr_p = (shown[f"upscale-{i}"] for i in range(4))
    assert all(p.shape == (32, 32, 3) for p in (lr_p, bic_p, sr_p, hr_p))  # the 8 px input shown x4
    assert np.array_equal(lr_p[::4, ::4], lr_p[1::4, 1::4])  # nearest-neighbour enlargement of 8x8
    with run.recipe.sampling() as r:
        sr = r.upscale(bicubic_down(hr, s)).float()
    assert np.array_equal(sr_p, ((sr[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).numpy())
    c = s  # score-sr's protocol: the scale's border cropped
    status = shown["upscale-status"]
    for label, panel in (("SRGAN ", sr_p), ("bicubic ", bic_p)):
        got = float(status.split(label)[-1].split(" dB")[0])
        assert got == pytest.approx(_psnr(panel[c:-c, c:-c], hr_p[c:-c, c:-c]), abs=0.02), status


def test_upscale_tab_uploads_as_low_res_input(ctx, tmp_path):
    from gankit.app.tabs.upscale import AS_HIGH, AS_LOW
    from gankit.pipelines.restore import upscale_image

    fns = _handlers(ctx, "upscale")
    img = _png(tmp_path / "small.png", 10, 10)
    src = _by_id(fns["from_upload"]("sr", str(img), AS_LOW, 1))["state"]
    assert src["hr"] is None and src["lr"].shape == (1, 3, 10, 10)
    shown = _by_id(fns["run_it"]("sr", src, 1))
    want = np.asarray(upscale_image(ctx.run("sr", "upscale"), img))  # the CLI's `gankit upscale`
    assert shown["upscale-2"].shape == want.shape == (40, 40, 3)
    assert np.abs(shown["upscale-2"].astype(int) - want.astype(int)).max() <= 1  # rounding vs flooring
    assert shown["upscale-3"] is None and "10x10 -> 40x40 (x4)" in shown["upscale-status"]
    # a big upload is its centre square shrunk to MAX_LR_SIDE; a high-res one is shrunk to the run's size
    big = _by_id(fns["from_upload"]("sr", str(_png(tmp_path / "big.png", 200, 150)), AS_LOW, 1))
    assert big["state"]["lr"].shape == (1, 3, 128, 128)
    assert "centre 150 px square shrunk to 128 px" in big["upscale-status"]
    high = _by_id(fns["from_upload"]("sr", str(img), AS_HIGH, 1))["state"]
    assert high["lr"] is None and high["hr"].shape == (1, 3, 32, 32)


def test_upscale_and_inpaint_tabs_refuse_bad_uploads_in_one_line(ctx, root, tmp_path):
    from gankit.app.context import AppContext
    from gankit.app.tabs.upscale import AS_LOW
    from gankit.app.uploads import Limits

    notes = tmp_path / "notes.txt"
    notes.write_text("not an image")
    img = _png(tmp_path / "wide.png", 40, 20)
    small = AppContext(root, ctx.cache, limits=Limits(max_pixels=500), runs=ctx.runs)
    for key, args in (("upscale", (AS_LOW, 1)), ("inpaint", (1,))):
        run = "sr" if key == "upscale" else "ce"
        fns = _handlers(ctx, key)
        msg = _by_id(fns["from_upload"](run, str(notes), *args))[f"{key}-status"]
        assert msg.startswith("**Refused:** notes.txt: not an image that can be read") and "\n" not in msg, msg
        assert str(tmp_path) not in msg
        msg = _by_id(_handlers(small, key)["from_upload"](run, str(img), *args))[f"{key}-status"]
        assert msg == ("**Refused:** wide.png: 40x20 = 800 pixels is over this app's limit of 500 pixels "
                       "(gankit app --max-pixels); make the image smaller"), msg
        nothing = (run, None, 1) if key == "upscale" else (run, None, "center", 0, 1)
        assert _by_id(fns["run_it"](*nothing))[f"{key}-status"] == \
            "**Refused:** upload an image or pick a test image first"
    # a run of another kind is refused by name
    fns = _handlers(ctx, "inpaint")
    assert "run 'sr' cannot do this" in _by_id(fns["on_select"]("sr", 1, SimpleNamespace(index=0)))["inpaint-status"]


def test_inpaint_tab_fills_only_the_hole(ctx, tmp_path):
    from gankit.app.tabs.inpaint import erase_mask

    fns = _handlers(ctx, "inpaint")
    assert len(_by_id(fns["configure"]("ce"))["inpaint-gallery"]) == 12
    src = _by_id(fns["on_select"]("ce", 1, SimpleNamespace(index=3)))["state"]
    run = ctx.run("ce", "inpaint")
    shown = _by_id(fns["run_it"]("ce", src, "center", 0, 1))
    masked, filled, orig = shown["inpaint-masked"], shown["inpaint-filled"], shown["inpaint-original"]
    hole = erase_mask(run, src["x"], "center")[0, 0].bool().numpy()
    # inpaint_fashion: hole 0.5 of 32 px = 16 px, overlap 1 -> a 14 px erased square at 9..22
    assert hole.sum() == 14 * 14 and hole[9:23, 9:23].all()
    assert np.array_equal(filled[~hole], orig[~hole]) and np.array_equal(masked[~hole], orig[~hole])
    assert not np.array_equal(filled[hole], orig[hole])
    fill = ((run.recipe.fill + 1) * 127.5).round().to(torch.uint8).numpy()  # the stored training-batch mean
    assert (np.abs(masked[hole].astype(int) - fill.astype(int)) <= 1).all()
    got = float(shown["inpaint-status"].split("hole: ")[1].split(" dB")[0])
    assert got == pytest.approx(_psnr(filled, orig, hole), abs=0.02)
    got_fill = float(shown["inpaint-status"].split("plain fill: ")[1].split(" dB")[0])
    assert got_fill == pytest.approx(_psnr(masked, orig, hole), abs=0.02)
    # a random block: the same size, placed by the seed (reproducible), not always at the centre
    holes = [erase_mask(run, src["x"], "random", s)[0, 0].numpy() for s in (0, 0, 1, 2, 3)]
    assert all(h.sum() == 14 * 14 for h in holes) and np.array_equal(holes[0], holes[1])
    assert any(not np.array_equal(h, hole) for h in holes)
    r = _by_id(fns["run_it"]("ce", src, "random", 2, 1))
    h2 = holes[3].astype(bool)
    assert np.array_equal(r["inpaint-filled"][~h2], orig[~h2]) and "random block (seed 2)" in r["inpaint-status"]
    assert _by_id(fns["run_it"]("ce", src, "random", -1, 1))["inpaint-status"].startswith("**Refused:** seed -1")
    # an upload is resized to the run's resolution
    up = _by_id(fns["from_upload"]("ce", str(_png(tmp_path / "p.png", 50, 40)), 1))
    assert up["state"]["x"].shape == (1, 3, 32, 32) and up["inpaint-original"].shape == (32, 32, 3)


def test_text2img_tab_grid_strip_and_bad_captions(ctx):
    from gankit.pipelines.text import caption_strip, text_to_image
    from tests.test_text2img import CAPS, R

    fns = _handlers(ctx, "text2img")
    conf = fns["configure"]("t2i")
    pool = _by_id(conf)["text2img-examples"]["choices"]
    assert [c[0] if isinstance(c, (tuple, list)) else c for c in pool] == [c for cs in CAPS for c in cs]
    run = ctx.run("t2i", "text2img")
    out = _by_id(fns["generate"]("t2i", "  흰 머리 할머니 ", 3, 5, 1))
    grid = out["text2img-output"]
    assert grid.shape == (2 * (R + 2) + 2, 2 * (R + 2) + 2, 3)  # 3 images, 2 per row, 2 px padding
    want = text_to_image(run, ["흰 머리 할머니"], n=3, seed=5)
    for i in range(3):
        r, c = divmod(i, 2)
        tile = grid[2 + r * (R + 2): 2 + r * (R + 2) + R, 2 + c * (R + 2): 2 + c * (R + 2) + R]
        assert np.array_equal(tile, ((want[i].permute(1, 2, 0) + 1) * 127.5).round().to(torch.uint8).numpy())
    assert np.array_equal(np.asarray(Image.open(out["text2img-png"])), grid)  # the download is the grid
    assert "3 images of \u201c흰 머리 할머니\u201d" in out["text2img-status"]
    strip = _by_id(fns["interpolate"]("t2i", "a baby", "아기", 4, 7, 1))["text2img-strip"]
    assert strip.shape == (R + 4, 4 * (R + 2) + 2, 3)
    ends = caption_strip(run, "a baby", "아기", steps=4, n=1, seed=7)[[0, 3]]
    assert torch.allclose(ends, text_to_image(run, ["a baby", "아기"], n=1, seed=7), atol=1e-5)
    one = _by_id(fns["generate"]("t2i", "a baby", 1, 7, 1))["text2img-output"]
    assert one.shape == (R, R, 3) and np.array_equal(one, strip[2:2 + R, 2:2 + R])  # same z: the strip starts there
    for args, msg in ((("t2i", "   ", 2, 0, 1), "**Refused:** caption: empty; write what the image should show"),
                      (("t2i", "x" * 301, 2, 0, 1), "**Refused:** caption: 301 characters; at most 300"),
                      (("t2i", "a baby", 0, 0, 1), "**Refused:** count 0: expected 1..64"),
                      (("t2i", "a baby", 2, -3, 1), "**Refused:** seed -3: expected a whole number >= 0"),
                      (("sr", "a baby", 2, 0, 1), "**Refused:** run 'sr' cannot do this")):
        got = _by_id(fns["generate"](*args))["text2img-status"]
        assert got.startswith(msg) and "\n" not in got, got
    got = _by_id(fns["interpolate"]("t2i", "a baby", "", 4, 0, 1))["text2img-status"]
    assert got.startswith("**Refused:** to caption: empty")


def test_the_page_builds_the_three_tabs_and_their_first_views_load(root):
    from gankit.app.context import AppContext
    from gankit.app.runs import RunCache
    from gankit.app.server import build_app

    c = AppContext(root, RunCache())
    demo = build_app(c)
    assert [b.elem_id for b in demo.blocks.values() if isinstance(b, gr.Tab)] == \
        ["tab-runs", "tab-text2img", "tab-upscale", "tab-inpaint"]
    assert {cap for _, cap in c.pickers} >= {"text2img", "upscale", "inpaint"}
    loaded = 0
    for chain in c.on_load:  # what the page runs as it opens, with the components' first values
        for fn, inputs, _ in chain:
            out = fn(*[i.value for i in (inputs if isinstance(inputs, list) else [inputs])])
            texts = [v for v in out.values() if isinstance(v, str)]
            assert not any(t.startswith(("**Refused", "**Error")) for t in texts), texts
            loaded += 1
    assert loaded >= 4
