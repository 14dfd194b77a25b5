"""The Compose tab without a browser: its handlers called on a tiny MidiNet run trained here,
checked against the pipeline's own song for the same seed; the built-in synth; bad input gives
the app's one-line messages; MidiNet runs get the Compose tab, not the Sample tab."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

gr = pytest.importorskip("gradio")
pytest.importorskip("mido")

from gankit.data.music import STEPS, notes_of, read_midi_notes  # noqa: E402
from gankit.pipelines.music import synth  # noqa: E402

RATE = 22050


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    from gankit.config import load_config
    from gankit.train.trainer import Trainer
    from tests.music.conftest import TINY_NETS, write_tiny_cache

    base = tmp_path_factory.mktemp("app_compose")
    cache = write_tiny_cache(base / "chorales")
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for model in (3, 1):
            cfg = load_config("midinet_chorales", [f"data.path={cache}", *TINY_NETS, f"recipe.kwargs.model={model}",
                                                   "train.steps=2"])
            Trainer(cfg, base / "runs" / f"m{model}").fit()
    finally:
        torch.set_num_threads(n)
    return base / "runs"


@pytest.fixture(scope="module")
def handlers(runs):
    from gankit.app.context import AppContext
    from gankit.app.runs import RunCache
    from gankit.app.tabs import TABS, tabs_for

    ctx = AppContext(runs, RunCache())
    tabs_for({"compose"})  # imports the tab modules
    with gr.Blocks() as demo:
        TABS.get("compose").build(ctx)
    return ctx, {f.fn.__name__: f.fn for f in demo.fns.values() if getattr(f, "fn", None)}


def _by_id(out: dict) -> dict:
    return {k.elem_id: v for k, v in out.items()}


def test_midinet_runs_get_the_compose_tab_not_the_sample_tab(handlers):
    from gankit.app.tabs import tabs_for

    ctx, _ = handlers
    assert {e.name: set(e.caps) for e in ctx.runs} == {"m1": {"compose"}, "m3": {"compose"}}
    assert [t.key for t in tabs_for({"compose"}) if t.needs] == ["compose"]


def test_compose_gives_the_pipelines_song_as_roll_audio_and_midi(handlers, monkeypatch):
    import gankit.pipelines.music as music
    from gankit.pipelines import load_run

    monkeypatch.setattr(music, "render_wav", lambda *a, **k: None)  # no fluidsynth: the built-in synth plays
    ctx, fns = handlers
    conf = _by_id(fns["configure"]("m3"))
    assert conf["compose-prime"]["visible"] and conf["compose-prime"]["choices"][:2] == ["none", "test:0"]
    out = _by_id(fns["make"]("m3", "C G  Am F", 7, 120, "none"))
    assert out["compose-status"].startswith("4 bars over C G Am F, MidiNet model 3, seed 7") \
        and out["compose-status"].endswith("audio: built-in synth")
    want = music.compose(load_run(ctx.entry("m3").path), "C G Am F", seed=7)
    got = [(s / 4, e / 4, p) for s, e, p in notes_of(want.melody)]
    assert [(s, e, p) for s, e, p, ch in read_midi_notes(out["compose-midi"]) if ch == 0] == got
    rate, wave = out["compose-audio"]
    assert rate == RATE and wave.dtype == np.int16 and len(wave) == round(4 * STEPS * (60 / 120 / 4) * RATE)
    assert np.array_equal(wave, (synth(want.melody, want.chords, 120.0, RATE) * 32767).astype(np.int16))
    assert Image.open(out["compose-roll"]).size[0] > 4 * 16  # the piano roll PNG of the 4 bars
    primed = _by_id(fns["make"]("m3", "C G Am F", 7, 90, "test:0"))
    assert "starting from test:0" in primed["compose-status"]


def test_model_1_hides_the_prime_and_bad_input_gets_one_line(handlers):
    _, fns = handlers
    conf = _by_id(fns["configure"]("m1"))
    assert not conf["compose-prime"]["visible"] and "model 1 ignores the chords" in conf["compose-status"]
    for args, msg in [(("m3", "C Xq", 0, 90, "none"), "Xq"),
                      (("m3", "", 0, 90, "none"), "chords: empty"),
                      (("m3", " ".join(["C"] * 65), 0, 90, "none"), "65 bars; at most 64"),
                      (("m3", "C", -1, 90, "none"), "seed -1"),
                      (("m1", "C G", 0, 90, "test:0"), "priming needs model 3"),
                      (("nope", "C", 0, 90, "none"), "not in the runs folder")]:
        status = _by_id(fns["make"](*args))["compose-status"]
        assert status.startswith("**Refused:**") and msg in status and "\n" not in status, (args, status)


def test_synth_plays_the_notes_pitches_and_rests_silence():
    mel = np.full((2, STEPS), -1)
    mel[0, :8] = 69  # A4 for half a bar, then rests; bar 2 a C5 on its first quarter
    mel[1, :4] = 72
    wave = synth(mel, tempo=60, rate=8000)  # 0.25 s a step: 8 s
    assert wave.dtype == np.float32 and len(wave) == 8 * 8000 and np.abs(wave).max() <= 0.9
    a4 = wave[: 2 * 8000]
    freqs = np.fft.rfftfreq(len(a4), 1 / 8000)
    assert abs(freqs[np.abs(np.fft.rfft(a4)).argmax()] - 440.0) < 1.0
    assert np.abs(wave[2 * 8000 + 50: 4 * 8000]).max() == 0.0  # the rests are silent
    c5 = wave[4 * 8000: 5 * 8000]
    assert abs(np.fft.rfftfreq(len(c5), 1 / 8000)[np.abs(np.fft.rfft(c5)).argmax()] - 523.25) < 1.5
    with pytest.raises(Exception, match="tempo 0"):
        synth(mel, tempo=0)
