"""Fixed-input sample grids written during training (PNG + TensorBoard).

Narrow by design: it is given the recipe (which owns ``preview_inputs``/``preview``), a
function returning the network to sample with (the EMA copy or the trained one), and a
logger; it does not know the trainer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from torchvision.utils import make_grid, save_image

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

    def write(self, step: int) -> Path:
        with self.recipe.sampling(self.sample_net()) as r:
            imgs, nrow = r.preview(self.inputs)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        grid = make_grid(imgs.float(), nrow=nrow, normalize=True, value_range=(-1, 1), padding=2)
        path = self.out_dir / f"step_{step:09d}.png"
        save_image(grid, path)
        save_image(grid, self.out_dir / "latest.png")
        self.logger.image("samples", grid, step)
        self.logger.event(step, samples=str(path.relative_to(self.run_dir)))
        return path
