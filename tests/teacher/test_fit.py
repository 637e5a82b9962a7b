"""Held-out splits, the operating point and the teacher stage's fit, on the tiny BERT."""

from __future__ import annotations

from pathlib import Path

import pytest

from alertlens.alerts.dataset import HeldOut, held_out_splits
from alertlens.alerts.schema import Alert
from alertlens.config import compose
from alertlens.teacher.artifact import Teacher, TeacherMeta
from alertlens.teacher.encoder import pick_device
from alertlens.teacher.fit import set_operating_point, train_teacher

from .conftest import RENDER, toy_alerts


def _write_split(directory: Path, name: str, alerts: list[Alert]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.jsonl").write_text("".join(a.to_json() + "\n" for a in alerts))


def test_held_out_splits_subsample_validation_but_threshold_on_all_of_it(tmp_path: Path) -> None:
    _write_split(tmp_path, "validation", toy_alerts(30, seed=1))
    _write_split(tmp_path, "test", toy_alerts(21, seed=2))
    cfg = {"seed": 5, "validation_subsample": 12, "test_subsample": None}
    held_out = held_out_splits(tmp_path, cfg)
    assert len(held_out.validation) == 12
    assert [a.id for a in held_out.threshold_set] == [f"t{i}" for i in range(30)]
    assert len(held_out.test) == 21
    assert sum(a.label for a in held_out.validation) == 4  # stratified: a third are real


def test_set_operating_point_sets_the_threshold_chosen_on_the_whole_validation_split(
    tiny,
) -> None:
    model, tokenizer = tiny
    teacher = Teacher(
        model,
        tokenizer,
        TeacherMeta("tiny", 9.0, 64, "fp32", 0.99, RENDER.to_dict()),
        pick_device("cpu"),
    )
    held_out = HeldOut(toy_alerts(6), toy_alerts(30, seed=1), toy_alerts(15, seed=2))
    point = set_operating_point(teacher, teacher.scorer(), held_out, 0.99)
    assert teacher.meta.threshold == point.threshold != 9.0
    assert point.validation["n"] == 30 and point.validation["recall"] == 1.0
    assert point.test["overall"]["n"] == 15 and set(point.test) == {"overall", "edr"}


def test_train_teacher_fits_sets_the_threshold_and_reports_the_stage_metrics() -> None:
    cfg = compose(["teacher=tiny", "teacher.epochs=1", "teacher.device=cpu"])["teacher"]
    held_out = HeldOut(toy_alerts(12, seed=1), toy_alerts(18, seed=1), toy_alerts(9, seed=2))
    fitted = train_teacher(cfg, RENDER, toy_alerts(48), held_out)
    meta = fitted.teacher.meta
    assert (meta.encoder, meta.max_length, meta.precision) == ("tiny", 96, "fp32")
    assert meta.render == RENDER.to_dict() and meta.recall_target == cfg["recall_target"]
    assert meta.threshold == fitted.point.threshold == fitted.metrics["threshold"]
    assert list(fitted.metrics) == [
        "training",
        "unknown_token_rate",
        "rows",
        "threshold",
        "validation",
        "test",
        "test_by_group",
        "test_groups",
    ]
    assert fitted.metrics["rows"] == {"train": 48, "validation": 12, "test": 9}
    assert fitted.metrics["training"]["steps"] == 3  # 48 alerts in batches of 16, one epoch
    assert fitted.metrics["validation"]["n"] == 18
    assert fitted.metrics["unknown_token_rate"] == pytest.approx(0.0, abs=0.05)
