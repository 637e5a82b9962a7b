"""The evaluate stage: assess the pipeline's pair (the challenger), write its card for the
promote stage, and the plots and explained alerts the report shows, in one MLflow run."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np

from alertlens.alerts.schema import Alert
from alertlens.assess import plots
from alertlens.assess.config import AssessConfig
from alertlens.assess.robustness import Scorer
from alertlens.assess.sample import load_sample
from alertlens.assess.scorecard import AssessedPair, Assessment, PairCard, assess_pair
from alertlens.explain.similar import SimilarAlerts
from alertlens.explain.types import Explanation
from alertlens.metrics import expected_calibration_error
from alertlens.teacher.confidence import reliability
from alertlens.tracking import flatten_metrics, read_run_record, stage_run, write_curves

ARTIFACT_DIR = "evaluation"


@dataclass(frozen=True)
class EvaluationOutputs:
    """Where the evaluate stage writes: the card, the plots directory, the explained alerts,
    and the directory of data series (the deletion curves)."""

    card: Path
    plots: Path
    explained: Path
    curves: Path


def deletion_curves(faithfulness: Mapping[str, Any]) -> list[dict[str, float]]:
    """The teacher's confidence in its verdict as the top-k fields are erased, by the
    explanation's ranking and by a random one (k = 0, 1, ...): one record per k."""
    ours, chance = (
        faithfulness["surrogate"]["deletion_curve"],
        faithfulness["random"]["deletion_curve"],
    )
    return [
        {"fields_removed": k, "explanation": a, "random": b}
        for k, (a, b) in enumerate(zip(ours, chance, strict=True))
    ]


def pair_runs(teacher_dir: Path, surrogate_dir: Path) -> dict[str, str]:
    """The MLflow runs that made a pair (the ``run.json`` of its harden and distill stages)."""
    return {
        name: read_run_record(directory)["mlflow_run_id"]
        for name, directory in (("teacher", teacher_dir), ("surrogate", surrogate_dir))
    }


def evaluation_plots(
    pair: AssessedPair,
    alerts: Sequence[Alert],
    assessment: Assessment,
    explained: Sequence[Explanation],
    directory: Path,
    test: Sequence[Alert] = (),
) -> list[Path]:
    """SHAP summary of ``alerts``, teacher vs surrogate on the test sample, the teacher's
    reliability diagram on the labeled ``test`` sample (a calibrated teacher only), and a
    waterfall per explained alert (the first of ``alerts``)."""
    surrogate = pair.surrogate
    matrix = surrogate.matrix(alerts)
    shown = [surrogate.encoder.extractor.extract(a) for a in alerts]
    # In the surrogate's log-odds that the teacher calls an alert real, as the reasons are.
    contributions = surrogate.contributions(matrix)
    contributions[:, -1] -= surrogate.threshold
    contributions *= surrogate.log_odds_per_margin
    explanation = plots.shap_explanation(contributions, matrix, surrogate.columns, shown)
    written = [
        plots.beeswarm(explanation, directory / "shap_summary.png"),
        plots.score_scatter(
            *assessment.margins["test"],
            assessment.threshold,
            directory / "teacher_vs_surrogate.png",
        ),
    ]
    confidence, labeled = pair.teacher.confidence, [a.label is not None for a in test]
    if confidence is not None and any(labeled):
        margins = assessment.margins["test"][0][np.array(labeled)]
        labels = np.array([a.label for a in test if a.label is not None], dtype=int)
        probabilities = confidence.probability(margins)
        written.append(
            plots.reliability_diagram(
                reliability(probabilities, labels),
                expected_calibration_error(probabilities, labels),
                directory / "reliability.png",
            )
        )
    for index, item in enumerate(explained):
        title = f"{item.alert_id}: {item.verdict} (log-odds that the teacher calls it real)"
        written.append(
            plots.waterfall(explanation, index, directory / f"waterfall_{index}.png", title)
        )
    return written


def explained_records(
    pair: AssessedPair, alerts: Sequence[Alert], explained: Sequence[Explanation]
) -> list[dict[str, Any]]:
    """The explanations the report shows (of the first of ``alerts``), each with its similar
    past alerts where the pair has an index."""
    records = [explanation.to_dict() for explanation in explained]
    index: SimilarAlerts | None = getattr(pair, "similar", None)
    if index is not None and records:
        shown = alerts[: len(records)]
        _, embeddings = pair.teacher.scorer().margins_and_embeddings(shown)
        for record, neighbours in zip(records, index.query(embeddings), strict=True):
            record["similar_alerts"] = neighbours.to_dict()
    return records


def run_evaluation(
    params: Mapping[str, Any],
    root: Path,
    pair: AssessedPair,
    runs: Mapping[str, str],
    data_dir: Path,
    outputs: EvaluationOutputs,
    baselines: Mapping[str, Scorer] | None = None,
) -> Assessment:
    """Assess ``pair`` (made by ``runs``) on the configured sample of ``data_dir``, beside the
    classical ``baselines``, and write ``outputs``; the MLflow run carries the metrics, the run
    links and every file written."""
    config = AssessConfig.from_params(params)
    sample = load_sample(data_dir, config, root, params["data"])
    with stage_run("evaluate", params["tracking"], root):
        mlflow.set_tags(
            {"alertlens.teacher_run": runs["teacher"], "alertlens.surrogate_run": runs["surrogate"]}
        )
        assessment = assess_pair(pair, sample, config, baselines)
        mlflow.log_metrics(flatten_metrics(assessment.metrics()))
        PairCard.of(runs, sample, config, assessment).write(outputs.card)
        alerts = sample.explained(config)
        explained = pair.explainer.explain(alerts[: params["evaluate"]["explained_alerts"]])
        written = evaluation_plots(pair, alerts, assessment, explained, outputs.plots, sample.test)
        outputs.explained.parent.mkdir(parents=True, exist_ok=True)
        outputs.explained.write_text(
            json.dumps(explained_records(pair, alerts, explained), indent=2, default=str) + "\n"
        )
        write_curves(
            outputs.curves, {"deletion": deletion_curves(assessment.metrics()["faithfulness"])}
        )
        for path in [*written, outputs.explained, outputs.card]:
            mlflow.log_artifact(str(path), artifact_path=ARTIFACT_DIR)
    return assessment
