"""Lock files so two scheduled retrains never overlap, and two registry writers (promote,
rollback) on one project take turns.

``flock`` is released by the kernel when the holder dies, so a crashed run never leaves a
stale lock behind; the file only says who holds it, for the error message.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class LockBusy(OSError):
    """Another process holds the lock (an OSError: commands report it as a user error)."""


@contextmanager
def exclusive_lock(path: Path, what: str = "retrain", wait_seconds: float = 0) -> Iterator[int]:
    """Hold ``path`` exclusively for the block; when another process holds it, wait up to
    ``wait_seconds`` for it, then raise :class:`LockBusy` naming the holder (``what`` names
    the kind of holder in the message).

    Yields the lock's file descriptor: a child started with it (``pass_fds``) shares the lock,
    which then stays held until the child exits too, even if this process is killed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    with path.open("a+") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.2)
                    continue
                handle.seek(0)
                holder = handle.read().strip() or "unknown process"
                raise LockBusy(f"another {what} holds {path} ({holder})") from None
        handle.seek(0)
        handle.truncate()
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        handle.write(f"pid {os.getpid()} since {started}\n")
        handle.flush()
        try:
            yield handle.fileno()
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
