"""The toy pair for serving: the tiny-BERT teacher and the toy surrogate with a toy export's data
config, shared with the drift tests (imported, not copied), and raw records in that export."""

from __future__ import annotations

from typing import Any

import pytest

from ..monitoring.conftest import (  # noqa: F401 (shared fixtures)
    EXPORT_CONFIG,
    alerts,
    drift_pair,
    model,
    pair_dirs,
    tiny,
    to_record,
)
from ..surrogate.conftest import make_alert


@pytest.fixture
def records() -> list[dict[str, Any]]:
    """An encoded PowerShell from a known host, an admin script from a scanner, and an alert
    that lacks src_ip and failed_logins."""
    return [
        to_record(
            make_alert(
                1,
                command_line="powershell.exe -enc SQBFAFgA",
                process_name="powershell.exe",
                src_ip="10.0.5.150",
                failed_logins=3,
            )
        ),
        to_record(
            make_alert(
                2,
                command_line="powershell.exe -NoProfile -File backup.ps1",
                process_name="powershell.exe",
                src_ip="10.0.5.3",
                failed_logins=0,
            )
        ),
        to_record(make_alert(3, command_line="cmd.exe /c dir", process_name="cmd.exe")),
    ]
