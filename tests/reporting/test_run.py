"""The report against a real MLflow store: the champion's figures from its linked runs, and
the page logged into the promote stage's run."""

from __future__ import annotations

import json
from pathlib import Path

import mlflow
import pytest
from mlflow.tracking import MlflowClient

from alertlens.config import ConfigError
from alertlens.registry import PAIR_MODEL, SURROGATE_RUN_TAG, TEACHER_VERSION_TAG
from alertlens.reporting.collect import ReportInputs
from alertlens.reporting.run import write_report
from alertlens.tracking import configure

from .conftest import LINKS, decision


def stage_run(stage: str, metrics: dict[str, float], **tags: str) -> str:
    with mlflow.start_run(run_name=stage, tags={"alertlens.stage": stage, **tags}) as run:
        mlflow.log_metrics(metrics)
    return run.info.run_id


def test_champion_figures_come_from_its_runs_and_the_page_goes_to_the_promote_run(
    tmp_path: Path, report_inputs: ReportInputs
) -> None:
    params = {"tracking": {"uri": "sqlite:///unused.db", "experiment": "alertlens"}}
    configure(params["tracking"], tmp_path)
    harden = stage_run("harden", {"test.overall.f1": 0.5021})
    distill = stage_run("distill", {"features": 150.0})
    stage_run("evaluate", {"fidelity.test.agreement": 0.1}, **{SURROGATE_RUN_TAG: "other"})
    evaluate = stage_run(
        "evaluate", {"fidelity.test.agreement": 0.9}, **{SURROGATE_RUN_TAG: distill}
    )
    client = MlflowClient()
    client.create_registered_model(PAIR_MODEL)
    tags = {SURROGATE_RUN_TAG: distill, "alertlens.teacher_run": harden, TEACHER_VERSION_TAG: "1"}
    version = client.create_model_version(PAIR_MODEL, f"runs:/{distill}/pair", distill, tags=tags)
    assert version.version in ("1", 1)  # the decision's champion_before
    promote = stage_run("promote", {})
    report_inputs.decision.write_text(
        json.dumps(decision(links={**LINKS, "alertlens.promote_run": promote}))
    )
    out = tmp_path / "reports" / "index.html"

    report, logged = write_report(params, tmp_path, out)

    assert logged == f"runs:/{promote}/report/index.html"
    assert [a.path for a in client.list_artifacts(promote, "report")] == ["report/index.html"]
    champion = report["champion"]
    assert champion["runs"] == {"harden": harden, "distill": distill, "evaluate": evaluate}
    assert champion["metrics"]["harden"]["test.overall.f1"] == 0.5021
    assert champion["metrics"]["evaluate"]["fidelity.test.agreement"] == 0.9
    assert champion["note"] is None
    page = out.read_text()
    assert '<td class="num">90.0%</td>' in page and f"runs:/{evaluate}" in page

    report_inputs.decision.write_text(
        json.dumps(decision(links={**LINKS, "alertlens.promote_run": "0" * 32}))
    )
    with pytest.raises(ConfigError, match="cannot log the report into promote run 0000"):
        write_report(params, tmp_path, out)
