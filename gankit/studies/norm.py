"""Seed 002's normalization study as one function: four WGAN-GP variants at equal budget.

baseline (batch norm in G), sn (spectral norm in D, with the gradient penalty), adain (AdaIN
instead of batch norm in every G layer but the input) and sn+adain are trained from the same
preset with the same steps, batch size, critic steps and learning rates. At each requested
epoch a checkpoint is tagged, a sample grid is kept, and FID, KID and a sample-diversity
score are computed from one feature network. Outputs (under ``out``): norm_study.json,
norm_study.md, norm_study_samples.png (rows: variants, columns: epochs, as the seed's
figure), norm_study_fid.png (FID and diversity over epochs). See docs/norm_study.md.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import json
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import nn

from gankit.config import Config, apply_mapping
from gankit.data.transforms import to_float, to_uint8
from gankit.errors import GankitError
from gankit.io import atomic_path, write_json_atomic, write_text_atomic
from gankit.metrics.api import protocol_string
from gankit.metrics.features import source_features
from gankit.metrics.fid import feature_stats, frechet_distance
from gankit.metrics.kid import kid
from gankit.metrics.sources import DatasetSource, GeneratorSource
from gankit.train.build import build_source_for, resolve_device
from gankit.train.state import latest_checkpoint
from gankit.train.control import Deadline
from gankit.train.trainer import Trainer, fit_or_interrupt

# Variant -> config overrides on top of the study preset (norm_study: WGAN-GP, DCGAN nets).
VARIANTS: dict[str, dict[str, Any]] = {
    "baseline": {"model.generator.norm": "batch", "model.discriminator.norm": "layer"},
    "sn": {"model.generator.norm": "batch", "model.discriminator.norm": "spectral"},
    "adain": {"model.generator.norm": "adain", "model.discriminator.norm": "layer"},
    "sn+adain": {"model.generator.norm": "adain", "model.discriminator.norm": "spectral"},
}
FEATURE_NETS = ("inception", "random")
# Mode-collapse indicator thresholds (docs/norm_study.md).
FID_RISE, DIV_FALL, LOW_DIVERSITY = 1.25, 0.90, 0.50


class RandomFeatureNet(nn.Module):
    """DEV/TEST ONLY stand-in for Inception: uint8 [N, C, H, W] -> float [N, 64] from a fixed
    random-weights conv net on 32x32 inputs. Its "FID" is NOT the standard FID."""

    sha1 = "random-tiny-v1"
    resampler = "bilinear32"

    def __init__(self, seed: int = 0):
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        self.w1 = nn.Parameter(torch.randn(16, 3, 3, 3, generator=g) / math.sqrt(27), requires_grad=False)
        self.w2 = nn.Parameter(torch.randn(64, 16, 3, 3, generator=g) / math.sqrt(144), requires_grad=False)

    @torch.no_grad()
    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = images.to(self.w1.device).float() / 127.5 - 1
        x = x.expand(-1, 3, -1, -1) if x.shape[1] == 1 else x
        x = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
        x = torch.relu(torch.nn.functional.conv2d(x, self.w1, stride=2, padding=1))
        x = torch.relu(torch.nn.functional.conv2d(x, self.w2, stride=2, padding=1))
        return x.mean((2, 3))


def make_extractor(name: str, device: torch.device):
    """(extractor, label, standard?) for --feature-net inception | random."""
    if name == "inception":
        from gankit.metrics.inception import NETWORK_NAME, load_inception

        return load_inception(device=device), NETWORK_NAME, True
    if name == "random":
        return RandomFeatureNet().to(device), "random-tiny feature net (NOT the standard FID/KID; dev/test only)", False
    raise GankitError(f"--feature-net '{name}': expected one of {', '.join(FEATURE_NETS)}")


def epochs_to_steps(n_images: int, batch_size: int, n_critic: int, epochs: list[float]) -> list[int]:
    """G steps after which D has seen ``e`` passes over ``n_images`` real images (each G step
    consumes n_critic batches). Raises when two epochs round to the same step."""
    per_epoch = n_images / (batch_size * n_critic)
    steps = [max(1, round(e * per_epoch)) for e in epochs]
    if len(set(steps)) != len(steps):
        raise GankitError(f"--epochs {','.join(map(str, epochs))}: map to G steps {steps} ({per_epoch:.3g} steps per epoch); "
                          "choose epochs further apart")
    return steps


def mean_pairwise_distance(feats: np.ndarray, max_n: int = 2000) -> float:
    """Mean L2 distance over all pairs i != j of the first ``max_n`` feature rows [N, D]."""
    f = torch.as_tensor(feats[:max_n], dtype=torch.float64)
    n = len(f)
    if n < 2:
        return 0.0
    d = torch.cdist(f, f)
    return float(d.sum() / (n * (n - 1)))


def collapse_flags(fids: list[float], ratios: list[float]) -> list[bool]:
    """Per checkpoint: FID rose by > 25% AND diversity ratio fell by > 10% since the previous
    checkpoint, or the diversity ratio is below 0.5 (half the real data's spread)."""
    flags = []
    for i, (f, r) in enumerate(zip(fids, ratios)):
        jump = i > 0 and f > FID_RISE * fids[i - 1] and r < DIV_FALL * ratios[i - 1]
        flags.append(bool(jump or r < LOW_DIVERSITY))
    return flags


def variant_config(base: Config, variant: str, seed: int, steps: int) -> Config:
    c = apply_mapping(copy.deepcopy(base), VARIANTS[variant], f"norm study variant {variant}")
    c.train.seed, c.train.steps = seed, steps
    c.train.sample_every, c.train.ckpt_every = 0, 0
    return c


class _Evaluator:
    """Features of the real reference (once) and of each checkpoint's generator."""

    def __init__(self, source, name: str, extractor, label: str, standard: bool, n_samples: int, n_ref: int,
                 device: torch.device, kid_subsets: int):
        self.ex, self.label, self.standard, self.device = extractor, label, standard, device
        self.n, self.kid_subsets = n_samples, kid_subsets
        ref = DatasetSource(source, name=name, n=n_ref)
        self.ref_name = name
        self.ref_feats, _ = source_features(ref, extractor, use_cache=False)
        self.mu, self.sigma = feature_stats(self.ref_feats)
        self.real_div = mean_pairwise_distance(self.ref_feats, n_samples)

    def protocol(self, metric: str, extra: str = "") -> str:
        nr = len(self.ref_feats)
        if self.standard:
            return protocol_string(metric, self.n, self.ref_name, nr, getattr(self.ex, "resampler", "?"), extra)
        parts = [f"{metric}{self.n}", self.label] + ([extra] if extra else []) + [f"ref={self.ref_name} ({nr})"]
        return ", ".join(parts)

    def __call__(self, sample) -> dict[str, float]:
        """Metrics of a sampler ``sample(b, rng)`` (a recipe's, used inside its sampling())."""
        src = GeneratorSource(sample, self.n, 64, seed=12345, name="norm-study")
        feats, _ = source_features(src, self.ex, use_cache=False)
        fid = frechet_distance(*feature_stats(feats), self.mu, self.sigma).value
        k = kid(feats, self.ref_feats, self.kid_subsets, 1000, seed=0)
        div = mean_pairwise_distance(feats, self.n)
        return {"fid": float(fid), "kid": float(k.mean), "kid_std": float(k.std), "diversity": div,
                "div_ratio": div / self.real_div if self.real_div > 0 else float("nan")}


def _train_variant(cfg: Config, run_dir: Path, source, evaluator: _Evaluator, step_epochs: dict[int, float],
                   grid_n: int, resume: bool = False) -> tuple[list[dict], dict[float, torch.Tensor]]:
    """Train one (variant, seed); at each epoch step: tagged checkpoint, metrics, sample grid.

    Rows and (8-bit) grids live in the trainer's checkpointed state, so a run killed mid-way
    and resumed keeps the epochs it had already evaluated."""
    torch.manual_seed(cfg.train.seed)  # same initial weights for the same seed across reruns

    def on_step(tr: Trainer, step: int) -> None:
        if step not in step_epochs:
            return
        e = step_epochs[step]
        with tr.recipe.sampling(tr.sample_net()) as r:
            m = evaluator(r.sampler())
            grid = r.preview(r.preview_inputs(None, grid_n, 0))[0].clamp(-1, 1)  # the same z every time
        rows = tr.extra_state.setdefault("study_rows", [])
        rows.append({"epoch": e, "step": step, "checkpoint": str(run_dir / "checkpoints" / f"epoch_{e:g}"), **m})
        tr.extra_state.setdefault("study_grids", {})[f"{e:g}"] = to_uint8(grid.cpu()).contiguous()
        tr.save(tag=f"epoch_{e:g}")

    tr = Trainer(cfg, run_dir, resume=resume, source=source, callbacks=[on_step])
    fit_or_interrupt(tr)
    grids = {float(k): to_float(v) for k, v in tr.extra_state.get("study_grids", {}).items()}
    return list(tr.extra_state.get("study_rows", [])), grids


def _mean_std(values: list[float]) -> list[float | None]:
    a = np.asarray(values, dtype=np.float64)
    return [float(a.mean()), float(a.std(ddof=1)) if len(a) > 1 else None]


def summarize(runs: list[dict], variants: list[str], epochs: list[float]) -> dict:
    """{variant: {epoch: {fid: [mean, std|None], kid: ..., div_ratio: ..., collapse_runs: int}}}."""
    out: dict = {}
    for v in variants:
        out[v] = {}
        for e in epochs:
            sel = [r for r in runs if r["variant"] == v and r["epoch"] == e]
            out[v][f"{e:g}"] = {k: _mean_std([r[k] for r in sel]) for k in ("fid", "kid", "div_ratio")}
            out[v][f"{e:g}"]["collapse_runs"] = sum(r["collapse"] for r in sel)
    return out


RESULT_FILE, GRIDS_FILE = "study_result.json", "study_grids.safetensors"


def _run_key(cfg: Config, variant: str, steps: list[int], epochs: list[float], evaluation: dict, data_key: str) -> dict:
    """What a finished run's saved result must match to be reused instead of retrained."""
    return {"variant": variant, "seed": cfg.train.seed, "steps": steps, "epochs": epochs, "evaluation": evaluation,
            "data": data_key, "config": config_digest(cfg)}


# Settings that change how a run is executed or logged, not what it computes.
_OPERATIONAL = {"train": ("progress", "device", "log_every", "keep_last", "ckpt_minutes", "max_time"),
                "data": ("num_workers", "resident", "resident_max_gb", "path")}


def config_digest(cfg: Config) -> str:
    """A short hash of the run's config without the operational settings (paths, workers,
    logging): a change to budget, networks, losses or data selection retrains, a moved
    dataset does not (its content is keyed separately by :func:`data_key`)."""
    d = dataclasses.asdict(cfg)
    for section, keys in _OPERATIONAL.items():
        for k in keys:
            d[section].pop(k, None)
    return hashlib.sha1(json.dumps(d, sort_keys=True, default=str).encode()).hexdigest()[:16]


def data_key(source, n_probe: int = 8) -> str:
    """Size plus the bytes of ``n_probe`` evenly spaced items: tells datasets apart wherever
    they are stored, without reading all of them."""
    h = hashlib.sha1(str(len(source)).encode())
    for i in np.linspace(0, len(source) - 1, num=min(n_probe, len(source))).round().astype(int):
        h.update(torch.as_tensor(source[int(i)][0]).contiguous().numpy().tobytes())
    return h.hexdigest()[:16]


def load_finished_run(run_dir: Path, key: dict) -> tuple[list[dict], dict[float, torch.Tensor], dict] | None:
    """(rows, grids, evaluation info) of a run finished earlier with the same key, else None."""
    f, g = run_dir / RESULT_FILE, run_dir / GRIDS_FILE
    if not (f.is_file() and g.is_file()):
        return None
    reading = f
    try:
        saved = json.loads(f.read_text())
        if saved.get("key") != key:
            return None
        reading = g  # the grids are read only for a run that will be reused
        grids_raw = load_file(str(g))
    except (OSError, ValueError, SafetensorError) as e:
        raise GankitError(f"{reading}: unreadable saved study run ({e}); delete {run_dir} to retrain it") from None
    grids = {float(k.removeprefix("epoch_")): to_float(v) for k, v in grids_raw.items()}
    return saved["rows"], grids, saved["evaluation"]


def save_finished_run(run_dir: Path, key: dict, rows: list[dict], grids: dict[float, torch.Tensor], evaluation: dict) -> None:
    """Atomically record a finished run (rows with collapse flags, sample grids, protocol)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    with atomic_path(run_dir / GRIDS_FILE) as tmp:
        save_file({f"epoch_{e:g}": to_uint8(t.cpu()).contiguous() for e, t in grids.items()}, str(tmp))  # 8-bit, as shown
    # written last: its presence means the run is complete
    write_json_atomic(run_dir / RESULT_FILE, {"key": key, "rows": rows, "evaluation": evaluation}, indent=1)


KEY_FILE = "study_key.json"


def _prepare_for_training(run_dir: Path, key: dict, who: str = "norm study") -> bool:
    """True when ``run_dir`` holds an unfinished run of the same settings to resume mid-way.

    A finished run of other settings is an error (another study); an unfinished one of other
    settings (or from before run keys were saved) is kept aside as ``<name>.incomplete-N``."""
    if not run_dir.exists():
        return False
    if (run_dir / RESULT_FILE).is_file():
        raise GankitError(f"{run_dir} holds a finished run with other settings (budget, networks, data or "
                          "metrics changed): choose another --out for this study")
    try:
        same = json.loads((run_dir / KEY_FILE).read_text()) == key
    except (OSError, ValueError):
        same = False
    if same and latest_checkpoint(run_dir) is not None:
        print(f"{who}: continuing {run_dir} from {latest_checkpoint(run_dir).name}")
        return True
    n = 1
    while run_dir.with_name(f"{run_dir.name}.incomplete-{n}").exists():
        n += 1
    aside = run_dir.with_name(f"{run_dir.name}.incomplete-{n}")
    run_dir.rename(aside)
    print(f"{who}: {run_dir} was not finished; kept as {aside.name}, training it again")
    return False


def run_norm_study(cfg: Config, epochs: list[float], seeds: int = 1, out: str | Path = "runs/norm_study",
                   n_samples: int = 1000, n_ref: int = 2000, feature_net: str = "inception", data_name: str = "",
                   grid_n: int = 16, kid_subsets: int = 50, variants: list[str] | None = None) -> dict:
    """Train every variant ``seeds`` times up to max(epochs); returns the report dict (also
    written as JSON/Markdown with figures under ``out``).

    Each finished (variant, seed) run leaves ``study_result.json`` + ``study_grids.safetensors``
    in its run folder; a later call with the same settings reuses it instead of retraining. So
    an interrupted study continues where it stopped, and a study can be split over processes
    (``variants`` subsets into the same ``out``) and then assembled by one call with all variants."""
    variants = list(dict.fromkeys(variants or VARIANTS))  # each once, in the given order
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise GankitError(f"--variants {','.join(unknown)}: expected some of {', '.join(VARIANTS)}")
    epochs = sorted(float(e) for e in epochs)
    if not epochs or epochs[0] <= 0 or seeds < 1 or n_samples < 2:
        raise GankitError("norm study: need positive --epochs, --seeds >= 1 and --n-samples >= 2")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    source = build_source_for(cfg)
    steps = epochs_to_steps(len(source), cfg.train.batch_size, cfg.optim.n_critic, epochs)
    device = resolve_device(cfg.train.device)
    name = data_name or cfg.data.name
    # everything that changes the numbers in a run's saved rows or grids
    eval_key = {"feature_net": feature_net, "n_samples": n_samples, "n_ref": n_ref, "kid_subsets": kid_subsets,
                "grid": grid_n, "data_name": name}
    dkey = data_key(source)
    deadline = Deadline(cfg.train.max_time)  # train.max_time bounds the whole study
    ev: _Evaluator | None = None  # built only when some run must be trained
    evaluation: dict | None = None
    runs: list[dict] = []
    figure_grids: dict[str, dict[float, torch.Tensor]] = {}
    for v in variants:
        for k in range(seeds):
            c = variant_config(cfg, v, cfg.train.seed + k, steps[-1])
            run_dir = out / "runs" / f"{v}-seed{k}"
            key = _run_key(c, v, steps, epochs, eval_key, dkey)
            done = load_finished_run(run_dir, key)
            if done is not None:
                rows, grids, saved_eval = done
                evaluation = evaluation or saved_eval
                print(f"norm study: reusing finished run {run_dir}")
            else:
                resume = _prepare_for_training(run_dir, key)
                c.train.max_time = deadline.remaining()  # what is left of the study's budget
                if ev is None:
                    ex, label, standard = make_extractor(feature_net, device)
                    ev = _Evaluator(source, f"{name}:{cfg.data.split}", ex, label, standard, n_samples, n_ref,
                                    device, kid_subsets)
                    evaluation = {
                        "feature_net": {"name": label, "standard": standard}, "real_diversity": ev.real_div,
                        "protocol": {"fid": ev.protocol("fid"), "kid": ev.protocol(
                            "kid", f"{kid_subsets} subsets x {min(1000, n_samples, len(ev.ref_feats))}, cubic kernel, unbiased")}}
                write_json_atomic(run_dir / KEY_FILE, key)
                rows, grids = _train_variant(c, run_dir, source, ev, dict(zip(steps, epochs)), grid_n, resume)
                flags = collapse_flags([r["fid"] for r in rows], [r["div_ratio"] for r in rows])
                rows = [{**row, "collapse": flag} for row, flag in zip(rows, flags)]
                save_finished_run(run_dir, key, rows, grids, evaluation)
            runs.extend({"variant": v, "seed": c.train.seed, **row} for row in rows)
            if k == 0:
                figure_grids[v] = grids
    assert evaluation is not None
    result = {
        "study": "norm (seed 002)", "preset": cfg.preset, "data": name, "n_train_images": len(source),
        "resolution": cfg.data.resolution, "channels": cfg.data.channels, "epochs": epochs, "steps": steps,
        "batch_size": cfg.train.batch_size, "n_critic": cfg.optim.n_critic, "seeds": seeds,
        "variants": {v: VARIANTS[v] for v in variants}, "feature_net": evaluation["feature_net"],
        "protocol": evaluation["protocol"],
        "evaluated_generator": "EMA" if cfg.train.ema > 0 else "raw G",
        "real_diversity": evaluation["real_diversity"],
        "collapse_rule": {"fid_rise": FID_RISE, "div_fall": DIV_FALL, "low_diversity": LOW_DIVERSITY},
        "runs": runs, "summary": summarize(runs, variants, epochs),
        "figures": {"samples": "norm_study_samples.png", "fid": "norm_study_fid.png"},
    }
    write_json_atomic(out / "norm_study.json", result, indent=1)
    plot_samples(figure_grids, epochs, out / "norm_study_samples.png")
    plot_curves(result, out / "norm_study_fid.png")
    write_text_atomic(out / "norm_study.md", markdown_report(result))
    return result


def _fmt(ms: list[float | None], scale: float = 1.0, digits: int = 2) -> str:
    m, s = ms
    if m is None or not np.isfinite(m):
        return "n/a"
    return f"{m * scale:.{digits}f}" + (f" ± {s * scale:.{digits}f}" if s is not None else "")


def markdown_report(r: dict) -> str:
    """The Markdown report: setup, FID/KID/diversity tables (rows: variants; columns: epochs)."""
    ep = [f"{e:g}" for e in r["epochs"]]
    lines = ["# Normalization study (seed 002)", ""]
    if not r["feature_net"]["standard"]:
        lines += ["> **WARNING: these scores use a random-weights stand-in feature network. They are NOT the",
                  "> standard FID/KID and are only meant for tests and development.**", ""]
    lines += [f"- data: `{r['data']}` ({r['n_train_images']} training images, {r['resolution']}px, {r['channels']} channel(s))",
              f"- preset: `{r['preset']}`; equal budget for every variant: steps {r['steps']} for epochs {ep} "
              f"(batch {r['batch_size']}, {r['n_critic']} critic steps per G step; one epoch = one pass of D over the data)",
              f"- seeds per variant: {r['seeds']} (mean ± sample std over seeds when > 1); evaluated: {r['evaluated_generator']}",
              f"- FID protocol: {r['protocol']['fid']}", f"- KID protocol: {r['protocol']['kid']}", ""]
    for key, title, scale, dg in (("fid", "FID", 1.0, 2), ("kid", "KID × 10³", 1e3, 2), ("div_ratio", "diversity ratio ρ", 1.0, 3)):
        lines += [f"## {title}", "", "| variant | " + " | ".join(f"epoch {e}" for e in ep) + " |",
                  "|---|" + "---|" * len(ep)]
        for v, per in r["summary"].items():
            lines.append(f"| {v} | " + " | ".join(_fmt(per[e][key], scale, dg) for e in ep) + " |")
        lines.append("")
    flagged = [x for x in r["runs"] if x["collapse"]]
    cr = r["collapse_rule"]
    lines += ["## Mode-collapse indicator", "",
              f"ρ = mean pairwise feature distance of generated samples / the same for real images "
              f"(real: {r['real_diversity']:.4g}). A checkpoint is flagged when FID rose by more than "
              f"{(cr['fid_rise'] - 1) * 100:.0f}% and ρ fell by more than {(1 - cr['div_fall']) * 100:.0f}% since the "
              f"previous checkpoint, or ρ < {cr['low_diversity']}.", ""]
    lines += [f"- **{x['variant']}** seed {x['seed']} epoch {x['epoch']:g}: FID {x['fid']:.2f}, ρ {x['div_ratio']:.3f}"
              for x in flagged] or ["- no checkpoint flagged"]
    lines += ["", "## Figures", "", f"![samples]({r['figures']['samples']})", "", f"![FID]({r['figures']['fid']})", ""]
    return "\n".join(lines)


def plot_grid_table(cells: dict[str, dict], columns: list, path: Path, col_title: Callable[[Any], str],
                    normalize: bool, title_size: float | None = None, label_size: float = 12) -> None:
    """A figure of image grids: rows = the keys of ``cells`` (row labels), columns = ``columns``
    (titled by ``col_title``); cell (r, c) is ``cells[r][c]``, images [N, C, H, W] laid out as a
    square-ish grid (absent: an empty cell). ``normalize``: images in [-1, 1] (else uint8)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from torchvision.utils import make_grid

    scale = {"normalize": True, "value_range": (-1, 1)} if normalize else {}
    rows, cols = len(cells), len(columns)
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols + 0.8, 2.6 * rows + 0.4), squeeze=False)
    for i, (label, per) in enumerate(cells.items()):
        for j, key in enumerate(columns):
            ax = axes[i][j]
            imgs = per.get(key)
            if imgs is not None:  # make_grid gives 3 channels, grey images included
                g = make_grid(imgs, nrow=max(1, int(len(imgs) ** 0.5 + 0.5)), padding=1, **scale)
                ax.imshow(g.permute(1, 2, 0).numpy())
            ax.set(xticks=[], yticks=[])
            if i == 0:
                ax.set_title(col_title(key), fontsize=title_size)
            if j == 0:
                ax.set_ylabel(label, fontsize=label_size)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_samples(grids: dict[str, dict[float, torch.Tensor]], epochs: list[float], path: Path) -> None:
    """Rows: variants; columns: epochs; each cell a grid of the same latents (seed's layout)."""
    plot_grid_table(grids, epochs, path, lambda e: f"epoch {e:g}", normalize=True)


def plot_curves(r: dict, path: Path) -> None:
    """FID (left) and diversity ratio (right) over epochs, mean ± std over seeds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for ax, key, label in ((axes[0], "fid", "FID"), (axes[1], "div_ratio", "diversity ratio ρ")):
        for v, per in r["summary"].items():
            m = [per[f"{e:g}"][key][0] for e in r["epochs"]]
            s = [per[f"{e:g}"][key][1] or 0.0 for e in r["epochs"]]
            ax.errorbar(r["epochs"], m, yerr=s, marker="o", capsize=3, label=v)
        ax.set(xlabel="epoch", ylabel=label)
        ax.grid(alpha=0.3)
        ax.legend()
    note = "" if r["feature_net"]["standard"] else " — NOT standard FID (random stand-in features)"
    fig.suptitle(f"normalization study on {r['data']}{note}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
