"""Typical field values per source and verdict: where counterfactual candidates come from."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from alertlens.alerts.schema import VERDICTS, Alert, FieldValue, verdict_of


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
