"""Faithfulness: do the fields the surrogate's explanation ranks first really drive the teacher?

ERASER's erasure metrics (DeYoung et al., 2020), at the level of alert fields. For the top-k
fields of an explanation, *comprehensiveness* is how far the teacher's confidence in its own
decision falls when they are removed (high is faithful) and *sufficiency* how far it falls when
only they are kept (low is faithful); AOPC averages either over k. A random ranking of each
alert's fields is the baseline: the explanation is worth what it adds over chance.

The teacher is a transformer on a couple of CPU cores, so each variant (one ranking, one k, one
kind of erasure) is scored in one batch over all alerts, and the full alerts once.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from alertlens.alerts.schema import Alert, is_real
from alertlens.assess.robustness import Scorer
from alertlens.metrics import sigmoid

log = logging.getLogger(__name__)

FieldRanking = Callable[[Alert], list[str]]  # the alert's fields, most important first
TeacherProb = Callable[[Sequence[Alert]], np.ndarray]  # alerts -> p(real), one per alert
Erasure = Callable[[Alert, Iterable[str]], Alert]


def rank_fields(alerts: Sequence[Alert], ranking: FieldRanking) -> list[list[str]]:
    """Each alert's ranking, checked to name distinct fields that the alert has."""
    rankings = []
    for alert in alerts:
        fields = list(ranking(alert))
        unknown = [name for name in fields if name not in alert.fields]
        if unknown or len(set(fields)) != len(fields):
            raise ValueError(
                f"alert {alert.id}: ranking {fields} repeats fields or names absent ones {unknown}"
            )
        rankings.append(fields)
    return rankings


def without_fields(alert: Alert, fields: Iterable[str]) -> Alert:
    """A copy of ``alert`` without ``fields`` (names it lacks are ignored)."""
    drop = set(fields)
    return replace(alert, fields={k: v for k, v in alert.fields.items() if k not in drop})


def only_fields(alert: Alert, fields: Iterable[str]) -> Alert:
    """A copy of ``alert`` keeping only ``fields``, in the alert's own order."""
    keep = set(fields)
    return replace(alert, fields={k: v for k, v in alert.fields.items() if k in keep})


def _probabilities(teacher_prob: TeacherProb, alerts: Sequence[Alert]) -> np.ndarray:
    """One teacher call (none for no alerts), checked to give one probability per alert."""
    if not alerts:
        return np.zeros(0)
    probs = np.asarray(teacher_prob(alerts), dtype=float)
    if probs.shape != (len(alerts),):
        raise ValueError(f"the teacher returned shape {probs.shape} for {len(alerts)} alerts")
    return probs


def _predicted(p_real: np.ndarray, called_real: np.ndarray) -> np.ndarray:
    """Probability of the class the teacher chose on the full alert."""
    return np.where(called_real, p_real, 1.0 - p_real)


def _erasure_drop(
    teacher_prob: TeacherProb,
    alerts: Sequence[Alert],
    rankings: Sequence[Sequence[str]],
    k: int,
    threshold: float,
    full: np.ndarray | None,
    erase: Erasure,
) -> np.ndarray:
    """Per alert: p(predicted class | full) - p(predicted class | erased top-k fields)."""
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if len(rankings) != len(alerts):
        raise ValueError(f"{len(rankings)} rankings for {len(alerts)} alerts")
    full = _probabilities(teacher_prob, alerts) if full is None else np.asarray(full, dtype=float)
    called = is_real(full, threshold)
    erased = [erase(alert, ranking[:k]) for alert, ranking in zip(alerts, rankings, strict=True)]
    return _predicted(full, called) - _predicted(_probabilities(teacher_prob, erased), called)


def comprehensiveness(
    teacher_prob: TeacherProb,
    alerts: Sequence[Alert],
    rankings: Sequence[Sequence[str]],
    k: int,
    threshold: float = 0.5,
    *,
    full: np.ndarray | None = None,
) -> np.ndarray:
    """Per alert, the fall in p(predicted class) when its top-k fields are removed.

    The predicted class is the teacher's decision on the full alert, ``p(real) >= threshold``;
    ``full`` is p(real) on the full alerts where already scored (saves a teacher call).
    """
    return _erasure_drop(teacher_prob, alerts, rankings, k, threshold, full, without_fields)


def sufficiency(
    teacher_prob: TeacherProb,
    alerts: Sequence[Alert],
    rankings: Sequence[Sequence[str]],
    k: int,
    threshold: float = 0.5,
    *,
    full: np.ndarray | None = None,
) -> np.ndarray:
    """Per alert, the fall in p(predicted class) when only its top-k fields are kept."""
    return _erasure_drop(teacher_prob, alerts, rankings, k, threshold, full, only_fields)


def aopc(metric_by_k: Mapping[int, np.ndarray]) -> float:
    """ERASER's area over the perturbation curve: the mean over k of the per-alert mean."""
    if not metric_by_k:
        raise ValueError("AOPC needs the metric at one k at least")
    return float(np.mean([np.mean(values) for values in metric_by_k.values()]))


def random_rankings(alerts: Sequence[Alert], rng: random.Random) -> list[list[str]]:
    """A random order of each alert's fields: the baseline an explanation has to beat."""
    # Sorted first, so the draw does not depend on the order a reader filled the fields in.
    return [rng.sample(sorted(alert.fields), len(alert.fields)) for alert in alerts]


def _curve(base: np.ndarray, removed: Mapping[int, np.ndarray]) -> list[float]:
    """Mean p(predicted class) with nothing removed, then per k (``removed``: comprehensiveness)."""
    return [float(np.mean(base))] + [float(np.mean(base - removed[k])) for k in sorted(removed)]


def deletion_curve(
    teacher_prob: TeacherProb,
    alerts: Sequence[Alert],
    rankings: Sequence[Sequence[str]],
    max_k: int,
    threshold: float = 0.5,
    *,
    full: np.ndarray | None = None,
) -> list[float]:
    """Mean p(predicted class) as the top k = 0..max_k fields are removed in ranking order."""
    full = _probabilities(teacher_prob, alerts) if full is None else np.asarray(full, dtype=float)
    removed = {
        k: comprehensiveness(teacher_prob, alerts, rankings, k, threshold, full=full)
        for k in range(1, max_k + 1)
    }
    return _curve(_predicted(full, is_real(full, threshold)), removed)


def evidence_ranking(
    field_contributions: Mapping[str, float], teacher_says_real: bool
) -> list[str]:
    """Fields by their evidence for the teacher's verdict, strongest first (ERASER rationales
    support the predicted class; a field arguing against it is not part of the reason)."""
    sign = 1.0 if teacher_says_real else -1.0
    return sorted(field_contributions, key=lambda name: -sign * field_contributions[name])


def evidence_recall(
    alerts: Sequence[Alert], rankings: Mapping[str, Sequence[str]], k: int = 3
) -> dict[str, Any] | None:
    """Evidence recall@k: the share of alerts whose top ``k`` ranked fields include one that
    carries their cause's decisive evidence (``Alert.truth``), overall and per cause.

    ``rankings`` maps alert ids to fields, strongest first: the fields of the reasons an analyst
    reads, in their order (two reasons may name one field), or the teacher's own field ranking;
    alerts without ground truth or without a ranking are
    left out. None when no alert is left.
    """
    hits: dict[str, list[bool]] = {}
    for alert in alerts:
        if alert.truth is None or alert.id not in rankings:
            continue
        top = set(list(rankings[alert.id])[:k])
        hits.setdefault(alert.truth.cause, []).append(bool(top & set(alert.truth.evidence)))
    if not hits:
        return None
    every = [hit for cause_hits in hits.values() for hit in cause_hits]
    return {
        "k": k,
        "n": len(every),
        "overall": round(float(np.mean(every)), 6),
        "by_cause": {
            cause: {"n": len(cause_hits), "recall": round(float(np.mean(cause_hits)), 6)}
            for cause, cause_hits in sorted(hits.items())
        },
    }


def _spearman(first: Sequence[str], second: Sequence[str]) -> float:
    """Spearman's rho of two orders of the same distinct fields (no ties, so the closed form)."""
    n = len(first)
    position = {name: rank for rank, name in enumerate(second)}
    squared = sum((rank - position[name]) ** 2 for rank, name in enumerate(first))
    return 1.0 - 6.0 * squared / (n * (n * n - 1))


def _mean(values: Sequence[float]) -> float | None:
    return float(np.mean(values)) if values else None


def rank_agreement(
    surrogate_rankings: Sequence[Sequence[str]], teacher_rankings: Sequence[Sequence[str]]
) -> dict[str, Any]:
    """How the surrogate's field order matches the teacher's own (integrated gradients).

    Both rankings are cut to the fields both rank; alerts with fewer than two such fields are
    skipped (and counted). Top-3 overlap is over min(3, common fields).
    """
    if len(surrogate_rankings) != len(teacher_rankings):
        raise ValueError(f"{len(surrogate_rankings)} vs {len(teacher_rankings)} rankings")
    rhos: list[float] = []
    top1: list[float] = []
    top3: list[float] = []
    for surrogate, teacher in zip(surrogate_rankings, teacher_rankings, strict=True):
        shared = set(surrogate) & set(teacher)
        ours = [name for name in surrogate if name in shared]
        theirs = [name for name in teacher if name in shared]
        if len(ours) < 2:
            continue
        rhos.append(_spearman(ours, theirs))
        top1.append(float(ours[0] == theirs[0]))
        top3.append(len(set(ours[:3]) & set(theirs[:3])) / min(3, len(ours)))
    return {
        "compared": len(rhos),
        "skipped": len(surrogate_rankings) - len(rhos),
        "spearman_mean": _mean(rhos),
        "top1_match_rate": _mean(top1),
        "top3_overlap_mean": _mean(top3),
    }


def _variant_report(
    teacher_prob: TeacherProb,
    alerts: Sequence[Alert],
    rankings: Sequence[Sequence[str]],
    ks: Sequence[int],
    depth: int,
    threshold: float,
    full: np.ndarray,
) -> dict[str, Any]:
    """One ranking's metrics per k in ``ks``, their AOPC, and its deletion curve to ``depth``."""
    removed = {
        k: comprehensiveness(teacher_prob, alerts, rankings, k, threshold, full=full)
        for k in range(1, depth + 1)
    }
    kept = {k: sufficiency(teacher_prob, alerts, rankings, k, threshold, full=full) for k in ks}
    return {
        "comprehensiveness": {str(k): float(np.mean(removed[k])) for k in ks},
        "comprehensiveness_aopc": aopc({k: removed[k] for k in ks}),
        "sufficiency": {str(k): float(np.mean(kept[k])) for k in ks},
        "sufficiency_aopc": aopc(kept),
        "deletion_curve": _curve(_predicted(full, is_real(full, threshold)), removed),
    }


def _top3_ratio(surrogate: dict[str, Any], baseline: dict[str, Any]) -> float | None:
    """Top-3 comprehensiveness of the explanation over the random one's (None unless > 0)."""
    # The deletion curve's fall from k=0 to k=3 is the mean top-3 comprehensiveness.
    ours, chance = (v["deletion_curve"][0] - v["deletion_curve"][3] for v in (surrogate, baseline))
    return ours / chance if chance > 0 else None


def _present(alerts: Sequence[Alert], rankings: Sequence[Sequence[str]]) -> list[list[str]]:
    """Rankings cut to the fields each alert has: an absent field cannot be erased."""
    present = [
        [name for name in ranking if name in alert.fields]
        for alert, ranking in zip(alerts, rankings, strict=True)
    ]
    absent = sum(map(len, rankings)) - sum(map(len, present))
    if absent:
        log.info("faithfulness: left out %d ranked fields that their alerts lack", absent)
    return present


def _agreement_by_id(
    alerts: Sequence[Alert],
    rankings: Sequence[Sequence[str]],
    teacher_rankings: Mapping[str, Sequence[str]],
) -> dict[str, Any]:
    """:func:`rank_agreement` over the alerts that have a teacher ranking."""
    if not isinstance(teacher_rankings, Mapping):  # a list would silently match no alert
        raise TypeError("teacher_rankings must map alert ids to field rankings")
    pairs = [
        (ranking, teacher_rankings[alert.id])
        for alert, ranking in zip(alerts, rankings, strict=True)
        if alert.id in teacher_rankings
    ]
    return rank_agreement([ours for ours, _ in pairs], [theirs for _, theirs in pairs])


def _teacher_prob(scorer: Scorer, progress: Any) -> TeacherProb:
    """The scorer's margins as p(real), ticking ``progress`` once per batched call."""

    def teacher_prob(alerts: Sequence[Alert]) -> np.ndarray:
        probs = sigmoid(np.asarray(scorer(alerts), dtype=float))
        progress.update()
        return probs

    return teacher_prob


def faithfulness_report(
    teacher_scorer: Scorer,
    threshold: float,
    alerts: Sequence[Alert],
    surrogate_rankings: Sequence[Sequence[str]],
    ks: Sequence[int] = (1, 2, 3),
    seed: int = 0,
    teacher_rankings: Mapping[str, Sequence[str]] | None = None,
) -> dict[str, Any]:
    """ERASER metrics of the surrogate's field rankings and of a seeded random baseline.

    ``threshold`` is the teacher's, on margins; ranked fields an alert lacks are left out.
    Deletion curves run to k = max(ks, 3), so ``comprehensiveness_top3_vs_random`` is always
    there. ``teacher_rankings`` (the teacher's own field rankings by alert id, for any subset of
    the alerts, as integrated gradients is costly) adds ``rank_agreement``.
    """
    ks = sorted(set(ks))
    if not alerts or not ks or ks[0] < 1:
        raise ValueError(f"faithfulness needs alerts and every k >= 1, got {len(alerts)}, {ks}")
    if len(surrogate_rankings) != len(alerts):
        raise ValueError(f"{len(surrogate_rankings)} rankings for {len(alerts)} alerts")
    depth = max([*ks, 3])
    rankings = {
        "surrogate": _present(alerts, surrogate_rankings),
        "random": random_rankings(alerts, random.Random(seed)),
    }
    # p(real) >= sigmoid(threshold) is the margin decision wherever the sigmoid is not saturated.
    p_threshold = float(sigmoid(np.asarray(threshold, dtype=float)))
    calls = 1 + len(rankings) * (depth + len(ks))
    with tqdm(total=calls, desc="faithfulness", unit="batch", leave=False) as progress:
        teacher_prob = _teacher_prob(teacher_scorer, progress)
        full = _probabilities(teacher_prob, alerts)
        variants = {
            name: _variant_report(teacher_prob, alerts, ranked, ks, depth, p_threshold, full)
            for name, ranked in rankings.items()
        }
    report = {
        "n": len(alerts),
        "threshold": float(threshold),
        "teacher_real": int((full >= p_threshold).sum()),
        "fields_mean": float(np.mean([len(alert.fields) for alert in alerts])),
        "ks": ks,
        "seed": seed,
        **variants,
        "comprehensiveness_top3_vs_random": _top3_ratio(variants["surrogate"], variants["random"]),
        "rank_agreement": None
        if teacher_rankings is None
        else _agreement_by_id(alerts, rankings["surrogate"], teacher_rankings),
    }
    log.info(
        "faithfulness: comprehensiveness AOPC %.3f (random %.3f), sufficiency AOPC %.3f (random %.3f)",
        variants["surrogate"]["comprehensiveness_aopc"],
        variants["random"]["comprehensiveness_aopc"],
        variants["surrogate"]["sufficiency_aopc"],
        variants["random"]["sufficiency_aopc"],
    )
    return report
