"""The reference profile: how the pair's training data looked, for drift checks later.

Saved beside the surrogate as ``drift_profile.json``: per surrogate feature its bins (numeric:
quantiles of the reference; categorical: the most common levels, then "other" and "missing")
with the reference counts, the teacher margin's quantile bins and counts, and the reference
escalation and teacher/surrogate disagreement rates. A drift check then needs only the new
export and the pair, not the training data.
"""

from __future__ import annotations

import json
import logging
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np

from alertlens.alerts.schema import Alert, is_real
from alertlens.metrics import binary_report
from alertlens.monitoring.config import DriftConfig
from alertlens.surrogate.artifact import PROFILE_FILE
from alertlens.surrogate.model import SurrogateModel

if TYPE_CHECKING:
    from alertlens.triage import TriagePair

log = logging.getLogger(__name__)

PROFILE_VERSION = 1
OTHER = "(other)"
MISSING = "(missing)"
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)


class PairParts(NamedTuple):
    """What a profile needs of a pair, for callers that hold the parts (the distill stage)."""

    surrogate: SurrogateModel
    threshold: float


def pair_parts(pair: TriagePair | PairParts) -> PairParts:
    if isinstance(pair, PairParts):
        return pair
    return PairParts(pair.surrogate, pair.teacher.meta.threshold)


@dataclass
class Binning:
    """Bins of one feature (or of the teacher margin) and the reference's count in each.

    Numeric bins are right-closed intervals between ``edges``, then one bin for missing (NaN);
    categorical bins are ``levels``, then "other" (a level the reference rarely or never had),
    then missing.
    """

    name: str
    kind: Literal["numeric", "categorical"]
    counts: list[int]
    edges: list[float] = field(default_factory=list)
    levels: list[str] = field(default_factory=list)

    @classmethod
    def fit(
        cls,
        name: str,
        kind: Literal["numeric", "categorical"],
        values: Sequence[Any],
        cfg: DriftConfig,
    ) -> Binning:
        """Bins from the reference values, with the reference counts."""
        if kind == "numeric":
            numbers = np.asarray(values, dtype=float)
            finite = numbers[~np.isnan(numbers)]
            inner = np.linspace(0, 1, cfg.bins + 1)[1:-1]
            edges = np.unique(np.quantile(finite, inner)).tolist() if finite.size else []
            binning = cls(name, kind, [], edges=edges)
        else:
            present = Counter(str(v) for v in values if v is not None)
            ranked = sorted(present.items(), key=lambda item: (-item[1], item[0]))
            binning = cls(name, kind, [], levels=[level for level, _ in ranked[: cfg.max_levels]])
        binning.counts = binning.count(values).tolist()
        return binning

    @property
    def size(self) -> int:
        return len(self.edges) + 2 if self.kind == "numeric" else len(self.levels) + 2

    def assign(self, values: Sequence[Any]) -> np.ndarray:
        """Bin index of each value."""
        if self.kind == "numeric":
            numbers = np.asarray(values, dtype=float)
            index = np.searchsorted(np.asarray(self.edges, dtype=float), numbers, side="left")
            return np.where(np.isnan(numbers), self.size - 1, index)
        codes = {level: i for i, level in enumerate(self.levels)}
        other, missing = len(self.levels), len(self.levels) + 1
        return np.array(
            [missing if v is None else codes.get(str(v), other) for v in values], dtype=int
        )

    def count(self, values: Sequence[Any]) -> np.ndarray:
        return np.bincount(self.assign(values), minlength=self.size)

    def labels(self) -> list[str]:
        """A readable name per bin, for reports."""
        if self.kind == "categorical":
            return [*self.levels, OTHER, MISSING]
        if not self.edges:
            return ["any value", MISSING]
        shown = [f"{edge:.4g}" for edge in self.edges]
        inner = [f"({low}, {high}]" for low, high in zip(shown, shown[1:], strict=False)]
        return [f"<= {shown[0]}", *inner, f"> {shown[-1]}", MISSING]

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "kind": self.kind, "counts": self.counts}
        data["edges" if self.kind == "numeric" else "levels"] = (
            self.edges if self.kind == "numeric" else self.levels
        )
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Binning:
        binning = cls(
            data["name"],
            data["kind"],
            [int(c) for c in data["counts"]],
            edges=[float(e) for e in data.get("edges", [])],
            levels=[str(v) for v in data.get("levels", [])],
        )
        if len(binning.counts) != binning.size:
            raise ValueError(f"drift profile: feature {binning.name} has a malformed bin table")
        return binning


def margin_stats(margins: np.ndarray, threshold: float) -> dict[str, Any]:
    """Mean, quantiles and the escalation rate (share at or above the threshold)."""
    return {
        "mean": float(np.mean(margins)),
        "std": float(np.std(margins)),
        "quantiles": {f"p{round(q * 100)}": float(np.quantile(margins, q)) for q in QUANTILES},
        "escalation_rate": float(np.mean(is_real(margins, threshold))),
    }


def label_stats(
    alerts: Sequence[Alert], teacher_margins: np.ndarray, threshold: float
) -> dict[str, Any] | None:
    """Teacher precision, recall and F1 on the labeled alerts, or None when there are none."""
    labeled = [i for i, alert in enumerate(alerts) if alert.label is not None]
    if not labeled:
        return None
    labels = np.array([alerts[i].label for i in labeled], dtype=int)
    report = binary_report(teacher_margins[labeled], labels, threshold)
    return {key: report[key] for key in ("n", "positives", "precision", "recall", "f1")}


@dataclass
class ReferenceProfile:
    """The training data's profile that new exports are compared with."""

    n_alerts: int
    n_scored: int
    threshold: float
    features: list[Binning]
    margin: Binning
    margin_stats: dict[str, Any]
    disagreement_rate: float
    labels: dict[str, Any] | None = None
    description: str = ""

    @property
    def escalation_rate(self) -> float:
        return float(self.margin_stats["escalation_rate"])

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": PROFILE_VERSION,
            "description": self.description,
            "n_alerts": self.n_alerts,
            "n_scored": self.n_scored,
            "threshold": self.threshold,
            "escalation_rate": self.escalation_rate,
            "disagreement_rate": self.disagreement_rate,
            "margin_stats": self.margin_stats,
            "labels": self.labels,
            "margin": self.margin.to_dict(),
            "features": [binning.to_dict() for binning in self.features],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ReferenceProfile:
        if data.get("version") != PROFILE_VERSION:
            raise ValueError(
                f"drift profile version {data.get('version')!r} is not {PROFILE_VERSION}; "
                "recompute it (drop the file, or pass --reference)"
            )
        return cls(
            n_alerts=int(data["n_alerts"]),
            n_scored=int(data["n_scored"]),
            threshold=float(data["threshold"]),
            features=[Binning.from_dict(item) for item in data["features"]],
            margin=Binning.from_dict(data["margin"]),
            margin_stats=dict(data["margin_stats"]),
            disagreement_rate=float(data["disagreement_rate"]),
            labels=data.get("labels"),
            description=str(data.get("description", "")),
        )

    def save(self, path: Path) -> Path:
        """Write to ``path``, or to ``path/drift_profile.json`` when it is a directory."""
        target = path / PROFILE_FILE if path.is_dir() else path
        target.write_text(json.dumps(self.to_dict(), indent=1) + "\n")
        return target

    @classmethod
    def load(cls, path: Path) -> ReferenceProfile:
        """Read a profile file (or ``path/drift_profile.json``)."""
        target = path / PROFILE_FILE if path.is_dir() else path
        try:
            return cls.from_dict(json.loads(target.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"{target} is not a valid drift profile ({exc})") from None


def feature_rows(surrogate: SurrogateModel, alerts: Sequence[Alert]) -> list[list[Any]]:
    """The surrogate's typed feature rows (the columns the profile bins)."""
    return surrogate.encoder.extractor.extract_rows(alerts)


def build_reference_profile(
    pair_or_parts: TriagePair | PairParts,
    alerts: Sequence[Alert],
    teacher_margins: Sequence[float] | np.ndarray,
    surrogate_margins: Sequence[float] | np.ndarray,
    cfg: DriftConfig | dict[str, Any] | None = None,
    description: str = "",
    rows: list[list[Any]] | None = None,
) -> ReferenceProfile:
    """The profile of ``alerts`` (the training alerts, not augmented variants) with the
    teacher's and surrogate's margins on them, in the same order; ``rows``: their feature rows
    when already extracted."""
    config = DriftConfig.from_config(cfg)
    surrogate, threshold = pair_parts(pair_or_parts)
    teacher = np.asarray(teacher_margins, dtype=float)
    mimic = np.asarray(surrogate_margins, dtype=float)
    if not len(alerts) == teacher.size == mimic.size:
        raise ValueError(
            f"reference profile: {len(alerts)} alerts but {teacher.size} teacher and "
            f"{mimic.size} surrogate margins; they must align"
        )
    if not alerts:
        raise ValueError("reference profile: no reference alerts")
    if rows is None:
        rows = feature_rows(surrogate, alerts)
    elif len(rows) != len(alerts):
        raise ValueError(f"reference profile: {len(alerts)} alerts but {len(rows)} feature rows")
    features = [
        Binning.fit(column.name, column.dtype, [row[i] for row in rows], config)
        for i, column in enumerate(surrogate.encoder.extractor.columns)
    ]
    return ReferenceProfile(
        n_alerts=len(alerts),
        n_scored=len(alerts),
        threshold=float(threshold),
        features=features,
        margin=Binning.fit("teacher_margin", "numeric", teacher.tolist(), config),
        margin_stats=margin_stats(teacher, threshold),
        disagreement_rate=float(np.mean(is_real(teacher, threshold) != is_real(mimic, threshold))),
        labels=label_stats(alerts, teacher, threshold),
        description=description,
    )


def sample(alerts: Sequence[Alert], limit: int, seed: int) -> list[Alert]:
    """At most ``limit`` alerts, a seeded uniform sample kept in the original order."""
    if len(alerts) <= limit:
        return list(alerts)
    chosen = sorted(random.Random(seed).sample(range(len(alerts)), limit))
    return [alerts[i] for i in chosen]


def score_reference_profile(
    pair: TriagePair,
    alerts: Sequence[Alert],
    cfg: DriftConfig | dict[str, Any] | None = None,
    description: str = "",
) -> ReferenceProfile:
    """A profile for a pair saved without one: score a capped sample of the reference alerts."""
    config = DriftConfig.from_config(cfg)
    chosen = sample(alerts, config.max_reference_alerts, config.seed)
    log.info("scoring %d reference alerts with the teacher for the drift profile", len(chosen))
    teacher_margins = pair.teacher.scorer()(chosen)
    return build_reference_profile(
        pair, chosen, teacher_margins, pair.surrogate.margins(chosen), config, description
    )
