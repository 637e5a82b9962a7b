import json
from pathlib import Path

from alertlens.reporting.headline import headline, write_headline

METRICS = {
    "harden": {
        "test": {"overall": {"pr_auc": 0.75, "recall": 1.0, "f1": 0.53, "auto_close_share": 0.67}},
        "robustness": {
            "soc": {"hardened": {"overall": {"attack_success_rate": 0.005}}},
            "balanced": {"hardened": {"overall": {"attack_success_rate": 0.041}}},
        },
    },
    "teacher": {"test": {"overall": {"pr_auc": 0.748}}},
    "baselines": {"tfidf_logreg": {"test": {"overall": {"pr_auc": 0.881}}}},
    "evaluate": {
        "fidelity": {"test": {"agreement": 0.956}, "adversarial": {"agreement": 1.0}},
        "faithfulness": {"comprehensiveness_top3_vs_random": 10.7},
    },
}
DECISION = {"promoted": False, "gates": [{"passed": True}, {"passed": False}, {"passed": False}]}


def test_headline_copies_the_stage_figures_and_counts_failed_gates() -> None:
    figures = headline(METRICS, DECISION)["headline"]
    assert figures["teacher"] == {
        "pr_auc": 0.75,
        "recall": 1.0,
        "f1": 0.53,
        "auto_close_share": 0.67,
    }
    assert figures["plain_teacher"] == {"pr_auc": 0.748}
    assert figures["baselines"] == {
        "tfidf_logreg": {"pr_auc": 0.881},
        "lightgbm_fields": {"pr_auc": None},
    }
    assert figures["attack_success_rate"] == {"soc": 0.005, "balanced": 0.041}
    assert figures["surrogate"] == {
        "agreement": {"test": 0.956, "golden": None, "adversarial": 1.0},
        "comprehensiveness_top3_vs_random": 10.7,
    }
    assert (figures["promoted"], figures["gates_failed"]) == (0, 2)


def test_without_a_decision_the_promotion_figures_are_null(tmp_path: Path) -> None:
    for stage, metrics in METRICS.items():
        (tmp_path / f"{stage}.json").write_text(json.dumps(metrics))
    out = tmp_path / "headline.json"
    written = write_headline(tmp_path, tmp_path / "no-decision.json", out)
    assert json.loads(out.read_text()) == written
    figures = written["headline"]
    assert (figures["promoted"], figures["gates_failed"]) == (None, None)
