"""The retrain lock: exclusive across processes, released when the holder exits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from alertlens.retraining.lock import LockBusy, exclusive_lock

HOLD = """
import sys, time
from pathlib import Path
from alertlens.retraining.lock import exclusive_lock
with exclusive_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(30)
"""


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    path = tmp_path / "retrain.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(LockBusy, match=f"pid {holder.pid}"), exclusive_lock(path):
            pass
    finally:
        holder.kill()
        holder.wait()
    with exclusive_lock(path):  # a killed holder leaves no stale lock behind
        pass


def test_the_lock_is_free_again_after_the_block(tmp_path: Path) -> None:
    path = tmp_path / "retrain.lock"
    with exclusive_lock(path):
        pass
    with exclusive_lock(path):
        assert "pid" in path.read_text()
    assert path.read_text() == ""
