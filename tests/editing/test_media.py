"""Grids, GIF/MP4 animations and latent files."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.editing import media as M
from gankit.errors import GankitError


def frames(n: int, size: int = 16) -> list[np.ndarray]:
    # distinct frames (a moving bar) so no encoder can merge them
    out = []
    for i in range(n):
        f = np.zeros((size, size, 3), np.uint8)
        f[:, i % size] = (255, 128, 0)
        f[0, 0] = (i * 7) % 256
        out.append(f)
    return out


@pytest.mark.parametrize("n", [1, 7, 12])
def test_gif_frame_count(tmp_path, n):
    path = M.write_animation(tmp_path / "a.gif", frames(n), fps=10)
    with Image.open(path) as im:
        assert im.n_frames == n
    assert len(M.read_frames(path)) == n


def test_gif_identical_frames_keep_play_time(tmp_path):
    # Pillow merges identical consecutive frames into one with the summed duration: the frame
    # count drops but the animation plays the same; documented in write_animation.
    same = [np.full((8, 8, 3), 100, np.uint8)] * 5
    path = M.write_animation(tmp_path / "same.gif", same, fps=10)
    with Image.open(path) as im:
        total = 0
        for i in range(im.n_frames):
            im.seek(i)
            total += im.info["duration"]
    assert total == 500


def test_mp4_or_fallback(tmp_path):
    fr = frames(9, size=15)  # odd size: padded to even for yuv420p
    if M.has_ffmpeg():
        path = M.write_animation(tmp_path / "a.mp4", fr, fps=5)
        assert path.suffix == ".mp4" and len(M.read_frames(path)) == 9
    else:
        with pytest.warns(UserWarning, match="imageio-ffmpeg"):
            path = M.write_animation(tmp_path / "a.mp4", fr)
        assert path.suffix == ".gif"


def test_animation_errors(tmp_path):
    with pytest.raises(GankitError, match="no frames"):
        M.write_animation(tmp_path / "a.gif", [])
    with pytest.raises(GankitError, match=".gif or .mp4"):
        M.write_animation(tmp_path / "a.avi", frames(2))


def test_grid_layout():
    imgs = torch.stack([torch.full((3, 4, 4), v) for v in (-1.0, 0.0, 1.0)])
    g = M.image_grid(imgs, nrow=2, pad=1)
    assert g.shape == (2 * 5 + 1, 2 * 5 + 1, 3)
    assert g[1, 1, 0] == 0 and g[1, 6, 0] == 128 and g[6, 1, 0] == 255 and g[6, 6, 0] == 255  # pad fill
    gray = M.to_uint8(torch.zeros(1, 1, 2, 2))
    assert gray.shape == (1, 2, 2, 3)


@pytest.mark.parametrize("suffix", [".safetensors", ".npz"])
def test_latent_round_trip(tmp_path, suffix):
    t = {"ws": torch.randn(4, 8), "noise.1": torch.randn(1, 1, 8, 8), "noise.0": torch.randn(1, 1, 4, 4)}
    path = M.save_latent(tmp_path / f"l{suffix}", t, {"space": "w"})
    back = M.load_latent(path)
    assert set(back) == set(t) and all(torch.equal(back[k], t[k]) for k in t)
    assert [n.shape[-1] for n in M.latent_noises(back)] == [4, 8]


def test_latent_errors(tmp_path):
    with pytest.raises(GankitError, match="does not exist"):
        M.load_latent(tmp_path / "missing.npz")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a file")
    with pytest.raises(GankitError, match="unreadable"):
        M.load_latent(bad)
    with pytest.raises(GankitError, match="end in"):
        M.save_latent(tmp_path / "x.pt", {"ws": torch.zeros(1)})
