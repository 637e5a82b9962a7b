"""A toy alert set whose label sits in the command line, and a tiny BERT to learn it."""

from __future__ import annotations

import random

import pytest

from alertlens.alerts.render import RenderConfig
from alertlens.alerts.schema import Alert
from alertlens.teacher.encoder import load_encoder

RENDER = RenderConfig(fields=("process_name", "command_line"))


def toy_alerts(n: int, seed: int = 0) -> list[Alert]:
    """Real alerts run encoded PowerShell; false positives run an admin script."""
    rng = random.Random(seed)
    alerts = []
    for i in range(n):
        real = i % 3 == 0
        cmd = (
            f"powershell.exe -nop -w hidden -enc {rng.choice(['SQBFAFgA', 'JABjAD0A', 'aQBlAHgA'])}"
            if real
            else f"powershell.exe -ExecutionPolicy Bypass -File \\\\mgmt\\{rng.choice(['inv', 'patch', 'bkp'])}.ps1"
        )
        alerts.append(
            Alert(
                id=f"t{i}",
                timestamp=float(i),
                source="edr",
                label=int(real),
                fields={"process_name": "powershell.exe", "command_line": cmd},
            )
        )
    return alerts


@pytest.fixture(scope="module")
def tiny():  # noqa: ANN201
    return load_encoder("tiny", max_length=64, seed=0)
