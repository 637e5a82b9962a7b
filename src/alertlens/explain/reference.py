"""Typical field values per source and verdict (where counterfactual candidates come from), and
what each surrogate column typically reads on a source's false positives (a reason's context)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alertlens.alerts.schema import VERDICTS, Alert, FieldValue, is_real, verdict_of

# A false positive's typical column reading: [10th percentile, 90th percentile, mean] of a
# numeric column, or the most common level code of a categorical one.
Typical = list[float] | int


@dataclass
class FieldReference:
    """Typical field values per (source, field) and teacher verdict (counterfactual candidates),
    and per (source, column) the typical reading on the alerts the teacher calls false positives
    (``typical``; empty in a reference saved without it)."""

    values: dict[str, dict[str, dict[str, list[FieldValue]]]] = field(default_factory=dict)
    typical: dict[str, dict[str, Typical]] = field(default_factory=dict)

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

    def with_typical(
        self,
        alerts: Sequence[Alert],
        margins: Sequence[float] | np.ndarray,
        threshold: float,
        matrix: np.ndarray,
        columns: Sequence[tuple[str, bool]],
        min_alerts: int = 20,
    ) -> FieldReference:
        """This reference plus each column's typical reading on every source's false positives
        (teacher verdict), from the encoded ``matrix`` of ``alerts``; ``columns``: (name,
        categorical) per matrix column. Sources with fewer than ``min_alerts`` false positives
        get none (too few to say what is typical)."""
        false_positive = ~is_real(np.asarray(margins, dtype=float), threshold)
        sources = np.array([alert.source for alert in alerts])
        typical: dict[str, dict[str, Typical]] = {}
        for source in sorted(set(sources.tolist())):
            rows = matrix[false_positive & (sources == source)]
            if len(rows) < min_alerts:
                continue
            typical[source] = {}
            for j, (name, categorical) in enumerate(columns):
                cells = rows[:, j][~np.isnan(rows[:, j])]
                if not len(cells):
                    continue
                if categorical:
                    codes, counts = np.unique(cells, return_counts=True)
                    typical[source][name] = int(codes[np.argmax(counts)])
                else:
                    low, high = np.percentile(cells, [10, 90]).tolist()
                    typical[source][name] = [low, high, float(cells.mean())]
        return FieldReference(self.values, typical)

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
        return {"values": self.values, "typical": self.typical}

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
            },
            {
                str(source): {str(name): reading for name, reading in by_column.items()}
                for source, by_column in (data.get("typical") or {}).items()
            },
        )


def _same_value(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b
