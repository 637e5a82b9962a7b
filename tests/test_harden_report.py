"""The harden stage's report: operating point, clean F1 cost and attacks on both teachers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from alertlens.alerts.dataset import HeldOut
from alertlens.harden_report import OPERATING_POINTS, HardenReport, harden_report
from alertlens.operating_point import OperatingPoint
from alertlens.teacher.artifact import Teacher, TeacherMeta, load_teacher, save_teacher
from alertlens.teacher.encoder import load_encoder, pick_device
from alertlens.teacher.fit import set_operating_point

from .teacher.conftest import RENDER, toy_alerts

CFG = {
    "seed": 23,
    "attack": {
        "alerts": 4,
        "query_budget": 4,
        "candidates_per_step": 2,
        "max_steps": 2,
        "random_tries": 1,
    },
    "augment": {"transforms": ["cmd_caret_quote", "cmd_case_flip", "char_edit"]},
    "confidence": {"alerts": 10, "passes": 2, "stable": 0.9, "seed": 29},
}
HEADLINE = {"recall": 0.9, "precision": 0.5, "f1": 0.7, "pr_auc": 0.8, "auto_close_share": 0.25}


def _rates(plain: float, hardened: float) -> dict:
    return {
        "plain": {"overall": {"attack_success_rate": plain}},
        "hardened": {"overall": {"attack_success_rate": hardened}},
    }


def test_summary_and_metrics_of_a_report() -> None:
    point = OperatingPoint(0.5, {}, {"overall": HEADLINE})
    report = HardenReport(point, 0.8, {"soc": _rates(0.25, 0.125), "balanced": _rates(0.5, 0.0)})
    assert report.f1_drop == pytest.approx(0.1)
    assert report.summary() == (
        "threshold 0.500; test recall 0.900, precision 0.500, F1 0.700, PR-AUC 0.800, false "
        "positives auto-closable 25.0%\n        attack success rate plain -> hardened "
        "(soc: 25.0% -> 12.5%; balanced: 50.0% -> 0.0%); clean F1 change -10.00 points"
    )


def test_identical_teachers_get_the_same_threshold_and_the_same_attack_results(
    tmp_path: Path,
) -> None:
    model, tokenizer = load_encoder("tiny", max_length=64, seed=0)
    meta = TeacherMeta("tiny", 0.0, 64, "fp32", 0.99, RENDER.to_dict())
    save_teacher(tmp_path / "t", Teacher(model, tokenizer, meta, pick_device("cpu")))
    plain, hardened = load_teacher(tmp_path / "t", "cpu"), load_teacher(tmp_path / "t", "cpu")
    held_out = HeldOut(toy_alerts(6), toy_alerts(30, seed=1), toy_alerts(24, seed=2))
    set_operating_point(plain, plain.scorer(), held_out, 0.99)  # as the teacher stage does
    hardened.meta.threshold = 5.0  # replaced by the report's choice

    report = harden_report(plain, hardened, held_out, CFG, 0.99)

    assert hardened.meta.threshold == report.point.threshold == plain.meta.threshold
    assert report.f1_drop == 0.0 and report.plain_test_f1 == report.point.test["overall"]["f1"]
    metrics = report.metrics()
    assert list(metrics) == [
        "threshold",
        "validation",
        "test",
        "test_by_group",
        "test_groups",
        "plain_test_f1",
        "clean_f1_drop_points",
        "robustness",
        "confidence",
    ]
    assert metrics["clean_f1_drop_points"] == 0.0
    # Calibrated on the 30 validation alerts, the band set from dropout on 10 of them, saved in
    # the meta that publish_teacher writes.
    confidence = metrics["confidence"]
    assert hardened.meta.confidence == {
        "slope": confidence["slope"],
        "intercept": confidence["intercept"],
        "band": confidence["band"],
        "method": "platt scaling; band from monte carlo dropout",
    }
    assert confidence["band"] > 0 and confidence["validation"]["n"] == 30
    assert confidence["test"]["n"] == 24 and 0 <= confidence["test"]["band_share"] <= 1
    assert confidence["test"]["ece"] <= confidence["test"]["ece_uncalibrated"] + 0.05
    assert set(report.robustness) == set(OPERATING_POINTS) == {"soc", "balanced"}
    for table in report.robustness.values():
        assert table["plain"] == table["hardened"] and "overall" in table["plain"]
        assert table["asr_ratio_overall"] in (None, 1.0)
    rates = re.search(r"\(soc: (.+) -> (.+); balanced: (.+) -> (.+)\)", report.summary())
    assert rates is not None and rates[1] == rates[2] and rates[3] == rates[4]
