"""``gankit compose``: a melody from a MidiNet run, bar by bar over a chord progression.

    gankit compose RUN --chords "C G Am F C G F C" --out song.mid [--bars 8] [--prime test:12|FILE]
                   [--seed 0] [--tempo 90] [--wav] [--soundfont SF2] [--no-ema] [--device cpu]
"""

from __future__ import annotations

import argparse
import sys

from gankit.errors import GankitError


def add_parsers(sub) -> None:
    p = sub.add_parser("compose", help="write a melody (MIDI, piano-roll PNG, WAV) from a MidiNet run",
                       description="Generate a melody bar by bar over a chord progression with a trained MidiNet "
                                   "run (docs/music.md). Writes OUT (.mid: melody + block chords) and OUT's stem "
                                   "as .png, and with --wav as .wav.")
    p.add_argument("run", metavar="RUN_DIR_OR_CKPT")
    p.add_argument("--chords", required=True, help='chord names, one per bar, e.g. "C G Am F" (major/minor triads; '
                   "7, maj7, m7 reduce to their triad; fewer chords than --bars repeat)")
    p.add_argument("--bars", type=int, default=None, help="bars to write (default: one per chord)")
    p.add_argument("--out", required=True, help="output MIDI file (.mid)")
    p.add_argument("--prime", default=None, metavar="test:N|FILE",
                   help="start from a real bar (model 3): item N of the run's test split, or the first bar of a "
                        "MusicXML/MIDI file; it is the song's first bar")
    p.add_argument("--seed", type=int, default=0, help="noise seed (default 0)")
    p.add_argument("--tempo", type=float, default=90.0, help="quarter notes per minute (default 90)")
    p.add_argument("--wav", action="store_true", help="also render a WAV with fluidsynth (Debian fluidsynth + "
                   "fluid-soundfont-gm)")
    p.add_argument("--soundfont", default=None, help="a .sf2 soundfont for --wav (default: the Debian GM one)")
    p.add_argument("--no-ema", action="store_true", help="use the raw generator, not its EMA")
    p.add_argument("--device", default="cpu", help="torch device (default cpu: the model is small)")
    p.set_defaults(func=cmd_compose)


def cmd_compose(args: argparse.Namespace) -> int:
    from pathlib import Path

    from gankit.data.music import chord_name
    from gankit.pipelines import load_run
    from gankit.pipelines.music import chords_for, compose, music_model, write_song

    out = Path(args.out)
    if out.suffix.lower() not in (".mid", ".midi"):
        raise GankitError(f"--out {args.out}: expected a .mid file name")
    if out.is_dir():
        raise GankitError(f"--out {args.out}: is a folder; give a file name")
    if args.tempo <= 0:
        raise GankitError(f"--tempo {args.tempo}: expected a value > 0")
    chords = chords_for(args.chords, args.bars)  # bad chord names fail before the run is loaded
    run = load_run(args.run, args.device, ema=not args.no_ema)
    model = music_model(run)
    song = compose(run, chords, seed=args.seed, prime=args.prime)
    files = write_song(song, out, wav=args.wav, tempo=args.tempo, soundfont=args.soundfont)
    names = " ".join(chord_name(c) for c in song.chords)
    primed = f", primed with {args.prime}" if song.primed else ""
    ignored = " (model 1 ignores the chords; they play in the accompaniment)" if model == 1 else ""
    print(f"composed {len(song.melody)} bars over {names} with MidiNet model {model} ({run.weights}, seed "
          f"{args.seed}{primed}){ignored}")
    print(f"wrote {files['midi']} and {files['png']}" + (f" and {files['wav']}" if "wav" in files else ""))
    if "wav_hint" in files:
        print(f"gankit: note: {files['wav_hint']}", file=sys.stderr)
    return 0
