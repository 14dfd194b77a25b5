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
from gankit.train.state import latest_checkpoint
from gankit.train.control import Deadline
from gankit.train.trainer import Trainer, fit_or_interrupt

G_LOSSES = ("minimax", "nonsaturating")


def _grad_norm(net: torch.nn.Module) -> float:
    norms = [p.grad.detach().norm() for p in net.parameters() if p.grad is not None]
    return float(torch.stack(norms).norm()) if norms else 0.0


def _record(trainer: Trainer, phase) -> None:
    """After G's backward, before its optimizer step: |grad G| and mean D(G(z)), kept in the
    trainer's checkpointed state."""
    if phase.group != "G":
        return
    trainer.extra_state.setdefault("g_grad_norm", []).append(_grad_norm(trainer.nets["G"]))
    with torch.no_grad():
        z = trainer.recipe.sample_z(trainer.cfg.train.batch_size)
        d = float(torch.sigmoid(trainer.nets["D"](trainer.nets["G"](z))).mean())
    trainer.extra_state.setdefault("d_of_fake", []).append(d)


def run_saturation(cfg: Config, steps: int = 200, out: str | Path = "runs/saturation") -> dict:
    """Train ``cfg`` for ``steps`` with each G loss from one start; return per-step curves.

    Writes ``out/saturation.json`` and ``out/saturation.png``. D always uses the BCE loss.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    source = build_source_for(cfg)
    curves: dict[str, dict[str, list[float]]] = {}
    init_state = None
    deadline = Deadline(cfg.train.max_time)  # train.max_time bounds the whole study
    for loss in G_LOSSES:
        c = copy.deepcopy(cfg)
        c.loss.adversarial = loss
        c.train.steps, c.train.sample_every, c.train.ckpt_every, c.train.progress = steps, 0, 0, False
        c.train.max_time = deadline.remaining()
        # a run killed mid-way continues from its last (time-based) checkpoint; its curves so far
        # are part of the checkpointed state, and a run of other settings is refused by resume
        tr = Trainer(c, out / loss, resume=latest_checkpoint(out / loss) is not None, source=source)
        if init_state is None:
            init_state = {n: copy.deepcopy(m.state_dict()) for n, m in tr.nets.items()}
        else:  # the same start (a resumed run loads its own weights afterwards)
            for n, m in tr.nets.items():
                m.load_state_dict(init_state[n])
            tr.ema = type(tr.ema)(tr.nets["G"], tr.ema.decay) if tr.ema is not None else None
        tr.step_hooks.append(_record)
        fit_or_interrupt(tr)
        curves[loss] = {k: list(tr.extra_state.get(k, [])) for k in ("g_grad_norm", "d_of_fake")}
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
