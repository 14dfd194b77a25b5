"""`gankit data emoji-styles`, `gankit translate` (pix2pix / CycleGAN runs) and
`gankit score-translation` end to end on a tiny stand-in build."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from PIL import Image

from gankit.config import load_config
from gankit.data import emoji as E
from gankit.errors import GankitError
from gankit.train.trainer import Trainer

pytestmark = pytest.mark.skipif(not Path(E.FONT_PATH).is_file(), reason=f"{E.FONT_PATH} absent")
CODES = ["1F600", "1F436", "1F431", "1F34E", "1F34C", "1F680", "2764-FE0F", "1F525", "1F30D", "1F308", "1F355", "1F3B8"]
TINY = ["data.resolution=16", "train.batch_size=2", "train.steps=2", "train.log_every=1", "train.sample_every=0",
        "train.ckpt_every=0", "train.n_samples=2", "train.progress=false", "train.device=cpu",
        "model.generator.width=4", "model.discriminator.width=4", "model.discriminator.n_layers=1"]


def _package(root: Path) -> Path:
    path = root / "tw.tgz"
    entries = [{"unified": c, "name": c, "image": c.lower() + ".png", "has_img_twitter": True} for c in CODES]
    with tarfile.open(path, "w:gz") as tar:
        def add(name, data):
            info = tarfile.TarInfo(f"package/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        add("emoji.json", json.dumps(entries).encode())
        for i, e in enumerate(entries):
            buf = io.BytesIO()
            Image.new("RGBA", (64, 64), (20 * i, 200 - 10 * i, 90, 255)).save(buf, "PNG")
            add(f"img/twitter/64/{e['image']}", buf.getvalue())
    return path


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from gankit.cli.main import main

    root = tmp_path_factory.mktemp("tr")
    data = root / "styles"
    assert main(["data", "emoji-styles", "--twemoji", str(_package(root)), "--size", "16", "--out", str(data),
                 "--test-fraction", "0.4"]) == 0
    out = {}
    torch.set_num_threads(1)
    for preset, extra in (("pix2pix_emoji", ["model.generator.dropout=0.0"]),
                          ("cyclegan_emoji", ["model.generator.n_blocks=1", "data.num_workers=0"])):
        torch.manual_seed(0)
        Trainer(load_config(preset, [*TINY, *extra, f"data.path={data}"]), root / preset).fit()
        out[preset] = root / preset
    return data, out


def test_data_command_prints_counts(tmp_path, cli):
    code, text, err = cli("data", "emoji-styles", "--twemoji", _package(tmp_path), "--size", "16", "--out",
                          tmp_path / "d", "--limit", "4")
    assert code == 0, err
    assert "emoji styles -> " in text and "4 emoji, drawn: noto 4, twemoji 4; 4 in every style" in text
    code, _, err = cli("data", "emoji-styles", "--styles", "noto,apple", "--out", tmp_path / "x")
    assert code == 2 and "unknown style 'apple'" in err and err.count("\n") == 1


def test_translate_image_and_dir(runs, tmp_path, cli):
    data, out = runs
    img = next((data / "noto").iterdir())
    code, text, err = cli("translate", out["pix2pix_emoji"], "--image", img, "--out", tmp_path / "p.png", "--device", "cpu")
    assert code == 0, err
    assert Image.open(tmp_path / "p.png").size == (16, 16) and "a2b, pix2pix step 2" in text
    code, text, err = cli("translate", out["cyclegan_emoji"], "--dir", data / "twemoji", "--out", tmp_path / "o",
                          "--direction", "b2a", "--device", "cpu")
    assert code == 0, err
    assert len(list((tmp_path / "o").iterdir())) == len(CODES) and "b2a, cyclegan" in text
    code, _, err = cli("translate", out["pix2pix_emoji"], "--image", img, "--out", tmp_path / "q.png", "--direction", "b2a")
    assert code == 2 and "translates a2b only" in err and err.count("\n") == 1
    code, _, err = cli("translate", out["pix2pix_emoji"], "--image", img, "--set", "Male=1", "--out", tmp_path / "r.png")
    assert code == 2 and "--set/--grid are for attribute editors" in err
    for opt in ("--image", "--dir"):  # the message names the option that was given
        code, _, err = cli("translate", out["pix2pix_emoji"], opt, tmp_path / "missing", "--out", tmp_path / "s")
        assert code == 2 and f"{opt}: '{tmp_path / 'missing'}' does not exist" in err


def test_score_translation_against_counterparts(runs, tmp_path, cli):
    from gankit.data.translation import emoji_styles
    from gankit.editing.scoring import l1_per_image

    data, out = runs
    code, text, err = cli("score-translation", out["cyclegan_emoji"], "--json", tmp_path / "r.json", "--device", "cpu")
    assert code == 0, err
    r = json.loads((tmp_path / "r.json").read_text())
    src = emoji_styles(data, "test", [], 16)
    a, b = src.a.float() / 127.5 - 1, src.b.float() / 127.5 - 1
    assert r["pairs"] == len(src) and r["direction"] == "noto -> twemoji" and r["split"] == "test"
    assert r["baseline_l1"] == pytest.approx(float(l1_per_image(a, b).mean()), rel=1e-5)
    assert 0 <= r["l1"] <= 2 and -1 <= r["ssim"] <= 1
    assert "do-nothing" in text and "L1 (lower)" in text
    code, text, _ = cli("score-translation", out["cyclegan_emoji"], "--direction", "b2a", "--device", "cpu")
    assert code == 0 and "twemoji -> noto" in text


class PoolFeatures:
    """A cheap stand-in for the Inception network: uint8 [N, C, H, W] -> 4x4-pooled RGB [N, 48]."""

    sha1, resampler = "pool4", "nv"

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        x = images.float() / 255.0
        return torch.nn.functional.adaptive_avg_pool2d(x.expand(-1, 3, -1, -1), 4).flatten(1)


def test_score_translation_fid_against_hand_computed_features(runs):
    from gankit.data.translation import emoji_styles
    from gankit.metrics.fid import fid_from_features
    from gankit.pipelines.translation import score_translation, translate
    from gankit.pipelines import load_run

    data, out = runs
    run = load_run(out["pix2pix_emoji"], device="cpu")
    ex = PoolFeatures()
    r = score_translation(run, fid=True, extractor=ex)
    src = emoji_styles(data, "test", [], 16)
    a = src.a.float() / 127.5 - 1
    fa, fb = ex(src.a).numpy(), ex(src.b).numpy()
    pred = (translate(run, a) * 127.5 + 128).clamp(0, 255).to(torch.uint8)
    assert r["baseline_fid"] == pytest.approx(fid_from_features(fa, fb).value, rel=1e-6)
    assert r["fid"] == pytest.approx(fid_from_features(ex(pred).numpy(), fb).value, rel=1e-6)
    assert r["fid"] != pytest.approx(r["baseline_fid"])  # the translations, not the inputs, were scored
    assert {"l1", "ssim", "kid", "baseline_kid"} <= set(r) and "fid" in r["fid_protocol"]
    assert r["pairs"] == r["targets"] == len(src) and r["paired"]


def test_score_translation_fid_without_counterparts(tmp_path, cli, monkeypatch):
    """Two folders of your own (no ground truth): --fid scores translated A against real B."""
    from gankit.metrics import inception

    for d, colour in (("horse", (200, 120, 40)), ("zebra", (30, 30, 30))):
        (tmp_path / d).mkdir()
        for i in range(5):
            Image.new("RGB", (20, 20), tuple(min(255, c + 9 * i) for c in colour)).save(tmp_path / d / f"{i}.png")
    torch.manual_seed(0)
    torch.set_num_threads(1)
    run_dir = tmp_path / "cyc"
    Trainer(load_config("cyclegan_emoji", [*TINY, "model.generator.n_blocks=1", "data.name=unpaired_folders",
                                          f"data.path={tmp_path}", "data.domains=[horse,zebra]"]), run_dir).fit()
    code, _, err = cli("score-translation", run_dir, "--device", "cpu")
    assert code == 2 and "no true counterparts" in err and "--fid" in err and err.count("\n") == 1
    monkeypatch.setattr(inception, "load_inception", lambda *a, **k: PoolFeatures())
    code, text, err = cli("score-translation", run_dir, "--fid", "--split", "train", "--json", tmp_path / "r.json",
                          "--device", "cpu")
    assert code == 0, err
    r = json.loads((tmp_path / "r.json").read_text())
    assert r["pairs"] == r["targets"] == 5 and not r["paired"] and "l1" not in r
    assert r["baseline_fid"] > 0 and r["fid"] >= 0 and "FID (lower)" in text and "L1" not in text
    assert r["direction"] == "horse -> zebra" and r["split"] == "all"  # folders have no split: every image
    code, _, err = cli("score-translation", run_dir, "--fid", "--n", "1", "--device", "cpu")
    assert code == 2 and "at least 2 images" in err and err.count("\n") == 1


def test_score_needs_counterparts_and_a_translator(runs):
    from gankit.pipelines.translation import counterpart_source

    with pytest.raises(GankitError, match="dataset 'fashion_pairs' has no true counterparts"):
        counterpart_source(load_config("cyclegan_fashion"))


def test_app_translate_tab_translates_a_test_image(runs):
    gr = pytest.importorskip("gradio")
    from gankit.app.context import AppContext
    from gankit.app.runs import RunCache
    from gankit.app.tabs import tabs_for

    data, out = runs
    ctx = AppContext(data.parent, RunCache())
    assert sorted(ctx.choices("translate")) == ["cyclegan_emoji", "pix2pix_emoji"]
    (t,) = [t for t in tabs_for({"translate"}) if t.key == "translate"]
    with gr.Blocks() as demo:
        t.build(ctx)
    fns = {f.fn.__name__: f.fn for f in demo.fns.values() if getattr(f, "fn", None)}
    picked = fns["on_select"]("cyclegan_emoji", "b2a", 2, SimpleNamespace(index=0))  # a click on test image 0
    src = next(v for v in picked.values() if isinstance(v, dict) and "x" in v)
    assert src["y"] is not None  # a test image of a paired dataset comes with its true counterpart
    shown = fns["run_it"]("cyclegan_emoji", "b2a", src, 2)
    images = [v for v in shown.values() if hasattr(v, "shape")]
    assert len(images) == 3 and all(v.shape == (32, 32, 3) for v in images)
    refused = fns["run_it"]("pix2pix_emoji", "b2a", src, 2)
    assert any("translates a2b only" in str(v) for v in refused.values())

