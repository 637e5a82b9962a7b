"""The retrain lock: exclusive across processes, released when the holder exits."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from alertlens.locks import LockBusy, exclusive_lock

HOLD = """
import sys, time
from pathlib import Path
from alertlens.locks import exclusive_lock
with exclusive_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


@contextmanager
def held_elsewhere(path: Path, seconds: float = 30) -> Iterator[subprocess.Popen]:
    """Another process holding ``path`` for ``seconds`` (killed at the end of the block)."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(path), str(seconds)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        yield holder
    finally:
        holder.kill()
        holder.wait()


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path: Path) -> None:
    path = tmp_path / "retrain.lock"
    with held_elsewhere(path) as holder:
        message = f"another retrain holds {path} \\(pid {holder.pid}"
        with pytest.raises(LockBusy, match=message), exclusive_lock(path):
            pass
    with exclusive_lock(path):  # a killed holder leaves no stale lock behind
        pass


def test_the_lock_is_free_again_after_the_block(tmp_path: Path) -> None:
    path = tmp_path / "retrain.lock"
    with exclusive_lock(path):
        pass
    with exclusive_lock(path):
        assert "pid" in path.read_text()
    assert path.read_text() == ""


def test_a_waiting_writer_gets_the_lock_when_the_holder_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "registry.lock"
    # Held when asked for (the holder said so): this writer waits instead of failing.
    with (
        held_elsewhere(path, seconds=1),
        exclusive_lock(path, "promotion or rollback", wait_seconds=60),
    ):
        assert path.read_text().startswith(f"pid {os.getpid()} since")


def test_a_writer_that_waited_long_enough_is_told_who_holds_it(tmp_path: Path) -> None:
    path = tmp_path / "registry.lock"
    with held_elsewhere(path) as holder:
        message = f"another promotion or rollback holds {path} \\(pid {holder.pid}"
        with (
            pytest.raises(LockBusy, match=message),
            exclusive_lock(path, "promotion or rollback", wait_seconds=0.5),
        ):
            pass
