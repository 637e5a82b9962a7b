"""Thread counts from the cores this process may use, so torch and its neighbours do not
oversubscribe them."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

import torch

from alertlens.machine import usable_cores

log = logging.getLogger(__name__)

# The values of TOKENIZERS_PARALLELISM that HF tokenizers reads as "off"; any other turns it on.
SERIAL_VALUES = ("", "off", "false", "f", "no", "n", "0")


@dataclass(frozen=True)
class ThreadCounts:
    """What :func:`configure_threads` settled on."""

    usable_cores: int  # this process's share under torchrun (its processes split the cores)
    torch_threads: int
    torch_interop_threads: int
    tokenizers_parallel: bool


def configure_threads() -> ThreadCounts:
    """Fit torch's thread pools to the usable cores; keep HF tokenizers serial. Logs the counts.

    torch's default counts the machine's physical cores (or honours ``OMP_NUM_THREADS``), not the
    affinity mask: inside a container limited to a few cores it would start a thread per core of
    the host, and threads that outnumber cores wait on each other at every matmul. So intra-op
    threads are the smaller of the two. Under torchrun the ``LOCAL_WORLD_SIZE`` processes on this
    machine each take their share of the cores.
    """
    cores = max(1, usable_cores() // int(os.environ.get("LOCAL_WORLD_SIZE", "1")))
    torch.set_num_threads(min(torch.get_num_threads(), cores))
    interop = min(torch.get_num_interop_threads(), cores)
    if interop != torch.get_num_interop_threads():
        try:
            torch.set_num_interop_threads(interop)
        except RuntimeError:  # settable only once, before any inter-op work: keep torch's
            log.debug("torch's inter-op thread count is fixed already")
    # HF tokenizers' Rust pool is not fork-safe: a fork after it ran (MLflow runs git in a
    # subprocess) prints a warning and can deadlock. Tokenizing happens before training and
    # between batches, never beside torch's threads, so the pool buys little. A user's setting wins.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    counts = ThreadCounts(
        usable_cores=cores,
        torch_threads=torch.get_num_threads(),
        torch_interop_threads=torch.get_num_interop_threads(),
        tokenizers_parallel=os.environ["TOKENIZERS_PARALLELISM"].lower() not in SERIAL_VALUES,
    )
    log.info(
        "threads: %d usable cores; torch %d intra-op, %d inter-op; tokenizers %s",
        counts.usable_cores,
        counts.torch_threads,
        counts.torch_interop_threads,
        "parallel" if counts.tokenizers_parallel else "serial",
    )
    return counts
