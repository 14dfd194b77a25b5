"""Optional torch.compile with a clean fallback (a mixin of the trainer).

The first compiled step is where the compiler fails if it fails; the trainer's state is
restored and the step retried with only the sample network compiled, then eagerly.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class CompileMixin:
    """_maybe_compile() / _first_step_with_fallback() over the trainer's attributes."""

    def _maybe_compile(self, names: list[str] | None = None) -> None:
        """Swap torch.compile'd versions of ``names`` (default: every net) into the recipe."""
        if not self.cfg.train.compile or self.compiled_names:
            return
        self._eager = dict(self.nets)
        self.compiled_names = list(names or self.nets)
        self._swap({n: torch.compile(m) if n in self.compiled_names else m for n, m in self._eager.items()})

    def _swap(self, nets: dict[str, nn.Module]) -> None:
        self.recipe.nets = nets  # recipe.G / recipe.D are views of this dict

    def _first_step_with_fallback(self, stats: dict) -> None:
        """Run the first compiled step; if the compiler fails, restore the state and retry with
        only the sample network (G) compiled (double-backward penalties through D -- WGAN-GP,
        R1 -- cannot be compiled by aot_autograd, but the generator can), then eagerly."""
        tensors, st = self.state()
        st = copy.deepcopy(st)  # optimizer moments are updated in place by a half-done step
        while True:
            try:
                self.train_step(stats)
                return
            except Exception as e:  # compiler/inductor failures come in many types
                msg = str(e).strip().splitlines()[0][:200] if str(e).strip() else type(e).__name__
                g = self.sample_role
                retry_g = self.compiled_names != [g]
                then = f"retrying with only {g} compiled" if retry_g else "continuing without compile"
                self.logger.write(f"torch.compile of {', '.join(self.compiled_names)} failed "
                                  f"({type(e).__name__}: {msg}); {then}")
                self.logger.event(self.step, compile_fallback=msg, compiled=",".join(self.compiled_names))
                self._swap(self._eager)
                self.compiled_names = []
                self.load_state(tensors, st)
                stats.clear()
                if not retry_g:
                    self.train_step(stats)
                    return
                self._maybe_compile([g])
