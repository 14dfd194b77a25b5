"""Piano rolls, chords and MIDI: the music modality (MidiNet's representation).

A **bar** is a monophonic piano roll of ``STEPS`` = 16 sixteenth-note steps x ``PITCHES`` =
128 MIDI pitches, float/uint8 ``[16, 128]``: at most one 1 per step (the sounding pitch), an
all-zero step is a rest. A held note and repeated notes of one pitch look alike, as in
MidiNet (Yang, Chou & Yang 2017); when a roll becomes MIDI, equal pitches on consecutive
steps of one bar are one note and a bar line starts a new note.

A **chord** is MidiNet's 13-dim vector: a one-hot root over the 12 pitch classes (C = 0) and
index 12 = 1 for a minor triad, 0 for a major one. The zero vector means "no chord".

The **melody** form of rolls (used by metrics and MIDI writing) is an int array of the
sounding pitch per step, -1 for a rest: :func:`melody_of`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from gankit.errors import GankitError

STEPS = 16  # steps per 4/4 bar (sixteenth notes)
PITCHES = 128  # MIDI pitches 0..127
CHORD_DIM = 13  # 12 root pitch classes + minor flag
PC_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
MAJOR_SCALE = (0, 2, 4, 5, 7, 9, 11)
_LETTER = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}
_ACCIDENTAL = {"": 0, "#": 1, "♯": 1, "b": -1, "♭": -1}
# quality suffix -> minor?; sevenths are reduced to their triad (G7 -> G, Am7 -> Am)
_QUALITY = {"": False, "M": False, "maj": False, "major": False, "7": False, "maj7": False, "M7": False,
            "m": True, "min": True, "minor": True, "-": True, "m7": True, "min7": True}
_CHORD_RE = re.compile(r"^([A-Ga-g])([#b♯♭]?)(.*)$")


# ----------------------------------------------------------------------------- chords
def triad(root: int, minor: bool) -> tuple[int, int, int]:
    """Pitch classes (root, third, fifth) of a major or minor triad."""
    return root % 12, (root + (3 if minor else 4)) % 12, (root + 7) % 12


def chord_vector(root: int, minor: bool) -> np.ndarray:
    """The 13-dim float32 chord vector of (root pitch class, minor)."""
    v = np.zeros(CHORD_DIM, np.float32)
    v[root % 12] = 1.0
    v[12] = 1.0 if minor else 0.0
    return v


def chord_of(vec) -> tuple[int, bool] | None:
    """(root, minor) of a chord vector, None for the zero ("no chord") vector."""
    v = np.asarray(vec, np.float32)
    if v[:12].max() <= 0:
        return None
    return int(v[:12].argmax()), bool(v[12] > 0.5)


def chord_name(vec) -> str:
    """'C', 'Am', 'F#m' ... of a chord vector; 'N.C.' for no chord."""
    c = chord_of(vec)
    return "N.C." if c is None else PC_NAMES[c[0]] + ("m" if c[1] else "")


def parse_chord(name: str) -> np.ndarray:
    """A chord name -> its 13-dim vector. Roots A-G with # or b; qualities: major ('', M, maj),
    minor (m, min, -); 7, maj7 and m7 reduce to their triad. Anything else (dim, aug, sus,
    slash chords) is a one-line GankitError naming the chord: MidiNet conditions on major and
    minor triads only."""
    m = _CHORD_RE.match(name.strip())
    if not m or m.group(3) not in _QUALITY:
        raise GankitError(f"chord '{name}': not a major or minor chord gankit can condition on "
                          "(expected a root A-G with optional # or b, then nothing, m, min, maj, 7 or m7: "
                          "e.g. C, F#, Bbm, Am7)")
    root = (_LETTER[m.group(1).upper()] + _ACCIDENTAL[m.group(2)]) % 12
    return chord_vector(root, _QUALITY[m.group(3)])


def parse_progression(text: str) -> np.ndarray:
    """'C G Am F' (spaces, commas or bar lines between chords) -> float32 [n, 13]."""
    names = [t for t in re.split(r"[\s,|]+", text.strip()) if t]
    if not names:
        raise GankitError(f"chords '{text}': no chord names (e.g. \"C G Am F\")")
    return np.stack([parse_chord(n) for n in names])


def estimate_chord(chroma) -> np.ndarray:
    """The major or minor triad that best explains a bar's pitch-class weights.

    chroma: [12] non-negative weights (e.g. sounding steps of the lower voices per pitch
    class, the bass counted twice). Each of the 24 triads scores the summed weight of its
    three pitch classes; ties go to the triad whose root weighs more, then major, then the
    lower root. Returns the 13-dim vector (zeros when the bar is silent)."""
    w = np.asarray(chroma, np.float64)
    if w.sum() <= 0:
        return np.zeros(CHORD_DIM, np.float32)
    best, best_key = None, None
    for minor in (False, True):
        for root in range(12):
            key = (sum(w[p] for p in triad(root, minor)), w[root], not minor, -root)
            if best_key is None or key > best_key:
                best, best_key = (root, minor), key
    return chord_vector(*best)


def transpose_chords(chords: np.ndarray, shift: int) -> np.ndarray:
    """Chord vectors [..., 13] transposed by ``shift`` semitones (the zero vector stays)."""
    out = chords.copy()
    out[..., :12] = np.roll(chords[..., :12], shift, axis=-1)
    return out


# ------------------------------------------------------------------------------ rolls
def melody_of(rolls, threshold: float = 0.5) -> np.ndarray:
    """Rolls [..., 16, 128] (binary or a generator's values in [0, 1]) -> int64 [..., 16]:
    the pitch of the largest value per step when it exceeds ``threshold``, else -1 (rest)."""
    r = np.asarray(rolls, np.float32)
    pitch = r.argmax(-1)
    return np.where(r.max(-1) > threshold, pitch, -1).astype(np.int64)


def rolls_of(melody) -> np.ndarray:
    """Melody [..., 16] (pitch or -1) -> binary float32 rolls [..., 16, 128]."""
    m = np.asarray(melody, np.int64)
    out = np.zeros(m.shape + (PITCHES,), np.float32)
    idx = np.nonzero(m >= 0)
    out[idx + (m[idx],)] = 1.0
    return out


def decode(rolls, threshold: float = 0.5) -> np.ndarray:
    """A generator's rolls -> the binary monophonic rolls they play (see :func:`melody_of`)."""
    return rolls_of(melody_of(rolls, threshold))


def notes_of(melody: np.ndarray) -> list[tuple[int, int, int]]:
    """Melody [bars, 16] -> notes (start step, end step, pitch) over the whole song: equal
    pitches on consecutive steps of one bar are one note; a bar line starts a new note."""
    notes = []
    for b, bar in enumerate(np.asarray(melody)):
        t = 0
        while t < STEPS:
            p = int(bar[t])
            e = t + 1
            while e < STEPS and bar[e] == p:
                e += 1
            if p >= 0:
                notes.append((b * STEPS + t, b * STEPS + e, p))
            t = e
    return notes


def voicing(vec, low: int = 48) -> list[int]:
    """MIDI pitches of a chord's close-position triad with its root at or above ``low`` (C3)."""
    c = chord_of(vec)
    if c is None:
        return []
    root = low + (c[0] - low) % 12
    return [root + (p - c[0]) % 12 for p in triad(*c)]


def write_midi(path: str | Path, melody: np.ndarray, chords: np.ndarray | None = None, tempo: float = 90.0,
               melody_program: int = 73, chord_program: int = 0, velocity: int = 96) -> Path:
    """A type-1 MIDI file of a melody [bars, 16] (pitch or -1) and, when given, one block
    chord per bar from ``chords`` [bars, 13] on a second track (channel 2). 4/4 at ``tempo``
    quarter notes per minute; programs are General MIDI (73 = flute, 0 = piano)."""
    import mido

    tpb = 480
    step = tpb // 4
    mid = mido.MidiFile(type=1, ticks_per_beat=tpb)
    meta = mido.MidiTrack()
    meta += [mido.MetaMessage("time_signature", numerator=4, denominator=4, time=0),
             mido.MetaMessage("set_tempo", tempo=mido.bpm2tempo(tempo), time=0)]
    mid.tracks.append(meta)
    events = [(s * step, 1, p) for s, _, p in notes_of(melody)] + [(e * step, 0, p) for _, e, p in notes_of(melody)]
    mid.tracks.append(_track("melody", 0, melody_program, events, velocity))
    if chords is not None:
        ev = []
        for b, vec in enumerate(np.asarray(chords)):
            for p in voicing(vec):
                ev += [(b * STEPS * step, 1, p), ((b + 1) * STEPS * step, 0, p)]
        mid.tracks.append(_track("chords", 1, chord_program, ev, velocity * 2 // 3))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    mid.save(str(path))
    return path


def _track(name: str, channel: int, program: int, events: list[tuple[int, int, int]], velocity: int):
    """A mido track from (absolute tick, on?, pitch) events (offs before ons at equal ticks)."""
    import mido

    track = mido.MidiTrack()
    track += [mido.MetaMessage("track_name", name=name, time=0),
              mido.Message("program_change", channel=channel, program=program, time=0)]
    now = 0
    for tick, on, pitch in sorted(events):
        track.append(mido.Message("note_on" if on else "note_off", channel=channel, note=pitch,
                                  velocity=velocity if on else 0, time=tick - now))
        now = tick
    return track


def read_midi_notes(path: str | Path) -> list[tuple[float, float, int, int]]:
    """(start beat, end beat, pitch, channel) of every note of a MIDI file (for checks)."""
    import mido

    mid = mido.MidiFile(str(path))
    out = []
    for track in mid.tracks:
        now, open_ = 0, {}
        for msg in track:
            now += msg.time
            if msg.type == "note_on" and msg.velocity > 0:
                open_[(msg.channel, msg.note)] = now
            elif msg.type in ("note_off", "note_on") and (msg.channel, msg.note) in open_:
                start = open_.pop((msg.channel, msg.note))
                out.append((start / mid.ticks_per_beat, now / mid.ticks_per_beat, msg.note, msg.channel))
    return sorted(out)


# ------------------------------------------------------------------------------ images
def roll_image(melody: np.ndarray, low: int = 36, high: int = 96, scale: int = 2):
    """Melody [bars, 16] -> a float tensor [1, (high - low) * scale, 16 * bars * scale] in
    [-1, 1] for sample grids: pitches low..high-1 (C2-B6 by default; notes outside are drawn
    on the edge row), high pitches at the top, notes white (1) with a darker first step, rests
    black (-1), every C a faint row and every bar line a faint column."""
    import torch

    bars, rows = len(melody), high - low
    img = np.full((rows, STEPS * bars), -1.0, np.float32)
    img[[p - low for p in range(low, high) if p % 12 == 0], :] = -0.8
    img[:, [b * STEPS for b in range(1, bars)]] = -0.6
    for s, e, p in notes_of(melody):
        r = min(max(p, low), high - 1) - low
        img[r, s:e] = 1.0
        img[r, s] = 0.6  # note starts stay visible in a run of equal pitches
    img = img[::-1].repeat(scale, 0).repeat(scale, 1)
    return torch.from_numpy(img.copy())[None]


def save_roll_png(path: str | Path, melody: np.ndarray, chords: np.ndarray | None = None, scale: int = 6) -> Path:
    """A readable piano-roll PNG of a melody [bars, 16]: the pitch window of the notes (two
    octaves at least), ``scale`` pixels per step and per semitone, black-key rows shaded, every
    C drawn and named in the left margin (C4 = MIDI 60), bar lines, each bar's chord above it."""
    from PIL import Image, ImageDraw

    mel = np.asarray(melody)
    notes = notes_of(mel)
    pitches = [p for _, _, p in notes] or [60, 72]
    lo = max(0, min(pitches) // 12 * 12)
    hi = min(PITCHES, max(lo + 24, (max(pitches) // 12 + 1) * 12))
    bars, head, left = len(mel), 14 if chords is not None else 2, 22
    w, h = left + STEPS * bars * scale + 1, (hi - lo) * scale + head + 1
    img = Image.new("RGB", (w, h), (250, 250, 250))
    d = ImageDraw.Draw(img)
    y = lambda p: head + (hi - 1 - p) * scale  # noqa: E731  (top edge of pitch p's row)
    x = lambda step: left + step * scale  # noqa: E731
    for p in range(lo, hi):
        if p % 12 in (1, 3, 6, 8, 10):
            d.rectangle([left, y(p), w, y(p) + scale - 1], fill=(236, 236, 240))
        if p % 12 == 0:
            d.line([left, y(p) + scale - 1, w, y(p) + scale - 1], fill=(190, 190, 200))
            d.text((1, y(p) + scale - 11), f"C{p // 12 - 1}", fill=(90, 90, 90))
    for b in range(bars + 1):
        d.line([x(b * STEPS), head, x(b * STEPS), h], fill=(120, 120, 130))
        if chords is not None and b < bars:
            d.text((x(b * STEPS) + 3, 1), chord_name(chords[b]), fill=(40, 40, 40))
    for s, e, p in notes:
        d.rectangle([x(s) + 1, y(p), x(e) - 1, y(p) + scale - 1], fill=(40, 90, 200), outline=(20, 40, 110))
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path
