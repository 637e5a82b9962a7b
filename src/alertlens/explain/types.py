"""What an explanation is: reasons, field changes, counterfactuals, and the explanation itself."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any


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
