"""``gankit compose`` and ``gankit data chorales`` end to end on tiny runs and data."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from gankit.data.music import read_midi_notes
from gankit.train.trainer import Trainer

pytest.importorskip("mido")  # MIDI writing: pip install 'gankit[music]'


@pytest.fixture
def tiny_run(midinet_config, tmp_path, one_thread):
    def make(model: int = 3):
        out = tmp_path / f"run{model}"
        Trainer(midinet_config(f"recipe.kwargs.model={model}", "train.steps=2"), out).fit()
        return out

    return make


def test_compose_writes_midi_and_png(tiny_run, tmp_path, cli, monkeypatch):
    run = tiny_run(3)
    monkeypatch.setattr(shutil, "which", lambda name: None)  # no fluidsynth: --wav gives a hint
    code, out, err = cli("compose", run, "--chords", "C G Am F", "--bars", "6", "--out", tmp_path / "s" / "song.mid",
                         "--seed", "3", "--wav")
    assert code == 0, err
    assert "composed 6 bars over C G Am F C G with MidiNet model 3" in out
    assert "--wav needs fluidsynth" in err and not (tmp_path / "s" / "song.wav").exists()
    notes = read_midi_notes(tmp_path / "s" / "song.mid")
    chords = sorted((s, p) for s, e, p, ch in notes if ch == 1)
    assert len(chords) == 18 and chords[:3] == [(0.0, 48), (0.0, 52), (0.0, 55)]  # one triad per bar, C first
    assert all(0 <= s < e <= 24 for s, e, p, ch in notes)  # 6 bars of 4 beats
    from PIL import Image

    assert Image.open(tmp_path / "s" / "song.png").size[0] == 22 + 6 * 16 * 6 + 1  # label margin + 6 bars
    # the same seed gives the same song
    cli("compose", run, "--chords", "C G Am F", "--bars", "6", "--out", tmp_path / "t.mid", "--seed", "3")
    assert read_midi_notes(tmp_path / "t.mid") == notes


def test_compose_primed_with_a_test_bar(tiny_run, tmp_path, cli, tiny_chorales):
    from gankit.data.chorales import ChoraleBars
    from gankit.data.music import melody_of, notes_of

    run = tiny_run(3)
    code, out, err = cli("compose", run, "--chords", "C G", "--bars", "3", "--prime", "test:2",
                         "--out", tmp_path / "p.mid")
    assert code == 0, err
    assert "primed with test:2" in out
    bar = melody_of(ChoraleBars(tiny_chorales, "test")[2][0][0].numpy())
    first = [(s, e, p) for s, e, p, ch in read_midi_notes(tmp_path / "p.mid") if ch == 0 and s < 4]
    assert first == [(s / 4, e / 4, p) for s, e, p in notes_of(bar[None])]  # the song's first bar is the prime


def test_compose_errors(tiny_run, tmp_path, cli):
    run = tiny_run(2)
    code, _, err = cli("compose", run, "--chords", "C G Bdim F", "--out", tmp_path / "x.mid")
    assert code == 2 and "chord 'Bdim'" in err and err.count("\n") == 1
    code, _, err = cli("compose", run, "--chords", "C G", "--prime", "test:0", "--out", tmp_path / "x.mid")
    assert code == 2 and "MidiNet model 2, which has no previous-bar input" in err
    code, _, err = cli("compose", run, "--chords", "C G Am", "--bars", "2", "--out", tmp_path / "x.mid")
    assert code == 2 and "3 chords for --bars 2" in err
    code, _, err = cli("compose", run, "--chords", "C", "--out", tmp_path / "x.wav")
    assert code == 2 and "expected a .mid file name" in err


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="Debian fluidsynth is not installed")
def test_compose_renders_wav_with_fluidsynth(tiny_run, tmp_path, cli):
    from gankit.pipelines.music import find_soundfont

    if find_soundfont() is None:
        pytest.skip("no General MIDI soundfont (Debian fluid-soundfont-gm)")
    code, out, err = cli("compose", tiny_run(1), "--chords", "C F", "--out", tmp_path / "w.mid", "--wav")
    assert code == 0, err
    import wave

    with wave.open(str(tmp_path / "w.wav")) as w:
        assert w.getframerate() == 22050 and w.getnframes() / 22050 >= 2 * 4 * 60 / 90 * 0.9  # 2 bars at 90 bpm


def test_data_chorales_command_from_a_folder(tmp_path, cli):
    pytest.importorskip("music21")
    from music21 import note, stream

    src = tmp_path / "in"
    src.mkdir()
    s = stream.Score()
    for v in range(2):
        p = stream.Part()
        for b in range(2):
            m = stream.Measure(number=b + 1)
            m.append(note.Note(72 - 12 * v, quarterLength=4))
            p.append(m)
        s.insert(0, p)
    s.write("musicxml", fp=str(src / "one.musicxml"))
    (src / "broken.mid").write_bytes(b"MThd garbage")
    code, out, err = cli("data", "chorales", "--out", tmp_path / "c", "--from", src, "--test-fraction", "0")
    assert code == 0, err
    assert "1 songs (0 test), 2 bars" in out and "1 unreadable" in out and "commercial" not in out
    assert np.load(tmp_path / "c" / "chorales.npz")["x"].shape == (2, 16, 128)
    code, _, err = cli("data", "chorales", "--out", tmp_path / "d", "--from", tmp_path / "nothing")
    assert code == 2 and "not a folder" in err
