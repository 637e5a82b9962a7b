"""The normalized alert: what every reader produces and every later stage consumes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, TypeVar

FieldValue = str | int | float | bool

TRUE_POSITIVE = 1
FALSE_POSITIVE = 0
# Verdicts, as answers and explanations name them.
REAL = "real"
NOT_REAL = "false_positive"
VERDICTS = (REAL, NOT_REAL)
LABEL_NAMES = {TRUE_POSITIVE: REAL, FALSE_POSITIVE: NOT_REAL}
Score = TypeVar("Score")


def is_real(margin: Score, threshold: float) -> Score:
    """The decision rule, for one margin or an array of them: an alert is real when its logit
    margin reaches the operating threshold (a tie is real: the threshold is set for recall)."""
    return margin >= threshold  # type: ignore[operator, return-value]


def verdict_of(margin: float, threshold: float) -> str:
    """The verdict name for one margin under :func:`is_real`."""
    return REAL if is_real(margin, threshold) else NOT_REAL


@dataclass(slots=True)
class Alert:
    """One security alert after ingestion.

    ``fields`` maps normalized field names (``src_ip``, ``command_line``, ...) to typed values;
    a field that the source did not carry is simply absent (missing is a value downstream).
    ``label`` is 1 for a true positive (real), 0 for a false positive, None when untriaged.
    """

    id: str
    timestamp: float
    source: str
    label: int | None = None
    group: str | None = None
    fields: dict[str, FieldValue] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, stable key order (used for the prepared splits)."""
        return {
            "id": self.id,
            "timestamp": self.timestamp,
            "source": self.source,
            "label": self.label,
            "group": self.group,
            "fields": self.fields,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Alert:
        """Inverse of :meth:`to_dict`."""
        return cls(
            id=str(data["id"]),
            timestamp=float(data["timestamp"]),
            source=str(data["source"]),
            label=data.get("label"),
            group=data.get("group"),
            fields=dict(data.get("fields") or {}),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))
