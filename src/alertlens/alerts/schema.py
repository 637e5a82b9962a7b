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


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """What caused an alert, where the data knows it (the synthetic set's generator does): the
    cause's name and the normalized fields that carry its decisive evidence. Read by evaluation
    only (evidence recall); no model sees it."""

    cause: str
    evidence: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"cause": self.cause, "evidence": list(self.evidence)}


@dataclass(slots=True)
class Alert:
    """One security alert after ingestion.

    ``fields`` maps normalized field names (``src_ip``, ``command_line``, ...) to typed values;
    a field that the source did not carry is simply absent (missing is a value downstream).
    ``label`` is 1 for a true positive (real), 0 for a false positive, None when untriaged.
    ``truth``: the generation ground truth, on data that carries it (``data.truth``).
    """

    id: str
    timestamp: float
    source: str
    label: int | None = None
    group: str | None = None
    fields: dict[str, FieldValue] = field(default_factory=dict)
    truth: GroundTruth | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON form, stable key order (used for the prepared splits); ``truth`` only when
        the alert has it."""
        data = {
            "id": self.id,
            "timestamp": self.timestamp,
            "source": self.source,
            "label": self.label,
            "group": self.group,
            "fields": self.fields,
        }
        if self.truth is not None:
            data["truth"] = self.truth.to_dict()
        return data

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
            truth=_truth(data.get("truth")),
        )

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), ensure_ascii=False, separators=(",", ":"))


def _truth(data: dict[str, Any] | None) -> GroundTruth | None:
    if not data:
        return None
    return GroundTruth(str(data["cause"]), tuple(str(name) for name in data["evidence"]))
