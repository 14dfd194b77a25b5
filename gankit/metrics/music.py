"""Objective measures of melodies, and two baselines to read them against.

Melodies are int arrays ``[songs, bars, 16]`` of the sounding MIDI pitch per sixteenth step,
-1 for a rest (:func:`gankit.data.music.melody_of` turns rolls into them); chords are the
13-dim vectors ``[songs, bars, 13]``. Every measure is over the sounding steps (a held note
counts once per step it sounds, as in MidiNet's representation):

=========================== ================================================================
pc_hist_distance             total variation (half the L1 distance, in [0, 1]) between the
                             pitch-class histogram of all melodies and that of a reference
                             set (the real training melodies)
in_chord_ratio               share of sounding steps whose pitch class is in their bar's
                             triad (bars without a chord are left out)
scale_consistency            per song, the largest share of its sounding steps inside one of
                             the 12 major scales (natural minor shares them); mean over songs
empty_bar_ratio              share of bars without a sounding step
repeated_note_ratio          share of pairs of consecutive sounding steps (across bar lines)
                             that keep the pitch: in this representation, held + repeated notes
pitch_range                  per song, highest minus lowest pitch (semitones); mean over songs
bar_pc_similarity            cosine similarity of the pitch-class histograms of consecutive
                             bars (both sounding), mean over pairs: bar-to-bar coherence
=========================== ================================================================

Baselines (fitted to training melodies with :func:`fit_baselines`): ``random_in_key``
(note lengths drawn from the corpus's note-length histogram, pitches uniform over the C-major
scale notes inside the corpus's melody range, no rests) and ``markov`` (a first-order Markov
chain over the 129 step states, pitch or rest, fitted to consecutive steps of the training
songs; its first state drawn from the songs' first sounding steps).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gankit.data.music import MAJOR_SCALE, PITCHES, STEPS, chord_of, notes_of, triad

MUSIC_METRICS = ("pc_hist_distance", "in_chord_ratio", "scale_consistency", "empty_bar_ratio", "repeated_note_ratio",
           "pitch_range", "bar_pc_similarity")


def _songs(mel) -> np.ndarray:
    m = np.asarray(mel, np.int64)
    if m.ndim == 2:  # one song [bars, 16]
        m = m[None]
    if m.ndim != 3 or m.shape[-1] != STEPS:
        raise ValueError(f"melodies must be [songs, bars, {STEPS}], got {m.shape}")
    return m


def pc_histogram(mel) -> np.ndarray:
    """Normalised [12] pitch-class histogram of the sounding steps (zeros when none sound)."""
    m = _songs(mel)
    h = np.bincount(m[m >= 0] % 12, minlength=12).astype(np.float64)
    return h / h.sum() if h.sum() else h


def pc_hist_distance(mel, ref) -> float:
    """Total variation between the pitch-class histograms of ``mel`` and ``ref``."""
    return float(0.5 * np.abs(pc_histogram(mel) - pc_histogram(ref)).sum())


def in_chord_ratio(mel, chords) -> float:
    m, c = _songs(mel), np.asarray(chords, np.float32).reshape(-1, 13)
    flat = m.reshape(-1, STEPS)
    hit = total = 0
    for bar, vec in zip(flat, c):
        ch = chord_of(vec)
        notes = bar[bar >= 0]
        if ch is None or not len(notes):
            continue
        hit += int(np.isin(notes % 12, triad(*ch)).sum())
        total += len(notes)
    return hit / total if total else float("nan")


def scale_consistency(mel) -> float:
    scales = [np.array([(k + d) % 12 for d in MAJOR_SCALE]) for k in range(12)]
    vals = []
    for song in _songs(mel):
        pcs = song[song >= 0] % 12
        if len(pcs):
            vals.append(max(np.isin(pcs, s).mean() for s in scales))
    return float(np.mean(vals)) if vals else float("nan")


def empty_bar_ratio(mel) -> float:
    m = _songs(mel)
    return float((m.max(-1) < 0).mean())


def repeated_note_ratio(mel) -> float:
    same = pairs = 0
    for song in _songs(mel):
        s = song.reshape(-1)
        both = (s[:-1] >= 0) & (s[1:] >= 0)
        pairs += int(both.sum())
        same += int((both & (s[:-1] == s[1:])).sum())
    return same / pairs if pairs else float("nan")


def pitch_range(mel) -> float:
    vals = [int(s[s >= 0].max() - s[s >= 0].min()) for s in _songs(mel) if (s >= 0).any()]
    return float(np.mean(vals)) if vals else float("nan")


def bar_pc_similarity(mel) -> float:
    sims = []
    for song in _songs(mel):
        hists = [np.bincount(b[b >= 0] % 12, minlength=12).astype(np.float64) for b in song]
        for a, b in zip(hists[:-1], hists[1:]):
            if a.sum() and b.sum():
                sims.append(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)))
    return float(np.mean(sims)) if sims else float("nan")


def evaluate_melodies(mel, chords, ref) -> dict[str, float]:
    """Every measure of :data:`MUSIC_METRICS` for melodies [songs, bars, 16] with their chords and
    the reference melodies of the histogram distance."""
    return {"pc_hist_distance": pc_hist_distance(mel, ref), "in_chord_ratio": in_chord_ratio(mel, chords),
            "scale_consistency": scale_consistency(mel), "empty_bar_ratio": empty_bar_ratio(mel),
            "repeated_note_ratio": repeated_note_ratio(mel), "pitch_range": pitch_range(mel),
            "bar_pc_similarity": bar_pc_similarity(mel)}


# ---------------------------------------------------------------------------- baselines
@dataclass
class Baselines:
    """What the baselines learn from training melodies (see :func:`fit_baselines`)."""

    lengths: np.ndarray  # [STEPS + 1] probability of a note of n steps (index n)
    low: int
    high: int
    start: np.ndarray  # [129] first-state distribution (index 128 = rest)
    transitions: np.ndarray  # [129, 129] row-stochastic step transitions

    def random_in_key(self, songs: int, bars: int, rng: np.random.Generator) -> np.ndarray:
        """Melodies [songs, bars, 16]: notes of corpus lengths, uniform C-major pitches, no rests."""
        pool = np.array([p for p in range(self.low, self.high + 1) if p % 12 in MAJOR_SCALE])
        out = np.empty((songs, bars * STEPS), np.int64)
        for s in range(songs):
            t = 0
            while t < bars * STEPS:
                n = int(rng.choice(len(self.lengths), p=self.lengths))
                out[s, t:t + n] = rng.choice(pool)
                t += n
        return out.reshape(songs, bars, STEPS)

    def markov(self, songs: int, bars: int, rng: np.random.Generator) -> np.ndarray:
        """Melodies [songs, bars, 16] walked from the fitted step chain."""
        out = np.empty((songs, bars * STEPS), np.int64)
        cum = np.cumsum(self.transitions, 1)
        for s in range(songs):
            state = int(rng.choice(PITCHES + 1, p=self.start))
            for t in range(bars * STEPS):
                out[s, t] = state
                state = min(int(np.searchsorted(cum[state], rng.random(), side="right")), PITCHES)
        return np.where(out == PITCHES, -1, out).reshape(songs, bars, STEPS)


def fit_baselines(songs: list[np.ndarray]) -> Baselines:
    """Fit both baselines to training songs (a list of melodies [bars, 16])."""
    lengths = np.zeros(STEPS + 1)
    counts = np.zeros((PITCHES + 1, PITCHES + 1))
    start = np.zeros(PITCHES + 1)
    pitches = []
    for song in songs:
        for s, e, p in notes_of(song):
            lengths[e - s] += 1
            pitches.append(p)
        steps = np.where(np.asarray(song).reshape(-1) < 0, PITCHES, np.asarray(song).reshape(-1))
        np.add.at(counts, (steps[:-1], steps[1:]), 1)
        sounding = steps[steps < PITCHES]
        if len(sounding):
            start[sounding[0]] += 1
    if not pitches:
        raise ValueError("fit_baselines: the training songs have no notes")
    rows = counts.sum(1, keepdims=True)
    unigram = counts.sum(0) / counts.sum()
    trans = np.where(rows > 0, counts / np.maximum(rows, 1), unigram)  # unseen states: the unigram
    return Baselines(lengths / lengths.sum(), int(min(pitches)), int(max(pitches)), start / start.sum(), trans)
