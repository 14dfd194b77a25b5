"""Melodies from a trained MidiNet run: compose bar by bar, write MIDI / PNG / WAV.

    from gankit.pipelines import load_run
    from gankit.pipelines.music import compose, write_song
    run = load_run("runs/midinet")
    song = compose(run, "C G Am F C G F C", seed=0)            # Song(melody [8, 16], chords [8, 13])
    files = write_song(song, "song.mid", wav=True)             # song.mid, song.png (+ song.wav)
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from gankit.data.music import STEPS, melody_of, parse_progression, rolls_of, save_roll_png, write_midi
from gankit.errors import GankitError

SOUNDFONTS = ("/usr/share/sounds/sf2/FluidR3_GM.sf2", "/usr/share/sounds/sf2/default-GM.sf2")
WAV_HINT = ("--wav needs fluidsynth and a General MIDI soundfont: apt-get install --no-install-recommends "
            "fluidsynth fluid-soundfont-gm (MIDI and PNG were written)")


@dataclass
class Song:
    melody: np.ndarray  # int [bars, 16]: pitch per step, -1 = rest
    chords: np.ndarray  # float32 [bars, 13]
    model: int
    seed: int
    primed: bool


def music_model(run) -> int:
    """The MidiNet model (1, 2, 3) of a run; a GankitError for runs of other recipes."""
    if run.cfg.recipe.name != "midinet":
        raise GankitError(f"{run.checkpoint}: a '{run.cfg.recipe.name}' run; composing needs a MidiNet run "
                          "(preset midinet_chorales)")
    return int(run.recipe.model)


def prime_bar(run, spec: str) -> Tensor:
    """The real bar a song starts from, float [1, 16, 128]: ``test:N`` (item N of the run's
    test split) or a MusicXML/MIDI file (its first bar with melody notes, in its own key)."""
    if spec.startswith("test:"):
        src = run.held_out()
        try:
            i = int(spec[5:])
        except ValueError:
            raise GankitError(f"--prime {spec}: expected test:N with an item number N") from None
        if not 0 <= i < len(src):
            raise GankitError(f"--prime {spec}: the test split has items 0..{len(src) - 1}")
        return src[i][0]
    path = Path(spec).expanduser()
    if not path.is_file():
        raise GankitError(f"--prime {spec}: no such file (expected test:N or a MusicXML/MIDI file)")
    from gankit.data.chorales import Skip, require_music21, score_bars

    try:
        melody, _ = score_bars(require_music21().converter.parse(str(path)))
    except Skip as e:
        raise GankitError(f"--prime {spec}: cannot use it ({e})") from None
    except Exception as e:  # music21 raises many types on unreadable files
        raise GankitError(f"--prime {spec}: music21 cannot read it ({type(e).__name__})") from None
    bar = next(b for b in melody if (b >= 0).any())
    return torch.from_numpy(rolls_of(bar))[None]


def chords_for(text: str, bars: int | None) -> np.ndarray:
    """Chord names -> [bars, 13]; fewer chords than bars repeat as a loop; more is an error."""
    chords = parse_progression(text)
    bars = len(chords) if bars is None else bars
    if bars < 1:
        raise GankitError(f"--bars {bars}: expected at least 1")
    if len(chords) > bars:
        raise GankitError(f"--chords: {len(chords)} chords for --bars {bars} (one chord per bar; fewer repeat)")
    return chords[np.arange(bars) % len(chords)]


def compose_batch(run, chords: Tensor, seed: int = 0, prime: Tensor | None = None) -> tuple[Tensor, Tensor]:
    """Songs [B, bars, 16, 128] (raw values, decoded binary rolls) for chords [B, bars, 13];
    noise from ``seed``; ``prime`` [B, 1, 16, 128] is the bar before the first (model 3)."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(chords.shape[0], chords.shape[1], run.recipe.z_dim, generator=g)
    with run.recipe.sampling() as r:
        return r.compose(chords.float(), z, prime)


def compose(run, chords: str | np.ndarray, bars: int | None = None, seed: int = 0, prime: str | None = None) -> Song:
    """One song. ``chords``: names ('C G Am F') or vectors [bars, 13]. With ``prime`` (model 3
    only) the song's first bar is that real bar and the rest follow it."""
    model = music_model(run)
    vec = chords_for(chords, bars) if isinstance(chords, str) else np.asarray(chords, np.float32)
    first = None
    if prime is not None:
        if model != 3:
            raise GankitError(f"--prime: this run is MidiNet model {model}, which has no previous-bar input "
                              "(priming needs model 3)")
        first = prime_bar(run, prime)
    todo = vec[1:] if first is not None else vec
    mel = np.zeros((0, STEPS), np.int64)
    if len(todo):
        _, rolls = compose_batch(run, torch.from_numpy(todo)[None], seed, None if first is None else first[None])
        mel = melody_of(rolls[0].numpy())
    if first is not None:
        mel = np.concatenate([melody_of(first[0].numpy())[None], mel])
    return Song(mel, vec, model, seed, first is not None)


def write_song(song: Song, out: str | Path, wav: bool = False, tempo: float = 90.0,
               soundfont: str | None = None) -> dict[str, Path | str]:
    """Write ``out`` (.mid: melody + block chords), the same stem .png (piano roll) and with
    ``wav`` a .wav through fluidsynth; ``{"midi", "png", "wav" or "wav_hint"}``."""
    out = Path(out)
    files: dict[str, Path | str] = {"midi": write_midi(out, song.melody, song.chords, tempo)}
    files["png"] = save_roll_png(out.with_suffix(".png"), song.melody, song.chords)
    if wav:
        done = render_wav(out, out.with_suffix(".wav"), soundfont)
        files["wav" if done else "wav_hint"] = done or WAV_HINT
    return files


def synth(melody: np.ndarray, chords: np.ndarray | None = None, tempo: float = 90.0, rate: int = 22050) -> np.ndarray:
    """A plain additive rendering that needs no soundfont (the app's audio player uses it when
    fluidsynth is missing): float32 mono in [-1, 1], ``len(melody) * 16`` sixteenth-note steps
    at ``tempo`` quarter notes per minute. Each note of :func:`notes_of` is a sine with two
    quieter overtones, a 10 ms attack, a gentle decay and a 30 ms release; each bar's chord
    (:func:`voicing`) plays softly under the melody; rests are silent."""
    from gankit.data.music import notes_of, voicing

    if tempo <= 0 or rate <= 0:
        raise GankitError(f"synth: tempo {tempo} and rate {rate} must be > 0")
    step = 60.0 / tempo / 4  # seconds per sixteenth note
    out = np.zeros(int(round(len(melody) * STEPS * step * rate)), np.float64)

    def add(start: int, end: int, pitch: int, amp: float) -> None:
        a, b = int(round(start * step * rate)), min(len(out), int(round(end * step * rate)))
        t = np.arange(b - a) / rate
        w = 2 * np.pi * 440.0 * 2 ** ((pitch - 69) / 12) * t
        env = np.minimum(1.0, t / 0.01) * np.exp(-1.5 * t) * np.clip((t[-1] - t) / 0.03, 0.0, 1.0) if len(t) else t
        out[a:b] += amp * env * (np.sin(w) + 0.3 * np.sin(2 * w) + 0.1 * np.sin(3 * w))

    for start, end, pitch in notes_of(melody):
        add(start, end, pitch, 0.5)
    for b, vec in enumerate(np.asarray(chords) if chords is not None else []):
        for pitch in voicing(vec):
            add(b * STEPS, (b + 1) * STEPS, pitch, 0.12)
    peak = float(np.abs(out).max()) if len(out) else 0.0
    return (out * (0.9 / peak) if peak > 0.9 else out).astype(np.float32)


def find_soundfont(path: str | None = None) -> Path | None:
    if path:
        p = Path(path).expanduser()
        if not p.is_file():
            raise GankitError(f"--soundfont {path}: no such file")
        return p
    return next((Path(p) for p in SOUNDFONTS if Path(p).is_file()), None)


def render_wav(midi: Path, wav: Path, soundfont: str | None = None, rate: int = 22050) -> Path | None:
    """Render ``midi`` to ``wav`` with fluidsynth; None when fluidsynth or a soundfont is missing."""
    exe, sf2 = shutil.which("fluidsynth"), find_soundfont(soundfont)
    if exe is None or sf2 is None:
        return None
    res = subprocess.run([exe, "-ni", "-q", "-F", str(wav), "-r", str(rate), str(sf2), str(midi)],
                         capture_output=True, text=True, timeout=300)
    if res.returncode != 0 or not wav.is_file():
        raise GankitError(f"fluidsynth failed on {midi}: {(res.stderr or res.stdout).strip().splitlines()[-1:]}")
    return wav


__all__ = ["Song", "compose", "compose_batch", "write_song", "render_wav", "synth", "prime_bar", "music_model"]
