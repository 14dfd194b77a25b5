"""Tables and figures of ``gankit study modes`` (see :mod:`gankit.studies.modes`)."""

from __future__ import annotations

from pathlib import Path

import torch

from gankit.studies.norm import plot_grid_table


def _fmt(ms: list, scale: float = 1.0, digits: int = 2, seeds: int = 0) -> str:
    """'mean ± std'; '(n of N seeds)' when only n runs had a value (a KL without samples)."""
    m, s, n = ms
    if m is None:
        return "n/a"
    txt = f"{m * scale:.{digits}f}" + (f" ± {s * scale:.{digits}f}" if s is not None else "")
    return txt + (f" ({n} of {seeds} seeds)" if seeds and n < seeds else "")


def _calibration(r: dict) -> list[str]:
    p = r["protocol"]
    pts = p["kind"] == "points"
    head = "| data | true modes | modes covered |" + (" high quality % |" if pts else "") + " KL to uniform |"
    lines = [head, "|---|---|---|" + ("---|" if pts else "") + "---|"]
    for c in p["calibration"]:
        tm = "—" if c["true_modes"] is None else str(c["true_modes"])
        hq = f" {100 * c['hq']:.1f} |" if pts else ""
        lines.append(f"| {c['data']} | {tm} | {c['modes']} / {p['n_modes']} |{hq} {c['kl']:.3f} |")
    return lines


def markdown_report(r: dict) -> str:
    """Setup, final-step table (mean ± std over seeds), modes over training, calibration."""
    p = r["protocol"]
    pts = p["kind"] == "points"
    last = str(r["eval_steps"][-1])
    lines = [f"# Mode coverage: {r['benchmark']} (gankit study modes)", "",
             f"- preset `{r['preset']}`" + (f" with {' '.join(r['overrides'])}" if r["overrides"] else "")
             + f"; every method trains {r['steps']} G steps (batch {r['batch_size']}); "
               f"evaluated: {r['evaluated_generator']}",
             f"- seeds per method: {r['seeds']} (mean ± sample std over seeds)",
             f"- counter: {p['rule']}" + ("; the KL is over the high-quality samples (n/a for a run with none)"
                                          if pts else "")]
    if "classifier" in p:
        c = p["classifier"]
        worst = min(range(10), key=lambda k: c["per_class"][k])
        lines.append(f"- channel classifier: test accuracy {100 * c['test_accuracy']:.2f}% on Fashion-MNIST "
                     f"(weakest class {worst}: {100 * c['per_class'][worst]:.1f}%); see the calibration below")
    for m, why in r["skipped"].items():
        lines.append(f"- skipped **{m}**: {why}")
    lines += ["", f"## At step {last}", "",
              "| method | modes covered (of " + str(p["n_modes"]) + ") |" + (" high quality % |" if pts else "")
              + " KL to uniform | s per run (wall) |",
              "|---|---|" + ("---|" if pts else "") + "---|---|"]
    for m, per in r["summary"].items():
        s = per[last]
        hq = f" {_fmt(s['hq'], 100, 1)} |" if pts else ""
        lines.append(f"| {m} | {_fmt(s['modes'], 1, 1)} |{hq} {_fmt(s['kl'], 1, 3, r['seeds'])} | "
                     f"{r['seconds_per_run'].get(m, 0):.0f} |")
    steps = [str(s) for s in r["eval_steps"]]
    lines += ["", "## Modes covered over training", "", "| method | " + " | ".join(f"step {s}" for s in steps) + " |",
              "|---|" + "---|" * len(steps)]
    for m, per in r["summary"].items():
        lines.append(f"| {m} | " + " | ".join(_fmt(per[s]["modes"], 1, 1) for s in steps) + " |")
    lines += ["", "## Calibration: the same counter on data with known modes", ""] + _calibration(r)
    if pts:
        lines += ["", "A generator that spreads its samples over the plane without finding the modes scores like the "
                  "noise row: compare both columns with it, not with the number of modes alone."]
    else:
        lines += ["", "Per-channel classifier errors move real images to neighbouring triples, so a counter fed "
                  "images of only 10 or 100 triples reports more modes than there are: compare a generator's count "
                  "with these rows, not with 1,000 alone."]
    if "figure" in r:
        lines += ["", f"![{r['benchmark']}]({r['figure']})"]
    return "\n".join(lines) + "\n"


def plot_scatter(kept: dict[str, dict[int, torch.Tensor]], steps: list[int], centers: torch.Tensor, path: Path,
                 title: str) -> None:
    """Rows: methods; columns: training steps; generated points (black) and mode centres (red)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    lim = float(centers.abs().max()) * 1.5
    rows, cols = len(kept), len(steps)
    fig, axes = plt.subplots(rows, cols, figsize=(1.9 * cols + 0.6, 1.9 * rows + 0.3), squeeze=False)
    for i, (m, per) in enumerate(kept.items()):
        for j, s in enumerate(steps):
            ax = axes[i][j]
            ax.scatter(centers[:, 0], centers[:, 1], s=12, c="tab:red", marker="x", linewidths=0.8)
            pts = per.get(s)
            if pts is not None:
                pts = pts.float()
                ax.scatter(pts[:, 0], pts[:, 1], s=1.5, c="black", alpha=0.5, linewidths=0)
            ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", xticks=[], yticks=[])
            if i == 0:
                ax.set_title(f"step {s}", fontsize=9)
            if j == 0:
                ax.set_ylabel(m, fontsize=9)
    fig.suptitle(f"{title}: generated samples over training (seed 0)", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_grids(kept: dict[str, dict[int, torch.Tensor]], steps: list[int], path: Path) -> None:
    """Rows: methods; columns: training steps; each cell a grid of the same latents (uint8 images)."""
    plot_grid_table(kept, steps, path, lambda s: f"step {s}", normalize=False, title_size=10, label_size=10)

