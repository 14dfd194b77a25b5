"""Fixed-latent sample grids written during training (PNG + TensorBoard)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torchvision.utils import make_grid, save_image

if TYPE_CHECKING:  # pragma: no cover
    from gankit.train.trainer import Trainer


def fixed_inputs(n: int, z_dim: int, n_classes: int, seed: int) -> tuple[torch.Tensor, torch.Tensor | None]:
    """The same z (and labels: one class per grid row) for every grid of a run."""
    g = torch.Generator().manual_seed(seed + 20_240_901)
    z = torch.randn(n, z_dim, generator=g)
    if not n_classes:
        return z, None
    nrow = grid_cols(n)
    return z, (torch.arange(n) // nrow) % n_classes


def grid_cols(n: int) -> int:
    return max(1, int(n ** 0.5 + 0.5))


@torch.no_grad()
def generate(g: torch.nn.Module, z: torch.Tensor, c: torch.Tensor | None, device, batch: int = 256) -> torch.Tensor:
    """Images in [-1, 1] on the CPU, generated in batches."""
    outs = []
    for i in range(0, len(z), batch):
        outs.append(g(z[i:i + batch].to(device), None if c is None else c[i:i + batch].to(device)).float().cpu())
    return torch.cat(outs)


class SampleWriter:
    """Writes ``samples/step_N.png`` from the EMA generator (or G) with fixed inputs."""

    def __init__(self, trainer: "Trainer", out_dir: Path):
        self.trainer, self.out_dir = trainer, out_dir
        g = trainer.nets["G"]
        self.real = None
        if not hasattr(g, "z_dim"):  # image-to-image: a fixed set of real inputs instead of z
            n = min(trainer.cfg.train.n_samples, len(trainer.source), 16)
            items = [trainer.source[i] for i in range(n)]
            self.real = (torch.stack([x for x, _ in items]), torch.stack([torch.as_tensor(t, dtype=torch.float32) for _, t in items]))
            return
        self.z, self.c = fixed_inputs(trainer.cfg.train.n_samples, getattr(g, "z_dim", 0), getattr(g, "n_classes", 0), trainer.cfg.train.seed)

    def write(self, step: int) -> Path | None:
        tr = self.trainer
        if self.real is not None:
            preview = getattr(tr.recipe, "preview", None)
            if preview is None:
                return None
            from gankit.data.transforms import to_float

            x, c = to_float(self.real[0]).to(tr.device), self.real[1].to(tr.device)
            with torch.no_grad():
                imgs, nrow = preview(x, c)  # rows: inputs; columns chosen by the recipe
            imgs = imgs.float().cpu()
        else:
            g = tr.ema.net if tr.ema is not None else tr.nets["G"]
            was_training = g.training
            g.eval()
            imgs = generate(g, self.z, self.c, tr.device)
            g.train(was_training)
            nrow = grid_cols(len(imgs))
        self.out_dir.mkdir(parents=True, exist_ok=True)
        grid = make_grid(imgs, nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
        path = self.out_dir / f"step_{step:09d}.png"
        save_image(grid, path)
        save_image(grid, self.out_dir / "latest.png")
        tr.logger.image("samples", grid, step)
        tr.logger.event(step, samples=str(path.relative_to(tr.run_dir)))
        return path
