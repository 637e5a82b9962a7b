"""The fewest field changes that flip the surrogate's verdict: a greedy search over typical
values (the field reference), scored in batches on the surrogate."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any

import numpy as np

from alertlens.alerts.schema import NOT_REAL, REAL, Alert, FieldValue, verdict_of
from alertlens.explain.reference import FieldReference
from alertlens.explain.types import Counterfactual, FieldChange
from alertlens.explain.wording import counterfactual_text
from alertlens.surrogate.model import SurrogateModel

_PROBE_CACHE_SIZE = 4096


class CounterfactualSearch:
    """Searches one surrogate's counterfactuals; ``field_columns``: each field's columns."""

    def __init__(
        self,
        model: SurrogateModel,
        reference: FieldReference,
        field_columns: Mapping[str, np.ndarray],
    ) -> None:
        self.model = model
        self.reference = reference
        self._field_columns = field_columns
        self._probe = lru_cache(maxsize=_PROBE_CACHE_SIZE, typed=True)(self._encode_field_value)

    def for_alert(
        self, alert: Alert, max_changes: int = 3, fields: Sequence[str] | None = None
    ) -> Counterfactual | None:
        """The fewest field changes (greedy beyond one) that flip the surrogate's decision."""
        names = (
            list(self._field_columns)
            if fields is None
            else [f for f in fields if f in self._field_columns]
        )
        row = self.model.matrix([alert])[0]
        margin = float(self.model.margins_from_matrix(row[None, :])[0])
        return self.search(alert, row, margin, max_changes, names)

    def search(
        self, alert: Alert, row: np.ndarray, margin: float, max_changes: int, names: Sequence[str]
    ) -> Counterfactual | None:
        """Flip with one change if any does; else keep the best change and search again."""
        toward = NOT_REAL if verdict_of(margin, self.model.threshold) == REAL else REAL
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
                return Counterfactual(changes, margin, counterfactual_text(changes, toward))
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
