"""A tiny chorales-shaped cache written without music21 (random in-key melodies, real layout)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from gankit.data.chorales import CACHE_NAME, CACHE_VERSION, _assemble
from gankit.data.music import STEPS, chord_vector

TINY_NETS = ["model.z_dim=8", "model.generator.width=8", "model.generator.fc=16", "model.generator.prev_channels=4",
             "model.discriminator.fm_channels=4", "model.discriminator.channels=6", "model.discriminator.fc=16",
             "train.batch_size=4", "train.log_every=1", "train.sample_every=0", "train.ckpt_every=0", "train.n_samples=4",
             "train.progress=false", "train.device=cpu", "train.collapse_every=0", "recipe.kwargs.preview_bars=2"]


def write_tiny_cache(folder, songs: int = 4, bars: int = 6, seed: int = 0):
    """Songs of quarter notes on the C-major scale over I-V-vi-IV chords; 1 test song."""
    rng = np.random.default_rng(seed)
    scale = [60, 62, 64, 65, 67, 69, 71, 72]
    loop = np.stack([chord_vector(r, m) for r, m in ((0, False), (7, False), (9, True), (5, False))])
    data = []
    for s in range(songs):
        mel = np.repeat(rng.choice(scale, size=(bars, 4)), 4, axis=1)
        assert mel.shape == (bars, STEPS)
        data.append((f"song{s}", "C major", 0, mel, loop[np.arange(bars) % 4]))
    arrays = _assemble(data, False, (0,))
    test = np.zeros(songs, bool)
    test[-1] = True
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / CACHE_NAME, **arrays, songs=np.array([d[0] for d in data]), keys=np.array(["C major"] * songs),
             key_shift=np.zeros(songs, np.int8), test=test, meta=json.dumps({"version": CACHE_VERSION}))
    return folder


@pytest.fixture
def tiny_chorales(tmp_path):
    return write_tiny_cache(tmp_path / "chorales")


@pytest.fixture
def midinet_config(tiny_chorales):
    from gankit.config import load_config

    def make(*extra: str):
        return load_config("midinet_chorales", [f"data.path={tiny_chorales}", *TINY_NETS, *extra])

    return make
