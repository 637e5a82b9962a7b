"""The deployed pair: the hardened teacher decides, the surrogate explains, and the two are
checked against each other on every alert.

When they disagree, the surrogate's reasons describe a decision the teacher did not make, so
the answer says so and marks the explanation unreliable; disagreement is also a useful signal
of adversarial or out-of-distribution input.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.schema import Alert, verdict_of
from alertlens.explain.explainer import Explainer
from alertlens.explain.reference import FieldReference
from alertlens.explain.similar import Neighbours, SimilarAlerts
from alertlens.explain.types import Explanation
from alertlens.metrics import sigmoid
from alertlens.model_paths import model_artifact
from alertlens.surrogate.artifact import load_surrogate_dir
from alertlens.surrogate.model import SurrogateModel
from alertlens.teacher.artifact import Teacher, load_teacher

PAIR_MODEL_TAG = "alertlens.pair_model_uri"  # on distill runs: the pair model they logged


def check_paired(
    teacher: Teacher, surrogate: SurrogateModel, teacher_dir: Path, surrogate_dir: Path
) -> None:
    """Refuse a surrogate distilled from another teacher (a stale ``models/surrogate`` after
    harden ran again, two runs' directories mixed): it would follow a different classifier
    and its similar-alerts index would live in another embedding space. The surrogate keeps
    the threshold of the teacher it was distilled from, a float no other teacher shares."""
    if surrogate.threshold != teacher.meta.threshold:
        raise ValueError(
            f"{surrogate_dir} was distilled from another teacher than {teacher_dir}: its "
            f"threshold {surrogate.threshold!r} is not the teacher's {teacher.meta.threshold!r}; "
            "distill this teacher again (dvc repro distill) or load the pair they were saved as"
        )


@dataclass
class TriagePair:
    """A hardened teacher and its surrogate, loaded together."""

    teacher: Teacher
    surrogate: SurrogateModel
    explainer: Explainer
    mapping: DataMapping | None
    origin: str
    surrogate_dir: Path | None = None  # where it was loaded from (its drift profile lives there)
    teacher_dir: Path | None = None  # where it was loaded from (Spark executors load it again)
    # Labeled training alerts in the teacher's embedding space (None: the pair has no index).
    similar: SimilarAlerts | None = None

    @classmethod
    def from_dirs(cls, teacher_dir: Path, surrogate_dir: Path, device: str = "auto") -> TriagePair:
        """Load from a teacher and a surrogate directory (pipeline outputs or downloads)."""
        saved = load_surrogate_dir(surrogate_dir)
        mapping = None if saved.data_config is None else DataMapping.from_config(saved.data_config)
        teacher = load_teacher(teacher_dir, device)
        check_paired(teacher, saved.model, teacher_dir, surrogate_dir)
        return cls(
            teacher,
            saved.model,
            Explainer(saved.model, FieldReference.from_dict(saved.reference)),
            mapping,
            origin=f"{teacher_dir} + {surrogate_dir}",
            surrogate_dir=Path(surrogate_dir),
            teacher_dir=Path(teacher_dir),
            similar=SimilarAlerts.load(surrogate_dir),
        )

    @classmethod
    def from_model(cls, model_uri: str, device: str = "auto") -> TriagePair:
        """Load a logged pair model (distill's ``triage_pair``, or a registry version of it):
        download it and read its ``teacher`` and ``surrogate`` artifacts."""
        import mlflow
        import yaml

        model_dir = Path(mlflow.artifacts.download_artifacts(model_uri))
        flavor = yaml.safe_load((model_dir / "MLmodel").read_text())["flavors"]["python_function"]
        artifacts = flavor.get("artifacts") or {}
        if not {"teacher", "surrogate"} <= set(artifacts):
            raise ValueError(f"{model_uri} is not an alertlens pair model (no teacher + surrogate)")
        # MLmodel records each artifact under the name of the directory it was logged from.
        teacher_dir, surrogate_dir = (
            model_artifact(artifacts[n]["path"], model_dir) for n in ("teacher", "surrogate")
        )
        pair = cls.from_dirs(teacher_dir, surrogate_dir, device)
        pair.origin = model_uri
        return pair

    @classmethod
    def from_run(cls, run_id: str, device: str = "auto") -> TriagePair:
        """The pair a distill run produced: the pair model it logged (its run.json and its
        ``alertlens.pair_model_uri`` tag name it)."""
        from mlflow.tracking import MlflowClient

        tags = MlflowClient().get_run(run_id).data.tags
        if PAIR_MODEL_TAG not in tags:
            raise ValueError(f"run {run_id} is not a distill run (no {PAIR_MODEL_TAG} tag)")
        pair = cls.from_model(tags[PAIR_MODEL_TAG], device)
        pair.origin = f"MLflow run {run_id}"
        return pair

    @cached_property
    def _triage_mapping(self) -> DataMapping:
        """The data config minus its label rule and ground truth: triage never reads an analyst's
        verdict (a new alert has none yet, and a config without an ``unlabeled`` rule would
        reject it), nor the generator's record of the evidence (evaluation only)."""
        if self.mapping is None:
            raise ValueError(
                "this surrogate was saved without its data config; pass normalized alerts"
            )
        return dataclasses.replace(self.mapping, label=None, truth=None)

    def normalize(self, records: Sequence[Any]) -> list[Alert]:
        """Raw export records -> alerts, with the data config the pair was trained on.

        Raises RecordError for the first record the config cannot map.
        """
        mapping = self._triage_mapping
        # The raw text only identifies a record whose source has no id field; skip the dump.
        if mapping.id is not None:
            return [mapping.normalize(record, raw="") for record in records]
        return [
            mapping.normalize(record, raw=json.dumps(record, sort_keys=True)) for record in records
        ]

    def _teacher_views(self, margins: np.ndarray) -> list[dict[str, Any]]:
        """The teacher's verdict per margin, with p(real) (calibrated on validation where the
        teacher carries a calibration) and whether its verdict is borderline (None without a
        band)."""
        threshold, confidence = self.teacher.meta.threshold, self.teacher.confidence
        if confidence is None:
            probabilities, borderline = sigmoid(margins), [None] * len(margins)
        else:
            probabilities = confidence.probability(margins)
            borderline = confidence.borderline(margins, threshold).tolist()
        return [
            {
                "verdict": verdict_of(margin, threshold),
                "score": round(margin, 4),
                "probability": round(probability, 4),
                "calibrated": confidence is not None,
                "borderline": near,
                "threshold": threshold,
            }
            for margin, probability, near in zip(
                margins.tolist(), probabilities.tolist(), borderline, strict=True
            )
        ]

    def triage(
        self,
        alerts: Sequence[Alert],
        counterfactuals: bool = True,
        use_teacher: bool = True,
        top_k: int = 5,
        full_explanation: bool = True,
    ) -> list[dict[str, Any]]:
        """Per alert: both verdicts, agreement, the surrogate's top reasons and counterfactual,
        and the similar past alerts (found with the teacher's embedding of the alert).

        ``use_teacher=False`` is the fast path: the surrogate decides alone, so the teacher's
        fields, the agreement check and the similar past alerts are None (unchecked, not
        "agrees").
        ``full_explanation=False`` gives only ``reasons`` and ``missing_fields`` in place of the
        whole explanation (per-field contributions, base value, counterfactual): what a client
        of the served model reads, at a fraction of the size.
        """
        explanations = self.explainer.explain(alerts, top_k=top_k, counterfactuals=counterfactuals)
        teachers: Sequence[dict[str, Any] | None] = [None] * len(alerts)
        similar: Sequence[Neighbours | None] = [None] * len(alerts)
        if use_teacher and self.similar is not None:
            margins, embeddings = self.teacher.scorer().margins_and_embeddings(alerts)
            teachers, similar = self._teacher_views(margins), self.similar.query(embeddings)
        elif use_teacher:
            teachers = self._teacher_views(self.teacher.scorer()(alerts))
        return [
            _answer(alert, explanation, teacher, neighbours, full_explanation)
            for alert, explanation, teacher, neighbours in zip(
                alerts, explanations, teachers, similar, strict=True
            )
        ]


def _answer(
    alert: Alert,
    explanation: Explanation,
    teacher: dict[str, Any] | None,
    neighbours: Neighbours | None,
    full: bool,
) -> dict[str, Any]:
    """One alert's answer; the teacher decides when it was asked, else the surrogate."""
    agree = None if teacher is None else teacher["verdict"] == explanation.verdict
    answer = {
        "alert_id": alert.id,
        "source": alert.source,
        "verdict": explanation.verdict if teacher is None else teacher["verdict"],
        "decided_by": "surrogate" if teacher is None else "teacher",
        "teacher": teacher,
        "surrogate": {
            "verdict": explanation.verdict,
            "score": round(explanation.margin, 4),
            "log_odds": round(explanation.log_odds, 4),
            "probability": round(float(sigmoid(np.array(explanation.log_odds))), 4),
        },
        "agree": agree,
        "borderline": None if teacher is None else teacher["borderline"],
        "explanation_reliable": agree,
        "similar_alerts": None if neighbours is None else neighbours.to_dict(),
    }
    if full:
        answer["explanation"] = explanation.to_dict()
    else:
        answer["kind"], answer["reasons"] = (
            [
                {"field": r.field, "text": r.text, "contribution": round(r.contribution, 4)}
                for r in reasons
            ]
            for reasons in (explanation.kind, explanation.reasons)
        )
        answer["missing_fields"] = explanation.missing_fields
    return answer
