"""Turn the errors a user can fix into one clear line and an exit code.

A known error (``USER_ERRORS``) prints ``error: <message>`` and exits 2. Anything else is a
bug and exits 3: a command hides its traceback from the user (ALERTLENS_DEBUG=1 shows it), a
DVC stage prints it, because DVC's log is where a maintainer reads it.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from alertlens.alerts.ingest import IngestError
from alertlens.config import ConfigError

USER_ERROR_EXIT = 2
INTERNAL_ERROR_EXIT = 3
# No KeyError: a key missing from a dict in the code is a bug, not a config the user can fix.
# Config lookups that can miss raise ConfigError with the key's name instead.
USER_ERRORS: tuple[type[BaseException], ...] = (ConfigError, IngestError, ValueError, OSError)

T = TypeVar("T")


def setup_logging(verbose: bool = False) -> None:
    """Plain one-line log records on stderr."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def reports_errors(func: Callable[..., T]) -> Callable[..., T]:
    """For commands: a known error becomes ``error: <message>`` and exit 2, anything else
    ``internal error: ...`` and exit 3, without a traceback unless ALERTLENS_DEBUG=1."""
    return _reporting(func, keep_traceback=False)


def stage_errors(func: Callable[..., T]) -> Callable[..., T]:
    """For DVC stage scripts: as :func:`reports_errors`, but an internal error prints its
    traceback before the ``internal error`` line."""
    return _reporting(func, keep_traceback=True)


def _reporting(func: Callable[..., T], keep_traceback: bool) -> Callable[..., T]:
    @wraps(func)
    def wrapper(*args: object, **kwargs: object) -> T:
        try:
            return func(*args, **kwargs)
        except USER_ERRORS as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(USER_ERROR_EXIT) from None
        except Exception as exc:  # the last line of defence: one line, then exit 3
            if _debug():
                raise
            if keep_traceback:
                traceback.print_exc()
            hint = "" if keep_traceback else " (set ALERTLENS_DEBUG=1 for details)"
            print(f"internal error: {type(exc).__name__}: {exc}{hint}", file=sys.stderr)
            raise SystemExit(INTERNAL_ERROR_EXIT) from None

    return wrapper


def _debug() -> bool:
    return os.environ.get("ALERTLENS_DEBUG", "") not in ("", "0")
