from collections.abc import Callable

import pytest

from alertlens.config import ConfigError
from alertlens.errors import (
    INTERNAL_ERROR_EXIT,
    USER_ERROR_EXIT,
    reports_errors,
    stage_errors,
)


@pytest.fixture(autouse=True)
def no_debug(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALERTLENS_DEBUG", raising=False)


def _lookup_bug() -> None:
    scores = {"soc": 0.5}
    scores["balanced"]  # a KeyError from the code itself, not from the user's config


def _config_mistake() -> None:
    raise ConfigError("gates.floors.test.recall must be {min: X} or {max: X}")


def _exit_code(func: Callable[[], None]) -> int | str | None:
    with pytest.raises(SystemExit) as exited:
        func()
    return exited.value.code


def test_a_stage_prints_the_traceback_of_an_internal_error(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _exit_code(stage_errors(_lookup_bug)) == INTERNAL_ERROR_EXIT
    err = capsys.readouterr().err
    assert err.startswith("Traceback (most recent call last):")
    assert 'scores["balanced"]' in err  # the failing line, for the maintainer reading DVC's log
    assert err.endswith("internal error: KeyError: 'balanced'\n")


def test_a_command_reports_a_key_error_from_code_as_internal_without_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _exit_code(reports_errors(_lookup_bug)) == INTERNAL_ERROR_EXIT
    err = capsys.readouterr().err
    assert err == "internal error: KeyError: 'balanced' (set ALERTLENS_DEBUG=1 for details)\n"


@pytest.mark.parametrize("decorator", [reports_errors, stage_errors])
def test_a_user_error_is_one_line_and_exit_2(
    decorator: Callable[[Callable[[], None]], Callable[[], None]],
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert _exit_code(decorator(_config_mistake)) == USER_ERROR_EXIT
    assert capsys.readouterr().err == (
        "error: gates.floors.test.recall must be {min: X} or {max: X}\n"
    )


def test_debug_lets_the_internal_error_through(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALERTLENS_DEBUG", "1")
    with pytest.raises(KeyError, match="balanced"):
        reports_errors(_lookup_bug)()


def test_the_wrapped_function_returns_its_value() -> None:
    assert stage_errors(lambda: 7)() == 7
