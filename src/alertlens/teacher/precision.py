"""bf16 or fp32 for the teacher: what the configuration says, or with ``auto`` what is faster
on this machine.

bf16 autocast pays where the hardware multiplies bf16 matrices natively: GPUs with bf16 tensor
cores and CPUs with AMX, which runs bf16 matmuls in tiles. A CPU with only AVX-512 BF16 converts
and dot-products in vector registers; depending on the core and the library's kernels that is
faster or slower than fp32, so there ``auto`` times a training-shaped matmul both ways once and
remembers the result per machine (CPU model, flags, torch version and thread count).
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from alertlens.machine import CPUINFO, PRECISION_FLAGS, cpu_flags, cpu_model

log = logging.getLogger(__name__)

PRECISIONS = ("bf16", "fp32")
CACHE_ENV = "ALERTLENS_CACHE_DIR"
# bf16 must beat fp32 by this factor: a near tie is within timing noise, and fp32 keeps the
# scores' full resolution.
BF16_MIN_SPEEDUP = 1.10
# One MiniLM feed-forward matmul at a training batch: (16 alerts x 64 tokens, 384) x (384, 1536).
BENCH_ROWS, BENCH_HIDDEN, BENCH_FFN = 1024, 384, 1536
BENCH_REPEATS = 5
CACHE_FIELDS = ("fp32_ms", "bf16_ms", "measured")


@dataclass(frozen=True)
class PrecisionChoice:
    """The concrete precision (``bf16`` or ``fp32``) and why it was chosen."""

    precision: str
    reason: str


def choose_precision(
    requested: str, device: torch.device, cpuinfo: Path = CPUINFO
) -> PrecisionChoice:
    """``bf16``/``fp32`` as configured; for ``auto`` the faster one on ``device`` (logged)."""
    if requested in PRECISIONS:
        return PrecisionChoice(requested, "configured")
    if requested != "auto":
        raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got '{requested}'")
    choice = _automatic(device, cpuinfo)
    log.info("precision %s (auto): %s", choice.precision, choice.reason)
    return choice


def _automatic(device: torch.device, cpuinfo: Path) -> PrecisionChoice:
    if device.type == "cuda":
        if torch.cuda.is_bf16_supported():
            return PrecisionChoice("bf16", "the CUDA device supports bf16 (tensor cores)")
        return PrecisionChoice("fp32", "the CUDA device does not support bf16")
    if device.type != "cpu":
        return PrecisionChoice("fp32", f"no bf16 rule for {device.type} devices")
    flags = cpu_flags(cpuinfo)
    if "amx_bf16" in flags:
        return PrecisionChoice("bf16", "the CPU has AMX (amx_bf16), which runs bf16 matmuls")
    return _measured(machine_key(cpuinfo, flags))


def machine_key(cpuinfo: Path, flags: frozenset[str]) -> str:
    """What the measurement depends on: CPU model and flags, torch version, thread count."""
    relevant = ",".join(flag for flag in PRECISION_FLAGS if flag in flags)
    return (
        f"{cpu_model(cpuinfo)} | {relevant} | torch {torch.__version__} | "
        f"{torch.get_num_threads()} threads"
    )


def cache_file() -> Path:
    """``$ALERTLENS_CACHE_DIR``, else the user's cache directory, ``/precision.json``."""
    directory = os.environ.get(CACHE_ENV) or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "alertlens"
    )
    return Path(directory) / "precision.json"


def _measured(key: str) -> PrecisionChoice:
    """The choice from this machine's matmul timings, measured once and then read back."""
    path = cache_file()
    cache = _read_cache(path)
    entry = cache.get(key)
    if not (isinstance(entry, dict) and all(name in entry for name in CACHE_FIELDS)):
        fp32_seconds, bf16_seconds = matmul_seconds()
        entry = {
            "fp32_ms": round(fp32_seconds * 1000, 3),
            "bf16_ms": round(bf16_seconds * 1000, 3),
            "measured": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        _write_cache(path, {**cache, key: entry})
    speedup = entry["fp32_ms"] / entry["bf16_ms"]
    precision = "bf16" if speedup >= BF16_MIN_SPEEDUP else "fp32"
    reason = (
        f"no AMX; a training-shaped matmul took {entry['bf16_ms']:.1f} ms in bf16 and "
        f"{entry['fp32_ms']:.1f} ms in fp32 ({speedup:.2f}x, bf16 needs {BF16_MIN_SPEEDUP:.2f}x); "
        f"measured {entry['measured']}, cached in {path}"
    )
    return PrecisionChoice(precision, reason)


def matmul_seconds(repeats: int = BENCH_REPEATS) -> tuple[float, float]:
    """Median seconds of one training-shaped matmul, forward and backward, in fp32 and in bf16."""
    generator = torch.Generator().manual_seed(0)  # leaves the global RNG as training seeded it
    inputs = torch.randn(BENCH_ROWS, BENCH_HIDDEN, generator=generator, requires_grad=True)
    weight = torch.randn(BENCH_FFN, BENCH_HIDDEN, generator=generator, requires_grad=True)

    def once(bf16: bool) -> float:
        inputs.grad = weight.grad = None
        started = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = torch.nn.functional.linear(inputs, weight)
        out.float().sum().backward()
        return time.perf_counter() - started

    timings: dict[bool, list[float]] = {False: [], True: []}
    with torch.enable_grad():
        for repeat in range(repeats + 1):  # the first round warms up the kernels; dropped
            for bf16 in (False, True):  # interleaved: a burst of other load hits both alike
                seconds = once(bf16)
                if repeat:
                    timings[bf16].append(seconds)
    return statistics.median(timings[False]), statistics.median(timings[True])


def _read_cache(path: Path) -> dict[str, Any]:
    try:
        cache = json.loads(path.read_text())
    except (OSError, ValueError):  # none yet, or unreadable: measure again
        return {}
    return cache if isinstance(cache, dict) else {}


def _write_cache(path: Path, cache: dict[str, Any]) -> None:
    """Replace the file whole, so a concurrent reader sees the old or the new cache."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        partial.write_text(json.dumps(cache, indent=2, sort_keys=True) + "\n")
        partial.replace(path)
    except OSError as exc:
        log.warning("could not cache the precision measurement in %s: %s", path, exc)
