"""Per-alert explanations: the surrogate's verdict, its reasons, and what would flip it.

Reasons come from TreeSHAP (the memoized exact TreeSHAP of ``surrogate.treeshap``, equal to
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
import re
from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np

from alertlens.alerts.schema import Alert, FieldValue
from alertlens.features.spec import FeatureColumn, FeatureDef
from alertlens.surrogate.model import SurrogateModel

logger = logging.getLogger(__name__)

REAL = "real"
FALSE_POSITIVE = "false_positive"
VERDICTS = (REAL, FALSE_POSITIVE)
# Read from the alert itself, not from ``alert.fields``: never missing, never changed.
ALERT_ATTRIBUTES = frozenset({"timestamp", "source"})

_VERDICT_PHRASES = {REAL: "real", FALSE_POSITIVE: "a false positive"}
# Derived 1/0 columns (parser outputs), worded as a statement that holds or does NOT hold.
_FLAG_OUTPUTS = frozenset(
    {"double_encoded", "host_is_ip", "has_encoded_flag", "has_url", "has_base64"}
)
_CATEGORY_WORDING = {
    "scope": "{field} scope is ",
    "subnet": "{field} is in subnet ",
    "executable": "{field} runs ",
    "extension": "{field} has file extension ",
}
# Kinds whose cell is the field's raw value: a present field with a missing cell is unreadable.
_UNREADABLE = {"numeric": "not a number", "boolean": "not a yes/no value"}
_NEEDS_QUOTES = re.compile(r'[\s"]')
_VERB = re.compile(r" (contains|passes|is) ")
_NEGATED_VERBS = {"contains": "does NOT contain", "passes": "does NOT pass", "is": "is NOT"}
_MAX_SHOWN_CHARS = 60
# A reason must move the margin visibly: below this (in logits) it is noise to an analyst.
_MIN_REASON = 0.005
_PROBE_CACHE_SIZE = 4096


@dataclass(slots=True)
class Reason:
    """One reason for a verdict: a statement about the alert and its push on the margin."""

    field: str
    feature: str
    text: str
    contribution: float


@dataclass
class FieldChange:
    """One field set to a new value (``new`` None: the field removed; ``old`` None: added)."""

    field: str
    old: Any
    new: Any


@dataclass
class Counterfactual:
    """Field changes that flip the surrogate's decision, and the margin they lead to."""

    changes: list[FieldChange]
    new_margin: float
    text: str


@dataclass(slots=True)
class Explanation:
    """The surrogate's verdict on one alert, with the reasons an analyst can act on."""

    alert_id: str
    margin: float
    verdict: str
    threshold: float
    base_value: float
    field_contributions: dict[str, float]
    reasons: list[Reason]
    missing_fields: list[str]  # fields it lacks that its source's alerts carried in training
    counterfactual: Counterfactual | None
    additivity_error: float

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def to_text(self) -> str:
        """A few readable lines: verdict, reasons, missing fields, what would flip it."""
        verdict = self.verdict.replace("_", " ").upper()
        lines = [
            f"{self.alert_id}: {verdict} (margin {self.margin:+.2f}, threshold {self.threshold:+.2f})"
        ]
        lines += [f"  - {reason.text}" for reason in self.reasons]
        if self.missing_fields:
            lines.append(f"  missing: {', '.join(self.missing_fields)}")
        if self.counterfactual is not None:
            lines.append(f"  {self.counterfactual.text}")
        return "\n".join(lines)


def verdict_of(margin: float, threshold: float) -> str:
    """Real when the margin reaches the threshold, as the teacher decides."""
    return REAL if margin >= threshold else FALSE_POSITIVE


def check_additivity(explanations: Sequence[Explanation], tol: float = 1e-6) -> None:
    """Raise ValueError unless base value + field contributions == margin for every explanation."""
    for explanation in explanations:
        total = explanation.base_value + math.fsum(explanation.field_contributions.values())
        error = abs(total - explanation.margin)
        if not error <= tol:
            raise ValueError(
                f"alert {explanation.alert_id}: base value + contributions = {total:.9g} but the "
                f"margin is {explanation.margin:.9g} (off by {error:.3g} > {tol:g})"
            )


@dataclass
class FieldReference:
    """Typical field values per (source, field) and teacher verdict: counterfactual candidates."""

    values: dict[str, dict[str, dict[str, list[FieldValue]]]] = field(default_factory=dict)

    @classmethod
    def from_alerts(
        cls,
        alerts: Sequence[Alert],
        margins: Sequence[float] | np.ndarray,
        threshold: float,
        per_field: int = 3,
    ) -> FieldReference:
        """The ``per_field`` most common values of each field, per source and teacher verdict."""
        counts: defaultdict[tuple[str, str, str], Counter[tuple[str, FieldValue]]]
        counts = defaultdict(Counter)
        for alert, margin in zip(alerts, np.asarray(margins, dtype=float).tolist(), strict=True):
            verdict = verdict_of(margin, threshold)
            for name, value in alert.fields.items():
                if value is not None:
                    # Keyed with the type name: True == 1 would otherwise merge bools and ints.
                    counts[(alert.source, name, verdict)][(type(value).__name__, value)] += 1
        values: dict[str, dict[str, dict[str, list[FieldValue]]]] = {}
        for (source, name, verdict), counter in sorted(counts.items()):
            ranked = sorted(counter.items(), key=lambda item: (-item[1], item[0]))
            by_verdict = values.setdefault(source, {}).setdefault(name, {})
            by_verdict[verdict] = [value for (_, value), _ in ranked[:per_field]]
        return cls(values)

    def candidates(self, alert: Alert, name: str, toward: str) -> list[Any]:
        """Values of ``name`` typical of the ``toward`` verdict, then None (remove) if present."""
        if toward not in VERDICTS:
            raise ValueError(f"toward must be one of {VERDICTS}, got {toward!r}")
        current = alert.fields.get(name)
        typical = self.values.get(alert.source, {}).get(name, {}).get(toward, [])
        options: list[Any] = [v for v in typical if not _same_value(v, current)]
        if current is not None:
            options.append(None)
        return options

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (saved beside the surrogate)."""
        return {"values": self.values}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FieldReference:
        """Inverse of :meth:`to_dict`."""
        return cls(
            {
                str(source): {
                    str(name): {str(verdict): list(vals) for verdict, vals in by_verdict.items()}
                    for name, by_verdict in by_field.items()
                }
                for source, by_field in data["values"].items()
            }
        )


def _same_value(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


@dataclass(frozen=True)
class _Wording:
    """How one column reads: ``text`` + value, or for a flag ``text`` / ``negated``."""

    style: str  # "flag", "number" or "category"
    field: str
    text: str
    negated: str = ""
    unreadable: str = ""


def _negate(statement: str) -> str:
    """'x contains "y"' -> 'x does NOT contain "y"' (the first verb, so quoted keywords stay)."""
    match = _VERB.search(statement)
    if match is None:
        return f"NOT: {statement}"
    negated = _NEGATED_VERBS[match.group(1)]
    return f"{statement[: match.start()]} {negated} {statement[match.end() :]}"


def _wording(feature: FeatureDef, column: FeatureColumn) -> _Wording:
    """Precompute one column's wording from the kind of feature that produced it."""
    name = feature.field or column.source_fields[0]
    # Derived columns are named <field>_<output>; the output says what the value means.
    output = column.name[len(name) + 1 :] if feature.field else column.name
    is_flag = (
        feature.kind in ("keywords", "boolean")
        or output in _FLAG_OUTPUTS
        or (feature.kind == "ip" and column.dtype == "numeric")
    )
    if is_flag:
        return _Wording("flag", name, column.description, _negate(column.description))
    unreadable = _UNREADABLE.get(feature.kind, "")
    if column.dtype == "categorical":
        text = _CATEGORY_WORDING.get(output, "{field} is ").format(field=name)
        return _Wording("category", name, text, unreadable=unreadable)
    text = f"{name} = " if feature.kind == "numeric" else f"{column.description} = "
    return _Wording("number", name, text, unreadable=unreadable)


def _show_number(value: float) -> str:
    if value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return f"{value:.3g}"


def _show_value(value: Any) -> str:
    """A field value as it reads in a sentence: quoted when it has spaces, long ones shortened."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return _show_number(float(value))
    text = str(value)
    if len(text) > _MAX_SHOWN_CHARS:
        text = text[: _MAX_SHOWN_CHARS - 1] + "…"
    if not text or _NEEDS_QUOTES.search(text):
        return f'"{text}"'
    return text


def _effect(contribution: float) -> str:
    """'+2.1 toward real' / '-1.4 toward false positive'."""
    amount = f"{contribution:+.1f}" if abs(contribution) >= 0.05 else f"{contribution:+.2f}"
    direction = "real" if contribution > 0 else "false positive"
    return f"{amount} toward {direction}"


def _join_words(parts: Sequence[str]) -> str:
    return parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"


def _counterfactual_text(changes: Sequence[FieldChange], toward: str) -> str:
    """'would be a false positive if src_ip were 10.0.5.3 and user_agent were missing'."""
    parts = [
        f"{change.field} were {'missing' if change.new is None else _show_value(change.new)}"
        for change in changes
    ]
    return f"would be {_VERDICT_PHRASES[toward]} if {_join_words(parts)}"


class Explainer:
    """Explains one surrogate's decisions; per-column work is done once, here."""

    def __init__(self, model: SurrogateModel, reference: FieldReference | None = None) -> None:
        self.model = model
        # Without a reference the only candidate change is removing a field.
        self.reference = reference if reference is not None else FieldReference()
        extractor = model.encoder.extractor
        self._columns = extractor.columns
        self._wordings = [
            _wording(feature, column)
            for feature in extractor.spec.features
            for column in feature.columns()
        ]
        self._levels = [model.encoder.levels.get(column.name, []) for column in self._columns]
        # What a categorical column says for each of its levels, worded once.
        self._level_statements = [
            [wording.text + _show_value(level) for level in levels]
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
        self._probe = lru_cache(maxsize=_PROBE_CACHE_SIZE, typed=True)(self._encode_field_value)
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
                explanation.counterfactual = self._search(
                    alert, matrix[row], explanation.margin, max_changes, self._alert_fields
                )
        return explanations

    def explain_matrix(
        self, alerts: Sequence[Alert], matrix: np.ndarray, top_k: int = 5
    ) -> list[Explanation]:
        """Explain alerts whose encoded rows are already at hand: one TreeSHAP pass for all,
        and the reasons picked for the whole batch at once (only their wording is per alert)."""
        contributions, margins = self.model.contributions_and_margins(matrix)
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
                text = f"{self._statement(alert, k, cell)} ({_effect(score)})"
                reasons.append(Reason(*self._column_ids[k], text, score))
            else:
                name = self._fields[k - n_columns]
                text = f"{name} is missing ({_effect(score)})"
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
            return wording.text + _show_number(cell)
        return self._level_statements[index][int(cell)]

    def _unusable_statement(self, alert: Alert, index: int) -> str:
        """A field the alert has, whose column still has no usable value."""
        wording = self._wordings[index]
        if wording.style == "category":
            # Rare path (a value unseen at training, or blank): extract again for the raw text.
            raw = self.model.encoder.extractor.extract(alert)[index]
            if raw is None:
                return f"{wording.field} is blank"
            return f"{wording.text}{_show_value(raw)} (unseen in training)"
        if wording.unreadable:
            return f"{wording.field} is {_show_value(alert.fields.get(wording.field))} ({wording.unreadable})"
        if wording.style == "flag":
            return f"unknown whether {wording.text}"
        return f"{self._columns[index].description} is unknown"

    def counterfactual(
        self, alert: Alert, max_changes: int = 3, fields: Sequence[str] | None = None
    ) -> Counterfactual | None:
        """The fewest field changes (greedy beyond one) that flip the surrogate's decision."""
        names = (
            self._alert_fields
            if fields is None
            else [f for f in fields if f in self._field_columns]
        )
        row = self.model.matrix([alert])[0]
        margin = float(self.model.margins_from_matrix(row[None, :])[0])
        return self._search(alert, row, margin, max_changes, names)

    def _search(
        self, alert: Alert, row: np.ndarray, margin: float, max_changes: int, names: Sequence[str]
    ) -> Counterfactual | None:
        """Flip with one change if any does; else keep the best change and search again."""
        toward = FALSE_POSITIVE if verdict_of(margin, self.model.threshold) == REAL else REAL
        changes: list[FieldChange] = []
        for _ in range(max_changes):
            changed = {change.field for change in changes}
            step = self._best_change(
                alert, row, margin, [n for n in names if n not in changed], toward
            )
            if step is None:
                return None
            (name, value), row, margin, flipped = step
            changes.append(FieldChange(name, alert.fields.get(name), value))
            if flipped:
                return Counterfactual(changes, margin, _counterfactual_text(changes, toward))
        return None

    def _best_change(
        self, alert: Alert, row: np.ndarray, margin: float, names: Sequence[str], toward: str
    ) -> tuple[tuple[str, Any], np.ndarray, float, bool] | None:
        """Score all single changes in one batch: the flip that moves most, else the best move."""
        options = [
            (name, value)
            for name in names
            for value in self.reference.candidates(alert, name, toward)
        ]
        if not options:
            return None
        variants = np.repeat(row[None, :], len(options), axis=0)
        for r, (name, value) in enumerate(options):
            variants[r, self._field_columns[name]] = self._probe(name, value)
        margins = self.model.margins_from_matrix(variants)
        threshold = self.model.threshold
        sign = 1.0 if toward == REAL else -1.0  # the way the margin has to move
        moves = sign * (margins - margin)
        flipped = margins >= threshold if toward == REAL else margins < threshold
        best = int(np.argmax(np.where(flipped, moves, -np.inf) if flipped.any() else moves))
        if moves[best] <= 0:
            return None  # a greedy search cannot get closer
        return options[best], variants[best], float(margins[best]), bool(flipped[best])

    def _encode_field_value(self, name: str, value: FieldValue | None) -> np.ndarray:
        """The encoded cells of ``name``'s columns when the field holds ``value`` (None: absent)."""
        probe = Alert(
            id="", timestamp=math.nan, source="", fields={} if value is None else {name: value}
        )
        return self.model.matrix([probe])[0, self._field_columns[name]]


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
