"""The rendered page: gates, scorecards, plots, alerts, escaping, and gaps."""

from __future__ import annotations

import base64
import json
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from alertlens.reporting.collect import ReportInputs, collect_report
from alertlens.reporting.html import render_report
from alertlens.reporting.sections import explained_alerts

from .conftest import MALICIOUS, decision, explained, tiny_png, write_inputs

URI = "sqlite:////tmp/mlflow.db"


class Rows(HTMLParser):
    """Table rows as lists of (text, class) cells."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[tuple[str, str]]] = []
        self.cell: list[str] | None = None
        self.cls = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self.cell, self.cls = [], dict(attrs).get("class") or ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self.cell is not None:
            self.rows[-1].append(("".join(self.cell).strip(), self.cls))
            self.cell = None

    def handle_data(self, data: str) -> None:
        if self.cell is not None:
            self.cell.append(data)


def rows(page: str) -> list[list[tuple[str, str]]]:
    parser = Rows()
    parser.feed(page)
    return parser.rows


def row_of(page: str, first_cell: str) -> list[str]:
    """The texts of the (first) row whose first cell is ``first_cell``."""
    return next([text for text, _ in r] for r in rows(page) if r and r[0][0] == first_cell)


def render(champion: dict[str, Any] | None, inputs: ReportInputs) -> str:
    report = collect_report(inputs)
    report["champion"] = champion
    return render_report(report, URI)


CHAMPION = {
    "versions": {"teacher": "1", "pair": "1"},
    "basis": "the champion when the gates decided",
    "tags": {"alertlens.git_commit": "0123abcd"},
    "runs": {"harden": "dddd4444", "distill": "eeee5555", "evaluate": "ffff6666"},
    "metrics": {
        "harden": {"test.overall.f1": 0.5021},
        "evaluate": {"fidelity.test.agreement": 0.9},
    },
    "note": None,
}


def test_gate_table_shows_value_threshold_rule_and_coloured_verdict(
    report_inputs: ReportInputs,
) -> None:
    page = render(CHAMPION, report_inputs)
    gate_rows = [r for r in rows(page) if len(r) == 6 and r[5][0] in ("PASS", "FAIL")]
    assert [[cell for cell in r] for r in gate_rows] == [
        [
            ("Required level: real alerts caught (recall), test split", ""),
            ("floor:test.recall", "code"),
            ("99.56%", "num"),
            ("97.00%", "num"),
            (">= 0.97", "code"),
            ("PASS", "pass"),
        ],
        [
            ("No worse than the champion: F1, test split", ""),
            ("vs_champion:test.f1", "code"),
            ("0.4712", "num"),
            ("0.4920", "num"),
            ("drop <= 0.02 from 0.5120", "code"),
            ("FAIL", "fail"),
        ],
    ]
    assert "1 of 2 gates pass" in page
    assert '<div class="banner fail"><strong>Refused</strong>' in page


def test_both_scorecards_stand_side_by_side(report_inputs: ReportInputs) -> None:
    page = render(CHAMPION, report_inputs)
    assert row_of(page, "F1, test split") == [
        "F1, test split",
        "test.f1",
        "0.471",
        "0.512",
        "-0.041",
    ]
    assert row_of(page, "Evasion attacks that succeed, robustness") == [
        "Evasion attacks that succeed, robustness",
        "robustness.attack_success_rate",
        "0.25%",
        "1.0%",
        "-0.8 pts",
    ]
    assert row_of(page, "F1, golden set")[3] == "n/a"  # undefined for the champion


def test_stage_metrics_compare_challenger_with_champion_runs(report_inputs: ReportInputs) -> None:
    page = render(CHAMPION, report_inputs)
    assert row_of(page, "F1") == ["F1", "0.469", "0.502", "-0.033"]
    assert row_of(page, "Agrees with the teacher") == [
        "Agrees with the teacher",
        "92.4%",
        "90.0%",
        "+2.4 pts",
    ]
    assert row_of(page, "waf: recall") == ["waf: recall", "97.7%", "n/a", ""]
    assert row_of(page, "url encode (random)") == [
        "url encode (random)",
        "40",
        "8.7%",
        "0.0%",
        "n/a",
    ]
    assert row_of(page, "Git commit") == ["Git commit", "bf37819e", "0123abcd"]


def test_teacher_vs_baselines_says_first_that_the_teacher_loses(
    report_inputs: ReportInputs,
) -> None:
    page = render(CHAMPION, report_inputs)
    verdict = (
        '<div class="banner fail">The teacher loses to TF-IDF + logistic regression on the alert '
        "text (PR-AUC 0.740 vs 0.881).</div>"
    )
    assert verdict in page and page.index(verdict) < page.index("Teacher before hardening")
    evaluate = report_inputs.metrics_dir / "evaluate.json"
    gap = {"baseline": "tfidf_logreg", "difference": -0.0012, "low": -0.0061, "high": 0.0038}
    metrics = {**json.loads(evaluate.read_text()), "teacher_minus_best_baseline": {"test": gap}}
    evaluate.write_text(json.dumps(metrics))
    assert (
        "(PR-AUC 0.740 vs 0.881). On the evaluate stage sample of the test split, the teacher "
        "minus the best baseline is -0.0012 PR-AUC (bootstrap interval -0.0061 to +0.0038)."
        "</div>"
    ) in render(CHAMPION, report_inputs)
    gap["level"] = 0.9
    ceiling = {"pr_auc": 0.8948, "low": 0.8724, "high": 0.9194, "above_best_baseline": 0.0062}
    metrics["perfect_classifier"] = {"test": ceiling}
    evaluate.write_text(json.dumps(metrics))
    assert (
        "is -0.0012 PR-AUC (90% bootstrap interval -0.0061 to +0.0038). A classifier that knew "
        "the true verdict of every alert would score 0.8948 against the analyst labels (0.8724 "
        "to 0.9194 by where it ranks the alerts analysts got wrong), +0.0062 from the best "
        "baseline.</div>"
    ) in render(CHAMPION, report_inputs)
    truth = {"difference": 0.0001, "low": -0.0002, "high": 0.0004, "level": 0.9}
    metrics["true_verdicts"] = {
        "test": {"pr_auc": {"teacher": 0.9927}, "teacher_minus_best": truth}
    }
    evaluate.write_text(json.dumps(metrics))
    assert (
        "from the best baseline. Against the true verdicts of the same alerts the teacher scores "
        "0.9927, +0.0001 from the best baseline there (90% bootstrap interval -0.0002 to +0.0004)."
        "</div>"
    ) in render(CHAMPION, report_inputs)
    # No group was held out in these metrics: only the test split's rows.
    assert "tenants never trained on" not in page
    assert row_of(page, "Model") == [
        "Model",
        "PR-AUC",
        "ROC-AUC",
        "Recall",
        "F1",
        "False positives auto-closed",
    ]
    assert row_of(page, "Deployed (hardened) teacher, test split") == [
        "Deployed (hardened) teacher, test split",
        "0.740",
        "n/a",
        "100.0%",
        "0.469",
        "n/a",
    ]
    assert row_of(page, "LightGBM on the typed fields, test split") == [
        "LightGBM on the typed fields, test split",
        "0.849",
        "0.980",
        "99.3%",
        "0.654",
        "81.0%",
    ]


def test_a_teacher_above_every_baseline_is_said_to_beat_them(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path, decision(), explained())
    stronger = {"test": {"overall": {"pr_auc": 0.9}}}
    (inputs.metrics_dir / "harden.json").write_text(json.dumps(stronger))
    page = render(CHAMPION, inputs)
    assert (
        '<div class="banner pass">The teacher beats every baseline (PR-AUC 0.900 vs 0.881, '
        "TF-IDF + logistic regression on the alert text).</div>"
    ) in page


def test_without_the_baselines_stage_the_comparison_says_so(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path, decision(), explained())
    (inputs.metrics_dir / "baselines.json").unlink()
    page = render(CHAMPION, inputs)
    assert (
        '<div class="banner neutral">No baseline figures: the baselines stage has not run.</div>'
    ) in page
    assert "baselines stage metrics not available:" in page
    assert row_of(page, "LightGBM on the typed fields, test split")[1:] == ["n/a"] * 5


def test_the_tenants_held_out_from_training_get_their_own_rows(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path, decision(), explained())
    path = inputs.metrics_dir / "baselines.json"
    metrics = json.loads(path.read_text())
    metrics["tfidf_logreg"]["test_groups"] = {"overall": {"pr_auc": 0.71, "recall": 0.95}}
    path.write_text(json.dumps(metrics))
    page = render(CHAMPION, inputs)
    row = row_of(page, "TF-IDF + logistic regression on the alert text, tenants never trained on")
    assert row[1:] == ["0.710", "n/a", "95.0%", "n/a", "n/a"]


def test_plots_are_embedded_so_the_page_stands_alone(report_inputs: ReportInputs) -> None:
    page = render(CHAMPION, report_inputs)
    uri = "data:image/png;base64," + base64.b64encode(tiny_png()).decode()
    assert page.count(f'src="{uri}"') == 2  # the SHAP summary and the alert's waterfall
    assert "<script" not in page and "http://" not in page and "https://" not in page


def test_explained_alerts_show_verdict_reasons_and_counterfactual(
    report_inputs: ReportInputs,
) -> None:
    page = render(CHAMPION, report_inputs)
    assert '<code>SYN-0016997</code> <span class="verdict fp">false positive</span>' in page
    assert row_of(page, 'rule_name is "ET WEB"') == [
        'rule_name is "ET WEB"',
        "-0.16 toward false positive",
    ]
    assert "would be real if x" in page
    assert row_of(page, "source: ids") == ["source: ids", "-0.04 toward false positive"]
    # A reason's own text ends in its effect; the report shows that in the column alone.
    explained_alert = {**explained()[0]}
    explained_alert["reasons"] = [
        {"field": "user", "text": "user: svc (-2.5 toward false positive)", "contribution": -2.45}
    ]
    card = explained_alerts([explained_alert], {})[0]
    assert card["reasons"][0]["text"] == "user: svc"
    assert "log-odds -0.36 that the teacher calls it real" in page
    assert row_of(page, "SYN-0000042") == [
        "SYN-0000042",
        "ids, 2026-01-05T10:00:00Z",
        "false positive",
        "0.971",
    ]
    assert row_of(page, "SYN-0000007")[2:] == ["real", "0.900"]
    assert row_of(page, "1 of 2 similar past alerts were confirmed real, as many closed") == [
        "1 of 2 similar past alerts were confirmed real, as many closed"
    ]


def test_malicious_alert_content_is_escaped(tmp_path: Path) -> None:
    inputs = write_inputs(
        tmp_path,
        decision(summary=MALICIOUS),
        explained(alert_id=MALICIOUS, text='<img src=x onerror="alert(2)">'),
    )
    page = render(CHAMPION, inputs)
    assert MALICIOUS not in page and "<img src=x" not in page
    assert "<script" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in page
    # and scripts could not run even if one slipped through
    assert "Content-Security-Policy\" content=\"default-src 'none'; img-src data:;" in page


def test_first_run_says_there_is_no_champion(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path, decision(champion=False, promoted=True), explained())
    page = render(None, inputs)
    assert "<strong>No champion yet:</strong>" in page
    assert "Champion: none yet." in page
    assert row_of(page, "F1") == ["F1", "0.469"]  # no champion columns at all
    assert '<div class="banner pass"><strong>Promoted</strong>' in page


def test_missing_inputs_give_a_readable_page(tmp_path: Path) -> None:
    page = render(None, ReportInputs().under(tmp_path))
    for heading in ("1. The promotion decision", "6. Explained alerts", "8. Audit trail"):
        assert f"<h2>{heading}</h2>" in page
    assert "<strong>No promotion decision</strong>" in page
    assert "teacher stage metrics not available:" in page
    assert "No explained alerts are available." in page
    assert "No plots are available." in page


def test_audit_trail_gives_commands_to_follow_each_link(report_inputs: ReportInputs) -> None:
    page = render(CHAMPION, report_inputs)
    for command in (
        "git show bf37819e:params.yaml",
        "git log --oneline -S 5d41402abc4b2a76b9719d911017c592 -- data.dvc",
        "dvc exp show",
        f"MLFLOW_TRACKING_URI={URI} mlflow runs describe --run-id bbbb2222",
        f"MLFLOW_TRACKING_URI={URI} mlflow artifacts download -u runs:/cccc3333/promotion.json -d alertlens-audit",
    ):
        assert command in page
    assert row_of(page, "Evaluation run") == ["Evaluation run", "n/a", "runs:/ffff6666"]


def test_the_page_says_which_teacher_runtime_was_gated(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path, decision(), explained())
    assert "The deployed teacher scores with" not in render(None, inputs)  # no runtime record
    harden = json.loads((inputs.metrics_dir / "harden.json").read_text())
    harden["runtime"] = {"chosen": "onnx-int8", "reason": "fastest here", "checks": {}}
    (inputs.metrics_dir / "harden.json").write_text(json.dumps(harden))
    page = render(None, inputs)
    assert "The deployed teacher scores with <strong>onnx-int8</strong>" in page
    assert "(fastest here)" in page


def test_the_page_says_how_many_labels_came_from_the_case_systems_verdicts(
    tmp_path: Path,
) -> None:
    inputs = write_inputs(tmp_path, decision(), explained())
    assert "took their verdict from the case" not in render(None, inputs)  # no verdict files
    ingest = {"true_positive": 40, "false_positive": 160, "unlabeled": 30}
    ingest["verdicts"] = {"alerts_labeled": 25, "unmatched": 3, "rows_read": 31}
    (inputs.metrics_dir / "prepare.json").write_text(json.dumps({"ingest": ingest}))
    page = " ".join(render(None, inputs).split())
    assert "Labels: 25 of the 200 labeled alerts (all splits) took their verdict" in page
    assert "3 verdict(s) named no alert" in page


def test_evidence_recall_gets_a_row_and_one_per_cause(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path, decision(), explained())
    path = inputs.metrics_dir / "evaluate.json"
    metrics = json.loads(path.read_text())
    metrics["faithfulness"]["evidence_recall"] = {
        "surrogate": {
            "k": 3,
            "n": 300,
            "overall": 0.62,
            "by_cause": {"webshell": {"n": 9, "recall": 0.444444}},
        },
        "teacher_integrated_gradients": {"k": 3, "n": 40, "overall": 0.875, "by_cause": {}},
    }
    path.write_text(json.dumps(metrics))
    page = render(CHAMPION, inputs)
    row = row_of(page, "Top-3 reasons name the decisive evidence (evidence recall, where known)")
    assert row[1] == "62.0%"
    assert row_of(page, "The same, teacher's own top-3 fields (integrated gradients)")[1] == "87.5%"
    assert row_of(page, "webshell")[1] == "44.4%"


def test_the_similar_alerts_vote_gets_rows_only_for_a_pair_with_an_index(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path, decision(), explained())
    assert "Similar past alerts (the k nearest" not in render(CHAMPION, inputs)
    path = inputs.metrics_dir / "evaluate.json"
    metrics = json.loads(path.read_text())
    vote = {"majority_agrees_with_teacher": 0.78, "majority_agrees_with_analysts": 0.883}
    metrics["similar_alerts"] = {"k": 5, "indexed": 6000, "test": vote, "test_groups": vote}
    path.write_text(json.dumps(metrics))
    page = render(CHAMPION, inputs)
    assert row_of(page, "Labeled training alerts indexed")[1] == "6,000"
    assert row_of(page, "Their majority verdict is the teacher's (test split)")[1] == "78.0%"
    assert row_of(page, "Their majority verdict is the analysts' (held-out groups)")[1] == "88.3%"


def test_the_teachers_calibration_and_band_get_rows(tmp_path: Path) -> None:
    inputs = write_inputs(tmp_path, decision(), explained())
    path = inputs.metrics_dir / "harden.json"
    metrics = json.loads(path.read_text())
    metrics["confidence"] = {
        "band": 0.412,
        "test": {"ece": 0.021, "ece_uncalibrated": 0.310, "band_share": 0.083},
    }
    path.write_text(json.dumps(metrics))
    evaluate = inputs.metrics_dir / "evaluate.json"
    metrics = json.loads(evaluate.read_text())
    metrics["fidelity"]["test"]["borderline"] = {"share": 0.083, "agreement_outside": 0.991}
    evaluate.write_text(json.dumps(metrics))
    page = render(CHAMPION, inputs)
    assert row_of(page, "Calibration error (ECE) of p(real), calibrated")[1] == "0.021"
    assert row_of(page, "Alerts inside the band (verdict could go either way)")[1] == "8.3%"
    assert row_of(page, "Agrees with the teacher outside the band")[1] == "99.1%"
