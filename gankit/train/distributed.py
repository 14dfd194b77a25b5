"""Data-parallel training under ``torchrun``: one process per GPU (or CPU process), PyTorch's own engine.

``torchrun --nproc_per_node=N -m gankit train PRESET --out RUN`` starts N copies of gankit;
each reads ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` from the environment (set by torchrun) and
:func:`setup` joins the process group (NCCL on CUDA, gloo on the CPU). Nothing else is needed
for several nodes: ``torchrun --nnodes=M --node_rank=K --rdzv_backend=c10d
--rdzv_endpoint=HOST:PORT ...`` on each node (see docs/distributed.md).

What each rank does (:class:`Dist`):

* **data**: ``train.batch_size`` is the *global* batch; rank r trains on slice r of every
  global batch of the stateless stream (:class:`~gankit.data.stream.BatchStream`), so the data
  order does not depend on the number of processes and resume is exact.
* **random numbers**: every per-sample draw of the recipe, its networks and augmentation is a
  slice of a draw for the global batch (:mod:`gankit.nn.random`); the recipe generators of all
  ranks stay in lockstep. Torch's global generator (dropout) is offset per rank. Every rank's
  generator states are saved in a checkpoint.
* **gradients**: after each phase's backward the gradients of that phase's optimizer group are
  averaged over ranks with one ``all_reduce`` of a flat buffer ("explicit handling", as in
  StyleGAN3). A discriminator evaluated inside G's phase with its weights frozen, heads used in
  some phases only and lazy regularisation phases need no special case: only the parameters the
  phase updates are reduced. ``train.ddp: wrapper`` uses ``DistributedDataParallel`` instead
  (see :class:`_DDP`): one wrapper per network, ``find_unused_parameters=True``, gradient sync
  switched off for the networks a phase does not update.
* **buffers** (batch-norm running statistics, spectral-norm vectors) are broadcast from rank 0
  after every step, so every rank holds the same networks and EMA.
* **decisions**: a stop signal, the time budget, time-based checkpoints and NaN checks are
  agreed over ranks (an ``all_reduce`` of flags), so no rank waits forever for another; only
  rank 0 writes logs, grids, TensorBoard and checkpoints, and the others learn whether the
  write succeeded.
"""

from __future__ import annotations

import atexit
import datetime
import logging
import os
from typing import Any, Iterable

import torch
import torch.distributed as dist
from torch import Tensor, nn

from gankit.errors import ConfigError

log = logging.getLogger(__name__)

MODES = ("grads", "wrapper")


def env_world() -> tuple[int, int, int]:
    """(rank, world size, local rank) from torchrun's environment; (0, 1, 0) without it."""
    try:
        return int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1)), int(os.environ.get("LOCAL_RANK", 0))
    except ValueError:
        raise ConfigError("RANK / WORLD_SIZE / LOCAL_RANK: expected integers (set by torchrun)") from None


class Dist:
    """This process's place in the job. A single process is ``Dist()`` (rank 0 of 1): every
    method is then a no-op, so the trainer calls them unconditionally. Under torchrun the
    collectives run even with one process (``--nproc_per_node=1``: the cost of the machinery
    itself, what benchmarks/ddp_scaling.py --nproc 1 measures)."""

    def __init__(self, rank: int = 0, world: int = 1, local_rank: int = 0, mode: str = "grads", control=None,
                 group: bool | None = None):
        self.rank, self.world, self.local_rank, self.mode = rank, world, local_rank, mode
        self.control = control  # a gloo group for CPU-side decisions (no GPU sync per step)
        self.group = world > 1 if group is None else group  # a process group exists

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.group

    # ------------------------------------------------------------------ collectives
    def reduce_grads(self, params: Iterable[nn.Parameter]) -> None:
        """Average the gradients of ``params`` over ranks (one all_reduce of a flat buffer).

        A parameter without a gradient on every rank keeps ``None`` (Adam then skips it, as in a
        single process); one with a gradient on some ranks only counts zeros for the others."""
        if not self.active:
            return
        params = [p for p in params if p.requires_grad]
        if not params:
            return
        ref = params[0]
        have = torch.tensor([p.grad is not None for p in params], dtype=torch.float32, device=ref.device)
        flat = torch.cat([have] + [(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1).float()
                                   for p in params])
        dist.all_reduce(flat)
        n = len(params)
        have, flat = flat[:n], flat[n:] / self.world
        off = 0
        for p, h in zip(params, have.tolist()):
            k = p.numel()
            if h > 0:
                g = flat[off:off + k].view_as(p).to(p.dtype)
                if p.grad is None:
                    p.grad = g.clone()
                else:
                    p.grad.copy_(g)
            off += k

    def broadcast_state(self, modules: Iterable[nn.Module], buffers_only: bool = False) -> None:
        """Copy rank 0's floating parameters/buffers to every rank (one broadcast)."""
        if not self.active:
            return
        ts = []
        for m in modules:
            if not buffers_only:
                ts += [p.data for p in m.parameters()]
            ts += [b for b in m.buffers() if b.is_floating_point()]
        if not ts:
            return
        flat = torch.cat([t.reshape(-1).float() for t in ts])
        dist.broadcast(flat, 0)
        off = 0
        for t in ts:
            k = t.numel()
            t.copy_(flat[off:off + k].view_as(t))
            off += k

    def agree(self, flags: list[float], device: torch.device | None = None) -> list[float]:
        """Element-wise maximum of ``flags`` over ranks (a stop anywhere stops everywhere); on
        the CPU through the gloo control group, so it never waits for the GPU."""
        if not self.active:
            return list(flags)
        t = torch.tensor([float(f) for f in flags], dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.control)
        return t.tolist()

    def mean(self, t: Tensor) -> Tensor:
        """Average of ``t`` over ranks (logged losses)."""
        if not self.active:
            return t
        t = t.detach().float().clone()
        dist.all_reduce(t)
        return t / self.world

    def gather_objects(self, obj: Any) -> list[Any]:
        """Every rank's ``obj`` (a list in rank order), on every rank (CPU, control group)."""
        if not self.active:
            return [obj]
        out: list[Any] = [None] * self.world
        dist.all_gather_object(out, obj, group=self.control)
        return out

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank (CPU, control group)."""
        if not self.active:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, 0, group=self.control)
        return box[0]

    def barrier(self) -> None:
        if self.active:
            dist.barrier()


def setup(device_name: str, mode: str = "grads", timeout_minutes: float = 30.0) -> tuple[Dist, str]:
    """Join torchrun's process group (torchrun sets ``WORLD_SIZE`` and ``MASTER_ADDR``; one
    process under torchrun joins a group of one). Returns (Dist, the device name to use):
    ``cuda:LOCAL_RANK`` on a CUDA machine (``train.device`` auto or cuda), else cpu."""
    rank, world, local = env_world()
    if mode not in MODES:
        raise ConfigError(f"train.ddp '{mode}': expected one of {', '.join(MODES)}")
    if "WORLD_SIZE" not in os.environ or (world == 1 and "MASTER_ADDR" not in os.environ):
        return Dist(mode=mode), device_name  # a plain process
    if "MASTER_ADDR" not in os.environ:
        raise ConfigError(f"WORLD_SIZE={world} but MASTER_ADDR is not set: start the processes with torchrun")
    cuda = device_name != "cpu" and torch.cuda.is_available()
    if device_name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"train.device '{device_name}': no CUDA device is available here (use auto or cpu)")
    if cuda:
        if local >= torch.cuda.device_count():
            raise ConfigError(f"LOCAL_RANK={local} but this node has {torch.cuda.device_count()} CUDA device(s): "
                              "start at most that many processes per node (torchrun --nproc_per_node)")
        if device_name not in ("auto", "cuda", f"cuda:{local}"):
            log.warning("train.device=%s ignored under torchrun: rank %d uses cuda:%d", device_name, rank, local)
        device_name = f"cuda:{local}"
        torch.cuda.set_device(local)
    else:
        device_name = "cpu"
    if not dist.is_initialized():
        backend = "nccl" if cuda else "gloo"
        dist.init_process_group(backend, timeout=datetime.timedelta(minutes=timeout_minutes))
        atexit.register(teardown)
    if dist.get_world_size() != world:
        raise ConfigError(f"WORLD_SIZE={world} but the process group has {dist.get_world_size()} ranks")
    global _CONTROL
    if _CONTROL is None:
        _CONTROL = dist.new_group(backend="gloo") if cuda else dist.group.WORLD
    return Dist(rank, world, local, mode, _CONTROL, group=True), device_name


_CONTROL = None  # the gloo group of the process (created once: new_group is collective)


def teardown() -> None:
    """Leave the process group (at exit; safe to call twice)."""
    if dist.is_available() and dist.is_initialized():
        try:
            dist.destroy_process_group()
        except Exception:  # a peer already gone: nothing left to tidy
            pass


def convert_sync_bn(nets: dict[str, nn.Module], device: torch.device, d: Dist) -> dict[str, nn.Module]:
    """``train.sync_bn``: batch norm statistics over the global batch (CUDA only)."""
    if not d.active:
        return nets
    if device.type != "cuda":
        raise ConfigError("train.sync_bn: PyTorch's SyncBatchNorm runs on CUDA only; on the CPU each rank "
                          "normalizes its own slice of the batch (set train.sync_bn=false)")
    return {k: nn.SyncBatchNorm.convert_sync_batchnorm(v) for k, v in nets.items()}


class _DDP(nn.parallel.DistributedDataParallel):
    """DistributedDataParallel that still answers the wrapped network's attributes and methods
    (``G.z_dim``, ``G.mapping(...)``), so recipes use it unchanged."""

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.module, name)


def wrap(nets: dict[str, nn.Module], d: Dist) -> dict[str, nn.Module]:
    """``train.ddp: wrapper``: each network with weights in DistributedDataParallel."""
    out = {}
    for k, v in nets.items():
        if any(p.requires_grad for p in v.parameters()):
            out[k] = _DDP(v, find_unused_parameters=True, broadcast_buffers=False)
        else:
            out[k] = v
    return out


def unwrap(net: nn.Module) -> nn.Module:
    return net.module if isinstance(net, nn.parallel.DistributedDataParallel) else net


def set_sync(nets: dict[str, nn.Module], members: set[str]) -> None:
    """Wrapper mode: gradient sync on for the networks the phase updates, off for the others
    (a frozen D inside G's phase must not wait for gradients that never come)."""
    for k, v in nets.items():
        if isinstance(v, nn.parallel.DistributedDataParallel):
            v.require_backward_grad_sync = k in members
