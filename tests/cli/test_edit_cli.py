"""``gankit project / direction / edit`` end to end on a tiny style-generator checkpoint."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli.main import main
from gankit.editing.media import load_latent, save_latent


pytestmark = pytest.mark.usefixtures("one_thread")


def make_checkpoint(run_dir, resolution: int = 16, z_dim: int = 8):
    """A tiny random StyleGenerator saved as the trainer would (specs + config)."""
    from gankit.models import GENERATORS, build_net
    from gankit.train.state import flatten_state, save_checkpoint

    torch.manual_seed(0)
    G = build_net(GENERATORS, "model.generator", {"name": "style", "w_dim": 8, "mapping_layers": 2, "width": 4,
                                                  "max_channels": 8},
                  resolution=resolution, channels=3, z_dim=z_dim)
    save_checkpoint(run_dir, 0, flatten_state({"G": G}), {"config": {"model": {"z_dim": z_dim}}, "specs": {"G": G.gankit_spec}})
    return G


def image(path, value: int, size: int = 16):
    arr = np.full((size, size, 3), value, np.uint8)
    arr[size // 4: size // 2, :, 0] = 255 - value
    Image.fromarray(arr).save(path)
    return path


def test_project_direction_edit(tmp_path, capsys):
    ckpt = tmp_path / "run"
    make_checkpoint(ckpt)
    out = tmp_path / "proj"
    assert main(["project", str(ckpt), "--image", str(image(tmp_path / "a.png", 40)), "--steps", "6",
                 "--perceptual", "tiny", "--frames", "3", "--video", "gif", "--out", str(out), "--no-progress"]) == 0
    for name in ("latent.safetensors", "latent.npz", "reconstruction.png", "side_by_side.png", "projection.gif", "losses.json"):
        assert (out / name).is_file(), name
    lat = load_latent(out / "latent.safetensors")
    assert lat["ws"].shape == (6, 8) and "noise.0" in lat
    with Image.open(out / "projection.gif") as im:
        assert im.n_frames == 4  # steps 0, 2, 4 and the last
    with Image.open(out / "side_by_side.png") as im:
        assert im.size[0] > 2 * 16

    # direction from a folder of images (projected) against latent files
    (tmp_path / "with").mkdir()
    image(tmp_path / "with" / "1.png", 200)
    image(tmp_path / "with" / "2.png", 220)
    save_latent(tmp_path / "w0.safetensors", {"ws": torch.zeros(6, 8)})
    d_path = tmp_path / "d.safetensors"
    assert main(["direction", "--with", str(tmp_path / "with"), "--without", str(tmp_path / "w0.safetensors"),
                 "--ckpt", str(ckpt), "--steps", "3", "--perceptual", "none", "--out", str(d_path), "--no-progress"]) == 0
    from gankit.editing.directions import load_direction

    assert load_direction(d_path).shape == (8,)  # W latents collapse to one vector

    anim = tmp_path / "anim.gif"
    assert main(["edit", str(ckpt), "--latent", str(out / "latent.npz"), "--direction", str(d_path),
                 "--alphas", "0:1:5", "--out", str(anim)]) == 0
    with Image.open(anim) as im:
        assert im.n_frames == 5
    assert (tmp_path / "anim_grid.png").is_file()


def test_arith_grid(tmp_path):
    ckpt = tmp_path / "run"
    make_checkpoint(ckpt)
    g = torch.Generator().manual_seed(0)
    for name in ("smiling_woman", "neutral_woman", "neutral_man"):
        save_latent(tmp_path / "lat" / f"{name}.npz", {"z": torch.randn(3, 8, generator=g)})
    out = tmp_path / "arith.png"
    assert main(["edit", str(ckpt), "--arith", "smiling_woman - neutral_woman + neutral_man",
                 "--latents", str(tmp_path / "lat"), "--out", str(out)]) == 0
    with Image.open(out) as im:
        w, h = im.size
    assert (w, h) == (4 * 18 + 2, 4 * 18 + 2)  # 3 concept rows + result row, 3 samples + mean


def test_user_errors(tmp_path, capsys):
    ckpt = tmp_path / "run"
    make_checkpoint(ckpt)
    assert main(["project", str(ckpt), "--image", str(tmp_path / "none.png"), "--steps", "1"]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["edit", str(ckpt), "--latent", "x.npz", "--direction", "d.safetensors", "--alphas", "0:1",
                 "--out", str(tmp_path / "a.gif")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err or "--alphas" in err
    assert main(["edit", str(ckpt), "--arith", "A B", "--out", str(tmp_path / "g.png")]) == 2
    assert "expected + or -" in capsys.readouterr().err
    assert main(["direction", "--out", str(tmp_path / "d.safetensors")]) == 2


def test_direction_from_scorer(tmp_path):
    ckpt = tmp_path / "run"
    make_checkpoint(ckpt, resolution=8)

    class Red(torch.nn.Module):  # "attribute classifier": mean red channel as the logit
        def forward(self, x):
            return torch.stack([x[:, 0].mean((1, 2)), x[:, 1].mean((1, 2))], 1)

    scorer = tmp_path / "scorer.pt"
    torch.jit.script(Red()).save(str(scorer))
    out = tmp_path / "red.safetensors"
    assert main(["direction", "--ckpt", str(ckpt), "--scorer", str(scorer), "--index", "0", "--samples", "96",
                 "--out", str(out)]) == 0
    from gankit.editing.directions import load_direction

    d = load_direction(out)
    assert d.shape == (8,) and float(d.norm()) == pytest.approx(1.0, abs=1e-4)


def test_aging_story_smoke(tmp_path):
    import importlib.util
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "aging_story.py"
    spec = importlib.util.spec_from_file_location("aging_story", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.main(["--tiny", "--out", str(tmp_path), "--steps", "3", "--frames", "6", "--no-progress"]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert len(summary["pairs"]) == 3 and summary["truth"] == "images/child_5.png"
    with Image.open(tmp_path / "aging.gif") as im:
        assert im.n_frames == 10  # 6 frames forward + 4 back (boomerang without repeating the ends)
    assert (tmp_path / "age_direction.safetensors").is_file() and (tmp_path / "aging_grid.png").is_file()


def test_project_needs_a_style_generator(tiny, tmp_path, capsys):
    from gankit.train.trainer import train

    train(tiny("dcgan_fashion", "train.steps=1"), tmp_path / "dc")
    img = tmp_path / "x.png"
    from PIL import Image

    Image.new("RGB", (16, 16), (200, 10, 10)).save(img)
    assert main(["project", str(tmp_path / "dc"), "--image", str(img), "--steps", "1", "--out", str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "has no W space (mapping/synthesis)" in err[0]
