"""One assessment of a teacher + surrogate pair, and the scorecard the promotion gates read.

Every pair is assessed by :func:`assess_pair` on one :class:`AssessSample` with one
:class:`AssessConfig`: the evaluate stage assesses the challenger and writes its card; the
promote stage reads that card and assesses only the champion, on the same alerts with the
same settings (the card records both, and :meth:`PairCard.check` refuses a card computed on
others), so a relative gate compares like with like.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from alertlens.alerts.schema import Alert, is_real
from alertlens.alerts.split import GROUP_TEST
from alertlens.assess.ceiling import (
    cause_verdicts,
    perfect_classifier_pr_auc,
    true_verdicts,
    versus_true_verdicts,
)
from alertlens.assess.config import AssessConfig
from alertlens.assess.faithfulness import evidence_ranking, evidence_recall, faithfulness_report
from alertlens.assess.fidelity import fidelity_report
from alertlens.assess.robustness import AttackSummary, Scorer, robustness_suite, suite_metrics
from alertlens.assess.sample import AssessSample
from alertlens.assess.similar import neighbour_agreement
from alertlens.config import ConfigError
from alertlens.evasion.catalog import transforms_by_name
from alertlens.explain.explainer import Explainer
from alertlens.explain.similar import SimilarAlerts
from alertlens.explain.types import Explanation
from alertlens.metrics import (
    binary_report,
    expected_calibration_error,
    pr_auc,
    pr_auc_difference,
)
from alertlens.surrogate.model import SurrogateModel
from alertlens.teacher.artifact import Teacher
from alertlens.teacher.confidence import Confidence
from alertlens.teacher.interpret import field_ranking, integrated_gradients

log = logging.getLogger(__name__)

Scorecard = dict[str, float | None]
LABELED = ("test", "golden", GROUP_TEST)  # the sets scored against analysts' verdicts
CLASSIFICATION = ("recall", "f1", "pr_auc", "auto_close_share")
SIMILAR_SETS = ("test", GROUP_TEST)  # where the similar past alerts' majority is measured


class AssessedPair(Protocol):
    """What an assessment needs of a pair (a :class:`alertlens.triage.TriagePair` has it)."""

    @property
    def teacher(self) -> Teacher: ...

    @property
    def surrogate(self) -> SurrogateModel: ...

    @property
    def explainer(self) -> Explainer: ...


@dataclass
class Assessment:
    """Fidelity per set, the teacher against the labels, faithfulness and robustness."""

    threshold: float
    margins: dict[str, tuple[np.ndarray, np.ndarray]]  # per set: teacher's, surrogate's
    fidelity: dict[str, dict[str, Any]]
    classification: dict[str, dict[str, Any]]  # per labeled set (LABELED)
    faithfulness: dict[str, Any]
    robustness: dict[str, AttackSummary]
    # The classical baselines on the same labeled sets: name -> set -> {"pr_auc": ...}.
    baselines: dict[str, dict[str, dict[str, float | None]]] = field(default_factory=dict)
    # Per labeled set: the teacher's PR-AUC minus the best baseline's, with a bootstrap interval.
    baseline_gaps: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Per labeled set with ground truth: a perfect classifier's PR-AUC on the analysts' labels
    # (alertlens.assess.ceiling).
    ceiling: dict[str, dict[str, float]] = field(default_factory=dict)
    # Per labeled set with ground truth: the teacher and baselines against the true verdicts.
    true_verdicts: dict[str, dict[str, Any]] = field(default_factory=dict)
    # The similar past alerts' majority against the teacher and analysts (a pair with an index).
    similar: dict[str, Any] = field(default_factory=dict)

    def metrics(self) -> dict[str, Any]:
        """The evaluate stage's metrics."""
        return {
            "fidelity": self.fidelity,
            "faithfulness": self.faithfulness,
            "robustness": suite_metrics(self.robustness),
            "disagreement_rate": {
                name: round(1 - report["agreement"], 5) for name, report in self.fidelity.items()
            },
            "teacher_vs_baselines": self.versus_baselines(),
            "teacher_minus_best_baseline": _rounded(self.baseline_gaps),
            "perfect_classifier": self._perfect_classifier(),
            "true_verdicts": _rounded(self.true_verdicts),
            # The calibrated probability's ECE per labeled set (a calibrated teacher only).
            "calibration_error": {
                name: round(report["ece"], 5)
                for name, report in self.classification.items()
                if "ece" in report
            },
            **({"similar_alerts": self.similar} if self.similar else {}),
        }

    def _perfect_classifier(self) -> dict[str, dict[str, float]]:
        """Per set with ground truth: a perfect classifier's PR-AUC (median and range over its
        orders of the alerts analysts got wrong) and how far its median lies above the best
        baseline's (what any model could still win on these labels)."""
        figures: dict[str, dict[str, float]] = {}
        for name, ceiling in self.ceiling.items():
            figures[name] = _rounded(ceiling)
            gap = self.baseline_gaps.get(name)
            best = None if gap is None else self.baselines[gap["baseline"]][name]["pr_auc"]
            if best is not None:
                figures[name]["above_best_baseline"] = round(ceiling["pr_auc"] - best, 5)
        return figures

    def versus_baselines(self) -> dict[str, dict[str, float | None]]:
        """PR-AUC per labeled set: the teacher's and each baseline's, on the same alerts."""
        table: dict[str, dict[str, float | None]] = {}
        for name, report in self.classification.items():
            row: dict[str, float | None] = {"teacher": report.get("pr_auc")}
            row.update(
                {rival: sets.get(name, {}).get("pr_auc") for rival, sets in self.baselines.items()}
            )
            table[name] = row
        return table

    def scorecard(self) -> Scorecard:
        """The figures the gates read: per labeled set (recall, F1, PR-AUC, auto-closed false
        positives at the pair's own operating point, agreement), agreement on the evasion
        variants, top-3 comprehensiveness against random, and attack success."""
        card: Scorecard = {"threshold": self.threshold}
        for name, report in self.classification.items():
            card[f"{name}.n"] = float(self.fidelity[name]["n"])
            card.update({f"{name}.{key}": report.get(key) for key in CLASSIFICATION})
            if "ece" in report:
                card[f"{name}.ece"] = report["ece"]
            card[f"{name}.agreement"] = self.fidelity[name]["agreement"]
            band = self.fidelity[name].get("borderline")
            if band is not None:
                card[f"{name}.band_share"] = band["share"]
                card[f"{name}.agreement_outside_band"] = band["agreement_outside"]
        adversarial = self.fidelity.get("adversarial")
        card["adversarial.n"] = float(adversarial["n"]) if adversarial else 0.0
        card["adversarial.agreement"] = adversarial["agreement"] if adversarial else None
        card["faithfulness.comprehensiveness_top3_vs_random"] = self.faithfulness[
            "comprehensiveness_top3_vs_random"
        ]
        card["faithfulness.comprehensiveness_aopc"] = self.faithfulness["surrogate"][
            "comprehensiveness_aopc"
        ]
        card.update(self._evidence_card())
        overall = self.robustness["overall"]
        card["robustness.attack_success_rate"] = overall.attack_success_rate
        card["robustness.evasion_rate"] = overall.evasion_rate
        for rival, sets in self.baselines.items():
            for name, report in sets.items():
                card.update({f"baselines.{rival}.{name}.{k}": v for k, v in report.items()})
        for name, gap in self.baseline_gaps.items():
            card[f"{name}.pr_auc_gap_low"] = gap["low"]
            card[f"{name}.pr_auc_gap_high"] = gap["high"]
            card[f"{name}.pr_auc_gap_level"] = gap["level"]
        for name, ceiling in self.ceiling.items():
            card[f"{name}.pr_auc_ceiling"] = ceiling["pr_auc"]
        return card

    def _evidence_card(self) -> dict[str, float | None]:
        """Evidence recall@3 (the reasons', the teacher's on its alerts) and the number of
        alerts with ground truth, 0 on data without it (the gates then skip the floor)."""
        recall = self.faithfulness.get("evidence_recall")
        if recall is None:
            return {"evidence.n": 0.0, "evidence.recall_at_3": None}
        teacher = recall["teacher_integrated_gradients"]
        return {
            "evidence.n": float(recall["surrogate"]["n"]),
            "evidence.recall_at_3": recall["surrogate"]["overall"],
            "evidence.teacher_recall_at_3": teacher["overall"] if teacher else None,
        }

    def summary(self) -> str:
        """One line: agreement per set, comprehensiveness, attack success."""
        agreement = ", ".join(
            f"{name} {report['agreement']:.3f}" for name, report in self.fidelity.items()
        )
        ratio = self.faithfulness["comprehensiveness_top3_vs_random"]
        shown = "n/a" if ratio is None else f"{ratio:.1f}x"
        return (
            f"agreement {agreement}; top-3 comprehensiveness {shown} random; "
            f"attack success {self.robustness['overall'].attack_success_rate:.1%}"
        )


def _rounded(value: Any) -> Any:
    """Figures rounded to 5 decimals through nested dicts; names and None as they are."""
    if isinstance(value, dict):
        return {key: _rounded(item) for key, item in value.items()}
    return round(value, 5) if isinstance(value, float) else value


def _classification(
    alerts: Sequence[Alert],
    teacher: np.ndarray,
    threshold: float,
    confidence: Confidence | None = None,
) -> dict[str, Any]:
    """The teacher against the analysts' verdicts, on the labeled alerts (empty without any);
    with a ``confidence``, the ECE of its calibrated probability too."""
    keep = np.array([a.label is not None for a in alerts], dtype=bool)
    labels = np.array([a.label for a in alerts if a.label is not None], dtype=int)
    if not labels.size:
        return {}
    report = binary_report(teacher[keep], labels, threshold)
    if confidence is not None:
        report["ece"] = expected_calibration_error(confidence.probability(teacher[keep]), labels)
    return report


def _faithfulness(
    pair: AssessedPair,
    scorer: Scorer,
    alerts: Sequence[Alert],
    margins: np.ndarray,
    threshold: float,
    config: AssessConfig,
) -> dict[str, Any]:
    """ERASER metrics of the explanations of ``alerts`` (the first of the test sample, whose
    teacher ``margins`` come first), with the teacher's own rankings of the first few."""
    explanations = pair.explainer.explain(alerts, counterfactuals=False)
    rankings = [
        evidence_ranking(e.field_contributions, is_real(margin, threshold))
        for e, margin in zip(explanations, margins, strict=False)
    ]
    teacher_rankings = {
        a.id: field_ranking(integrated_gradients(pair.teacher, a)[0])
        for a in alerts[: config.ig_alerts]
    }
    report = faithfulness_report(
        scorer,
        threshold,
        alerts,
        rankings,
        ks=config.ks,
        seed=config.seed,
        teacher_rankings=teacher_rankings,
    )
    report["evidence_recall"] = _evidence_recall(alerts, explanations, teacher_rankings)
    return report


def _borderline_fidelity(
    confidence: Confidence, teacher: np.ndarray, surrogate: np.ndarray, threshold: float
) -> dict[str, float | None]:
    """The teacher's borderline band on one set: its share of alerts, and the surrogate's
    agreement with the teacher outside and inside it."""
    inside = confidence.borderline(teacher, threshold)
    agree = is_real(teacher, threshold) == is_real(surrogate, threshold)
    return {
        "band": confidence.band,
        "share": round(float(inside.mean()), 6) if inside.size else None,
        "n_outside": int((~inside).sum()),
        "agreement_outside": round(float(agree[~inside].mean()), 6) if (~inside).any() else None,
        "agreement_inside": round(float(agree[inside].mean()), 6) if inside.any() else None,
    }


def _evidence_recall(
    alerts: Sequence[Alert],
    explanations: Sequence[Explanation],
    teacher_rankings: Mapping[str, Sequence[str]],
) -> dict[str, Any] | None:
    """Evidence recall@3 of the reasons the analyst reads (the surrogate's top three, by size),
    of the same reasons on the alerts the teacher ranked, of the teacher's integrated gradients
    ranking, and of the reasons ranked together with the alert's kind (the detection's own
    fields, shown apart from the reasons); None on data without ground truth."""
    reasons = {e.alert_id: [reason.field for reason in e.reasons] for e in explanations}
    surrogate = evidence_recall(alerts, reasons)
    if surrogate is None:
        return None
    same = {alert_id: reasons[alert_id] for alert_id in teacher_rankings if alert_id in reasons}
    with_kind = {
        e.alert_id: [
            r.field for r in sorted(e.kind + e.reasons, key=lambda r: -abs(r.contribution))
        ]
        for e in explanations
    }
    return {
        "surrogate": surrogate,
        "surrogate_on_teacher_alerts": evidence_recall(alerts, same),
        "teacher_integrated_gradients": evidence_recall(alerts, teacher_rankings),
        "surrogate_with_kind": evidence_recall(alerts, with_kind),
    }


def baseline_scores(
    baselines: Mapping[str, Scorer], datasets: Mapping[str, Sequence[Alert]]
) -> dict[str, dict[str, np.ndarray]]:
    """Each baseline's scores of the labeled alerts of each labeled set, in their order."""
    scores: dict[str, dict[str, np.ndarray]] = {}
    for rival, scorer in baselines.items():
        scores[rival] = {}
        for name in LABELED:
            labeled = [a for a in datasets.get(name, []) if a.label is not None]
            if labeled:
                scores[rival][name] = np.asarray(scorer(labeled), dtype=float)
    return scores


def baseline_gaps(
    teacher: Mapping[str, np.ndarray],
    scores: Mapping[str, Mapping[str, np.ndarray]],
    datasets: Mapping[str, Sequence[Alert]],
    seed: int,
) -> tuple[dict[str, dict[str, dict[str, float | None]]], dict[str, dict[str, Any]]]:
    """Each baseline's PR-AUC per labeled set, and per set the teacher's PR-AUC minus the best
    baseline's there, with a paired bootstrap interval: a gap of a few thousandths on a
    thousand noisy verdicts is within what resampling the alerts moves."""
    reports: dict[str, dict[str, dict[str, float | None]]] = {rival: {} for rival in scores}
    gaps: dict[str, dict[str, Any]] = {}
    for name in LABELED:
        keep = np.array([a.label is not None for a in datasets.get(name, [])], dtype=bool)
        labels = np.array([a.label for a in datasets.get(name, []) if a.label is not None])
        rivals = {rival: sets[name] for rival, sets in scores.items() if name in sets}
        for rival, values in rivals.items():
            reports[rival][name] = {"pr_auc": pr_auc(values, labels)}
        figures = {rival: reports[rival][name]["pr_auc"] for rival in rivals}
        defined = {rival: value for rival, value in figures.items() if value is not None}
        if not defined or name not in teacher:
            continue
        best = max(defined, key=defined.__getitem__)
        gap = pr_auc_difference(teacher[name][keep], rivals[best], labels, seed=seed)
        if gap is not None:
            gaps[name] = {"baseline": best, **gap}
    return reports, gaps


def _against_truth(
    datasets: Mapping[str, Sequence[Alert]],
    margins: Mapping[str, tuple[np.ndarray, np.ndarray]],
    scores: Mapping[str, Mapping[str, np.ndarray]],
    seed: int,
) -> tuple[dict[str, dict[str, float]], dict[str, dict[str, Any]]]:
    """Per labeled set whose alerts all have a known cause: a perfect classifier's PR-AUC on
    the analysts' labels, and the teacher (``margins``) and baselines (``scores``) against the
    true verdicts (:mod:`alertlens.assess.ceiling`). Both empty on data without ground truth."""
    verdicts = cause_verdicts(alert for name in LABELED for alert in datasets.get(name, []))
    ceiling: dict[str, dict[str, float]] = {}
    versus_truth: dict[str, dict[str, Any]] = {}
    for name in LABELED:
        alerts = datasets.get(name, [])
        truth = true_verdicts(alerts, verdicts)
        if truth is None:
            continue
        figure = perfect_classifier_pr_auc(alerts, verdicts, seed=seed)
        if figure is not None:
            ceiling[name] = figure
        labeled = np.array([a.label is not None for a in alerts], dtype=bool)
        rivals = {rival: sets[name] for rival, sets in scores.items() if name in sets}
        figures = versus_true_verdicts(margins[name][0][labeled], rivals, truth, seed)
        if figures is not None:
            versus_truth[name] = figures
    return ceiling, versus_truth


def assess_pair(
    pair: AssessedPair,
    sample: AssessSample,
    config: AssessConfig,
    baselines: Mapping[str, Scorer] | None = None,
) -> Assessment:
    """Assess ``pair`` on ``sample``: fidelity on every set, the teacher against the labels of
    the test sample and golden set (and the classical ``baselines`` on the same alerts, for the
    promotion gate), faithfulness and robustness on the test sample (they cost many teacher
    queries per alert, so they run on its first alerts only)."""
    threshold = pair.teacher.meta.threshold
    scorer = pair.teacher.scorer(batch_size=128)
    datasets = sample.datasets()
    index: SimilarAlerts | None = getattr(pair, "similar", None)
    embeddings: dict[str, np.ndarray] = {}
    margins = {}
    for name, alerts in datasets.items():
        if index is not None and name in SIMILAR_SETS:
            teacher_margins, embeddings[name] = scorer.margins_and_embeddings(alerts)
        else:
            teacher_margins = scorer(alerts)
        margins[name] = (teacher_margins, pair.surrogate.margins(alerts))
    fidelity = {
        name: fidelity_report(
            *margins[name],
            threshold,
            labels=[a.label for a in alerts],
            slices=[a.source for a in alerts],
        )
        for name, alerts in datasets.items()
    }
    confidence = pair.teacher.confidence
    if confidence is not None:
        for name, (teacher, surrogate) in margins.items():
            fidelity[name]["borderline"] = _borderline_fidelity(
                confidence, teacher, surrogate, threshold
            )
    classification = {
        name: _classification(datasets[name], margins[name][0], threshold, confidence)
        for name in LABELED
        if name in datasets
    }
    faithfulness = _faithfulness(
        pair, scorer, sample.explained(config), margins["test"][0], threshold, config
    )
    transforms = transforms_by_name(config.augment.transforms, config.field_roles)
    robustness = robustness_suite(
        sample.attacked(config), scorer, threshold, transforms, config.seed, config.query_budget
    )
    scores = baseline_scores(baselines or {}, datasets)
    reports, gaps = baseline_gaps(
        {name: margins[name][0] for name in LABELED if name in margins},
        scores,
        datasets,
        config.seed,
    )
    ceiling, versus_truth = _against_truth(datasets, margins, scores, config.seed)
    assessment = Assessment(
        threshold,
        margins,
        fidelity,
        classification,
        faithfulness,
        robustness,
        reports,
        gaps,
        ceiling,
        versus_truth,
    )
    if index is not None:
        assessment.similar = {"k": index.k, "indexed": len(index)}
        for name, rows in embeddings.items():
            assessment.similar[name] = neighbour_agreement(
                index, datasets[name], rows, margins[name][0], threshold
            )
    log.info("assessment: %s", assessment.summary())
    return assessment


@dataclass(frozen=True)
class PairCard:
    """A pair's scorecard with what it was computed from: the runs that made the pair, the
    sample (sizes and digest) and the assessment config."""

    runs: dict[str, str]  # "teacher": the harden run, "surrogate": the distill run
    sample: dict[str, Any]
    config: dict[str, Any]
    scorecard: Scorecard

    @classmethod
    def of(
        cls,
        runs: Mapping[str, str],
        sample: AssessSample,
        config: AssessConfig,
        assessment: Assessment,
    ) -> PairCard:
        return cls(dict(runs), sample.record(), config.record(), assessment.scorecard())

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, path: Path) -> PairCard:
        if not path.is_file():
            raise ConfigError(f"{path} is missing: run the evaluate stage first")
        return cls(**json.loads(path.read_text()))

    def check(self, runs: Mapping[str, str], sample: AssessSample, config: AssessConfig) -> None:
        """Refuse the card unless it belongs to the pair of ``runs`` and was computed on
        ``sample`` with ``config``: only then does it compare with a card computed now."""
        expected = {"runs": dict(runs), "sample": sample.record(), "config": config.record()}
        found = {"runs": self.runs, "sample": self.sample, "config": self.config}
        differ = [name for name in expected if expected[name] != found[name]]
        if differ:
            raise ConfigError(
                f"the scorecard was computed with other {' and '.join(differ)} than given here "
                "(a stale card, or another pair's): rerun the evaluate stage"
            )
