"""The web app's pieces without a browser: paths kept inside the runs folder, upload limits and
messages, run discovery and capabilities, metrics curves, the tab registry, seeded sampling
views, the loopback check and the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.app.runs import capabilities_of, discover_runs, inside, read_metrics
from gankit.app.uploads import Limits, UploadError, check_upload, read_upload
from gankit.errors import GankitError
from gankit.pipelines import RunKind


# ----------------------------------------------------------------------------- paths
def test_paths_from_the_browser_stay_inside_the_runs_folder(tmp_path):
    root = tmp_path / "runs"
    (root / "a" / "b").mkdir(parents=True)
    (tmp_path / "secret").mkdir()
    (root / "link_out").symlink_to(tmp_path / "secret")
    assert inside(root, "a/b") == (root / "a" / "b").resolve()
    assert inside(root, "a/../a") == (root / "a").resolve()
    assert inside(root, ".") == root.resolve()
    assert inside(root, str(root / "a")) == (root / "a").resolve()  # absolute, but inside
    for bad in ("..", "../secret", "a/../../secret", "/etc", str(tmp_path / "secret"), "link_out", "link_out/x",
                "", "a\x00b"):
        with pytest.raises(GankitError, match="outside the runs folder|give a path inside"):
            inside(root, bad, "with folder")


# ----------------------------------------------------------------------------- uploads
def _png(path: Path, size=(20, 10), mode="RGB", color=(200, 10, 10)) -> Path:
    Image.new(mode, size, color).save(path)
    return path


def test_upload_limits_in_bytes_and_pixels(tmp_path):
    small = _png(tmp_path / "ok.png")
    assert check_upload(small, Limits(max_bytes=10_000, max_pixels=200)) == (20, 10)
    with pytest.raises(UploadError, match=r"ok\.png: 20x10 = 200 pixels is over this app's limit of 199 pixels"):
        check_upload(small, Limits(max_bytes=10_000, max_pixels=199))
    n = os.path.getsize(small)
    with pytest.raises(UploadError, match=rf"ok\.png: {n:,} bytes is over this app's limit of {n - 1:,} bytes"):
        check_upload(small, Limits(max_bytes=n - 1, max_pixels=10**6))
    # a header claiming far more pixels than Pillow's own limit is refused by size, not decoded
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20_000, 10_000)).save(bomb)  # 200 M pixels, a few kB
    assert os.path.getsize(bomb) < 100_000
    with pytest.raises(UploadError, match=r"bomb\.png: 200,000,000 pixels is over this app's limit of 1,000,000"):
        check_upload(bomb, Limits(max_bytes=10**6, max_pixels=10**6))
    with pytest.raises(GankitError, match="limits must be >= 1"):
        Limits(max_bytes=0)


def test_bad_uploads_get_one_line_messages_naming_the_file(tmp_path):
    lim = Limits()
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "trunc.png").write_bytes(_png(tmp_path / "t.png", (64, 64)).read_bytes()[:60])
    cases = {"empty.png": "the file is empty", "notes.txt": "not an image that can be read",
             "trunc.png": "not a readable image", "missing.png": "the upload is missing"}
    for name, text in cases.items():
        with pytest.raises(UploadError) as e:
            read_upload(tmp_path / name, lim, 16)
        msg = str(e.value)
        assert msg.startswith(f"{name}: ") and text in msg and "\n" not in msg and str(tmp_path) not in msg, msg


def test_odd_modes_decode_to_rgb_at_the_resolution(tmp_path):
    rgba = Image.new("RGBA", (8, 6), (255, 0, 0, 0))  # fully transparent: composited over white
    rgba.save(tmp_path / "rgba.png")
    Image.new("CMYK", (6, 6), (0, 255, 0, 0)).save(tmp_path / "cmyk.jpg")
    Image.fromarray(np.full((6, 6), 65535, np.uint16)).save(tmp_path / "gray16.png")
    Image.new("P", (6, 6), 3).save(tmp_path / "pal.gif")
    for name in ("rgba.png", "cmyk.jpg", "gray16.png", "pal.gif"):
        x = read_upload(tmp_path / name, Limits(), 4)
        assert x.dtype == torch.uint8 and x.shape == (3, 4, 4), name
    assert read_upload(tmp_path / "rgba.png", Limits(), 4).min() == 255  # white, not black
    assert read_upload(tmp_path / "gray16.png", Limits(), 4).min() == 255  # 16-bit full scale -> 255


# ----------------------------------------------------------------------------- runs
def _fake_run(path: Path, cfg, checkpoint=True) -> Path:
    from gankit.config import save_yaml

    path.mkdir(parents=True)
    save_yaml(cfg, path / "config.yaml")
    if checkpoint:
        ck = path / "checkpoints" / "step_000000001"
        ck.mkdir(parents=True)
        (ck / "weights.safetensors").write_bytes(b"")
        (ck / "state.pt").write_bytes(b"")
    return path


def test_run_discovery_and_capabilities(tmp_path, tiny):
    root = tmp_path / "runs"
    _fake_run(root / "dc", tiny("dcgan_fashion"))
    _fake_run(root / "group" / "style", tiny("style_fashion32"))
    _fake_run(root / "group" / "star", tiny("stargan_emoji"))
    _fake_run(root / "fresh", tiny("dcgan_fashion"), checkpoint=False)
    _fake_run(root / "a" / "b" / "c" / "too_deep", tiny("dcgan_fashion"))
    (root / "broken").mkdir()
    (root / "broken" / "config.yaml").write_text("- not a mapping\n")
    (root / ".hidden").mkdir()
    _fake_run(root / ".hidden" / "x", tiny("dcgan_fashion"))
    runs = {e.name: e for e in discover_runs(root)}
    assert sorted(runs) == ["broken", "dc", "fresh", "group/star", "group/style"]
    assert runs["dc"].caps == {"sample"} and runs["dc"].kind.kind == "noise"
    assert runs["group/style"].caps == {"sample", "style", "latent_edit"}
    assert runs["group/star"].caps == {"edit_attributes"} and runs["group/star"].kind.attribute_editor
    assert runs["fresh"].caps == frozenset() and "no checkpoint" in runs["fresh"].error
    assert runs["broken"].caps == frozenset() and "expected a mapping" in runs["broken"].error
    assert [e.name for e in discover_runs(root / "dc")] == ["."]  # the folder given is itself a run
    with pytest.raises(GankitError, match="expected a run folder"):
        discover_runs(root / "nope")


def test_capability_rules_by_generator_kind():
    kind = lambda k, inputs=("resolution",): RunKind("r", "g", k, inputs)  # noqa: E731
    assert capabilities_of(kind("conditional")) == {"sample"}
    assert capabilities_of(kind("image_to_image", ("c_dim",))) == {"edit_attributes"}
    assert capabilities_of(kind("image_to_image")) == {"translate"}  # pix2pix / CycleGAN
    # restoration runs are image-to-image but not translators: no translate tab for them
    assert capabilities_of(RunKind("srgan", "srresnet", "image_to_image", ("resolution",))) == {"upscale"}
    ce = RunKind("context_encoder", "context_encoder", "image_to_image", ("resolution",))
    assert capabilities_of(ce) == {"inpaint"}
    # text-to-image generators are "noise" generators, but sampling them without a caption means nothing
    for recipe in ("gan_int_cls", "stackgan1", "stackgan2"):
        assert capabilities_of(RunKind(recipe, recipe, "noise", ("resolution", "channels", "z_dim"))) == {"text2img"}


def test_tabs_appear_for_the_capabilities_present():
    from gankit.app.tabs import tabs_for

    pytest.importorskip("gradio")
    assert [t.key for t in tabs_for(set())] == ["runs"]
    assert [t.key for t in tabs_for({"sample"})] == ["runs", "sample"]
    assert [t.key for t in tabs_for({"sample", "style", "latent_edit", "edit_attributes"})] == \
        ["runs", "sample", "edit_attributes", "latent_edit"]


def test_metrics_curves_skip_bad_lines(tmp_path):
    lines = [{"step": 1, "time": 0, "it_s": 2.0, "img_s": 8, "d_total": 1.5, "g_total": 0.5},
             {"step": 1, "time": 0, "samples": "samples/x.png"},
             {"step": 2, "time": 0, "it_s": 2.0, "img_s": 8, "d_total": "nan", "g_total": 0.25},
             {"step": 2, "time": 0, "fid": 123.5, "fid_protocol": "p"}]
    text = "\n".join(json.dumps(r) for r in lines) + '\n{"step": 3, "d_to\n[1, 2]\n"str"\n'
    (tmp_path / "metrics.jsonl").write_text(text)
    assert read_metrics(tmp_path) == {"d_total": [(1, 1.5)], "g_total": [(1, 0.5), (2, 0.25)], "fid": [(2, 123.5)]}
    assert read_metrics(tmp_path / "nothing") == {}


# ----------------------------------------------------------------------------- sampling views
@pytest.fixture
def style_g():
    from gankit.models.style import StyleGenerator

    torch.manual_seed(0)
    g = StyleGenerator(16, 3, 8, w_dim=8, mapping_layers=1, width=4, max_channels=8).eval().requires_grad_(False)
    g.w_avg.normal_()
    return g


def test_seeded_samples_match_the_pipeline_and_truncation_pulls_to_the_mean(style_g):
    from gankit.editing.sampling import sample_images
    from gankit.models.contracts import sample_noise

    a = sample_images(style_g, 3, seed=5)
    with torch.no_grad():
        ref = sample_noise(style_g, 3, torch.Generator().manual_seed(5))
    assert torch.equal(a, ref) and torch.equal(a, sample_images(style_g, 3, seed=5))
    z = torch.randn(2, 8, generator=torch.Generator().manual_seed(1))
    w0 = style_g.mapping(z, None, truncation=0.0)
    assert torch.allclose(w0, style_g.w_avg.expand_as(w0))  # psi = 0: every sample is the average
    with pytest.raises(GankitError, match="expected a value in"):
        sample_images(style_g, 1, 0, truncation=3.0)


def test_mixing_grid_takes_coarse_layers_from_rows_and_fine_from_columns(style_g):
    from gankit.editing.sampling import seed_ws, mixing_grid

    imgs, nrow = mixing_grid(style_g, [1, 2], [3, 4, 5], crossover=2)
    assert nrow == 4 and imgs.shape == (3 * 4, 3, 16, 16)
    assert torch.equal(imgs[0], torch.ones_like(imgs[0]))  # blank corner
    wa, wb = seed_ws(style_g, [2], 1.0, None), seed_ws(style_g, [4], 1.0, None)
    mix = torch.cat([wa[:, :2], wb[:, 2:]], 1)
    ref = style_g.synthesis(mix, noise_mode="const")
    assert torch.allclose(imgs[2 * 4 + 2], ref[0], atol=1e-6)  # row seed 2 x column seed 4
    with pytest.raises(GankitError, match="crossover layer 0"):
        mixing_grid(style_g, [1], [2], crossover=0)


def test_interpolation_ends_at_both_seeds(style_g):
    from gankit.editing.sampling import seed_ws, interpolation, slerp
    from gankit.models.dcgan import DCGANGenerator

    strip = interpolation(style_g, 1, 2, steps=5)
    ends = style_g.synthesis(torch.cat([seed_ws(style_g, [1], 1.0, None), seed_ws(style_g, [2], 1.0, None)]), noise_mode="const")
    assert strip.shape[0] == 5 and torch.allclose(strip[0], ends[0], atol=1e-6) and torch.allclose(strip[-1], ends[1], atol=1e-6)
    a, b = torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    mid = slerp(a, b, torch.tensor([0.0, 0.5, 1.0]))
    assert torch.allclose(mid[0], a[0]) and torch.allclose(mid[2], b[0], atol=1e-6)
    assert torch.allclose(mid[1], torch.tensor([np.sqrt(0.5), np.sqrt(2.0)]).float(), atol=1e-6)  # sin-weighted
    g = DCGANGenerator(resolution=32, channels=3, z_dim=8, width=8).eval()
    assert interpolation(g, 0, 1, steps=3).shape == (3, 3, 32, 32)


# ----------------------------------------------------------------------------- serving
def test_loopback_hosts():
    from gankit.app.server import is_loopback

    assert all(is_loopback(h) for h in ("127.0.0.1", "127.1.2.3", "localhost", "::1", "[::1]"))
    assert not any(is_loopback(h) for h in ("0.0.0.0", "192.168.1.5", "::", "example.org"))


def test_cli_refuses_bad_arguments(cli, tmp_path):
    code, _, err = cli("app", tmp_path / "nope")
    assert code == 2 and "expected a run folder or a folder of runs" in err
    code, _, err = cli("app", tmp_path, "--port", "70000")
    assert code == 2 and "--port 70000" in err
    code, _, err = cli("app", tmp_path, "--max-upload-mb", "0")
    assert code == 2 and "expected positive limits" in err
