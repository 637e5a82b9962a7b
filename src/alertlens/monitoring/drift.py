"""Drift of a new alert export against the pair's reference profile, and the retrain verdict.

Three families of evidence, each compared with the reference (the training data):

- feature drift: population stability index (PSI) of every surrogate feature;
- teacher score shift: PSI of the teacher's margin, its mean and quantiles, and the escalation
  rate (share of alerts at or above the operating threshold);
- teacher/surrogate disagreement: the surrogate's explanations are only worth what its
  agreement with the teacher is, and disagreement grows on data neither was fitted to;

plus, when the export carries analyst verdicts, the teacher's recall and F1 on it. Retraining is
warranted when any configured threshold is crossed; the report says which.
"""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from alertlens.alerts.schema import Alert, is_real
from alertlens.monitoring.config import DriftConfig
from alertlens.monitoring.profile import (
    Binning,
    ReferenceProfile,
    feature_rows,
    label_stats,
    margin_stats,
    sample,
)

if TYPE_CHECKING:
    from alertlens.triage import TriagePair

log = logging.getLogger(__name__)


def psi(
    reference_counts: Sequence[float] | np.ndarray,
    new_counts: Sequence[float] | np.ndarray,
    smoothing: float,
) -> float:
    """Population stability index, sum over bins of (new - ref) * ln(new / ref) in proportions.

    ``smoothing`` is a pseudo-count added to every bin on both sides, so a bin empty on one side
    gives a large but finite term; bins empty on both sides are left out (with unequal sample
    sizes the pseudo-counts alone would otherwise add a spurious term).
    """
    ref, new = np.asarray(reference_counts, dtype=float), np.asarray(new_counts, dtype=float)
    if ref.shape != new.shape:
        raise ValueError(f"PSI needs the same bins on both sides: {ref.shape} vs {new.shape}")
    used = (ref > 0) | (new > 0)
    ref, new = ref[used], new[used]
    if ref.sum() == 0 or new.sum() == 0:
        raise ValueError("PSI needs at least one value on each side")
    p = (ref + smoothing) / (ref.sum() + smoothing * ref.size)
    q = (new + smoothing) / (new.sum() + smoothing * new.size)
    return float(np.sum((q - p) * np.log(q / p)))


def noise_floor(bins: int, n_reference: int, n_new: int) -> float:
    """PSI expected from sampling alone when nothing drifted: (bins - 1) * (1/n_ref + 1/n_new)
    (the chi-square approximation), to judge small exports."""
    return (bins - 1) * (1 / n_reference + 1 / n_new)


@dataclass
class FeatureDrift:
    """One feature's PSI, the bins whose share moved most, and (categorical) the most common
    values the reference's levels do not know."""

    name: str
    psi: float
    noise_floor: float
    moved: list[dict[str, Any]]
    unseen: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "psi": round(self.psi, 5),
            "noise_floor": round(self.noise_floor, 5),
            "moved": self.moved,
            "unseen_values": self.unseen,
        }

    def describe(self) -> str:
        shifts = "; ".join(
            f"{m['bin']} {m['reference']:.1%} -> {m['new']:.1%}" for m in self.moved[:2]
        )
        if self.unseen:
            shifts += (
                " [other: "
                + ", ".join(f"{u['value'][:40]!r} {u['share']:.1%}" for u in self.unseen)
                + "]"
            )
        return f"{self.name:<32} PSI {self.psi:6.3f}   {shifts}"


def feature_drift(binning: Binning, values: Sequence[Any], smoothing: float) -> FeatureDrift:
    """PSI of ``values`` against the reference bins, and what moved."""
    new_counts = binning.count(values).astype(float)
    ref = np.asarray(binning.counts, dtype=float)
    ref_share, new_share = ref / ref.sum(), new_counts / new_counts.sum()
    order = np.argsort(-np.abs(new_share - ref_share), kind="stable")
    labels = binning.labels()
    moved = [
        {
            "bin": labels[i],
            "reference": round(float(ref_share[i]), 5),
            "new": round(float(new_share[i]), 5),
        }
        for i in order[:3]
        if new_share[i] != ref_share[i]
    ]
    unseen: list[dict[str, Any]] = []
    if binning.kind == "categorical":
        known = set(binning.levels)
        others = Counter(str(v) for v in values if v is not None and str(v) not in known)
        unseen = [
            {"value": value, "share": round(count / len(values), 5)}
            for value, count in others.most_common(3)
        ]
    used = int(((ref > 0) | (new_counts > 0)).sum())
    return FeatureDrift(
        binning.name,
        psi(ref, new_counts, smoothing),
        noise_floor(used, int(ref.sum()), len(values)),
        moved,
        unseen,
    )


@dataclass
class Check:
    """One verdict rule: its figure, its limit, and whether the figure crossed it."""

    name: str
    value: float | None
    limit: float | None
    crossed: bool
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": None if self.value is None else round(self.value, 5),
            "limit": self.limit,
            "crossed": self.crossed,
            "reason": self.reason,
        }


@dataclass
class DriftReport:
    """Figures of one drift check and the retrain verdict with its reasons."""

    warranted: bool
    reasons: list[str]
    checks: list[Check]
    n_new: int
    n_scored: int
    features: list[FeatureDrift]
    drifted_features: list[str]
    score: dict[str, Any]
    disagreement: dict[str, Any]
    labels: dict[str, Any] | None
    reference: dict[str, Any]
    config: DriftConfig
    timings: dict[str, float] = field(default_factory=dict)
    ingest: dict[str, Any] | None = None
    pair: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Everything, JSON-ready (every feature's PSI, not only the top ones)."""
        return {
            "warranted": self.warranted,
            "reasons": self.reasons,
            "checks": [check.to_dict() for check in self.checks],
            "pair": self.pair,
            "new_alerts": self.n_new,
            "scored_alerts": self.n_scored,
            "ingest": self.ingest,
            "reference": self.reference,
            "features": {
                "drifted": len(self.drifted_features),
                "checked": len(self.features),
                "psi_threshold": self.config.feature_psi,
                "max_psi": round(max((f.psi for f in self.features), default=0.0), 5),
                "top": [f.to_dict() for f in self.features[: self.config.top_features]],
                "psi": {f.name: round(f.psi, 5) for f in self.features},
            },
            "teacher_score": self.score,
            "disagreement": self.disagreement,
            "labels": self.labels,
            "timings_s": {k: round(v, 2) for k, v in self.timings.items()},
            "config": self.config.to_dict(),
        }

    def summary(self) -> str:
        """A few lines for a terminal or a cron mail."""
        score, disagreement = self.score, self.disagreement
        lines = [f"drift check: {self.n_new} new alerts vs {self.reference['description']}"]
        if self.pair:
            lines.append(f"pair: {self.pair}")
        if self.ingest:
            lines.append(f"ingest: {self.ingest['summary']}")
        lines.append(
            f"features: {len(self.drifted_features)} of {len(self.features)} with PSI >= "
            f"{self.config.feature_psi:g}; top {min(self.config.top_features, len(self.features))}:"
        )
        lines.extend(f"  {f.describe()}" for f in self.features[: self.config.top_features])
        ref_q, new_q = score["reference"]["quantiles"], score["new"]["quantiles"]
        lines.append(
            f"teacher score ({self.n_scored} alerts scored): PSI {score['psi']:.3f}; mean "
            f"{score['reference']['mean']:+.3f} -> {score['new']['mean']:+.3f}; median "
            f"{ref_q['p50']:+.3f} -> {new_q['p50']:+.3f}; p90 {ref_q['p90']:+.3f} -> "
            f"{new_q['p90']:+.3f}; escalation rate {score['reference']['escalation_rate']:.1%} -> "
            f"{score['new']['escalation_rate']:.1%}"
        )
        lines.append(
            f"teacher/surrogate disagreement: {disagreement['reference']:.1%} -> "
            f"{disagreement['new']:.1%} ({disagreement['increase'] * 100:+.1f} points)"
        )
        if self.labels:
            new, ref = self.labels["new"], self.labels.get("reference")

            def versus(key: str) -> str:
                return f"{ref[key]:.3f} -> {new[key]:.3f}" if ref else f"{new[key]:.3f}"

            lines.append(
                f"labels ({new['n']} labeled, {new['positives']} real): teacher recall "
                f"{versus('recall')}, F1 {versus('f1')}, precision {versus('precision')}"
                + ("" if self.labels["judged"] else " (too few to judge)")
            )
        lines.append(f"retrain warranted: {'YES' if self.warranted else 'no'}")
        lines.extend(f"  - {reason}" for reason in self.reasons)
        if not self.warranted:
            lines.append("  no threshold crossed")
        if self.timings:
            took = self.timings.get("command", self.timings.get("total", 0.0))
            lines.append(
                f"took {took:.1f} s (teacher scoring of the new alerts "
                f"{self.timings.get('teacher_scoring', 0.0):.1f} s)"
            )
        return "\n".join(lines)


def _feature_checks(
    features: list[FeatureDrift], cfg: DriftConfig
) -> tuple[list[str], list[Check]]:
    drifted = [f.name for f in features if f.psi >= cfg.feature_psi]
    listed = ", ".join(f"{f.name} ({f.psi:.2f})" for f in features if f.psi >= cfg.feature_psi)
    checks = [
        Check(
            "drifted_features",
            float(len(drifted)),
            float(cfg.min_drifted_features),
            len(drifted) >= cfg.min_drifted_features,
            f"{len(drifted)} features with PSI >= {cfg.feature_psi:g} (limit "
            f"{cfg.min_drifted_features}): {listed[:400]}",
        )
    ]
    if cfg.max_feature_psi is not None and features:
        top = features[0]
        checks.append(
            Check(
                "max_feature_psi",
                top.psi,
                cfg.max_feature_psi,
                top.psi >= cfg.max_feature_psi,
                f"feature {top.name} has PSI {top.psi:.2f} (limit {cfg.max_feature_psi:g})",
            )
        )
    return drifted, checks


def _score_checks(
    score: dict[str, Any], disagreement: dict[str, Any], cfg: DriftConfig
) -> list[Check]:
    ref_rate, new_rate = (
        score["reference"]["escalation_rate"],
        score["new"]["escalation_rate"],
    )
    checks = [
        Check(
            "score_psi",
            score["psi"],
            cfg.score_psi,
            score["psi"] >= cfg.score_psi,
            f"teacher score PSI {score['psi']:.2f} (limit {cfg.score_psi:g})",
        ),
        Check(
            "disagreement_increase",
            disagreement["increase"],
            cfg.disagreement_increase,
            disagreement["increase"] >= cfg.disagreement_increase,
            f"teacher/surrogate disagreement {disagreement['new']:.1%} vs "
            f"{disagreement['reference']:.1%} on the reference "
            f"({disagreement['increase'] * 100:+.1f} points, limit "
            f"{cfg.disagreement_increase * 100:g})",
        ),
    ]
    if cfg.escalation_rate_change is not None:
        change = new_rate - ref_rate
        checks.append(
            Check(
                "escalation_rate_change",
                change,
                cfg.escalation_rate_change,
                abs(change) >= cfg.escalation_rate_change,
                f"escalation rate {new_rate:.1%} vs {ref_rate:.1%} ({change * 100:+.1f} points, "
                f"limit +/-{cfg.escalation_rate_change * 100:g})",
            )
        )
    return checks


def _label_checks(labels: dict[str, Any] | None, cfg: DriftConfig) -> list[Check]:
    if not labels or not labels["judged"] or not labels.get("reference"):
        return []
    checks = []
    for metric, limit in (("recall", cfg.recall_drop), ("f1", cfg.f1_drop)):
        if limit is None:
            continue
        drop = labels["reference"][metric] - labels["new"][metric]
        checks.append(
            Check(
                f"{metric}_drop",
                drop,
                limit,
                drop >= limit,
                f"teacher {metric} {labels['new'][metric]:.3f} vs "
                f"{labels['reference'][metric]:.3f} on the reference (drop {drop:.3f}, limit {limit:g})",
            )
        )
    return checks


def _label_figures(
    alerts: Sequence[Alert], margins: np.ndarray, reference: ReferenceProfile, cfg: DriftConfig
) -> dict[str, Any] | None:
    new = label_stats(alerts, margins, reference.threshold)
    if new is None:
        return None
    judged = new["n"] >= cfg.min_labeled and new["positives"] >= cfg.min_labeled_positives
    return {"new": new, "reference": reference.labels, "judged": judged}


def _check_profile_matches(reference: ReferenceProfile, columns: list[str]) -> None:
    unknown = [b.name for b in reference.features if b.name not in columns]
    if unknown:
        raise ValueError(
            f"the drift profile does not belong to this surrogate: its features "
            f"{', '.join(unknown[:5])} are not the surrogate's columns"
        )


def feature_drifts(
    pair: TriagePair, alerts: Sequence[Alert], reference: ReferenceProfile, cfg: DriftConfig
) -> list[FeatureDrift]:
    """PSI of every profiled surrogate feature (but the ignored ones), most drifted first."""
    columns = pair.surrogate.columns
    _check_profile_matches(reference, columns)
    rows = feature_rows(pair.surrogate, sample(alerts, cfg.max_feature_alerts, cfg.seed))
    position = {name: i for i, name in enumerate(columns)}
    drifts = [
        feature_drift(binning, [row[position[binning.name]] for row in rows], cfg.smoothing)
        for binning in reference.features
        if binning.name not in cfg.ignore_features
    ]
    return sorted(drifts, key=lambda f: (-f.psi, f.name))


def score_shift(
    teacher: np.ndarray, surrogate: np.ndarray, reference: ReferenceProfile, cfg: DriftConfig
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The teacher's margin distribution and the teacher/surrogate disagreement, new vs
    reference, at the reference's operating threshold."""
    threshold = reference.threshold
    score = {
        "psi": psi(
            reference.margin.counts, reference.margin.count(teacher.tolist()), cfg.smoothing
        ),
        "threshold": threshold,
        "reference": reference.margin_stats,
        "new": margin_stats(teacher, threshold),
    }
    new_disagreement = float(np.mean(is_real(teacher, threshold) != is_real(surrogate, threshold)))
    disagreement = {
        "reference": reference.disagreement_rate,
        "new": new_disagreement,
        "increase": new_disagreement - reference.disagreement_rate,
    }
    return score, disagreement


def drift_report(
    pair: TriagePair,
    new_alerts: Sequence[Alert],
    reference: ReferenceProfile,
    cfg: DriftConfig | Mapping[str, Any] | None = None,
) -> DriftReport:
    """Compare ``new_alerts`` with the reference profile and decide whether to retrain."""
    config = DriftConfig.from_config(cfg)
    started = time.perf_counter()
    if len(new_alerts) < config.min_alerts:
        raise ValueError(
            f"only {len(new_alerts)} new alerts: a drift check needs at least "
            f"{config.min_alerts} (drift.min_alerts), or the figures are sampling noise"
        )
    if not math.isclose(reference.threshold, pair.teacher.meta.threshold, abs_tol=1e-6):
        log.warning(
            "the profile's threshold %.4f differs from the teacher's %.4f: profile of another pair?",
            reference.threshold,
            pair.teacher.meta.threshold,
        )
    features = feature_drifts(pair, new_alerts, reference, config)
    timings = {"features": time.perf_counter() - started}

    scored = sample(new_alerts, config.max_scored_alerts, config.seed)
    log.info("scoring %d new alerts with the teacher", len(scored))
    teacher = pair.teacher.scorer()(scored)
    timings["teacher_scoring"] = time.perf_counter() - started - timings["features"]
    score, disagreement = score_shift(teacher, pair.surrogate.margins(scored), reference, config)
    labels = _label_figures(scored, teacher, reference, config)

    drifted, checks = _feature_checks(features, config)
    checks += _score_checks(score, disagreement, config) + _label_checks(labels, config)
    timings["total"] = time.perf_counter() - started
    return DriftReport(
        warranted=any(check.crossed for check in checks),
        reasons=[check.reason for check in checks if check.crossed],
        checks=checks,
        n_new=len(new_alerts),
        n_scored=len(scored),
        features=features,
        drifted_features=drifted,
        score=score,
        disagreement=disagreement,
        labels=labels,
        reference={
            "description": reference.description or f"a profile of {reference.n_alerts} alerts",
            "n_alerts": reference.n_alerts,
            "n_scored": reference.n_scored,
        },
        config=config,
        timings=timings,
        pair=pair.origin,
    )
