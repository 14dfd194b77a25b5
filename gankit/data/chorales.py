"""Bach chorales (or any folder of MusicXML/MIDI files) as MidiNet bars: the cache and the source.

``build_cache`` parses scores with music21 and writes one ``chorales.npz``:

* the **melody** is the top part (the soprano), a monophonic roll of 16 steps x 128 pitches
  per 4/4 bar (:mod:`gankit.data.music`); a chord inside that part plays its highest note;
  note starts and ends are rounded to the nearest sixteenth; a pickup bar is laid out at the
  end of its bar (music21's ``paddingLeft``);
* the **chord** of each bar is estimated from the other parts: every lower-voice note adds
  the steps it sounds in the bar to its pitch class (the lowest part counts twice, which
  favours root position), and the best of the 24 major/minor triads by summed weight wins
  (:func:`gankit.data.music.estimate_chord`); a file with a single part takes its chords
  from the melody;
* every song is **transposed** to C major or A minor, by the fewest semitones (-6..+5), from
  music21's key analysis of the whole score (``Score.analyze('key')``); ``augment`` adds
  the 11 other transpositions of every song (``shift`` -6..+5 from the normalised key);
  ``fold`` moves each melody note by whole octaves into C4-B5 (MIDI 60-83), as MidiNet's own
  data did; rolls keep 128 rows either way;
* only scores in 4/4 throughout are used (others are counted as skipped); the split is by
  song (``test_fraction`` of the songs, seeded), so no bar of a test song is trained on.

Arrays of the cache: ``x`` uint8 [B, 16, 128], ``chord`` uint8 [B, 13], ``song`` int32 [B]
(index into ``songs``), ``bar`` int32 [B] (bar number in its song, 0 = first, maybe a
pickup), ``shift`` int8 [B] (augmentation transposition; 0 = the song in C major/A minor),
``prev`` int32 [B] (row of the previous bar of the same song and shift, -1 at a song's
start), per song ``songs`` (names), ``keys`` (analysed key), ``key_shift`` and ``test``
(bool), and ``meta`` (JSON: options, counts, versions).
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from gankit.data.music import CHORD_DIM, PITCHES, STEPS, estimate_chord, rolls_of, transpose_chords
from gankit.errors import ConfigError, DataError

CACHE_NAME = "chorales.npz"
CACHE_VERSION = 1
SCORE_EXTS = (".mxl", ".musicxml", ".xml", ".mid", ".midi", ".krn", ".abc")
CORPUS_NOTICE = ("music21's corpus notes that some of its encodings may restrict commercial use; check the "
                 "source of each work before using models or data derived from it commercially")


class Skip(Exception):
    """A score that cannot become 4/4 bars (its reason is counted in the summary)."""


def require_music21():
    try:
        import music21
    except ImportError:
        raise DataError("the chorales data need music21: pip install 'gankit[music]' (or pip install music21)") from None
    return music21


def score_bars(score, bass_weight: float = 2.0) -> tuple[np.ndarray, np.ndarray]:
    """A music21 score -> (melody int64 [bars, 16] pitch or -1, chroma float64 [bars, 12]).

    Raises :class:`Skip` when the score is not in 4/4 throughout or has no notes."""
    m21 = require_music21()
    meters = {ts.ratioString for ts in score.recurse().getElementsByClass(m21.meter.TimeSignature)}
    if meters and meters != {"4/4"}:
        raise Skip("not in 4/4")
    parts = list(score.parts) if hasattr(score, "parts") and len(score.parts) else [score]
    measures = list(parts[0].getElementsByClass(m21.stream.Measure))
    if measures:
        origin = float(measures[0].offset) - float(measures[0].paddingLeft or 0.0)
        for m in measures:  # split measures (at a repeat sign) are fine if they stay inside one bar
            start, end = float(m.offset) - origin, float(m.offset + m.duration.quarterLength) - origin
            if math.floor((start + 1e-3) / 4.0) != math.floor((max(start + 1e-3, end - 1e-3)) / 4.0):
                raise Skip("irregular bars")
    else:
        origin = 0.0
    span = max(float(p.highestTime) for p in parts) - origin
    n_bars = max(1, int(math.ceil(span / 4.0 - 1e-6)))
    total = n_bars * STEPS

    def steps(note):
        s = int(round((float(note.offset) - origin) * 4))
        e = int(round((float(note.offset) + float(note.quarterLength) - origin) * 4))
        return max(0, s), min(total, max(e, s + 1))

    melody = np.full(total, -1, np.int64)
    for n in parts[0].flatten().notes:
        if float(n.quarterLength) <= 0:  # grace notes take no time
            continue
        s, e = steps(n)
        top = max(p.midi for p in n.pitches)
        if 0 <= top < PITCHES and s < e:
            melody[s:e] = np.maximum(melody[s:e], top)
    if (melody < 0).all():
        raise Skip("no melody notes")
    lower = parts[1:] or parts[:1]
    chroma = np.zeros((total, 12), np.float64)
    for k, part in enumerate(lower):
        w = bass_weight if (k == len(lower) - 1 and len(lower) > 1) else 1.0
        for n in part.flatten().notes:
            if float(n.quarterLength) <= 0:
                continue
            s, e = steps(n)
            for p in n.pitches:
                chroma[s:e, p.pitchClass] += w
    return melody.reshape(n_bars, STEPS), chroma.reshape(n_bars, STEPS, 12).sum(1)


def key_shift(score) -> tuple[str, int]:
    """(analysed key name, semitones -6..+5 that take its tonic to C major / A minor)."""
    k = score.analyze("key")
    target = 9 if k.mode == "minor" else 0
    return f"{k.tonic.name} {k.mode}", (target - k.tonic.pitchClass + 6) % 12 - 6


def fold_melody(melody: np.ndarray, low: int = 60) -> np.ndarray:
    """Every note moved by whole octaves into [low, low + 24) (rests stay -1)."""
    return np.where(melody >= 0, low + (melody - low) % 24, -1)


def _inputs(from_dir: str | None) -> list[tuple[str, Any]]:
    """(song name, what to parse) of the corpus chorales or of a folder's score files."""
    if from_dir is None:
        m21 = require_music21()
        return [(str(n), n) for n in m21.corpus.chorales.Iterator(returnType="filename")]
    root = Path(from_dir).expanduser()
    if not root.is_dir():
        raise DataError(f"--from {from_dir}: not a folder (expected a folder of MusicXML/MIDI files)")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in SCORE_EXTS and p.is_file())
    if not files:
        raise DataError(f"--from {from_dir}: no score files ({', '.join(SCORE_EXTS)}) in it")
    return [(str(p.relative_to(root)), p) for p in files]


def _parse(what) -> Any:
    m21 = require_music21()
    return m21.corpus.parse(what) if isinstance(what, str) else m21.converter.parse(str(what))


def build_cache(out: str | Path, from_dir: str | None = None, fold: bool = False, augment: bool = False,
                seed: int = 0, test_fraction: float = 0.1, limit: int = 0, progress: bool = True) -> dict:
    """Parse the chorales (or ``from_dir``) into ``out/chorales.npz``; returns a summary dict."""
    from tqdm.auto import tqdm

    from gankit.io import atomic_write

    if not 0 <= test_fraction < 1:
        raise ConfigError(f"--test-fraction {test_fraction}: expected a value in [0, 1)")
    items = _inputs(from_dir)[: limit or None]
    songs, skipped = [], {}
    for name, what in tqdm(items, desc="parsing scores", unit="score", disable=not progress):
        try:
            score = _parse(what)
            melody, chroma = score_bars(score)
            key, shift = key_shift(score)
        except Skip as e:
            skipped[str(e)] = skipped.get(str(e), 0) + 1
            continue
        except Exception as e:  # music21 raises many types on files it cannot read
            if from_dir is None:
                raise
            reason = f"unreadable ({type(e).__name__})"
            skipped[reason] = skipped.get(reason, 0) + 1
            continue
        chords = np.stack([estimate_chord(c) for c in chroma])
        songs.append((name, key, shift, melody, chords))
    if not songs:
        raise DataError(f"{from_dir or 'music21 corpus'}: no usable 4/4 score (skipped: {skipped or 'none'})")
    rng = np.random.default_rng(seed)
    n_test = int(round(test_fraction * len(songs))) if len(songs) > 1 else 0
    test = np.zeros(len(songs), bool)
    test[rng.permutation(len(songs))[:n_test]] = True
    arrays = _assemble(songs, fold, range(-6, 6) if augment else (0,))
    meta = {"version": CACHE_VERSION, "source": from_dir or "music21 corpus (bach chorales)", "fold": fold,
            "augment": augment, "seed": seed, "test_fraction": test_fraction, "steps_per_bar": STEPS,
            "music21": require_music21().__version__, "skipped": skipped, "notice": CORPUS_NOTICE}
    path = Path(out) / CACHE_NAME
    with atomic_write(path) as f:
        np.savez_compressed(f, **arrays, songs=np.array([s[0] for s in songs]), keys=np.array([s[1] for s in songs]),
                            key_shift=np.array([s[2] for s in songs], np.int8), test=test, meta=json.dumps(meta))
    per_split = {"train": int((~test[arrays["song"]] & (arrays["shift"] == 0)).sum()),
                 "test": int((test[arrays["song"]] & (arrays["shift"] == 0)).sum())}
    return {"path": str(path), "songs": len(songs), "test_songs": int(test.sum()), "bars": int(len(arrays["x"])),
            "bars_per_split": per_split, "skipped": skipped, "fold": fold, "augment": augment, "seed": seed}


def _assemble(songs: list, fold: bool, shifts) -> dict[str, np.ndarray]:
    """Stack every song at every shift into the cache arrays (rows in song, shift, bar order)."""
    x, chord, song, bar, shift, prev = [], [], [], [], [], []
    row = 0
    for i, (_, _, ks, melody, chords) in enumerate(songs):
        for sh in shifts:
            mel = np.where(melody >= 0, melody + ks + sh, -1)
            if fold:
                mel = fold_melody(mel)
            mel = np.where((mel >= 0) & (mel < PITCHES), mel, -1)
            n = len(mel)
            x.append(rolls_of(mel).astype(np.uint8))
            chord.append(transpose_chords(chords, ks + sh).astype(np.uint8))
            song += [i] * n
            bar += list(range(n))
            shift += [sh] * n
            prev += [-1] + list(range(row, row + n - 1))
            row += n
    return {"x": np.concatenate(x), "chord": np.concatenate(chord), "song": np.array(song, np.int32),
            "bar": np.array(bar, np.int32), "shift": np.array(shift, np.int8), "prev": np.array(prev, np.int32)}


def cache_file(path: str | Path) -> Path:
    """The cache file of ``path`` (the file itself, or a folder holding chorales.npz)."""
    p = Path(path).expanduser()
    f = p / CACHE_NAME if p.is_dir() else p
    if not f.is_file():
        raise DataError(f"data.path {path}: no {CACHE_NAME} there; build it with "
                        f"'gankit data chorales --out {path if p.suffix != '.npz' else p.parent}'")
    return f


SPLITS = ("train", "test", "all")


class ChoraleBars(torch.utils.data.Dataset):
    """Bars of a chorales cache as ``(x, chord, prev)`` items: x float32 [1, 16, 128] in {0, 1},
    chord float32 [13], prev float32 [1, 16, 128] (the same song's previous bar; zeros at a
    song's start). Field kind ``tensor``: no flips, no image conversion.

    split: 'train' (every shift of the training songs), 'test' (the test songs in their
    normalised key only), 'all'. Attributes ``song``, ``bar``, ``shift`` (per item),
    ``song_names``, and :meth:`phrases` for bar-by-bar generation.
    """

    fields = (("x", "tensor"), ("chord", "tensor"), ("prev", "tensor"))

    def __init__(self, path: str | Path, split: str = "train"):
        if split not in SPLITS:
            raise ConfigError(f"data.split '{split}': the chorales have splits {', '.join(SPLITS)}")
        f = cache_file(path)
        try:
            z = np.load(f, allow_pickle=False)
            meta = json.loads(str(z["meta"]))
            x, chord, prev = z["x"], z["chord"], z["prev"]
            song, bar, shift, test = z["song"], z["bar"], z["shift"], z["test"]
            self.song_names = [str(s) for s in z["songs"]]
        except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
            raise DataError(f"{f}: not a gankit chorales cache ({type(e).__name__}: {str(e)[:80]})") from None
        if meta.get("version") != CACHE_VERSION or x.shape[1:] != (STEPS, PITCHES) or chord.shape[1:] != (CHORD_DIM,):
            raise DataError(f"{f}: cache version {meta.get('version')} / shapes {x.shape}, {chord.shape} are not "
                            f"what this gankit reads; rebuild it with 'gankit data chorales'")
        keep = {"train": ~test[song], "test": test[song] & (shift == 0), "all": np.ones(len(x), bool)}[split]
        rows = np.nonzero(keep)[0]
        if not len(rows):
            raise DataError(f"{f}: split '{split}' holds no bars")
        self.meta, self.split, self.path = meta, split, f
        self._x = torch.from_numpy(x)  # all rows: previous bars may lie outside the split's rows
        self.rows = torch.from_numpy(rows)
        self.chords = torch.from_numpy(chord[rows].astype(np.float32))
        self.prev_rows = torch.from_numpy(prev[rows].astype(np.int64))
        self.song, self.bar, self.shift = song[rows], bar[rows], shift[rows]

    def __len__(self) -> int:
        return len(self.rows)

    def roll(self, row: int) -> Tensor:
        """float32 [1, 16, 128] of cache row ``row`` (zeros for -1)."""
        if row < 0:
            return torch.zeros(1, STEPS, PITCHES)
        return self._x[row].float()[None]

    def __getitem__(self, i: int) -> tuple[Tensor, Tensor, Tensor]:
        return self.roll(int(self.rows[i])), self.chords[i], self.roll(int(self.prev_rows[i]))

    def song_melodies(self) -> list[np.ndarray]:
        """Each song of the split in its normalised key (shift 0) as a melody [bars, 16]."""
        from gankit.data.music import melody_of

        keep = np.nonzero(self.shift == 0)[0]
        x = self._x[self.rows[keep]].numpy()
        songs = self.song[keep]
        cuts = np.nonzero(np.diff(songs))[0] + 1
        return [melody_of(part) for part in np.split(x, cuts)]

    def phrases(self, bars: int, step: int | None = None) -> list[int]:
        """Item indices where ``bars`` consecutive bars of one song (one shift) start, every
        ``step`` bars of a song (default: ``bars``, non-overlapping), from bar 1 on (bar 0 may
        be a pickup and is the first phrase's previous bar)."""
        step = step or bars
        out = []
        for i in range(len(self)):
            j = i + bars - 1
            if (self.bar[i] >= 1 and (self.bar[i] - 1) % step == 0 and j < len(self)
                    and self.song[j] == self.song[i] and self.shift[j] == self.shift[i]
                    and self.bar[j] == self.bar[i] + bars - 1):
                out.append(i)
        return out
