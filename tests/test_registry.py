"""Registry bookkeeping on a real (throwaway) MLflow store: linked pair versions, aliases that
move together, idempotent registration, rollback along the champion history."""

from __future__ import annotations

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from alertlens.config import ConfigError
from alertlens.registry import (
    CHALLENGER,
    CHAMPION,
    PAIR_MODEL,
    TEACHER_MODEL,
    PairVersions,
    follow_pair_alias,
    make_champion,
    pair_at,
    register_pair,
    registered_pair,
    rollback,
    set_alias,
)

pytestmark = pytest.mark.usefixtures("mlflow_artifacts_in_tmp")


class Constant(mlflow.pyfunc.PythonModel):  # registry tests need models, not good ones
    def predict(self, context, model_input, params=None):  # noqa: ANN001, ANN201
        return [0] * len(model_input)


def _run_pair(index: int) -> tuple[str, str, str]:
    """Log a stand-in teacher and pair model in one run; returns (teacher uri, pair uri, run)."""
    with mlflow.start_run() as run:
        teacher = mlflow.pyfunc.log_model(
            name=f"teacher{index}", python_model=Constant(), pip_requirements=["mlflow"]
        )
        pair = mlflow.pyfunc.log_model(
            name=f"pair{index}", python_model=Constant(), pip_requirements=["mlflow"]
        )
    return teacher.model_uri, pair.model_uri, run.info.run_id


def _register(index: int):  # noqa: ANN202
    teacher, pair, run_id = _run_pair(index)
    links = {"alertlens.surrogate_run": run_id, "alertlens.data_version": f"md5-{index}"}
    return register_pair(teacher, pair, links)


def test_a_registered_pair_links_both_ways_and_is_challenger() -> None:
    pair = _register(1)
    client = MlflowClient()
    assert PAIR_MODEL == "alertlens-triage-pair" and TEACHER_MODEL == "alertlens-teacher"
    pair_model = client.get_model_version(PAIR_MODEL, pair.pair)
    teacher = client.get_model_version(TEACHER_MODEL, pair.teacher)
    assert pair_model.tags["alertlens.teacher_version"] == pair.teacher
    assert teacher.tags["alertlens.pair_version"] == pair.pair
    assert pair_model.tags["alertlens.data_version"] == teacher.tags["alertlens.data_version"]
    assert pair_at(CHALLENGER) == pair and pair_at(CHAMPION) is None
    assert str(pair) == f"alertlens-teacher v{pair.teacher} + alertlens-triage-pair v{pair.pair}"
    assert registered_pair(pair_model.tags["alertlens.surrogate_run"]) == pair
    assert registered_pair("no-such-run") is None


def test_champion_moves_on_both_models_and_rolls_back_along_its_history() -> None:
    first, second, third = _register(1), _register(2), _register(3)
    assert make_champion(first) is None
    assert make_champion(second) == first
    assert make_champion(third) == second
    client = MlflowClient()
    assert str(client.get_model_version_by_alias(TEACHER_MODEL, CHAMPION).version) == third.teacher

    assert rollback("bad week") == (third, second)
    assert pair_at(CHAMPION) == second
    assert str(client.get_model_version_by_alias(TEACHER_MODEL, CHAMPION).version) == second.teacher
    rolled = client.get_model_version(PAIR_MODEL, third.pair)
    assert rolled.tags["alertlens.rollback_reason"] == "bad week"
    assert rollback("again") == (second, first)
    with pytest.raises(ConfigError, match="first champion"):
        rollback("nothing before the first")


def test_rollback_without_a_champion_says_so() -> None:
    with pytest.raises(ConfigError, match="nothing to roll back"):
        rollback("why")


def _teacher_at(alias: str) -> str:
    return str(MlflowClient().get_model_version_by_alias(TEACHER_MODEL, alias).version)


def test_a_move_interrupted_between_the_two_aliases_is_repaired_by_the_next_write() -> None:
    first, second, third = _register(1), _register(2), _register(3)
    make_champion(first)
    # A promotion of `second` dies after the commit point (the pair's alias), before the teacher's.
    MlflowClient().set_registered_model_alias(PAIR_MODEL, CHAMPION, second.pair)
    assert pair_at(CHAMPION) == second and _teacher_at(CHAMPION) == first.teacher
    # The served champion is `second` whole; the next promotion first repairs the teacher alias,
    # and records `second` (not `first`) as the pair it replaced.
    assert make_champion(third) == second
    assert _teacher_at(CHAMPION) == third.teacher
    assert rollback("regression") == (third, second)
    assert _teacher_at(CHAMPION) == second.teacher


def test_two_racing_moves_leave_both_aliases_on_the_pair_that_won() -> None:
    first, second = _register(1), _register(2)
    # Writer A moves the pair alias to `first`; writer B then moves it to `second` and follows;
    # A's follow comes last and reads the pair alias as B left it.
    MlflowClient().set_registered_model_alias(PAIR_MODEL, CHAMPION, first.pair)
    set_alias(CHAMPION, second)
    assert follow_pair_alias(CHAMPION) == second
    assert pair_at(CHAMPION) == second and _teacher_at(CHAMPION) == second.teacher
    assert follow_pair_alias("no-such-alias") is None


class RacingClient(MlflowClient):
    """A registry client whose first teacher-alias move lets another writer's whole promotion
    of ``rival`` run between its read of the pair alias and its write: the interleaving that
    two engineers promoting at once can produce."""

    def __init__(self, rival: PairVersions | None) -> None:
        super().__init__()
        self.rival = rival

    def set_registered_model_alias(self, name: str, alias: str, version: str) -> None:
        if name == TEACHER_MODEL and self.rival is not None:
            rival, self.rival = self.rival, None
            set_alias(alias, rival)  # the other writer, start to finish
        super().set_registered_model_alias(name, alias, version)


def test_a_writer_whose_read_went_stale_follows_again() -> None:
    first, second = _register(1), _register(2)
    set_alias(CHAMPION, first, RacingClient(rival=second))
    # The rival moved the pair alias last: both aliases end on its pair, not on a split.
    assert pair_at(CHAMPION) == second and _teacher_at(CHAMPION) == second.teacher
