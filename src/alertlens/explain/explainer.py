"""Per-alert explanations: the surrogate's verdict, its reasons, and what would flip it.

Reasons come from exact TreeSHAP (:mod:`alertlens.explain.engine`: the memoized engine, or
LightGBM's ``pred_contrib``): per-column contributions to the margin, worded from the column's
feature kind. Everything per column (wording, category levels, the column -> field weights) is
compiled once in ``Explainer.__init__``, and a batch's reasons are ranked in one numpy pass, so
explaining an alert costs one extraction, one TreeSHAP lookup pass and the wording of its top
reasons.

The columns of a field the alert lacks all say the same thing ("user_agent is missing"), so they
are merged into one reason carrying the field's total contribution.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from alertlens.alerts.schema import Alert, verdict_of
from alertlens.explain.counterfactuals import CounterfactualSearch
from alertlens.explain.engine import TreeShapEngine
from alertlens.explain.reference import FieldReference
from alertlens.explain.types import Counterfactual, Explanation, Reason
from alertlens.explain.wording import effect_text, show_number, show_value, wording_for
from alertlens.surrogate.model import SurrogateModel

logger = logging.getLogger(__name__)

# Read from the alert itself, not from ``alert.fields``: never missing, never changed.
ALERT_ATTRIBUTES = frozenset({"timestamp", "source"})
# A reason must move the margin visibly: below this (in logits) it is noise to an analyst.
_MIN_REASON = 0.005


class Explainer:
    """Explains one surrogate's decisions; per-column work is done once, here."""

    def __init__(
        self,
        model: SurrogateModel,
        reference: FieldReference | None = None,
        engine: str | None = None,
    ) -> None:
        self.model = model
        # The engine saved with the surrogate (conf: surrogate.treeshap_engine), unless given.
        self.treeshap = TreeShapEngine(
            model, engine or str(model.meta.get("treeshap_engine", "memo"))
        )
        # Without a reference the only candidate change is removing a field.
        self.reference = reference if reference is not None else FieldReference()
        extractor = model.encoder.extractor
        self._columns = extractor.columns
        self._wordings = [
            wording_for(feature, column)
            for feature in extractor.spec.features
            for column in feature.columns()
        ]
        self._levels = [model.encoder.levels.get(column.name, []) for column in self._columns]
        # What a categorical column says for each of its levels, worded once.
        self._level_statements = [
            [wording.text + show_value(level) for level in levels]
            for wording, levels in zip(self._wordings, self._levels, strict=True)
        ]
        # (field, feature) of each column's reasons.
        self._column_ids = [(", ".join(c.source_fields), c.name) for c in self._columns]
        self._fields = list(dict.fromkeys(f for c in self._columns for f in c.source_fields))
        self._alert_fields = [f for f in self._fields if f not in ALERT_ATTRIBUTES]
        self._field_index = {name: j for j, name in enumerate(self._fields)}
        self._alert_field_index = [self._field_index[f] for f in self._alert_fields]
        self._build_field_maps()
        # Per source, the fields its alerts carried in training (the reference): an alert is
        # said to lack only those, so an EDR alert does not list url or dns_query. A source
        # the reference has not met (or no reference) is compared with every field.
        self._carried = {
            source: np.array([name in by_field for name in self._fields], dtype=bool)
            for source, by_field in self.reference.values.items()
        }
        self._every_field = np.ones(len(self._fields), dtype=bool)
        self._counterfactuals = CounterfactualSearch(model, self.reference, self._field_columns)
        logger.debug("explainer: %d columns over %d fields", len(self._columns), len(self._fields))

    def _build_field_maps(self) -> None:
        """Column -> field weights (split equally) and each field's columns."""
        self._weights = np.zeros((len(self._columns), len(self._fields)))
        for i, column in enumerate(self._columns):
            for name in column.source_fields:
                self._weights[i, self._field_index[name]] = 1.0 / len(column.source_fields)
        self._reads = (self._weights > 0).T.astype(float)  # fields x columns
        # Field features read exactly one field, so its columns depend on its value alone.
        self._field_columns = {
            name: np.array([i for i, c in enumerate(self._columns) if c.source_fields == (name,)])
            for name in self._alert_fields
        }
        self._missing_features = {
            name: ",".join(self._columns[i].name for i in indices)
            for name, indices in self._field_columns.items()
        }

    def explain(
        self,
        alerts: Sequence[Alert],
        top_k: int = 5,
        counterfactuals: bool = True,
        max_changes: int = 3,
    ) -> list[Explanation]:
        """Explain each alert, optionally with the smallest field changes that flip its verdict."""
        matrix = self.model.matrix(alerts)
        explanations = self.explain_matrix(alerts, matrix, top_k)
        if counterfactuals:
            for row, (alert, explanation) in enumerate(zip(alerts, explanations, strict=True)):
                explanation.counterfactual = self._counterfactuals.search(
                    alert, matrix[row], explanation.margin, max_changes, self._alert_fields
                )
        return explanations

    def explain_matrix(
        self, alerts: Sequence[Alert], matrix: np.ndarray, top_k: int = 5
    ) -> list[Explanation]:
        """Explain alerts whose encoded rows are already at hand: one TreeSHAP pass for all,
        and the reasons picked for the whole batch at once (only their wording is per alert)."""
        contributions, margins = self.treeshap.contributions_and_margins(matrix)
        columns = contributions[:, :-1]
        per_field = columns @ self._weights
        present = np.ones((len(alerts), len(self._fields)), dtype=bool)  # alert attributes: always
        present[:, self._alert_field_index] = np.array(
            [
                [alert.fields.get(name) is not None for name in self._alert_fields]
                for alert in alerts
            ],
            dtype=bool,
        ).reshape(len(alerts), len(self._alert_fields))
        carried = np.array(
            [self._carried.get(alert.source, self._every_field) for alert in alerts], dtype=bool
        ).reshape(len(alerts), len(self._fields))
        # Candidate reasons: columns of present fields, and missing fields whole.
        present_columns = (present.astype(float) @ self._reads) > 0
        scores = np.concatenate(
            (np.where(present_columns, columns, 0.0), np.where(present, 0.0, per_field)), axis=1
        )
        top = np.argsort(-np.abs(scores), axis=1, kind="stable")[:, :top_k]
        # Everything the per-alert loop reads, as Python lists in one conversion each.
        top_scores = np.take_along_axis(scores, top, axis=1).tolist()
        top_cells = np.take_along_axis(
            matrix, np.minimum(top, len(self._columns) - 1), axis=1
        ).tolist()
        additivity_errors = np.abs(contributions.sum(axis=1) - margins).tolist()
        base_values = contributions[:, -1].tolist()
        threshold = self.model.threshold
        fields = self._fields
        explanations = []
        for alert, margin, base_value, field_row, lacks, ranked, ranked_scores, cells, error in zip(
            alerts, margins.tolist(), base_values, per_field.tolist(), (carried & ~present).tolist(),
            top.tolist(), top_scores, top_cells, additivity_errors, strict=True,
        ):  # fmt: skip
            explanations.append(
                Explanation(
                    alert_id=alert.id,
                    margin=margin,
                    verdict=verdict_of(margin, threshold),
                    threshold=threshold,
                    base_value=base_value,
                    field_contributions=dict(zip(fields, field_row, strict=True)),
                    reasons=self._reasons(alert, ranked, ranked_scores, cells),
                    missing_fields=[name for name, m in zip(fields, lacks, strict=True) if m],
                    counterfactual=None,
                    additivity_error=error,
                )
            )
        return explanations

    def _reasons(
        self, alert: Alert, ranked: list[int], scores: list[float], cells: list[float]
    ) -> list[Reason]:
        """Reasons for the top-ranked candidates (``ranked``: column indices, then fields as
        ``n_columns + j``; ``scores`` and ``cells`` are theirs, in that order)."""
        n_columns = len(self._columns)
        reasons = []
        for k, score, cell in zip(ranked, scores, cells, strict=True):
            if abs(score) < _MIN_REASON:
                break  # sorted by size: the rest move the margin even less
            if k < n_columns:
                text = f"{self._statement(alert, k, cell)} ({effect_text(score)})"
                reasons.append(Reason(*self._column_ids[k], text, score))
            else:
                name = self._fields[k - n_columns]
                text = f"{name} is missing ({effect_text(score)})"
                reasons.append(Reason(name, self._missing_features[name], text, score))
        return reasons

    def _statement(self, alert: Alert, index: int, cell: float) -> str:
        """What column ``index`` says about the alert, from its encoded cell."""
        wording = self._wordings[index]
        if math.isnan(cell):
            return self._unusable_statement(alert, index)
        if wording.style == "flag":
            return wording.text if cell else wording.negated
        if wording.style == "number":
            return wording.text + show_number(cell)
        return self._level_statements[index][int(cell)]

    def _unusable_statement(self, alert: Alert, index: int) -> str:
        """A field the alert has, whose column still has no usable value."""
        wording = self._wordings[index]
        if wording.style == "category":
            # Rare path (a value unseen at training, or blank): extract again for the raw text.
            raw = self.model.encoder.extractor.extract(alert)[index]
            if raw is None:
                return f"{wording.field} is blank"
            return f"{wording.text}{show_value(raw)} (unseen in training)"
        if wording.unreadable:
            return f"{wording.field} is {show_value(alert.fields.get(wording.field))} ({wording.unreadable})"
        if wording.style == "flag":
            return f"unknown whether {wording.text}"
        return f"{self._columns[index].description} is unknown"

    def counterfactual(
        self, alert: Alert, max_changes: int = 3, fields: Sequence[str] | None = None
    ) -> Counterfactual | None:
        """The fewest field changes (greedy beyond one) that flip the surrogate's decision."""
        return self._counterfactuals.for_alert(alert, max_changes, fields)


def explain_matrix(
    model: SurrogateModel, alerts: Sequence[Alert], matrix: np.ndarray, top_k: int = 5
) -> list[Explanation]:
    """Explain alerts from their encoded matrix (no counterfactuals)."""
    return Explainer(model).explain_matrix(alerts, matrix, top_k)


def explain(
    model: SurrogateModel,
    alerts: Sequence[Alert],
    top_k: int = 5,
    reference: FieldReference | None = None,
    counterfactuals: bool = True,
) -> list[Explanation]:
    """Explain alerts; build an :class:`Explainer` once instead when explaining a stream."""
    return Explainer(model, reference).explain(alerts, top_k, counterfactuals)


def counterfactual(
    model: SurrogateModel,
    alert: Alert,
    reference: FieldReference,
    max_changes: int = 3,
    fields: Sequence[str] | None = None,
) -> Counterfactual | None:
    """The fewest field changes that flip the surrogate's decision on ``alert``, or None."""
    return Explainer(model, reference).counterfactual(alert, max_changes, fields)
