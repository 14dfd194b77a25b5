"""Fixed-input sample grids written during training (PNG + TensorBoard).

Narrow by design: it is given the recipe (which owns ``preview_inputs``/``preview``), a
function returning the network to sample with (the EMA copy or the trained one), and a
logger; it does not know the trainer. Point data (a source whose main field is of kind
``tensor``, e.g. the 2-D mixtures) get a scatter plot of the generated points over the real
ones instead of an image grid.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torch import Tensor
from torchvision.utils import make_grid, save_image

from gankit.data.base import source_fields
from gankit.recipes.base import Recipe


class SampleWriter:
    """Writes ``samples/step_N.png`` and ``samples/latest.png`` from fixed inputs.

    recipe: the run's recipe; source: its data (editors preview real inputs); sample_net():
    the network the recipe samples with; logger: the run's RunLogger (TensorBoard image + event).
    """

    def __init__(self, recipe: Recipe, source, n: int, seed: int, out_dir: Path, run_dir: Path,
                 sample_net: Callable[[], torch.nn.Module], logger):
        self.recipe, self.out_dir, self.run_dir, self.sample_net, self.logger = recipe, out_dir, run_dir, sample_net, logger
        self.inputs = recipe.preview_inputs(source, n, seed)
        self.reference = reference_points(source) if is_point_source(source) else None

    def write(self, step: int) -> Path:
        with self.recipe.sampling(self.sample_net()) as r:
            imgs, nrow = r.preview(self.inputs)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if self.reference is not None:
            grid = points_image(imgs, self.reference, f"step {step}")
        else:
            grid = make_grid(imgs.float(), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
        path = self.out_dir / f"step_{step:09d}.png"
        save_image(grid, path)
        save_image(grid, self.out_dir / "latest.png")
        self.logger.image("samples", grid, step)
        self.logger.event(step, samples=str(path.relative_to(self.run_dir)))
        return path


def is_point_source(source) -> bool:
    """Items whose main field is a vector (kind ``tensor``, 1-D: points); other tensor data,
    such as piano-roll bars, get the recipe's image grid."""
    return source_fields(source)[0][1] == "tensor" and torch.as_tensor(source[0][0]).dim() == 1


def reference_points(source, n: int = 2000) -> Tensor:
    """The first ``n`` items' main field of a point source, float [n, D] (the plot's backdrop)."""
    return torch.stack([torch.as_tensor(source[i][0], dtype=torch.float32).reshape(-1) for i in range(min(n, len(source)))])


def points_image(points: Tensor, reference: Tensor, title: str = "", size: int = 400) -> Tensor:
    """A scatter plot of generated ``points`` [N, D] (first two coordinates, black) over the
    real ``reference`` points (orange), axes fixed by the reference: float [3, H, W] in [0, 1]."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    lim = float(reference[:, :2].abs().max()) * 1.3 + 1e-6
    fig, ax = plt.subplots(figsize=(size / 100, size / 100), dpi=100)
    ax.scatter(reference[:, 0], reference[:, 1], s=2, c="tab:orange", alpha=0.3, linewidths=0)
    p = points.detach().float().cpu().reshape(len(points), -1)
    ax.scatter(p[:, 0], p[:, 1], s=2, c="black", alpha=0.6, linewidths=0)
    ax.set(xlim=(-lim, lim), ylim=(-lim, lim), aspect="equal", title=title)
    ax.tick_params(labelsize=7)
    fig.tight_layout()
    fig.canvas.draw()
    rgb = torch.from_numpy(np.asarray(fig.canvas.buffer_rgba())[..., :3].copy())
    plt.close(fig)
    return rgb.permute(2, 0, 1).float() / 255.0
