"""``gankit study modes``: mode coverage of GAN training methods side by side (issue 13).

Benchmarks: ``ring8`` and ``grid25`` (2-D Gaussian mixtures, MLP G/D; modes covered and %
high-quality samples, VEEGAN's counter) and ``stacked`` (stacked Fashion-MNIST, 1,000 modes;
modes covered and KL to uniform, labelled by a Fashion-MNIST classifier, with its
calibration). Every method is a named set of config overrides on the benchmark's preset and
trains for the same number of G steps; each (method, seed) run is evaluated at ``evals``
evenly spaced steps. Outputs under ``out``: modes_<benchmark>.json / .md, a figure (2-D:
scatter plots, rows = methods, columns = training steps, as the unrolled-GAN paper's;
stacked: sample grids), see docs/mode_collapse.md.

Runs resume like the norm study's (:mod:`gankit.studies.norm`): a finished run is reused,
an unfinished one of the same settings continues from its checkpoint (the evaluations so far
are part of the trainer's checkpointed ``extra_state``), ``--max-time`` bounds the study.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from gankit.config import Config, apply_mapping, load_config
from gankit.errors import ConfigError, GankitError
from gankit.io import atomic_path, write_json_atomic, write_text_atomic
from gankit.losses import ADV_LOSSES
from gankit.recipes.base import RECIPES
from gankit.studies.modes_eval import PointEval, StackedEval
from gankit.studies.modes_report import markdown_report, plot_grids, plot_scatter
from gankit.studies.norm import KEY_FILE, _prepare_for_training, config_digest, data_key
from gankit.train.build import build_source_for
from gankit.train.control import Deadline
from gankit.train.trainer import Trainer, fit_or_interrupt

# Benchmark -> its base preset (the non-saturating GAN) and default protocol. The 2-D presets
# hold the unrolled-GAN paper's optimiser (lr 1e-4, ~25k steps); the study's default budget
# is 1,000 G steps, so it trains with lr 1e-3 (``protocol`` overrides, applied before the
# user's and written into the report).
_FAST = ("optim.g_lr=0.001", "optim.d_lr=0.001")
BENCHMARKS: dict[str, dict[str, Any]] = {
    "ring8": {"preset": "gan_ring8", "protocol": _FAST, "n_eval": 2500, "evals": 5, "steps": 1000},
    "grid25": {"preset": "gan_grid25", "protocol": _FAST, "n_eval": 2500, "evals": 5, "steps": 1000},
    "stacked": {"preset": "dcgan_stacked_fashion", "protocol": (), "n_eval": 26000, "evals": 3, "steps": 2000},
}

# Method -> config overrides on top of the benchmark preset. Adding a method is one line;
# a method whose recipe or loss this gankit does not have is skipped with a message.
METHODS: dict[str, dict[str, Any]] = {
    "gan": {},  # non-saturating GAN: the preset as it is
    "unrolled5": {"recipe.name": "unrolled", "recipe.kwargs.unroll_steps": 5},
    "unrolled10": {"recipe.name": "unrolled", "recipe.kwargs.unroll_steps": 10},
    "wgan_gp": {"loss.adversarial": "wgan", "loss.gp_weight": 10.0, "optim.n_critic": 5,
                "optim.g_betas": [0.5, 0.9], "optim.d_betas": [0.5, 0.9]},
    "sn_hinge": {"loss.adversarial": "hinge", "model.discriminator.norm": "spectral"},
    # R3GAN's argument (issue 22), step by step: the relativistic pairing loss alone, + R1, + R1 + R2
    # (zero-centred penalties every step, gamma 0.1 on these toys)
    "rpgan": {"loss.adversarial": "rpgan"},
    "rpgan_r1": {"loss.adversarial": "rpgan", "loss.r1_gamma": 0.1, "loss.r1_interval": 1},
    "rpgan_r1_r2": {"loss.adversarial": "rpgan", "loss.r1_gamma": 0.1, "loss.r2_gamma": 0.1, "loss.r1_interval": 1},
}
DEFAULT_METHODS = ("gan", "unrolled5", "unrolled10", "wgan_gp", "sn_hinge")
RESULT_FILE, KEPT_FILE = "study_result.json", "study_kept.safetensors"


def method_config(base: Config, method: str, seed: int, steps: int) -> Config:
    c = apply_mapping(copy.deepcopy(base), METHODS[method], f"modes study method {method}")
    c.train.seed, c.train.steps = seed, steps
    c.train.sample_every, c.train.ckpt_every = 0, 0
    return c


def unavailable(c: Config) -> str:
    """Why this gankit cannot train ``c`` (a recipe or loss not registered yet), or ""."""
    if c.recipe.name not in RECIPES.keys():
        return f"recipe '{c.recipe.name}' is not registered in this gankit"
    if RECIPES.get(c.recipe.name).reads_loss_section and c.loss.adversarial not in ADV_LOSSES.keys():
        return f"loss '{c.loss.adversarial}' is not registered in this gankit"
    return ""


def eval_steps(steps: int, evals: int) -> list[int]:
    """``evals`` evenly spaced G steps ending at ``steps`` (distinct, each >= 1)."""
    return sorted({max(1, round(steps * (j + 1) / evals)) for j in range(evals)})


def _train(c: Config, run_dir: Path, source, evaluator, at: list[int],
           resume: bool) -> tuple[list[dict], dict[int, torch.Tensor]]:
    """Train one (method, seed); at each step of ``at`` evaluate the sample network. The rows
    and kept tensors live in the trainer's checkpointed state (exact resume)."""
    torch.manual_seed(c.train.seed)

    def on_step(tr: Trainer, step: int) -> None:
        if step not in at:
            return
        with tr.recipe.sampling(tr.sample_net()) as r:
            metrics, kept = evaluator(r)
        tr.extra_state.setdefault("modes_rows", []).append({"step": step, **metrics})
        tr.extra_state.setdefault("modes_kept", {})[str(step)] = kept

    tr = Trainer(c, run_dir, resume=resume, source=source, callbacks=[on_step])
    fit_or_interrupt(tr)
    kept = {int(k): v for k, v in tr.extra_state.get("modes_kept", {}).items()}
    return list(tr.extra_state.get("modes_rows", [])), kept


def load_finished(run_dir: Path, key: dict) -> tuple[list[dict], dict[int, torch.Tensor]] | None:
    f, g = run_dir / RESULT_FILE, run_dir / KEPT_FILE
    if not (f.is_file() and g.is_file()):
        return None
    try:
        saved = json.loads(f.read_text())
        if saved.get("key") != key:
            return None
        kept = {int(k.removeprefix("step_")): v for k, v in load_file(str(g)).items()}
    except (OSError, ValueError, SafetensorError) as e:
        raise GankitError(f"{run_dir}: unreadable saved study run ({e}); delete it to retrain") from None
    return saved["rows"], kept


def save_finished(run_dir: Path, key: dict, rows: list[dict], kept: dict[int, torch.Tensor], seconds: float) -> None:
    with atomic_path(run_dir / KEPT_FILE) as tmp:
        save_file({f"step_{s}": t.contiguous() for s, t in kept.items()}, str(tmp))
    write_json_atomic(run_dir / RESULT_FILE, {"key": key, "rows": rows, "seconds": seconds}, indent=1)  # last: complete


def _mean_std(values: list[float]) -> list[float | int | None]:
    """[mean, sample std (None for one value), number of finite values] (NaN values, e.g. the
    KL of a run without high-quality samples, are left out and counted out)."""
    a = np.asarray([v for v in values if v is not None and np.isfinite(v)], dtype=np.float64)
    if not len(a):
        return [None, None, 0]
    return [float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else None, len(a)]


def summarize(runs: list[dict], methods: list[str], steps: list[int], keys: tuple[str, ...]) -> dict:
    """{method: {step: {metric: [mean, std|None, n]}}} over seeds."""
    return {m: {str(s): {k: _mean_std([r[k] for r in runs if r["method"] == m and r["step"] == s]) for k in keys}
                for s in steps} for m in methods}


def _settings(benchmark: str, methods: list[str] | None, seeds: int, steps: int | None, n_eval: int | None,
              evals: int | None) -> tuple[dict, list[str], int, int, int]:
    """The benchmark's defaults filled in and every value checked (one-line errors)."""
    if benchmark not in BENCHMARKS:
        raise GankitError(f"--benchmark {benchmark}: expected one of {', '.join(BENCHMARKS)}")
    bench = BENCHMARKS[benchmark]
    methods = list(dict.fromkeys(methods or DEFAULT_METHODS))
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise GankitError(f"--methods {','.join(unknown)}: expected some of {', '.join(METHODS)}")
    steps = bench["steps"] if steps is None else steps
    n_eval = bench["n_eval"] if n_eval is None else n_eval
    evals = bench["evals"] if evals is None else evals
    for name, v in (("--seeds", seeds), ("--steps", steps), ("--n-eval", n_eval), ("--evals", evals)):
        if v < 1:
            raise GankitError(f"{name} {v}: expected an integer >= 1")
    if evals > steps:
        raise GankitError(f"--evals {evals}: more evaluations than --steps {steps}")
    return bench, methods, steps, n_eval, evals


def _run(c: Config, method: str, run_dir: Path, key: dict, source, evaluator, at: list[int], deadline: Deadline,
         say: Callable[[str], None]) -> tuple[list[dict], dict[int, torch.Tensor], float]:
    """One (method, seed): reuse it when finished, else train (or continue) it and save it."""
    done = load_finished(run_dir, key)
    if done is not None:
        say(f"reusing finished run {run_dir}")
        rows, kept = done
    else:
        resume = _prepare_for_training(run_dir, key, "modes study")
        c.train.max_time = deadline.remaining()
        say(f"training {c.train.steps} G steps into {run_dir}")
        run_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(run_dir / KEY_FILE, key)
        t0 = time.perf_counter()
        try:
            rows, kept = _train(c, run_dir, source, evaluator, at, resume)
        except ConfigError as e:
            raise ConfigError(f"modes study method '{method}' ({METHODS[method]}): {e}") from None
        save_finished(run_dir, key, rows, kept, time.perf_counter() - t0)
    seconds = json.loads((run_dir / RESULT_FILE).read_text()).get("seconds", 0.0)
    return rows, kept, float(seconds)


def run_modes_study(benchmark: str, methods: list[str] | None = None, seeds: int = 3, steps: int | None = None,
                    out: str | Path | None = None, overrides: list[str] | tuple[str, ...] = (),
                    n_eval: int | None = None, evals: int | None = None, max_time: str = "", classifier_steps: int = 2000,
                    log: Callable[[str], None] = print) -> dict:
    """Train every method ``seeds`` times for ``steps`` G steps on ``benchmark``; returns the
    report dict (also written as JSON/Markdown and a figure under ``out``)."""
    bench, methods, steps, n_eval, evals = _settings(benchmark, methods, seeds, steps, n_eval, evals)
    out = Path(out or f"runs/modes_{benchmark}")
    overrides = [*bench["protocol"], *overrides]
    base = load_config(bench["preset"], overrides)
    deadline = Deadline(max_time or base.train.max_time)  # bounds the whole study
    source = build_source_for(base)
    if benchmark == "stacked":
        evaluator = StackedEval(base.data.resolution, out / "classifier", n_eval, steps=classifier_steps, log=log)
    else:
        evaluator = PointEval(source, n_eval)
    info, at, dkey = evaluator.info(), eval_steps(steps, evals), data_key(source)
    runs: list[dict] = []
    kept_first: dict[str, dict[int, torch.Tensor]] = {}
    skipped: dict[str, str] = {}
    seconds: dict[str, list[float]] = {}
    todo = [(m, k) for m in methods for k in range(seeds)]
    for i, (m, k) in enumerate(todo):
        c = method_config(base, m, base.train.seed + k, steps)
        why = unavailable(c)
        if why:
            if k == 0:
                log(f"modes study: skipping method '{m}': {why}")
            skipped[m] = why
            continue
        key = {"benchmark": benchmark, "method": m, "seed": c.train.seed, "eval_steps": at, "n_eval": n_eval,
               "data": dkey, "config": config_digest(c), "protocol": info["rule"]}
        say = lambda msg, m=m, k=k, i=i: log(f"modes study [{i + 1}/{len(todo)}] {m} seed {k}: {msg}")  # noqa: E731
        rows, kept, secs = _run(c, m, out / "runs" / f"{m}-seed{k}", key, source, evaluator, at, deadline, say)
        seconds.setdefault(m, []).append(secs)
        last = rows[-1]
        say(f"step {last['step']}: modes {last['modes']}/{info['n_modes']}"
            + (f", high quality {100 * last['hq']:.1f}%" if "hq" in last else "") + f", KL {last['kl']:.3f}")
        runs.extend({"method": m, "seed": c.train.seed, **r} for r in rows)
        if k == 0:
            kept_first[m] = kept
    trained = [m for m in methods if m not in skipped]
    result = {"study": "modes (issue 13)", "benchmark": benchmark, "preset": bench["preset"], "overrides": overrides,
              "steps": steps, "eval_steps": at, "seeds": seeds, "batch_size": base.train.batch_size,
              "methods": {m: METHODS[m] for m in trained}, "skipped": skipped, "protocol": info,
              "evaluated_generator": "EMA" if base.train.ema > 0 else "raw G",
              "seconds_per_run": {m: float(np.mean(s)) for m, s in seconds.items()}, "runs": runs,
              "summary": summarize(runs, trained, at, ("modes", "hq", "kl") if info["kind"] == "points" else ("modes", "kl"))}
    _write(result, kept_first, evaluator, out)
    return result


def _write(result: dict, kept: dict[str, dict[int, torch.Tensor]], evaluator, out: Path) -> None:
    """modes_<benchmark>.json / .md and the figure (scatter plots or sample grids) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    stem = f"modes_{result['benchmark']}"
    if kept:
        if evaluator.kind == "points":
            result["figure"] = f"{stem}_scatter.png"
            plot_scatter(kept, result["eval_steps"], evaluator.centers, out / result["figure"], result["benchmark"])
        else:
            result["figure"] = f"{stem}_samples.png"
            plot_grids(kept, result["eval_steps"], out / result["figure"])
    write_json_atomic(out / f"{stem}.json", result, indent=1)
    write_text_atomic(out / f"{stem}.md", markdown_report(result))
