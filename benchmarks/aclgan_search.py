"""Seed 001's search claim, fairly: Optuna over StarGAN's two loss weights vs ACL-GAN's one, at
equal search time per method (issue 14, item 3).

    gankit data emoji --size 64 --out data/emoji64
    gankit classifier train --data emoji --root data/emoji64 --resolution 32 --out runs/cls_emoji32   # the judge
    python benchmarks/aclgan_search.py --budget 30m --trial-time 150s --seeds 0,1,2 --jobs 2 \\
        --out runs/aclgan_search --plot docs/img/aclgan_search_cpu32.png

Each (method, search seed) is one ``gankit sweep METHOD --max-time BUDGET --trial-time T``: TPE,
seeded with the search seed, draws StarGAN's (lambda_cls, lambda_rec) or ACL-GAN's
lambda_content from the sweep's log-uniform ranges; every trial trains the method's emoji
preset shrunk to 32² (the networks, batch and threads of ``aclgan_study.py --scale cpu32``, no
learning-rate decay) for T seconds of wall time, whatever its steps cost, and the judge scores
it on every test image and counterfactual pair (score = attribute accuracy − counterfactual
L1, the sweep objective). A method's search time is the sum of its trials' wall times
(training + scoring), in order; its curve is the best score so far against search time. The
report gives, per method, mean ± std over search seeds of the best score at a quarter, half,
three quarters and all of the budget, the trials run, and the do-nothing editor's score as the
floor. Rerunning the command continues unfinished searches with the time they have left
(a trial cut by the budget is retried, and counted again: the time was spent).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from aclgan_study import SCALES, baselines  # noqa: E402
from gankit.config import parse_duration  # noqa: E402
from gankit.errors import GankitError  # noqa: E402
from gankit.train.logging import read_records  # noqa: E402

METHODS = ("stargan", "aclgan")
FRACTIONS = (0.25, 0.5, 0.75, 1.0)


def search_dir(args, method: str, seed: int) -> Path:
    return Path(args.out) / method / f"seed{seed}"


def spent(folder: Path) -> float:
    """Search time already used by a sweep folder (its trials' wall times)."""
    rows = read_trials(folder)
    return sum(r["seconds"] or 0.0 for r in rows)


def read_trials(folder: Path) -> list[dict]:
    try:
        return json.loads((folder / "sweep.json").read_text())["trials"]
    except (OSError, ValueError, KeyError):
        return []


def search(method: str, seed: int, args) -> list[dict]:
    """Run (or continue) one search to its budget; returns its trials."""
    folder = search_dir(args, method, seed)
    left = args.seconds - spent(folder)
    if left > args.trial_seconds / 10:  # less than a tenth of a trial: finished
        size, extra_env = SCALES[args.scale]
        device = args.device or ("cpu" if args.scale == "cpu32" else "cuda")
        cmd = [sys.executable, "-m", "gankit.cli.main", "sweep", method, "--trials", "100000", "--steps", "1000000",
               "--max-time", f"{left:.1f}", "--trial-time", f"{args.trial_seconds:g}", "--root", args.root,
               "--classifier", args.classifier, "--seed", str(seed), "--out", str(folder), "--n-score", "0",
               "--device", device, *size, "data.num_workers=0", "optim.lr_decay_start=1000000"]
        print(f"{method} search {seed}: {left:.0f} s of search time left", flush=True)
        done = subprocess.run(cmd, env={**os.environ, **extra_env}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
        if done.returncode not in (0, 124):  # 124: the budget ran out (the expected end)
            raise SystemExit(f"{method} search {seed}: gankit sweep failed (rc {done.returncode}): "
                             f"{done.stderr[-1500:]}")
    rows = read_trials(folder)
    best = max((r["score"] for r in rows if r["score"] is not None), default=math.nan)
    print(f"{method} search {seed}: {sum(r['score'] is not None for r in rows)} trials, best {best:.4f}", flush=True)
    return rows


def best_at(rows: list[dict], t: float) -> float:
    """Best score among the trials finished within search time ``t`` (NaN before the first)."""
    clock, best = 0.0, math.nan
    for r in rows:
        clock += r["seconds"] or 0.0
        if clock > t + 1e-6:
            break
        if r["score"] is not None:
            best = r["score"] if math.isnan(best) else max(best, r["score"])
    return best


def mean_std(vals: list[float], digits: int = 3) -> str:
    vals = [v for v in vals if not math.isnan(v)]
    if not vals:
        return "—"
    m = statistics.mean(vals)
    return f"{m:,.{digits}f}" + (f" ± {statistics.stdev(vals):,.{digits}f}" if len(vals) > 1 else "")


def trial_steps(folder: Path) -> list[int]:
    """Trainer steps (G steps) each trial of a search reached: the last step in its metrics.jsonl."""
    steps = []
    for log in sorted(folder.glob("trials/*/metrics.jsonl")):
        logged = [r["step"] for r in read_records(log.parent) if isinstance(r.get("step"), int)]
        if logged:
            steps.append(logged[-1])
    return steps


def report(results: dict, args, floor: float) -> str:
    lines = [f"Search budget {args.budget} per search, {args.trial_time} of training per trial, "
             f"search seeds {args.seeds}; score = accuracy − cf L1 (do-nothing: {floor:.3f})", "",
             "| method | trials (per search) | " + " | ".join(f"best at {int(f * 100)} %" for f in FRACTIONS)
             + " | G steps per trial | best parameters (per search) |", "|---|---|" + "---|" * len(FRACTIONS) + "---|---|"]
    for method, per_seed in results.items():
        n = [sum(r["score"] is not None for r in rows) for rows in per_seed.values()]
        cells = [mean_std([best_at(rows, f * args.seconds) for rows in per_seed.values()]) for f in FRACTIONS]
        params = []
        for rows in per_seed.values():
            done = [r for r in rows if r["score"] is not None]
            if done:
                top = max(done, key=lambda r: r["score"])
                params.append(", ".join(f"{k} {v:.2g}" for k, v in top["params"].items()))
        steps = [st for seed in per_seed for st in trial_steps(search_dir(args, method, seed))]
        lines.append(f"| {method} | {', '.join(map(str, n))} | " + " | ".join(cells) + f" | {mean_std(steps, 0)} | "
                     f"{'; '.join(params)} |")
    return "\n".join(lines)


def plot(results: dict, args, floor: float, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = [args.seconds * i / 200 for i in range(201)]
    fig, ax = plt.subplots(figsize=(6.4, 4))
    for method, per_seed in results.items():
        curves = [[best_at(rows, t) for t in grid] for rows in per_seed.values()]
        pts = [(t / 60, [c[i] for c in curves if not math.isnan(c[i])]) for i, t in enumerate(grid)]
        pts = [(t, v) for t, v in pts if len(v) == len(curves)]  # once every search has a finished trial
        if not pts:
            continue
        xs = [t for t, _ in pts]
        ax.plot(xs, [statistics.mean(v) for _, v in pts], label=f"{method} (mean of {len(curves)} searches)")
        ax.fill_between(xs, [min(v) for _, v in pts], [max(v) for _, v in pts], alpha=0.2)
    ax.axhline(floor, color="gray", ls="--", lw=1, label="do nothing")
    ax.set_xlim(0, args.seconds / 60)
    ax.set_xlabel("search time (min)")
    ax.set_ylabel("best score so far (accuracy − cf L1)")
    ax.set_title("Loss-weight search at equal time, emoji 32² (CPU)")
    ax.legend(loc="lower right")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    print(f"plot: {path}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="runs/aclgan_search")
    ap.add_argument("--root", default="data/emoji64")
    ap.add_argument("--classifier", default="runs/cls_emoji32")
    ap.add_argument("--budget", default="30m", help="search time per (method, search seed)")
    ap.add_argument("--trial-time", default="150s", help="training wall time per trial")
    ap.add_argument("--seeds", default="0,1,2", help="search seeds, comma list")
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--jobs", type=int, default=2, help="searches at a time (one CPU thread each at cpu32)")
    ap.add_argument("--scale", default="cpu32", choices=list(SCALES))
    ap.add_argument("--device", default=None)
    ap.add_argument("--report-only", action="store_true", help="no training: report what is there")
    ap.add_argument("--plot", default=None, help="write the best-score-vs-search-time figure here (PNG)")
    args = ap.parse_args()
    try:
        args.seconds = parse_duration(args.budget, "--budget")
        args.trial_seconds = parse_duration(args.trial_time, "--trial-time")
    except GankitError as e:
        raise SystemExit(str(e)) from None
    if args.seconds <= 0 or args.trial_seconds <= 0 or args.trial_seconds > args.seconds:
        raise SystemExit("--budget and --trial-time must be > 0, and a trial no longer than the budget")
    methods = [m for m in args.methods.split(",") if m]
    if any(m not in METHODS for m in methods):
        raise SystemExit(f"--methods: expected a comma list of {', '.join(METHODS)}, got {args.methods!r}")
    if not Path(args.classifier, "classifier.json").is_file():
        raise SystemExit(f"--classifier {args.classifier}: no classifier.json (gankit classifier train ...)")
    seeds = [int(s) for s in args.seeds.split(",")]
    todo = [(m, s) for s in seeds for m in methods]  # the methods side by side, seed after seed
    if args.report_only:
        got = {t: read_trials(search_dir(args, *t)) for t in todo}
    else:
        with ThreadPoolExecutor(args.jobs) as pool:
            got = dict(zip(todo, pool.map(lambda t: search(t[0], t[1], args), todo)))
    results = {m: {s: got[(m, s)] for s in seeds} for m in methods}
    nothing, _ = baselines(args)
    floor = nothing["attr_accuracy"] - nothing["cf_l1"]
    text = report(results, args, floor)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.md").write_text(text + "\n")
    curves = {m: {s: [None if math.isnan(b := best_at(rows, args.seconds * i / 20)) else b for i in range(21)]
                  for s, rows in per.items()}
              for m, per in results.items()}
    (out / "report.json").write_text(json.dumps({"budget_s": args.seconds, "trial_s": args.trial_seconds,
                                                 "do_nothing": floor, "curves_20ths": curves,
                                                 "trials": {m: {str(s): r for s, r in per.items()}
                                                            for m, per in results.items()}}, indent=1))
    if args.plot:
        plot(results, args, floor, Path(args.plot))
    return 0


if __name__ == "__main__":
    sys.exit(main())
