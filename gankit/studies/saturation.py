"""Seed 004's point about the generator loss: minimax saturates, non-saturating does not.

Both runs start from the same weights, data order and latents; only G's loss differs. Early
in training D easily rejects fakes (D(G(z)) ~ 0), where log(1 - D(G(z))) is flat, so the
minimax generator receives almost no gradient while -log D(G(z)) stays steep. The study
records the generator's gradient norm per step and plots both curves.
"""

from __future__ import annotations

import copy
from pathlib import Path

import torch

from gankit.config import Config
from gankit.io import write_json_atomic
from gankit.train.build import build_source_for
from gankit.train.trainer import Trainer, fit_or_interrupt

G_LOSSES = ("minimax", "nonsaturating")


def _grad_norm(net: torch.nn.Module) -> float:
    norms = [p.grad.detach().norm() for p in net.parameters() if p.grad is not None]
    return float(torch.stack(norms).norm()) if norms else 0.0


def run_saturation(cfg: Config, steps: int = 200, out: str | Path = "runs/saturation") -> dict:
    """Train ``cfg`` for ``steps`` with each G loss from one start; return per-step curves.

    Writes ``out/saturation.json`` and ``out/saturation.png``. D always uses the BCE loss.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    source = build_source_for(cfg)
    curves: dict[str, dict[str, list[float]]] = {}
    init_state = None
    for loss in G_LOSSES:
        c = copy.deepcopy(cfg)
        c.loss.adversarial = loss
        c.train.steps, c.train.sample_every, c.train.ckpt_every, c.train.progress = steps, 0, 0, False
        tr = Trainer(c, out / loss, source=source)
        if init_state is None:
            init_state = {n: copy.deepcopy(m.state_dict()) for n, m in tr.nets.items()}
        else:
            for n, m in tr.nets.items():
                m.load_state_dict(init_state[n])
            tr.ema = type(tr.ema)(tr.nets["G"], tr.ema.decay) if tr.ema is not None else None
        gnorm, dfake = [], []

        def record(trainer: Trainer, phase, gnorm=gnorm, dfake=dfake) -> None:
            """After G's backward, before its optimizer step: |grad G| and mean D(G(z))."""
            if phase.group != "G":
                return
            gnorm.append(_grad_norm(trainer.nets["G"]))
            with torch.no_grad():
                z = trainer.recipe.sample_z(trainer.cfg.train.batch_size)
                dfake.append(float(torch.sigmoid(trainer.nets["D"](trainer.nets["G"](z))).mean()))

        tr.step_hooks.append(record)
        fit_or_interrupt(tr)
        curves[loss] = {"g_grad_norm": gnorm, "d_of_fake": dfake}
    result = {"steps": steps, "preset": cfg.preset, "curves": curves,
              "mean_grad_norm_first_50": {k: sum(v["g_grad_norm"][:50]) / max(1, len(v["g_grad_norm"][:50])) for k, v in curves.items()}}
    write_json_atomic(out / "saturation.json", result, indent=None)
    plot_saturation(result, out / "saturation.png")
    return result


def plot_saturation(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    for loss, curve in result["curves"].items():
        a.semilogy(curve["g_grad_norm"], label=loss)
        b.plot(curve["d_of_fake"], label=loss)
    a.set(xlabel="step", ylabel="||grad G||", title="generator gradient norm")
    b.set(xlabel="step", ylabel="mean D(G(z))", title="discriminator on fakes")
    for ax in (a, b):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.suptitle(f"minimax vs non-saturating G loss, same start ({result['preset']})")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
