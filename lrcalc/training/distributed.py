"""Data-parallel training on torch.distributed: which process am I, and summing over processes.

A run started by ``torchrun --nproc_per_node=P -m lrcalc train CONFIG.yaml`` (or any launcher that
sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR`` and ``MASTER_PORT``) joins a process group: gloo on
the CPU, nccl on GPUs (one per process, ``cuda:LOCAL_RANK``).

Each process computes the loss of its share of the global batch normalised by the *global* counts,
and the gradients are summed over processes with one ``all_reduce`` of a flat vector. That is what
``DistributedDataParallel`` does, written out: its reducer hooks serve ``loss.backward()`` alone,
while a force loss differentiates an ``autograd.grad`` result a second time; summing explicitly also
keeps the gradient identical on every process without a module wrapper around the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from ..errors import ConfigError


@dataclass
class Context:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    owns_group: bool = False

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def choose_device(name: str, local_rank: int = 0) -> torch.device:
    """``"auto"`` → CUDA (``cuda:LOCAL_RANK``) when available, else the CPU; ``"cuda"`` in a
    multi-process run → ``cuda:LOCAL_RANK``."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise ConfigError(
            f"training.device={name!r} is not a torch device (cpu, cuda, cuda:1, auto)"
        ) from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"training.device={name!r} but CUDA is not available (use 'cpu' or 'auto')")
        if device.index is None:
            device = torch.device("cuda", local_rank)
    return device


def setup(device_name: str) -> Context:
    """Join (or create) the process group when the environment describes several processes."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", os.environ.get("RANK", "0")))
    device = choose_device(device_name, local_rank)
    if world_size <= 1 and not dist.is_initialized():
        return Context(device=device)
    owns = False
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(backend=backend)
        owns = True
    return Context(dist.get_rank(), dist.get_world_size(), local_rank, device, owns)


def teardown(context: Context) -> None:
    if context.owns_group and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_sum(context: Context, tensor: torch.Tensor) -> torch.Tensor:
    """Sum ``tensor`` over processes in place (a no-op in a single process)."""
    if context.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def broadcast_parameters(context: Context, module: torch.nn.Module) -> None:
    """Give every process rank 0's weights."""
    if context.distributed:
        with torch.no_grad():
            for tensor in module.state_dict().values():
                dist.broadcast(tensor, src=0)


def barrier(context: Context) -> None:
    if context.distributed:
        dist.barrier()


def all_reduce_gradients(context: Context, parameters: list, vector: torch.Tensor) -> torch.Tensor:
    """Sum the gradients of ``parameters`` over processes in place, and ``vector`` (float64 on the
    CPU, e.g. the loss parts) with them in the same ``all_reduce``; returns the summed ``vector``
    (``vector`` itself in a single process)."""
    if not context.distributed:
        return vector
    flat = torch.cat(
        [p.grad.reshape(-1) for p in parameters] + [vector.to(parameters[0].grad.dtype).to(context.device)]
    )
    all_reduce_sum(context, flat)
    offset = 0
    for p in parameters:
        p.grad.copy_(flat[offset : offset + p.numel()].view_as(p))
        offset += p.numel()
    return flat[offset:].double().cpu()
