"""Promotion end to end on a real MLflow registry: the first pair promotes on the floors, a
failing gate refuses with the reasons recorded, dry runs touch nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from alertlens.assess.config import AssessConfig
from alertlens.assess.sample import AssessSample
from alertlens.assess.scorecard import assess_pair
from alertlens.config import ConfigError
from alertlens.promotion.promote import Challenger, promote
from alertlens.registry import CHALLENGER, CHAMPION, PAIR_MODEL, TEACHER_MODEL, pair_at
from alertlens.triage import TriagePair

from .conftest import logged_pair

pytestmark = pytest.mark.usefixtures("mlflow_artifacts_in_tmp")

PERMISSIVE = {
    "test.recall": {"min": 0.0},
    "golden.agreement": {"min": 0.0},
    "robustness.attack_success_rate": {"max": 1.0},
}


def _gates(floors: dict[str, Any], relative: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"floors": floors, "relative": relative or {}}


@pytest.mark.slow
def test_first_pair_promotes_then_a_failing_gate_refuses(
    pair_dirs: tuple[Path, Path],
    sample: AssessSample,
    assess_config: AssessConfig,
    tmp_path: Path,
) -> None:
    first_dirs = logged_pair(pair_dirs, tmp_path / "run1")
    first = Challenger.from_dirs(*first_dirs)
    pair = TriagePair.from_dirs(*first_dirs, "cpu")
    card = assess_pair(pair, sample, assess_config).scorecard()  # what evaluate writes
    links = {"alertlens.data_version": "md5-1", "alertlens.git_commit": "abc"}
    decision = promote(
        first, card, sample, assess_config, _gates(PERMISSIVE), {**links, **first.links(None, None)}
    )
    assert decision.promoted and "first pair" in decision.summary
    assert decision.champion is None and pair_at(CHAMPION) == decision.challenger_versions
    assert decision.challenger is card  # the challenger is not scored again
    assert card["test.n"] == 60 and card["golden.n"] == 40

    client = MlflowClient()
    version = client.get_model_version(PAIR_MODEL, decision.challenger_versions.pair)
    assert version.tags["alertlens.decision"] == "promoted"
    assert version.tags["alertlens.gate.floor.test.recall"].startswith("pass ")
    assert version.tags["alertlens.data_version"] == "md5-1"

    # promoting the same pair again changes nothing
    again = promote(first, card, sample, assess_config, _gates(PERMISSIVE), links)
    assert not again.promoted and "already holds champion" in again.summary
    assert len(client.search_model_versions(f"name = '{PAIR_MODEL}'")) == 1

    # a second run (the same models) whose agreement must beat the champion's by 0.5: refused
    second = Challenger.from_dirs(*logged_pair(pair_dirs, tmp_path / "run2"))
    strict = _gates(PERMISSIVE, {"test.agreement": {"max_drop": -0.5}})
    refused = promote(second, card, sample, assess_config, strict, second.links(None, None))
    assert not refused.promoted
    assert [g.name for g in refused.failed] == ["vs_champion:test.agreement"]
    # the champion, loaded from the registry and assessed now, scores as evaluate scored it
    assert refused.champion == pytest.approx(card, nan_ok=True)
    assert pair_at(CHAMPION) == decision.challenger_versions  # champion did not move
    assert pair_at(CHALLENGER) == refused.challenger_versions
    teacher = client.get_model_version(TEACHER_MODEL, refused.challenger_versions.teacher)
    assert teacher.tags["alertlens.decision"] == "refused"
    assert teacher.tags["alertlens.gate.vs_champion.test.agreement"].startswith("FAIL")


def test_dry_run_registers_nothing(
    pair_dirs: tuple[Path, Path],
    sample: AssessSample,
    assess_config: AssessConfig,
    tmp_path: Path,
) -> None:
    challenger = Challenger.from_dirs(*logged_pair(pair_dirs, tmp_path / "run"))
    card = {"test.recall": 1.0, "golden.agreement": 1.0, "robustness.attack_success_rate": 0.0}
    decision = promote(
        challenger, card, sample, assess_config, _gates(PERMISSIVE), {}, dry_run=True
    )
    assert decision.promoted and "would be promoted" in decision.summary
    assert decision.challenger_versions is None and pair_at(CHAMPION) is None


def test_a_surrogate_distilled_from_another_teachers_run_is_refused(
    pair_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    teacher_dir, _ = logged_pair(pair_dirs, tmp_path / "first")
    _, other_surrogate = logged_pair(pair_dirs, tmp_path / "second")
    with pytest.raises(ConfigError, match="was distilled from the teacher of run"):
        Challenger.from_dirs(teacher_dir, other_surrogate)


def test_a_missing_run_record_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="run.json is missing"):
        Challenger.from_dirs(tmp_path, tmp_path)
