"""Turn the errors a user can fix into one clear line and an exit code, never a traceback."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from functools import wraps
from typing import TypeVar

from alertlens.alerts.ingest import IngestError
from alertlens.config import ConfigError

log = logging.getLogger("alertlens")

USER_ERROR_EXIT = 2
INTERNAL_ERROR_EXIT = 3
USER_ERRORS: tuple[type[BaseException], ...] = (
    ConfigError,
    IngestError,
    ValueError,
    OSError,
    KeyError,
)

T = TypeVar("T")


def setup_logging(verbose: bool = False) -> None:
    """Plain one-line log records on stderr."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def reports_errors(func: Callable[..., T]) -> Callable[..., T]:
    """Run ``func``; a known error becomes ``error: <message>`` and exit 2, anything else exit 3.

    Set ALERTLENS_DEBUG=1 to see the traceback of an unexpected error.
    """

    @wraps(func)
    def wrapper(*args: object, **kwargs: object) -> T:
        try:
            return func(*args, **kwargs)
        except USER_ERRORS as exc:
            message = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
            label = "missing config key" if isinstance(exc, KeyError) else "error"
            print(f"{label}: {message}", file=sys.stderr)
            raise SystemExit(USER_ERROR_EXIT) from None
        except Exception as exc:  # the last line of defence: no traceback reaches the user
            if _debug():
                raise
            print(
                f"internal error: {type(exc).__name__}: {exc} (set ALERTLENS_DEBUG=1 for details)",
                file=sys.stderr,
            )
            raise SystemExit(INTERNAL_ERROR_EXIT) from None

    return wrapper


def _debug() -> bool:
    import os

    return os.environ.get("ALERTLENS_DEBUG", "") not in ("", "0")
