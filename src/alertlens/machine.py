"""What the machine offers: the CPU model, the instruction sets that decide whether bf16 pays,
and the cores this process may use. Read by the precision choice, the thread setup and the
benchmarks, so all three describe the machine the same way."""

from __future__ import annotations

import os
import platform
from pathlib import Path

CPUINFO = Path("/proc/cpuinfo")
# AMX runs bf16 matmuls in tiles; AVX-512 BF16 only converts and dot-products in vector
# registers; AVX2/FMA is the fp32 floor.
PRECISION_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")


def cpu_model(cpuinfo: Path = CPUINFO) -> str:
    """The CPU model from /proc/cpuinfo (Linux), else what ``platform`` knows."""
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def cpu_flags(cpuinfo: Path = CPUINFO) -> frozenset[str]:
    """Every feature flag of the CPU (``flags`` on x86, ``Features`` on ARM); none off Linux."""
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def precision_flags(cpuinfo: Path = CPUINFO) -> list[str]:
    """The :data:`PRECISION_FLAGS` this CPU has, in that order."""
    present = cpu_flags(cpuinfo)
    return [flag for flag in PRECISION_FLAGS if flag in present]


def usable_cores() -> int:
    """Cores this process may run on: a container or ``taskset`` may allow fewer than exist."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
