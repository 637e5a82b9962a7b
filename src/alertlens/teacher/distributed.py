"""Multi-process (DDP) teacher training under torchrun: when a stage re-launches itself, the
process group, and which rows of each global batch a process trains on.

One process (the default) creates no process group and takes the single-process code path.
Under torchrun every rank builds the same global batches from the same seed and trains on its
contiguous share of each; DistributedDataParallel averages the ranks' gradients, so a step is
the single-process step on the whole batch, up to the order in which floats are summed.
Rank 0 writes everything (checkpoints, the model, metrics, the MLflow run).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel
from transformers import PreTrainedModel

from alertlens.machine import usable_cores
from alertlens.teacher.adversarial import LossFn
from alertlens.teacher.batching import EncodedSet

log = logging.getLogger(__name__)

BACKENDS = ("auto", "gloo", "nccl")
TORCHRUN_ENV = ("LOCAL_RANK", "WORLD_SIZE")  # set by torchrun in every process it starts
T = TypeVar("T")


@dataclass(frozen=True)
class DistributedConfig:
    """How many training processes run on this machine, and their collective backend."""

    # The config sections holding it: alertlens.config.section checks their keys.
    config_sections = ("teacher.distributed",)
    nproc_per_node: int = 1
    backend: str = "auto"  # auto: nccl on CUDA, gloo on CPU

    def __post_init__(self) -> None:
        if self.nproc_per_node < 1:
            raise ValueError(f"nproc_per_node must be >= 1, got {self.nproc_per_node}")
        if self.backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got '{self.backend}'")


@dataclass(frozen=True)
class World:
    """This process's place among the training processes (one process: rank 0 of 1)."""

    rank: int = 0
    size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def under_torchrun(env: Mapping[str, str]) -> bool:
    return any(name in env for name in TORCHRUN_ENV)


def needs_relaunch(config: DistributedConfig, env: Mapping[str, str]) -> bool:
    """Whether a stage re-launches itself: several processes asked for, none of torchrun's yet."""
    return config.nproc_per_node > 1 and not under_torchrun(env)


def torchrun_command(nproc: int, argv: Sequence[str], python: str = sys.executable) -> list[str]:
    """The command running ``argv`` (a script and its arguments) as ``nproc`` local processes."""
    run = [python, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}"]
    return [*run, *argv]


def torchrun_env(env: Mapping[str, str], nproc: int, cores: int) -> dict[str, str]:
    """``env`` for torchrun's processes: OpenMP threads default to each one's share of the
    cores (torchrun would set 1); a value the user set is kept."""
    return {"OMP_NUM_THREADS": str(max(1, cores // nproc)), **env}


def relaunch(config: DistributedConfig, argv: Sequence[str]) -> int:
    """Run ``argv`` (this stage's ``sys.argv``) again under torchrun; its exit status."""
    command = torchrun_command(config.nproc_per_node, argv)
    log.info("training in %d processes: %s", config.nproc_per_node, " ".join(command))
    env = torchrun_env(os.environ, config.nproc_per_node, usable_cores())
    return subprocess.run(command, env=env, check=False).returncode


def backend_for(requested: str, device: torch.device) -> str:
    if requested != "auto":
        return requested
    return "nccl" if device.type == "cuda" else "gloo"


def current_world() -> World:
    """The process group's rank and size; a single process outside of one."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size())
    return World()


@contextmanager
def process_group(config: DistributedConfig, device: torch.device) -> Iterator[World]:
    """Join torchrun's process group for the body and leave it at the end; a single process
    (no torchrun, or a world of one) joins none."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        yield World()
        return
    if device.type == "cuda":  # each rank its own GPU; "cuda" then means that one
        torch.cuda.set_device(int(os.environ["LOCAL_RANK"]))
    dist.init_process_group(backend_for(config.backend, device))
    world = current_world()
    logger = logging.getLogger("alertlens")
    level = logger.level
    if not world.is_main:  # the other ranks would repeat rank 0's progress: warnings only
        logger.setLevel(logging.WARNING)
    try:
        yield world
    finally:
        logger.setLevel(level)
        dist.destroy_process_group()


def from_main(compute: Callable[[], T], world: World) -> T:
    """``compute()`` on rank 0, its result sent to every rank: for choices all ranks must share
    (a timed precision, a fitted prior), which computed on each could differ."""
    if world.size == 1:
        return compute()
    box: list[Any] = [compute() if world.is_main else None]
    dist.broadcast_object_list(box, src=0)
    return box[0]  # type: ignore[no-any-return]


def shard_rows(count: int, world: World) -> slice:
    """This rank's contiguous rows of ``count``; the first ``count % size`` ranks take one more."""
    base, extra = divmod(count, world.size)
    start = world.rank * base + min(world.rank, extra)
    return slice(start, start + base + (world.rank < extra))


def shard_batch(
    batch: dict[str, torch.Tensor], world: World, weight: torch.Tensor | None
) -> tuple[dict[str, torch.Tensor], LossFn]:
    """This rank's rows of a collated global batch, and the loss to take on them.

    The loss is the class-weighted sum over the rows divided by the whole batch's weight and
    multiplied by the world size: DDP averages the ranks' gradients, so the update is that of
    the batch's weighted mean loss, as in one process. The rows keep the global batch's padded
    width, so each row is computed as in one process too. A rank left without rows (a batch
    smaller than the world) runs one row at weight zero: every rank must join the all-reduce.
    """
    labels = batch["labels"]
    if weight is None:
        total = torch.tensor(float(len(labels)), device=labels.device)
    else:
        total = weight[labels].sum()
    scale = world.size / total
    rows = shard_rows(len(labels), world)
    if rows.start == rows.stop:
        rows, scale = slice(0, 1), scale * 0.0

    def loss_fn(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.cross_entropy(logits, targets, weight=weight, reduction="sum") * scale

    return {name: value[rows] for name, value in batch.items()}, loss_fn


def replicate(
    model: PreTrainedModel, device: torch.device, world: World
) -> PreTrainedModel | DistributedDataParallel:
    """``model`` wrapped in DistributedDataParallel when several processes train, else itself.

    DDP broadcasts rank 0's buffers before each forward through it, a collective: every rank
    must run as many of those forwards, so passes that some ranks could skip go to ``model``.
    """
    if world.size == 1:
        return model
    device_ids = [torch.cuda.current_device()] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=device_ids)


def local_gradients(model: torch.nn.Module) -> AbstractContextManager[Any]:
    """Backward passes that accumulate gradients without all-reducing them (DDP's ``no_sync``);
    the next synchronized backward all-reduces the sum."""
    return model.no_sync() if isinstance(model, DistributedDataParallel) else nullcontext()


def mean_over_ranks(value: float, world: World, device: torch.device) -> float:
    """The mean of ``value`` over the ranks (the loss of a global batch from its shards')."""
    if world.size == 1:
        return value
    tensor = torch.tensor([value], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    return float(tensor) / world.size


def shard_set(data: EncodedSet, world: World) -> EncodedSet:
    """This rank's contiguous share of a data set."""
    rows = shard_rows(len(data), world)
    prior = None if data.prior is None else data.prior[rows]
    return EncodedSet(data.input_ids[rows], data.labels[rows], prior)


def gathered_margins(
    score: Callable[[EncodedSet], np.ndarray], data: EncodedSet, world: World
) -> np.ndarray:
    """``score`` over ``data``, each rank scoring its share; every rank gets all the margins,
    in order, so every rank's validation decisions are the same."""
    if world.size == 1:
        return score(data)
    parts: list[Any] = [None] * world.size
    dist.all_gather_object(parts, score(shard_set(data, world)))
    return np.concatenate(parts)


def fingerprint(data: EncodedSet) -> str:
    """A digest of a data set's token ids, labels and prior logits, in order."""
    content = json.dumps([data.input_ids, data.labels, data.prior])
    return hashlib.sha256(content.encode()).hexdigest()


def require_same_data(sets: Sequence[EncodedSet], world: World) -> None:
    """Fail unless every rank holds the same data sets: each rank trains on its rows of global
    batches it builds itself, so a rank whose data differs would train on other examples."""
    if world.size == 1:
        return
    mine = [fingerprint(data) for data in sets]
    everyone: list[Any] = [None] * world.size
    dist.all_gather_object(everyone, mine)
    if any(theirs != mine for theirs in everyone):
        raise RuntimeError(
            "the training processes built different training or validation sets; every rank "
            "must load, subsample and augment the same alerts in the same order"
        )
