"""The trainer's checkpoint state: what a checkpoint holds, how it is restored, what may change.

A mixin of :class:`~gankit.train.trainer.Trainer` (kept apart so each file stays readable).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from gankit.config import config_from_dict, diff_configs
from gankit.errors import CheckpointError
from gankit.train.state import flatten_state, save_checkpoint, unflatten_state

log = logging.getLogger(__name__)

# Keys that may change between a run and its resumption (they do not affect the maths).
RESUMABLE_KEYS = {
    "train.steps", "train.log_every", "train.sample_every", "train.ckpt_every", "train.keep_last", "train.progress",
    "train.n_samples", "train.nan_policy", "train.max_rollbacks", "train.compile", "train.device", "data.num_workers",
    "data.resident", "data.resident_max_gb", "description", "train.fid_every", "train.fid_samples", "train.fid_ref",
    "train.ckpt_minutes", "train.max_time", "train.rollback_lr_factor", "train.rollback_skip_data",
    "train.collapse_every", "train.collapse_samples", "train.collapse_drop", "train.collapse_floor",
    "train.ddp",
}


class CheckpointMixin:
    """state() / load_state() / check_compatible() / save() over the trainer's attributes."""

    def _rng_state(self) -> dict[str, Any]:
        return {"recipe": self.rng.get_state(), "torch": torch.get_rng_state(),
                "cuda": [torch.cuda.get_rng_state(self.device)] if self.device.type == "cuda" else []}

    def _all_nets(self) -> dict[str, nn.Module]:
        nets = dict(self.nets)
        if self.ema is not None:
            nets[f"{self.sample_role}_ema"] = self.ema.net
        return nets

    def state(self) -> tuple[dict[str, Tensor], dict[str, Any]]:
        """Everything needed to continue exactly: (flat weights, other state)."""
        st = {
            "config": self.cfg.to_dict(),
            "specs": {n: m.gankit_spec for n, m in self.nets.items() if hasattr(m, "gankit_spec")},
            "optim": {g: opt.state_dict() for g, opt in self.opts.items()},
            "rng": {"recipe": self.rng.get_state(), "torch": torch.get_rng_state(),
                    "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
                    # torchrun: every rank's generators, in rank order (collective: all ranks call state())
                    "ranks": self.dist.gather_objects(self._rng_state()) if self.dist.active else []},
            "world_size": self.dist.world,
            "data": self.stream.state_dict(),
            "recipe": self.recipe.state_dict(),
            "rollbacks": self.rollbacks,
            "lr_scale": self.lr_scale,
            "extra": dict(self.extra_state),
            "step": self.step,
        }
        return flatten_state(self._all_nets()), st

    def load_state(self, tensors: dict[str, Tensor], st: dict[str, Any]) -> None:
        for name, net in self._all_nets().items():
            sd = unflatten_state(tensors, name)
            if not sd and name == f"{self.sample_role}_ema":
                net.load_state_dict(self.nets[self.sample_role].state_dict())
                continue
            try:
                net.load_state_dict(sd)
            except RuntimeError as e:
                role = name.removesuffix("_ema")
                stored = st.get("specs", {}).get(role, {})
                mine = getattr(self.nets[role], "gankit_spec", {})
                raise CheckpointError(f"checkpoint weights for {name} do not fit the configured network: the checkpoint "
                                      f"was made with {stored.get('name')} {stored.get('kwargs')}, this run configures "
                                      f"{mine.get('name')} {mine.get('kwargs')} ({str(e).splitlines()[0][:120]})") from None
        for g, opt in self.opts.items():
            if g not in st["optim"]:
                raise CheckpointError(f"checkpoint has no optimizer state for group '{g}' (saved groups: {', '.join(st['optim'])})")
            opt.load_state_dict(st["optim"][g])
        self._load_rng(st)
        self.stream.load_state_dict(st["data"])
        self.recipe.load_state_dict(st.get("recipe", {}))
        self.step = int(st["step"])
        self.rollbacks = int(st.get("rollbacks", 0))
        self.lr_scale = float(st.get("lr_scale", 1.0))
        self.extra_state = dict(st.get("extra", {}))

    def _load_rng(self, st: dict[str, Any]) -> None:
        """Generator states: this rank's own when the checkpoint was saved with the same number
        of processes (exact resume); otherwise rank 0's state with a per-rank offset for torch's
        own generator (the run continues, not bit-exactly; docs/distributed.md)."""
        rng, d = st["rng"], self.dist
        ranks = rng.get("ranks") or []
        saved_world = int(st.get("world_size", 1))
        if d.active and len(ranks) == d.world:
            mine = ranks[d.rank]
            self.rng.set_state(mine["recipe"])
            torch.set_rng_state(mine["torch"])
            if mine["cuda"] and self.device.type == "cuda":
                torch.cuda.set_rng_state(mine["cuda"][0], self.device)
            return
        self.rng.set_state(rng["recipe"])
        torch.set_rng_state(rng["torch"])
        if saved_world != d.world:
            if d.rank:
                torch.manual_seed(self.cfg.train.seed + 1_000_003 * d.rank + int(st.get("step", 0)))
            if d.is_main:
                log.warning("resuming a run saved by %d process(es) with %d: it continues with the same global "
                            "batches, but not bit-exactly (docs/distributed.md)", saved_world, d.world)
            return
        if rng["cuda"] and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(rng["cuda"])

    def check_compatible(self, stored: dict[str, Any]) -> None:
        # read through the current schema: keys added since the run was saved take their defaults
        stored = config_from_dict(stored).to_dict()
        diffs = [k for k in diff_configs(stored, self.cfg.to_dict()) if k not in RESUMABLE_KEYS and not k.startswith("preset")]
        if diffs:
            raise CheckpointError(f"cannot resume {self.run_dir}: config differs from the checkpoint in {', '.join(diffs)} "
                                  f"(start a new --out, or change these back)")

    def save(self, tag: str | None = None) -> Path:
        """Write a checkpoint (under torchrun: every rank calls this, rank 0 writes, and all ranks
        raise the same error when the write fails)."""
        self._check_finite_params()  # the weights are the same on every rank: all agree
        tensors, st = self.state()
        d = self.dist
        if not d.active:
            path = save_checkpoint(self.run_dir, self.step, tensors, st, self.cfg.train.keep_last, tag)
        else:
            path, err = None, None
            if d.is_main:
                try:
                    path = save_checkpoint(self.run_dir, self.step, tensors, st, self.cfg.train.keep_last, tag)
                except Exception as e:  # every rank must learn it, or the others wait forever
                    err = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            path, err = d.broadcast_object((str(path) if path else None, err))
            if err:
                raise CheckpointError(err)
            path = Path(path)
        if tag is None:
            self.last_ckpt = path
        return path
