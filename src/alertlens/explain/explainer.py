"""Per-alert explanations: the surrogate's verdict, its reasons, and what would flip it.

Reasons come from exact TreeSHAP (:mod:`alertlens.explain.engine`: the memoized engine, or
LightGBM's ``pred_contrib``): per-column contributions to the margin, summed per source field.
One reason per field, ranked by its total (in the surrogate's margin units, so the reasons of
an alert and its base value add up to its score); the text names the field's strongest columns,
each with what the source's false positives typically read there (the reference's
``typical``). A field the alert lacks is one reason ("user_agent is missing"). Everything per
column (wording, category levels, the column -> field weights) is compiled once in
``Explainer.__init__``, and a batch's reasons are ranked in one numpy pass, so explaining an
alert costs one extraction, one TreeSHAP lookup pass and the wording of its top reasons.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence

import numpy as np

from alertlens.alerts.schema import Alert, verdict_of
from alertlens.alerts.vocabulary import DETECTION_FIELDS
from alertlens.explain.counterfactuals import CounterfactualSearch
from alertlens.explain.engine import TreeShapEngine
from alertlens.explain.reference import FieldReference
from alertlens.explain.types import Counterfactual, Explanation, Reason
from alertlens.explain.wording import (
    effect_text,
    show_number,
    show_value,
    typical_range_text,
    within_field,
    wording_for,
    words_text,
)
from alertlens.surrogate.model import SurrogateModel

logger = logging.getLogger(__name__)

# Read from the alert itself, not from ``alert.fields``: never missing, never changed.
ALERT_ATTRIBUTES = frozenset({"timestamp", "source"})
# The kind's reason for the fields an alert's source never carries (not a field of its own).
NOT_CARRIED = "(fields the source does not carry)"
# A reason must move the margin visibly: below this (teacher margin units) it is noise to an
# analyst.
_MIN_REASON = 0.005
# The hour and weekday say when an alert fired, not what it is: the trees use them to shift
# odds a little between office hours and nights for every alert alike. They are a reason only
# when they move the surrogate's log-odds at least this much (a factor of e on the odds).
CALENDAR_MIN_LOG_ODDS = 1.0


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
        # The detection's own fields (rule, category, ...) are the alert's kind, not evidence.
        self._is_detection = np.array([f in DETECTION_FIELDS for f in self._fields], dtype=bool)
        calendar = {
            name
            for feature in extractor.spec.features
            if feature.kind == "time"
            for column in feature.columns()
            for name in column.source_fields
        }
        self._is_calendar = np.array([f in calendar for f in self._fields], dtype=bool)
        # Counterfactuals change only what could differ within the same kind of event.
        self._mutable_fields = [f for f in self._alert_fields if f not in DETECTION_FIELDS]
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
        # The columns that read each field (a reason names the strongest of them).
        self._columns_of = [np.flatnonzero(reads) for reads in self._reads]
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
                    alert, matrix[row], explanation.margin, max_changes, self._mutable_fields
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
        # One candidate reason per field (its columns' contributions summed): the alert's
        # content as reasons, the detection's own fields as its kind, each ranked by size.
        # Fields the alert's source never carries are part of its kind too (their absence says
        # which source it is), summed into one.
        foreign = ~present & ~carried
        threshold, scale = self.model.threshold, self.model.log_odds_per_margin
        slight_calendar = self._is_calendar & (np.abs(per_field) * scale < CALENDAR_MIN_LOG_ODDS)
        evidence = np.where(self._is_detection | foreign | slight_calendar, 0.0, per_field)
        foreign_share = np.where(foreign, per_field, 0.0)
        top = np.argsort(-np.abs(evidence), axis=1, kind="stable")[:, :top_k]
        top_scores = np.take_along_axis(evidence, top, axis=1).tolist()
        detection = np.where(self._is_detection, per_field, 0.0)
        kinds = np.argsort(-np.abs(detection), axis=1, kind="stable")[:, : self._is_detection.sum()]
        kind_scores = np.take_along_axis(detection, kinds, axis=1).tolist()
        additivity_errors = np.abs(contributions.sum(axis=1) - margins).tolist()
        base_values = contributions[:, -1].tolist()
        fields = self._fields
        explanations = []
        for row, (alert, margin, base_value, field_row, lacks, ranked, ranked_scores, kind, kind_scores_row, error) in enumerate(zip(
            alerts, margins.tolist(), base_values, per_field.tolist(), (carried & ~present).tolist(),
            top.tolist(), top_scores, kinds.tolist(), kind_scores, additivity_errors, strict=True,
        )):  # fmt: skip
            kind_reasons = self._reasons(
                alert, kind, kind_scores_row, columns[row], matrix[row], present[row]
            )
            kind_reasons += self._not_carried(alert, foreign_share[row], scale)
            explanations.append(
                Explanation(
                    alert_id=alert.id,
                    margin=margin,
                    log_odds=(margin - threshold) * scale,
                    base_log_odds=(base_value - threshold) * scale,
                    verdict=verdict_of(margin, threshold),
                    threshold=threshold,
                    base_value=base_value,
                    field_contributions=dict(zip(fields, field_row, strict=True)),
                    reasons=self._reasons(
                        alert, ranked, ranked_scores, columns[row], matrix[row], present[row]
                    ),
                    kind=kind_reasons,
                    missing_fields=[name for name, m in zip(fields, lacks, strict=True) if m],
                    counterfactual=None,
                    additivity_error=error,
                )
            )
        return explanations

    def _reasons(
        self,
        alert: Alert,
        ranked: list[int],
        scores: list[float],
        contributions: np.ndarray,
        cells: np.ndarray,
        present: np.ndarray,
    ) -> list[Reason]:
        """Reasons for the top-ranked fields (``ranked``: field indices, ``scores``: their
        totals), from the alert's column ``contributions`` and encoded ``cells``."""
        reasons = []
        scale = self.model.log_odds_per_margin
        for j, margin_share in zip(ranked, scores, strict=True):
            if abs(margin_share) < _MIN_REASON:
                break  # sorted by size: the rest move the margin even less
            score = margin_share * scale  # in the surrogate's log-odds
            name = self._fields[j]
            if not present[j]:
                text = f"{name} is missing ({effect_text(score)})"
                reasons.append(Reason(name, self._missing_features[name], text, score))
                continue
            named = self._strongest_columns(self._columns_of[j], contributions, margin_share)
            details = "; ".join(self._detail(alert, k, float(cells[k]), name) for k in named)
            features = ",".join(self._columns[k].name for k in named)
            reasons.append(
                Reason(name, features, f"{name}: {details} ({effect_text(score)})", score)
            )
        return reasons

    def _not_carried(self, alert: Alert, shares: np.ndarray, scale: float) -> list[Reason]:
        """One reason for the fields the alert's source never carries (their absence is part
        of what kind of alert it is), or none when they barely move the score."""
        total = float(shares.sum())
        if abs(total) < _MIN_REASON:
            return []
        named = [self._fields[j] for j in np.argsort(-np.abs(shares), kind="stable") if shares[j]]
        shown = ", ".join(named[:3]) + (f", +{len(named) - 3} more" if len(named) > 3 else "")
        text = f"fields {alert.source} alerts do not carry: {shown} ({effect_text(total * scale)})"
        return [Reason(NOT_CARRIED, ",".join(named), text, total * scale)]

    @staticmethod
    def _strongest_columns(
        indices: np.ndarray, contributions: np.ndarray, total: float, most: int = 2
    ) -> list[int]:
        """Up to ``most`` columns of a field that push its way, strongest first (the single
        strongest when none does)."""
        values = contributions[indices]
        order = np.argsort(-np.abs(values), kind="stable")
        same_way = [
            int(indices[i])
            for i in order
            if values[i] * total > 0 and abs(values[i]) >= _MIN_REASON
        ]
        return same_way[:most] or [int(indices[order[0]])]

    def _detail(self, alert: Alert, index: int, cell: float, field: str) -> str:
        """What column ``index`` says, as part of its field's reason, with what the alert's
        source typically reads there on false positives; a statistic above that range, or a
        flag that holds, is prefixed with what it suggests ("encoding: ...")."""
        wording = self._wordings[index]
        statement = within_field(self._statement(alert, index, cell), field)
        typical = self.reference.typical.get(alert.source, {}).get(self._columns[index].name)
        if typical is None or math.isnan(cell):
            return statement
        if isinstance(typical, int):  # a categorical column's most common level
            levels = self._levels[index]
            if typical == int(cell) or typical >= len(levels):
                return statement
            return f"{statement} (typical {alert.source} false positive: {show_value(levels[typical])})"
        low, high, mean = typical
        if wording.style == "flag":
            context = f"on {mean:.0%} of {alert.source} false positives"
            unusual = bool(cell) and mean < 0.5
        else:
            context = typical_range_text(low, high, alert.source)
            unusual = cell > high
        if wording.indicates and unusual:
            statement = f"{wording.indicates}: {statement}"
        return f"{statement} ({context})"

    def _statement(self, alert: Alert, index: int, cell: float) -> str:
        """What column ``index`` says about the alert, from its encoded cell."""
        wording = self._wordings[index]
        if math.isnan(cell):
            return self._unusable_statement(alert, index)
        if wording.style == "flag":
            return wording.text if cell else wording.negated
        if wording.style == "number":
            return wording.text + show_number(cell)
        if wording.style == "words":
            evidence = self.model.encoder.extractor.text_evidence
            terms = evidence.top_terms(alert, wording.field) if evidence is not None else []
            return words_text(cell, terms)
        return self._level_statements[index][int(cell)]

    def _unusable_statement(self, alert: Alert, index: int) -> str:
        """A field the alert has, whose column still has no usable value."""
        wording = self._wordings[index]
        if wording.style == "category":
            # Rare path (a value unseen at training, or blank): extract again for the raw text.
            raw = self.model.encoder.extractor.extract_fields(alert)[index]
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
