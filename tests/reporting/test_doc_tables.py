"""Generated doc tables: exact markdown from tiny results, marker rewriting, and --check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from alertlens.reporting.doc_tables import (
    DocTablesError,
    Results,
    flatten,
    main,
    number,
    render,
    render_document,
)

ROOT = Path(__file__).resolve().parents[2]


def overall(recall: float, f1: float, pr_auc: float, auto_close: float) -> dict[str, Any]:
    return {"recall": recall, "f1": f1, "pr_auc": pr_auc, "auto_close_share": auto_close, "n": 999}


def attacks(soc: float, balanced: float) -> dict[str, Any]:
    return {
        point: {"overall": {"attack_success_rate": rate, "n": 400}}
        for point, rate in (("soc", soc), ("balanced", balanced))
    }


def tiny_results() -> Results:
    harden_robustness = {
        point: {
            "plain": attacks(0.005, 0.1523)[point],
            "hardened": attacks(0.005, 0.0408)[point],
        }
        for point in ("soc", "balanced")
    }
    return Results(
        metrics={
            "teacher": {
                "threshold": -4.4972,
                "test": {"overall": overall(0.99346, 0.50836, 0.74755, 0.65366)},
            },
            "harden": {
                "threshold": -4.6104,
                "test": {"overall": overall(1.0, 0.52577, 0.74846, 0.67376)},
                "robustness": harden_robustness,
            },
            "evaluate": {
                "fidelity": {"test": {"agreement": 0.95597}, "adversarial": {"agreement": 1.0}},
                "faithfulness": {"comprehensiveness_top3_vs_random": 10.688},
            },
            "baselines": {
                "tfidf_logreg": {"test": {"overall": overall(0.99329, 0.654, 0.88136, 0.811)}},
                "lightgbm_fields": {"test": {"overall": overall(0.99329, 0.482, 0.8487, 0.615)}},
            },
        },
        promotion={"promoted": True, "gates": [{"name": "floor:test.recall", "passed": True}] * 8},
    )


def test_results_table_from_tiny_metrics() -> None:
    assert render("results", tiny_results()) == "\n".join(
        [
            "| measure (test split, SOC threshold) | value |",
            "| --- | --- |",
            "| Real alerts caught (recall), plain -> hardened teacher | 99.3% -> 100.0% |",
            "| F1, plain -> hardened teacher | 0.508 -> 0.526 |",
            "| PR-AUC, plain -> hardened teacher | 0.748 -> 0.748 |",
            "| PR-AUC, baseline: TF-IDF + logistic regression on the text | 0.881 |",
            "| PR-AUC, baseline: LightGBM on the typed fields | 0.849 |",
            "| False positives auto-closed, plain -> hardened teacher | 65.4% -> 67.4% |",
            "| Attack success rate at the SOC threshold, plain -> hardened | 0.50% -> 0.50% |",
            "| Attack success rate at the balanced point, plain -> hardened | 15.2% -> 4.1% |",
            "| Surrogate agrees with the teacher: test split / evasion variants | 95.6% / 100.0% |",
            "| Top-3 comprehensiveness of the explanations, vs random fields | 10.7x |",
            "| Promotion | promoted (all 8 gates pass) |",
        ]
    )


def test_results_say_the_baselines_have_not_run_without_their_metrics() -> None:
    metrics = {stem: m for stem, m in tiny_results().metrics.items() if stem != "baselines"}
    table = render("results", Results(metrics=metrics)).splitlines()
    assert table[5:7] == [
        "| PR-AUC, baseline: TF-IDF + logistic regression on the text | not run yet |",
        "| PR-AUC, baseline: LightGBM on the typed fields | not run yet |",
    ]


def test_results_wait_for_the_stage_metrics() -> None:
    results = Results(metrics={"teacher": {}})
    assert render("results", results) == (
        "No `metrics/harden.json`, `metrics/evaluate.json` yet: run `make run` to fill this table."
    )


def test_refused_promotion_counts_the_failed_gates() -> None:
    gates = [{"passed": True}, {"passed": False}, {"passed": False}]
    results = Results(metrics=tiny_results().metrics, promotion={"promoted": False, "gates": gates})
    assert render("results", results).endswith("| Promotion | refused (2 of 3 gates fail) |")


def test_teacher_table_lists_overall_first_then_sources() -> None:
    plain = {
        "waf": overall(0.97674, 0.42857, 0.6387, 0.48611),
        "overall": overall(1, 0.5, 0.7, 0.6),
    }
    hardened = {"waf": overall(1.0, 0.42, 0.644, 0.449), "overall": overall(1, 0.5, 0.7, 0.6)}
    results = Results(
        metrics={
            "teacher": {"threshold": -4.4972, "test": plain},
            "harden": {"threshold": -4.6104, "test": hardened},
        }
    )
    lines = render("teacher", results).splitlines()
    assert lines[0] == "Plain -> hardened teacher; thresholds (logit margin) -4.50 -> -4.61."
    assert lines[4].startswith("| overall | 999 |")
    assert (
        lines[5]
        == "| waf | 999 | 97.7% -> 100.0% | 0.429 -> 0.420 | 0.639 -> 0.644 | 48.6% -> 44.9% |"
    )


def test_missing_bench_file_asks_for_make_bench() -> None:
    assert render("bench-explain", Results()) == (
        "No `bench/results/explain.json` yet: run `make bench` to fill this table "
        "(figures depend on the machine)."
    )


def test_bench_table_shows_the_machine_and_every_figure() -> None:
    bench = {
        "explain": {
            "name": "explain",
            "machine": {"cpu": "AMD EPYC", "cores": 2, "flags": ["avx2", "avx512_bf16"]},
            "settings": {"alerts": 2000},
            "figures": {
                "batch1": {"p50_ms": 0.1351, "p95_ms": 0.187},
                "batched_alerts_per_s": 16745.2,
                "runs": 3,
                "repeats": [14865.0, 16745.2],
            },
            "created": "2026-12-02T06:21:10+00:00",
        }
    }
    assert render("bench-explain", Results(bench=bench)) == "\n".join(
        [
            "Machine: AMD EPYC, 2 cores, flags: avx2 avx512_bf16. Settings: alerts 2000.",
            "",
            "| figure | value |",
            "| --- | --- |",
            "| `batch1.p50_ms` | 0.1351 |",
            "| `batch1.p95_ms` | 0.187 |",
            "| `batched_alerts_per_s` | 16,745 |",
            "| `runs` | 3 |",
            "| `repeats` | 14,865 / 16,745 |",
        ]
    )


def test_numbers_keep_four_significant_digits() -> None:
    assert [number(v) for v in (53327.2, 116.94, 2.5, 0.000123, 0, None, True)] == [
        "53,327",
        "116.9",
        "2.5",
        "0.000123",
        "0",
        "n/a",
        "yes",
    ]


def test_flatten_joins_keys_with_dots() -> None:
    assert flatten({"a": {"b": 1, "c": [1, 2]}, "d": None}) == {"a.b": 1, "a.c": [1, 2], "d": None}


def test_only_the_text_between_markers_is_rewritten() -> None:
    text = (
        "intro\n<!-- generated:bench-serve -->\nold table\n<!-- /generated:bench-serve -->\nend\n"
    )
    assert render_document(text, Results()) == (
        "intro\n<!-- generated:bench-serve -->\n"
        "No `bench/results/serve.json` yet: run `make bench` to fill this table "
        "(figures depend on the machine).\n"
        "<!-- /generated:bench-serve -->\nend\n"
    )


def test_a_marker_in_inline_code_is_not_a_block() -> None:
    text = "Write `<!-- generated:results -->` on its own line.\n"
    assert render_document(text, Results()) == text


def test_unknown_and_unclosed_markers_are_errors() -> None:
    with pytest.raises(DocTablesError, match="unknown generated table 'nope'"):
        render_document("<!-- generated:nope -->\n<!-- /generated:nope -->\n", Results())
    with pytest.raises(DocTablesError, match="matching <!-- /generated:NAME -->"):
        render_document("<!-- generated:results -->\n| stale |\n", Results())


def write_project(root: Path, table: str) -> None:
    (root / "metrics").mkdir()
    (root / "metrics" / "distill.json").write_text(json.dumps({"trees": 300, "features": 183}))
    (root / "docs").mkdir()
    (root / "docs" / "performance.md").write_text(
        f"# P\n<!-- generated:distill -->\n{table}\n<!-- /generated:distill -->\n"
    )


def test_check_reports_a_stale_table_and_regenerating_fixes_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(tmp_path, "| stale |")
    assert main(["--check", "--root", str(tmp_path)]) == 1
    out, err = capsys.readouterr()
    assert "--- docs/performance.md (committed)" in out
    assert "-| stale |" in out
    assert "+| trees | 300 |" in out
    assert "1 document(s) out of date" in err
    assert (tmp_path / "docs" / "performance.md").read_text().count("| stale |") == 1

    assert main(["--root", str(tmp_path)]) == 0
    assert (
        "| features (typed + guided keywords) | 183 |"
        in (tmp_path / "docs" / "performance.md").read_text()
    )
    assert main(["--check", "--root", str(tmp_path)]) == 0


def test_unreadable_json_is_an_error_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_project(tmp_path, "")
    (tmp_path / "metrics" / "teacher.json").write_text("{not json")
    assert main(["--check", "--root", str(tmp_path)]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_committed_docs_match_the_committed_json(capsys: pytest.CaptureFixture[str]) -> None:
    status = main(["--check", "--root", str(ROOT)])
    assert status == 0, capsys.readouterr().out + "\nregenerate with `make docs`"
