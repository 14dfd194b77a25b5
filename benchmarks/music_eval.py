"""Objective evaluation of MidiNet runs against two baselines and the real test melodies.

    python benchmarks/music_eval.py --data data/chorales \\
        --runs model1=runs/midinet_m1 model2=runs/midinet_m2 model3=runs/midinet_m3 \\
        [--bars 8] [--samples 4] [--seed 0] [--json out.json]

Protocol: the test songs are cut into non-overlapping phrases of ``--bars`` bars (from bar
1 on, so each phrase has a real previous bar). Every generator writes ``--samples`` songs
per phrase over that phrase's chords (model 3 starts from the phrase's real previous bar;
models 1 and 2 do not read it), noise seeded from ``--seed``; the baselines write as many
songs of as many bars (they read no chords). The real row is the test phrases themselves.
The pitch-class histogram distance is to the training melodies. Measures:
gankit.metrics.music (docs/music.md).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gankit.data.chorales import ChoraleBars  # noqa: E402
from gankit.data.music import melody_of  # noqa: E402
from gankit.metrics.music import MUSIC_METRICS, evaluate_melodies, fit_baselines  # noqa: E402
from gankit.pipelines import load_run  # noqa: E402
from gankit.pipelines.music import compose_batch, music_model  # noqa: E402

SHORT = {"pc_hist_distance": "PC-hist TV ↓", "in_chord_ratio": "in-chord", "scale_consistency": "scale",
         "empty_bar_ratio": "empty bars", "repeated_note_ratio": "repeated", "pitch_range": "range",
         "bar_pc_similarity": "bar-to-bar sim"}


def phrases(test: ChoraleBars, bars: int) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    """(real melodies [P, bars, 16], chords [P, bars, 13], previous bars [P, 1, 16, 128])."""
    starts = test.phrases(bars)
    if not starts:
        raise SystemExit(f"no test phrase of {bars} bars")
    items = [[test[i + t] for t in range(bars)] for i in starts]
    real = np.stack([melody_of(torch.stack([it[0][0] for it in ph]).numpy()) for ph in items])
    chords = torch.stack([torch.stack([it[1] for it in ph]) for ph in items])
    prev = torch.stack([ph[0][2] for ph in items])
    return real, chords, prev


def figure(path: str, rows: list[tuple[str, np.ndarray]], chords: np.ndarray) -> None:
    """One PNG: a labelled piano roll (gankit.data.music.save_roll_png) per (name, melody [bars, 16])."""
    import tempfile

    from PIL import Image, ImageDraw

    from gankit.data.music import save_roll_png

    with tempfile.TemporaryDirectory() as tmp:
        imgs = [Image.open(save_roll_png(Path(tmp) / f"{i}.png", mel, chords, scale=5)).convert("RGB")
                for i, (_, mel) in enumerate(rows)]
        w, label = max(im.width for im in imgs), 16
        out = Image.new("RGB", (w, sum(im.height + label + 6 for im in imgs)), (255, 255, 255))
        y = 0
        for (name, _), im in zip(rows, imgs):
            ImageDraw.Draw(out).text((2, y + 2), name, fill=(0, 0, 0))
            out.paste(im, (0, y + label))
            y += im.height + label + 6
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        out.save(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default="data/chorales", help="the chorales cache (gankit data chorales --out DIR)")
    ap.add_argument("--runs", nargs="*", default=[], metavar="NAME=RUN", help="MidiNet runs to evaluate")
    ap.add_argument("--bars", type=int, default=8)
    ap.add_argument("--samples", type=int, default=4, help="songs per test phrase and generator")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the table as JSON here")
    ap.add_argument("--figure", default=None, metavar="PNG", help="piano rolls of one test phrase by every generator")
    ap.add_argument("--figure-phrase", type=int, default=0, help="which test phrase the figure shows")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    test, train = ChoraleBars(args.data, "test"), ChoraleBars(args.data, "train")
    real, chords, prev = phrases(test, args.bars)
    ref = train.song_melodies()
    base = fit_baselines(ref)
    ref_arr = np.concatenate(ref)[None]
    k, n = args.samples, len(real) * args.samples
    rep_chords = chords.repeat_interleave(k, 0)
    rows: dict[str, dict] = {}
    rows["real test phrases"] = evaluate_melodies(real, chords.numpy(), ref_arr)
    rng = np.random.default_rng(args.seed)
    i = args.figure_phrase * k  # the figure shows the first song each generator wrote for this phrase
    shown = [("real (test phrase, with its previous bar)", np.concatenate([melody_of(prev[i // k].numpy()), real[i // k]]))]
    for name, fn in (("random notes in key", base.random_in_key), ("Markov chain (1st order)", base.markov)):
        mel = fn(n, args.bars, rng)
        rows[name] = evaluate_melodies(mel, rep_chords.numpy(), ref_arr)
        shown.append((name, mel[i]))
    for spec in args.runs:
        name, _, path = spec.partition("=")
        t0 = time.time()
        run = load_run(path or name)
        model = music_model(run)
        _, rolls = compose_batch(run, rep_chords, args.seed, prev.repeat_interleave(k, 0) if model == 3 else None)
        mel = melody_of(rolls.numpy())
        res = evaluate_melodies(mel, rep_chords.numpy(), ref_arr)
        res.update(step=run.step, weights=run.weights, seconds=round(time.time() - t0, 1))
        rows[f"{name} (MidiNet model {model})"] = res
        shown.append((f"{name} (MidiNet model {model}, step {run.step})", mel[i]))
    print(f"{len(real)} test phrases of {args.bars} bars from {len(set(test.song))} test songs; {k} songs per phrase "
          f"and generator (seed {args.seed}); histogram reference: {len(ref)} training songs\n")
    print("| | " + " | ".join(SHORT[m] for m in MUSIC_METRICS) + " |")
    print("|---" * (len(MUSIC_METRICS) + 1) + "|")
    for name, res in rows.items():
        print(f"| {name} | " + " | ".join(f"{res[m]:.3f}" if m != "pitch_range" else f"{res[m]:.1f}"
                                          for m in MUSIC_METRICS) + " |")
    if args.figure:
        blank = np.full((1, 16), -1)
        figure(args.figure, [(t, m if len(m) > args.bars else np.concatenate([blank, m])) for t, m in shown],
               np.concatenate([np.zeros((1, 13), np.float32), chords[args.figure_phrase].numpy()]))
        print(f"\nfigure: {args.figure} (test phrase {args.figure_phrase}; bar 0 is its real previous bar)")
    if args.json:
        Path(args.json).write_text(json.dumps({"protocol": {"bars": args.bars, "samples": k, "seed": args.seed,
                                                            "phrases": len(real), "data": args.data},
                                               "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
