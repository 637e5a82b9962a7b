"""The normalized alert: what every reader produces and every later stage consumes."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

FieldValue = str | int | float | bool

TRUE_POSITIVE = 1
FALSE_POSITIVE = 0
LABEL_NAMES = {TRUE_POSITIVE: "real", FALSE_POSITIVE: "false_positive"}


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
