"""Music measures on hand-made melodies with hand-computed values, and the two baselines."""

from __future__ import annotations

import numpy as np
import pytest

from gankit.data.music import chord_vector
from gankit.metrics import music as mm

R = -1  # rest
C4, D4, E4, F4, G4, A4, B4, C5, Fs4 = 60, 62, 64, 65, 67, 69, 71, 72, 66


def bar(*quarters):
    """Four quarter notes (pitch or R) -> one bar [16]."""
    return np.repeat(np.array(quarters), 4)


# song 1: [C E G C5 | C5 C5 R R]; song 2: [F# F# F# F# | empty]
SONGS = np.stack([np.stack([bar(C4, E4, G4, C5), bar(C5, C5, R, R)]),
                  np.stack([bar(Fs4, Fs4, Fs4, Fs4), bar(R, R, R, R)])])
CHORDS = np.stack([np.stack([chord_vector(0, False), chord_vector(9, True)]),
                   np.stack([chord_vector(2, False), np.zeros(13, np.float32)])])


def test_hand_made_values():
    # sounding steps: song 1 C4 4, E4 4, G4 4, C5 4 + 8 = 24; song 2 F# 16 -> 40 in all
    hist = mm.pc_histogram(SONGS)
    assert hist[0] == pytest.approx(16 / 40) and hist[4] == hist[7] == pytest.approx(4 / 40)
    assert hist[6] == pytest.approx(16 / 40)
    # in-chord: bar 1 (C major) all 16 in; bar 2 (A minor: A C E) the 8 C5 steps in;
    # song 2 bar 1 (D major: D F# A) all 16 in; the empty bar has no chord and no notes
    assert mm.in_chord_ratio(SONGS, CHORDS) == pytest.approx(40 / 40)
    # swapped: song 1 bar 1 under A minor keeps C4, E4, C5 (12 of 16), bar 2 under C major its
    # 8 C5 steps; song 2's notes now have no chord and are left out -> 20 of 24
    assert mm.in_chord_ratio(SONGS, CHORDS[:, ::-1]) == pytest.approx(20 / 24)
    # scale: song 1 all in C major -> 1; song 2 only F# -> 1 (G major holds it)
    assert mm.scale_consistency(SONGS) == 1.0
    assert mm.empty_bar_ratio(SONGS) == pytest.approx(1 / 4)
    # consecutive sounding pairs: song 1: 15 in bar 1 (12 same) + C5->C5 across the bar line (same)
    # + 7 in bar 2 (same) = 23 pairs, 20 same; song 2: 15 pairs, all same
    assert mm.repeated_note_ratio(SONGS) == pytest.approx((20 + 15) / (23 + 15))
    assert mm.pitch_range(SONGS) == pytest.approx((12 + 0) / 2)
    # bar-to-bar: song 1 bars [C:4+4, E:4, G:4] vs [C:8] -> cos = 8*8 / (sqrt(64+16+16) * 8); song 2 has an empty bar
    assert mm.bar_pc_similarity(SONGS) == pytest.approx(8 / np.sqrt(96))


def test_histogram_distance_is_total_variation():
    a = np.stack([bar(C4, C4, C4, C4)])[None]  # all C
    b = np.stack([bar(C4, C4, G4, G4)])[None]  # half C, half G
    assert mm.pc_hist_distance(a, a) == 0.0
    assert mm.pc_hist_distance(a, b) == pytest.approx(0.5)
    assert mm.pc_hist_distance(b, a) == pytest.approx(0.5)
    out = mm.evaluate_melodies(SONGS, CHORDS, SONGS)
    assert set(out) == set(mm.MUSIC_METRICS) and out["pc_hist_distance"] == 0.0


def test_scale_consistency_of_a_chromatic_run():
    run = np.array([[np.arange(60, 76)]])  # 16 semitones, one step each: 12 distinct pcs, C and C# etc twice
    # best major scale holds 7 of the 12 pitch classes; pcs 0..3 appear twice (steps 60..63 and 72..75)
    best = max(sum(1 + (pc < 4) for pc in range(12) if pc in {(k + d) % 12 for d in (0, 2, 4, 5, 7, 9, 11)})
               for k in range(12))
    assert mm.scale_consistency(run) == pytest.approx(best / 16)


def test_baselines_follow_what_they_were_fitted_to():
    train = [np.stack([bar(C4, E4, G4, E4)] * 4), np.stack([bar(G4, E4, C4, R)] * 4)]
    b = mm.fit_baselines(train)
    assert b.lengths[4] == 1.0 and (b.low, b.high) == (C4, G4)
    rng = np.random.default_rng(0)
    rk = b.random_in_key(6, 2, rng)
    assert rk.shape == (6, 2, 16) and (rk >= C4).all() and (rk <= G4).all()
    assert set(np.unique(rk % 12)) <= {0, 2, 4, 5, 7}  # C-major notes inside C4..G4
    assert (rk.reshape(6, -1, 4) == rk.reshape(6, -1, 4)[..., :1]).all()  # notes of 4 steps
    mk = b.markov(5, 2, rng)
    assert mk.shape == (5, 2, 16) and set(np.unique(mk)) <= {R, C4, E4, G4}
    # E4 is only ever followed by E4 (held) or G4 / C4 (next note): transitions seen in training
    flat = mk.reshape(-1)
    nxt = {int(flat[i + 1]) for i in range(len(flat) - 1) if flat[i] == E4}
    assert nxt <= {E4, G4, C4}
    # from E4: song 1 (C E G E per bar) E->E 24, E->G 4, E->C 3 (over bar lines); song 2 (G E C rest)
    # E->E 12, E->C 4: 36 of 47
    assert b.transitions[E4, E4] == pytest.approx(36 / 47)
    assert b.start[C4] == b.start[G4] == 0.5
