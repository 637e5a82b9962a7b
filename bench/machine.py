"""The machine a benchmark ran on, and the results file every bench script writes beside its
printed figures (figures vary with the CPU, so each file carries its machine)."""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from alertlens.machine import cpu_model, precision_flags, usable_cores

ROOT = Path(__file__).resolve().parents[1]
RESULTS_DIR = ROOT / "bench" / "results"
LIBRARIES = ("torch", "lightgbm", "numpy")


def describe() -> str:
    """'AMD EPYC, 2 cores'."""
    return f"{cpu_model()}, {os.cpu_count()} cores"


def machine() -> dict[str, Any]:
    """CPU, precision-relevant flags, cores, and the versions of Python and the libraries.

    Library versions come from the installed package metadata, so nothing is imported for
    them; a library that is not installed is left out. The GPU and torch's thread count are
    recorded only when the script has imported torch already.
    """
    described: dict[str, Any] = {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "usable_cores": usable_cores(),
        "flags": precision_flags(),
        "python": platform.python_version(),
    }
    for library in LIBRARIES:
        try:
            described[library] = metadata.version(library)
        except metadata.PackageNotFoundError:
            continue
    torch = sys.modules.get("torch")
    if torch is not None:
        described["torch_threads"] = torch.get_num_threads()
        described["gpu"] = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    return described


def _plain(value: Any) -> Any:
    """``value`` as strict JSON holds it: a figure that is not a number (the mean of an empty
    selection) as null, a path relative to the repository when inside it, so a results file
    reads the same on every checkout."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        resolved = value.resolve()
        return str(resolved.relative_to(ROOT)) if resolved.is_relative_to(ROOT) else str(value)
    return value


def write_results(
    name: str,
    figures: dict[str, Any],
    args: argparse.Namespace | dict[str, Any] | None = None,
    results_dir: Path = RESULTS_DIR,
) -> Path:
    """Write ``results_dir/<name>.json`` (name, machine, settings, figures, created) and
    print where it went."""
    settings = vars(args) if isinstance(args, argparse.Namespace) else dict(args or {})
    results = {
        "name": name,
        "machine": machine(),
        "settings": settings,
        "figures": figures,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    text = json.dumps(_plain(results), indent=2, allow_nan=False)
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{name}.json"
    path.write_text(text + "\n", encoding="utf-8")
    print(f"results: {path}")
    return path
