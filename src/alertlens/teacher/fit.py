"""Fine-tune a teacher on prepared splits and measure it at the SOC operating point.

Shared by the ``teacher`` and ``harden`` stages: both train, pick the threshold on validation
and report test metrics per alert source the same way.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from alertlens.alerts.dataset import HeldOut
from alertlens.alerts.render import RenderConfig, render_text
from alertlens.alerts.schema import Alert
from alertlens.config import section
from alertlens.metrics import binary_report, choose_threshold, headline_figures, sliced_report
from alertlens.teacher.artifact import Teacher, TeacherMeta
from alertlens.teacher.batching import EncodedSet, encode
from alertlens.teacher.encoder import load_encoder, pick_device, unknown_token_rate
from alertlens.teacher.precision import PrecisionChoice
from alertlens.teacher.scoring import TeacherScorer
from alertlens.teacher.train import TrainConfig, Trainer, TrainResult
from alertlens.threads import configure_threads

log = logging.getLogger(__name__)


def encode_alerts(
    tokenizer: Any, alerts: Sequence[Alert], render: RenderConfig, max_length: int
) -> EncodedSet:
    """Render and tokenize labeled alerts."""
    return encode(
        tokenizer,
        [render_text(a, render) for a in alerts],
        [int(a.label or 0) for a in alerts],
        max_length,
    )


def check_vocabulary(
    tokenizer: Any, alerts: Sequence[Alert], render: RenderConfig, warn_above: float
) -> float:
    """Unknown-token rate on the data; warns when the encoder does not fit the language."""
    rate = unknown_token_rate(tokenizer, [render_text(a, render) for a in alerts[:2000]])
    if rate > warn_above:
        log.warning(
            "%.1f%% of tokens are unknown to the encoder's tokenizer (above %.0f%%): the alert text "
            "may not be in a language it knows. Switch encoders with `-S teacher.encoder=<model id or path>`"
            " (e.g. a multilingual BERT).",
            100 * rate,
            100 * warn_above,
        )
    return rate


@dataclass
class OperatingPoint:
    """The threshold chosen on validation and the metrics it gives."""

    threshold: float
    validation: dict[str, Any]
    test: dict[str, Any]

    def metrics(self) -> dict[str, Any]:
        return {
            "threshold": self.threshold,
            "validation": headline_figures(self.validation),
            "test": {name: headline_figures(report) for name, report in self.test.items()},
        }


def operating_point(
    scorer: TeacherScorer, validation: Sequence[Alert], test: Sequence[Alert], recall_target: float
) -> OperatingPoint:
    """Choose the threshold for ``recall_target`` on validation; report validation and test."""
    val_scores, val_labels = scorer(validation), np.array([a.label for a in validation])
    threshold = choose_threshold(val_scores, val_labels, recall_target)
    return OperatingPoint(
        threshold=threshold,
        validation=binary_report(val_scores, val_labels, threshold),
        test=report_at(scorer, test, threshold),
    )


def set_operating_point(
    teacher: Teacher, scorer: TeacherScorer, held_out: HeldOut, recall_target: float
) -> OperatingPoint:
    """Choose ``teacher``'s threshold on the whole validation split and set it; report test."""
    point = operating_point(scorer, held_out.threshold_set, held_out.test, recall_target)
    teacher.meta.threshold = point.threshold
    return point


def report_at(
    scorer: TeacherScorer, alerts: Sequence[Alert], threshold: float
) -> dict[str, dict[str, Any]]:
    """Metrics at a given threshold on ``alerts``, overall and per alert source."""
    scores, labels = scorer(alerts), np.array([a.label for a in alerts])
    return sliced_report(scores, labels, [a.source for a in alerts], threshold)


def summary_line(point: OperatingPoint) -> str:
    """One line for the console: the operating point on the test split."""
    overall = point.test["overall"]
    return (
        f"threshold {point.threshold:.3f}; test recall {overall['recall']:.3f}, precision "
        f"{overall['precision']:.3f}, F1 {overall['f1']:.3f}, PR-AUC {overall['pr_auc'] or 0:.3f}, "
        f"false positives auto-closable {overall['auto_close_share']:.1%}"
    )


@dataclass
class TeacherFit:
    """A fine-tuned teacher with its threshold set, the operating point and the stage metrics."""

    teacher: Teacher
    point: OperatingPoint
    metrics: dict[str, Any]
    training: TrainResult
    precision: PrecisionChoice  # what ``auto`` became, and why


def train_teacher(
    cfg: Mapping[str, Any],
    render: RenderConfig,
    train: list[Alert],
    held_out: HeldOut,
    checkpoint_dir: Path | None = None,
) -> TeacherFit:
    """Fine-tune the configured encoder (the ``teacher`` config section) and set its threshold."""
    configure_threads()
    train_cfg, length = section(TrainConfig, cfg), cfg["max_length"]
    model, tokenizer = load_encoder(cfg["encoder"], length, cfg["seed"])
    unk_rate = check_vocabulary(tokenizer, train, render, cfg["unknown_token_warn"])
    device = pick_device(cfg["device"])
    trainer = Trainer(
        model, train_cfg, device, tokenizer.pad_token_id, checkpoint_dir=checkpoint_dir
    )
    result = trainer.fit(
        encode_alerts(tokenizer, train, render, length),
        encode_alerts(tokenizer, held_out.validation, render, length),
    )
    meta = TeacherMeta(
        cfg["encoder"],
        math.nan,
        length,
        trainer.config.precision,  # concrete: the scorer and the harden stage read it
        cfg["recall_target"],
        render.to_dict(),
    )
    teacher = Teacher(trainer.model, tokenizer, meta, device)
    point = set_operating_point(
        teacher, teacher.scorer(train_cfg.eval_batch_size), held_out, cfg["recall_target"]
    )
    metrics = {
        "training": result.metrics(),
        "unknown_token_rate": round(unk_rate, 5),
        "rows": {
            "train": len(train),
            "validation": len(held_out.validation),
            "test": len(held_out.test),
        },
        **point.metrics(),
    }
    return TeacherFit(teacher, point, metrics, result, trainer.precision)
