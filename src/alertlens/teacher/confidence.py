"""How sure the teacher is of a verdict: a probability calibrated on validation, and the band
around the threshold where its verdict is not stable.

*Calibration* is Platt scaling of the margin, ``p(real) = sigmoid(slope * margin + intercept)``,
fitted by logistic regression on the validation split's labeled alerts: temperature scaling
with a bias, which a margin whose threshold sits far from 0 and whose wide-and-deep prior
shifts it needs. Isotonic regression was not chosen: validation holds a few hundred real
alerts, too few for a step function that must not overfit, and a monotone two-parameter map
keeps the teacher's ranking (its PR-AUC) unchanged.

*The borderline band* comes from the teacher's own instability under Monte Carlo dropout: the
encoder scores each validation alert ``passes`` more times with its dropout layers active, and
an alert's instability is the largest move of its margin from the deterministic one. The band's
half-width is the ``stable`` quantile of those moves: an alert whose margin lies further than
that from the threshold keeps its verdict under the teacher's own noise for all but
``1 - stable`` of alerts. Inside the band the verdict could go either way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from sklearn.linear_model import LogisticRegression

from alertlens.alerts.render import render_text
from alertlens.alerts.schema import Alert
from alertlens.metrics import calibration_bins, expected_calibration_error, sigmoid
from alertlens.teacher.batching import encode
from alertlens.teacher.scoring import predict_margins

METHOD = "platt scaling; band from monte carlo dropout"


@dataclass(frozen=True)
class Confidence:
    """The calibration map and the borderline band, saved with the teacher."""

    slope: float
    intercept: float
    band: float  # half-width around the threshold, in margin logits
    method: str = METHOD

    def probability(self, margins: np.ndarray | float) -> np.ndarray:
        """Calibrated p(real) of teacher margins."""
        return sigmoid(self.slope * np.asarray(margins, dtype=float) + self.intercept)

    def borderline(self, margins: np.ndarray | float, threshold: float) -> np.ndarray:
        """True where a margin lies inside the band around ``threshold``."""
        return np.abs(np.asarray(margins, dtype=float) - threshold) < self.band

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Confidence | None:
        return None if not data else cls(**data)


def platt_fit(margins: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(slope, intercept) of the logistic regression of labels on margins (unregularized)."""
    if len(set(labels.tolist())) < 2:
        raise ValueError("calibration needs both real and false-positive alerts")
    model = LogisticRegression(C=1e6, max_iter=1000)
    model.fit(np.asarray(margins, dtype=float).reshape(-1, 1), labels)
    return float(model.coef_[0, 0]), float(model.intercept_[0])


def reliability(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> list[dict[str, float]]:
    """Per non-empty equal-width bin: mean predicted p(real), observed real share, alerts."""
    probs, labels = np.asarray(probs, dtype=float), np.asarray(labels, dtype=float)
    index = calibration_bins(probs, bins)
    return [
        {
            "predicted": round(float(probs[index == b].mean()), 6),
            "observed": round(float(labels[index == b].mean()), 6),
            "n": int((index == b).sum()),
        }
        for b in range(bins)
        if (index == b).any()
    ]


def dropout_instability(
    teacher: Any, alerts: Sequence[Alert], passes: int, seed: int
) -> np.ndarray:
    """Per alert, the largest move of the encoder's margin under ``passes`` Monte Carlo dropout
    draws from its deterministic margin (the PyTorch model; the prior adds the same to both)."""
    texts = [render_text(alert, teacher.render) for alert in alerts]
    data = encode(teacher.tokenizer, texts, [0] * len(texts), teacher.meta.max_length)
    pad_id = teacher.tokenizer.pad_token_id or 0
    args = (teacher.model, data, 64, teacher.device, teacher.meta.precision, pad_id)
    fixed = predict_margins(*args)
    torch.manual_seed(seed)
    draws = np.stack([predict_margins(*args, dropout=True) for _ in range(passes)])
    return np.abs(draws - fixed).max(axis=0)


def fit_confidence(
    margins: np.ndarray, labels: np.ndarray, instability: np.ndarray, stable: float
) -> Confidence:
    """Calibrate on labeled validation ``margins`` and set the band from the alerts'
    ``instability`` (:func:`dropout_instability`) at quantile ``stable``."""
    if not 0 < stable < 1:
        raise ValueError(f"stable must lie in (0, 1), got {stable}")
    slope, intercept = platt_fit(margins, labels)
    band = float(np.quantile(instability, stable)) if len(instability) else 0.0
    return Confidence(round(slope, 6), round(intercept, 6), round(band, 6))


def confidence_report(
    confidence: Confidence, threshold: float, sets: dict[str, tuple[np.ndarray, np.ndarray]]
) -> dict[str, Any]:
    """Per labeled set (margins, labels): the band's share of alerts, the ECE before (sigmoid
    of the margin) and after calibration, and the reliability table."""
    report: dict[str, Any] = {
        "slope": confidence.slope,
        "intercept": confidence.intercept,
        "band": confidence.band,
    }
    for name, (margins, labels) in sets.items():
        report[name] = {"n": len(margins)}
        if len(margins):
            calibrated = confidence.probability(margins)
            report[name] |= {
                "band_share": round(float(confidence.borderline(margins, threshold).mean()), 6),
                "ece_uncalibrated": round(expected_calibration_error(sigmoid(margins), labels), 6),
                "ece": round(expected_calibration_error(calibrated, labels), 6),
                "reliability": reliability(calibrated, labels),
            }
    return report
