"""Chords, the chorales cache builder (on MusicXML files the test writes with music21), the source."""

from __future__ import annotations

import numpy as np
import pytest

from gankit.data.music import (chord_name, chord_vector, estimate_chord, melody_of, notes_of, parse_chord,
                               parse_progression, read_midi_notes, roll_image, rolls_of, write_midi)
from gankit.errors import ConfigError, DataError, GankitError


def test_chord_names_parse_to_root_and_quality():
    assert chord_name(parse_chord("C")) == "C" and parse_chord("C")[12] == 0
    am = parse_chord("Am")
    assert am[9] == 1 and am[12] == 1 and am.sum() == 2
    assert chord_name(parse_chord("Bbm7")) == "Bbm" and chord_name(parse_chord("F#")) == "F#"
    assert chord_name(parse_chord("G7")) == "G" and chord_name(parse_chord("Dbmaj")) == "C#"
    assert [chord_name(c) for c in parse_progression("C, G |Am  F")] == ["C", "G", "Am", "F"]
    for bad in ("Cdim", "H", "C/E", "Gsus4", ""):
        with pytest.raises(GankitError, match=f"chord '{bad}'" if bad else "chords"):
            parse_progression(bad)


def test_chord_estimation_on_known_chords():
    c = np.zeros(12)
    c[[0, 4, 7]] = [8, 4, 4]  # C E G
    assert chord_name(estimate_chord(c)) == "C"
    a = np.zeros(12)
    a[[9, 0, 4]] = [8, 4, 4]  # A C E, bass A counted twice
    assert chord_name(estimate_chord(a)) == "Am"
    tie = np.zeros(12)
    tie[[0, 4]] = 4  # C and E only: C major and A minor both score 8; the root weight picks C
    assert chord_name(estimate_chord(tie)) == "C"
    g7 = np.zeros(12)
    g7[[7, 11, 2, 5]] = [8, 4, 4, 4]  # G B D F: G major (16) beats B dim-ish alternatives
    assert chord_name(estimate_chord(g7)) == "G"
    assert not estimate_chord(np.zeros(12)).any()


def test_rolls_melodies_notes_and_midi_round_trip(tmp_path):
    mel = np.full((2, 16), -1)
    mel[0, :4], mel[0, 4:12], mel[1, :8] = 60, 64, 64  # C quarter, E half; E half again after the bar line
    rolls = rolls_of(mel)
    assert rolls.shape == (2, 16, 128) and rolls.sum() == 20
    assert (melody_of(rolls) == mel).all() and (melody_of(rolls * 0.4) == -1).all()  # below the 0.5 threshold
    assert notes_of(mel) == [(0, 4, 60), (4, 12, 64), (16, 24, 64)]  # a bar line starts a new note
    img = roll_image(mel, low=48, high=72, scale=1)[0]  # rows: 71 (top) .. 48 (bottom)
    assert img.shape == (24, 32) and img.min() == -1 and img.max() == 1
    assert img[71 - 60, 1:4].eq(1).all() and img[71 - 60, 0] == 0.6 and img[71 - 64, 17:24].eq(1).all()
    assert img[71 - 60, 4] == -0.8 and img[0, 16] == -0.6  # the C row, the bar line
    pytest.importorskip("mido")
    path = write_midi(tmp_path / "x.mid", mel, np.stack([chord_vector(0, False), chord_vector(9, True)]), tempo=120)
    notes = read_midi_notes(path)
    melody = [(s, e, p) for s, e, p, ch in notes if ch == 0]
    assert melody == [(0.0, 1.0, 60), (1.0, 3.0, 64), (4.0, 6.0, 64)]  # beats
    chords = sorted((s, p) for s, e, p, ch in notes if ch == 1)
    assert chords == [(0.0, 48), (0.0, 52), (0.0, 55), (4.0, 57), (4.0, 60), (4.0, 64)]  # C E G, then A C E


# ------------------------------------------------------------------ music21-backed builder
def _write_score(path, transpose: int = 0, meter: str = "4/4"):
    """Soprano over three 4/4 bars, lower voices holding C, G, C triads (bass twice)."""
    music21 = pytest.importorskip("music21")
    from music21 import meter as m21meter, note, stream

    sop = [[72, 72, 74, 76], [74, None, 71, 71], [72, 72, 72, 72]]  # quarter notes; None = rest
    triads = [[(67, 64, 48)], [(67, 62, 43)], [(64, 60, 48)]]  # alto, tenor, bass per bar (whole notes)
    score = stream.Score()
    for v in range(4):
        part = stream.Part()
        for b in range(3):
            m = stream.Measure(number=b + 1)
            if b == 0:
                m.append(m21meter.TimeSignature(meter))
            if v == 0:
                for p in sop[b][: 3 if meter == "3/4" else 4]:
                    m.append(note.Rest(quarterLength=1) if p is None else note.Note(p + transpose, quarterLength=1))
            else:
                m.append(note.Note(triads[b][0][v - 1] + transpose, quarterLength=3 if meter == "3/4" else 4))
            part.append(m)
        score.insert(0, part)
    score.write("musicxml", fp=str(path))
    return music21


def test_builder_on_written_musicxml(tmp_path):
    from gankit.data.chorales import ChoraleBars, build_cache

    src = tmp_path / "scores"
    src.mkdir()
    _write_score(src / "a.musicxml")
    _write_score(src / "b_in_d.musicxml", transpose=2)  # the same piece in D major
    _write_score(src / "c_waltz.musicxml", meter="3/4")
    s = build_cache(tmp_path / "cache", from_dir=str(src), seed=0, test_fraction=0.5, progress=False)
    assert s["songs"] == 2 and s["skipped"] == {"not in 4/4": 1} and s["test_songs"] == 1 and s["bars"] == 6
    z = np.load(tmp_path / "cache" / "chorales.npz")
    assert list(z["songs"]) == ["a.musicxml", "b_in_d.musicxml"] and list(z["key_shift"]) == [0, -2]
    assert (z["x"][:3] == z["x"][3:]).all() and (z["chord"][:3] == z["chord"][3:]).all()  # both land in C major
    mel = melody_of(z["x"][:3])
    assert list(mel[0]) == [72] * 8 + [74] * 4 + [76] * 4
    assert list(mel[1]) == [74] * 4 + [-1] * 4 + [71] * 8
    assert [chord_name(c) for c in z["chord"][:3]] == ["C", "G", "C"]
    assert list(z["prev"]) == [-1, 0, 1, -1, 3, 4] and list(z["bar"]) == [0, 1, 2, 0, 1, 2]
    test_song = int(np.nonzero(z["test"])[0][0])
    train, test = ChoraleBars(tmp_path / "cache", "train"), ChoraleBars(tmp_path / "cache", "test")
    assert len(train) == len(test) == 3 and set(test.song) == {test_song} and test_song not in set(train.song)
    x, chord, prev = train[1]
    assert x.shape == prev.shape == (1, 16, 128) and chord.shape == (13,)
    assert (prev == train[0][0]).all() and not train[0][2].any()  # previous bar; silence before the first
    assert test.phrases(2) == [1]  # bars 1-2 (bar 0 is the first phrase's previous bar)


def test_builder_folds_and_augments(tmp_path):
    from gankit.data.chorales import ChoraleBars, build_cache

    src = tmp_path / "scores"
    src.mkdir()
    _write_score(src / "a.musicxml")
    s = build_cache(tmp_path / "c", from_dir=str(src), fold=True, augment=True, test_fraction=0.0, progress=False)
    assert s["bars"] == 3 * 12 and s["bars_per_split"] == {"train": 3, "test": 0}
    z = np.load(tmp_path / "c" / "chorales.npz")
    mel = melody_of(z["x"])
    assert mel[mel >= 0].min() >= 60 and mel[mel >= 0].max() <= 83  # folded into C4-B5
    up1 = np.nonzero(z["shift"] == 1)[0]
    assert [chord_name(c) for c in z["chord"][up1]] == ["C#", "Ab", "C#"]
    assert list(z["prev"][up1]) == [-1, up1[0], up1[1]]
    with pytest.raises(DataError, match="split 'test' holds no bars"):
        ChoraleBars(tmp_path / "c", "test")


def test_real_chorale_pickup_and_key():
    music21 = pytest.importorskip("music21")
    from gankit.data.chorales import key_shift, score_bars

    score = music21.corpus.parse("bach/bwv347")  # A major, a one-beat pickup on A4
    mel, chroma = score_bars(score)
    assert key_shift(score) == ("A major", 3)
    assert list(mel[0]) == [-1] * 12 + [69] * 4  # the pickup sits at the end of bar 0
    assert chord_name(estimate_chord(chroma[0])) == "A"


def test_source_errors(tmp_path, tiny_chorales):
    from gankit.config import load_config
    from gankit.data.sources import build_source

    with pytest.raises(DataError, match="no chorales.npz there; build it with 'gankit data chorales"):
        build_source(load_config("midinet_chorales", [f"data.path={tmp_path / 'none'}"]).data)
    with pytest.raises(ConfigError, match="data.split 'val'"):
        build_source(load_config("midinet_chorales", [f"data.path={tiny_chorales}", "data.split=val"]).data)
    with pytest.raises(ConfigError, match="data.resolution: the 'chorales' dataset is piano-roll bars"):
        build_source(load_config("midinet_chorales", [f"data.path={tiny_chorales}", "data.resolution=64"]).data)
    src = build_source(load_config("midinet_chorales", [f"data.path={tiny_chorales}", "data.limit=5"]).data)
    assert len(src) == 5 and src.fields[0] == ("x", "tensor")  # a limited subset keeps the fields
    bad = tmp_path / "bad" / "chorales.npz"
    bad.parent.mkdir()
    for junk in (b"not a zip", (tiny_chorales / "chorales.npz").read_bytes()[:200]):  # garbage, a cut-off zip
        bad.write_bytes(junk)
        with pytest.raises(DataError, match="not a gankit chorales cache"):
            build_source(load_config("midinet_chorales", [f"data.path={bad}"]).data)
