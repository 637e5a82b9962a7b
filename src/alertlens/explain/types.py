"""What an explanation is: reasons, field changes, counterfactuals, and the explanation itself."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class Reason:
    """One reason for a verdict: a statement about one field of the alert and its push, in the
    surrogate's log-odds that the teacher calls the alert real (see ``Explanation.log_odds``)."""

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
    """The surrogate's verdict on one alert, with the reasons an analyst can act on.

    ``margin``, ``base_value`` and ``field_contributions`` are on the teacher's margin scale
    (compared with its threshold); ``log_odds`` is the surrogate's own score, the log-odds that
    the teacher calls the alert real (0 at the threshold), which ``base_log_odds`` plus every
    field's reason contribution adds up to."""

    alert_id: str
    margin: float
    log_odds: float
    base_log_odds: float
    verdict: str
    threshold: float
    base_value: float
    field_contributions: dict[str, float]
    reasons: list[Reason]  # the evidence: fields of the alert's content, strongest first
    missing_fields: list[str]  # fields it lacks that its source's alerts carried in training
    counterfactual: Counterfactual | None
    additivity_error: float
    # The alert's kind: what the detection says (source, rule, category, severity), and how
    # much it moves the score before any evidence.
    kind: list[Reason] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)

    def to_text(self) -> str:
        """A few readable lines: verdict, reasons, missing fields, what would flip it."""
        verdict = self.verdict.replace("_", " ").upper()
        lines = [
            f"{self.alert_id}: {verdict} (log-odds {self.log_odds:+.2f}; margin {self.margin:+.2f}, "
            f"threshold {self.threshold:+.2f})"
        ]
        lines += [f"  kind: {reason.text}" for reason in self.kind]
        lines += [f"  - {reason.text}" for reason in self.reasons]
        if self.missing_fields:
            lines.append(f"  missing: {', '.join(self.missing_fields)}")
        if self.counterfactual is not None:
            lines.append(f"  {self.counterfactual.text}")
        return "\n".join(lines)


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
