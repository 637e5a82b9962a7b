"""Collecting the report's inputs: flat stage metrics, embedded plots, tolerant of gaps."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from alertlens.reporting.collect import ReportInputs, collect_report

from .conftest import tiny_png


def test_every_input_is_collected_with_flat_metric_keys(report_inputs: ReportInputs) -> None:
    report = collect_report(report_inputs)
    assert report["notes"] == []
    assert report["challenger"]["versions"] == {"teacher": "2", "pair": "2"}
    metrics = report["challenger"]["metrics"]
    assert sorted(metrics) == ["baselines", "distill", "evaluate", "harden", "teacher"]
    # the same keys the stages logged to MLflow, so challenger and champion line up
    assert metrics["harden"]["robustness.balanced.hardened.overall.attack_success_rate"] == 0.0361
    assert metrics["evaluate"]["fidelity.test.by_source.edr.agreement"] == 0.9437
    assert [p["name"] for p in report["plots"]] == ["shap_summary", "waterfall_0"]
    expected = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()
    assert report["plots"][0]["data_uri"] == expected
    assert report["explained"][0]["alert_id"] == "SYN-0016997"


def test_missing_inputs_are_notes_not_errors(tmp_path: Path) -> None:
    report = collect_report(ReportInputs().under(tmp_path))
    assert report["decision"] is None
    assert report["challenger"]["metrics"] == {}
    assert report["plots"] == [] and report["explained"] == []
    assert len(report["notes"]) == 8  # 5 stage files, decision, plots, explained alerts
    assert (
        f"promotion decision not available: {tmp_path}/reports/promotion.json does not exist"
        in (report["notes"])
    )


def test_broken_files_are_reported_and_skipped(report_inputs: ReportInputs) -> None:
    report_inputs.decision.write_text('{"promoted": tru')
    report_inputs.explained.write_text(json.dumps({"not": "a list"}))
    (report_inputs.plots_dir / "fake.png").write_text("<svg onload=alert(1)>")
    report = collect_report(report_inputs)
    assert report["decision"] is None and report["explained"] == []
    assert [p["name"] for p in report["plots"]] == ["shap_summary", "waterfall_0"]
    notes = "\n".join(report["notes"])
    assert "promotion.json is not valid JSON" in notes
    assert "explained_alerts.json is not a list of objects" in notes
    assert "plot fake.png skipped: not a PNG file" in notes
