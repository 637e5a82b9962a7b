"""Promotion end to end on a real MLflow registry: the first pair promotes on the floors, a
failing gate refuses with the reasons recorded, dry runs touch nothing."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from alertlens.alerts.schema import Alert
from alertlens.config import compose
from alertlens.promotion.promote import Challenger, promote
from alertlens.registry import CHALLENGER, CHAMPION, SURROGATE_MODEL, TEACHER_MODEL, pair_at

from .conftest import logged_pair

pytestmark = pytest.mark.usefixtures("mlflow_artifacts_in_tmp")

PERMISSIVE = {
    "test.recall": {"min": 0.0},
    "golden.agreement": {"min": 0.0},
    "robustness.attack_success_rate": {"max": 1.0},
}


def _params(floors: dict[str, Any], relative: dict[str, Any] | None = None) -> dict[str, Any]:
    params = compose(["experiment=tiny"])
    params["gates"]["floors"] = floors
    params["gates"]["relative"] = relative or {}
    params["gates"]["scorecard"].update(faithfulness_alerts=12, robustness_alerts=4)
    return params


def test_first_pair_promotes_then_a_failing_gate_refuses(
    pair_dirs: tuple[Path, Path], datasets: dict[str, list[Alert]], tmp_path: Path
) -> None:
    first = Challenger.from_dirs(*logged_pair(pair_dirs, tmp_path / "run1"))
    links = {"alertlens.data_version": "md5-1", "alertlens.git_commit": "abc"}
    decision = promote(first, datasets, _params(PERMISSIVE), {**links, **first.links(None, None)})
    assert decision.promoted and "first pair" in decision.summary
    assert decision.champion is None and pair_at(CHAMPION) == decision.challenger_versions
    card = decision.challenger
    for key in (
        "test.recall",
        "golden.f1",
        "adversarial.agreement",
        "robustness.attack_success_rate",
    ):
        assert key in card
    assert card["test.n"] == 60 and card["golden.n"] == 40

    client = MlflowClient()
    version = client.get_model_version(SURROGATE_MODEL, decision.challenger_versions.surrogate)
    assert version.tags["alertlens.decision"] == "promoted"
    assert version.tags["alertlens.gate.floor.test.recall"].startswith("pass ")
    assert version.tags["alertlens.data_version"] == "md5-1"

    # promoting the same pair again changes nothing
    again = promote(first, datasets, _params(PERMISSIVE), links)
    assert not again.promoted and "already holds champion" in again.summary
    assert len(client.search_model_versions(f"name = '{SURROGATE_MODEL}'")) == 1

    # a second run whose surrogate agrees less than the champion's minus 0: refused
    second = Challenger.from_dirs(*logged_pair(pair_dirs, tmp_path / "run2"))
    strict = {"test.agreement": {"max_drop": -0.5}}  # demands +0.5 agreement: impossible
    refused = promote(second, datasets, _params(PERMISSIVE, strict), second.links(None, None))
    assert not refused.promoted
    assert [g.name for g in refused.failed] == ["vs_champion:test.agreement"]
    assert refused.champion is not None and refused.champion["test.agreement"] == pytest.approx(
        refused.challenger["test.agreement"]
    )  # the same models scored on the same alerts: same figure
    assert pair_at(CHAMPION) == decision.challenger_versions  # champion did not move
    assert pair_at(CHALLENGER) == refused.challenger_versions
    teacher = client.get_model_version(TEACHER_MODEL, refused.challenger_versions.teacher)
    assert teacher.tags["alertlens.decision"] == "refused"
    assert teacher.tags["alertlens.gate.vs_champion.test.agreement"].startswith("FAIL")


def test_dry_run_registers_nothing(
    pair_dirs: tuple[Path, Path], datasets: dict[str, list[Alert]], tmp_path: Path
) -> None:
    challenger = Challenger.from_dirs(*logged_pair(pair_dirs, tmp_path / "run"))
    decision = promote(challenger, datasets, _params(PERMISSIVE), {}, dry_run=True)
    assert decision.promoted and "would be promoted" in decision.summary
    assert decision.challenger_versions is None and pair_at(CHAMPION) is None


def test_a_missing_run_record_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="run.json is missing"):
        Challenger.from_dirs(tmp_path, tmp_path)
