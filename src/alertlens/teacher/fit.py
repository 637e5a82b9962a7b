"""Fine-tune a teacher on prepared splits and measure it at the SOC operating point.

Shared by the ``teacher`` and ``harden`` stages: both train, pick the threshold on validation
and report test metrics per alert source the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from alertlens.alerts.render import RenderConfig, render_text
from alertlens.alerts.schema import Alert
from alertlens.metrics import binary_report, choose_threshold, sliced_report
from alertlens.teacher.batching import EncodedSet, encode
from alertlens.teacher.encoder import unknown_token_rate
from alertlens.teacher.scoring import TeacherScorer

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
            "validation": _headline(self.validation),
            "test": {name: _headline(report) for name, report in self.test.items()},
        }


def _headline(report: Mapping[str, Any]) -> dict[str, Any]:
    """The figures worth a column in `dvc exp show` (the confusion counts stay in MLflow)."""
    keys = (
        "precision",
        "recall",
        "f1",
        "accuracy",
        "pr_auc",
        "roc_auc",
        "calibration_error",
        "auto_close_share",
        "n",
    )
    return {
        key: (round(report[key], 5) if isinstance(report[key], float) else report[key])
        for key in keys
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
