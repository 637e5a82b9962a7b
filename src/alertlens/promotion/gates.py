"""Promotion gates: absolute floors and no-regression checks against the champion.

A gate reads one scorecard metric. A missing or undefined value fails its gate: a pair that
cannot show a figure has not earned promotion.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

Scorecard = Mapping[str, float | None]

BOUNDS = ("min", "max")
RELATIVE_KINDS = ("max_drop", "max_increase")


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict, with what it compared."""

    name: str  # "floor:<metric>" or "vs_champion:<metric>"
    metric: str
    value: float | None
    threshold: float | None
    rule: str  # ">= 0.97", "<= 0.10", "drop <= 0.02 from 0.951"
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def line(self) -> str:
        shown = "missing" if self.value is None else f"{self.value:.4f}"
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {shown} ({self.rule})"


def _defined(value: float | None) -> bool:
    return value is not None and not math.isnan(value)


def check_gate_config(cfg: Mapping[str, Any]) -> None:
    """Fail early, with the key at fault, on a malformed ``gates`` section."""
    for metric, rule in (cfg.get("floors") or {}).items():
        if not isinstance(rule, Mapping) or len(rule) != 1 or next(iter(rule)) not in BOUNDS:
            raise ValueError(f"gates.floors.{metric} must be {{min: X}} or {{max: X}}, got {rule}")
    for metric, rule in (cfg.get("relative") or {}).items():
        if (
            not isinstance(rule, Mapping)
            or len(rule) != 1
            or next(iter(rule)) not in RELATIVE_KINDS
        ):
            raise ValueError(
                f"gates.relative.{metric} must be {{max_drop: X}} or {{max_increase: X}}, "
                f"got {rule}"
            )


def floor_gates(card: Scorecard, floors: Mapping[str, Mapping[str, float]]) -> list[GateResult]:
    """Absolute floors: ``{min: x}`` means value >= x, ``{max: x}`` means value <= x."""
    results = []
    for metric, rule in floors.items():
        (bound, limit), value = next(iter(rule.items())), card.get(metric)
        passed = _defined(value) and (value >= limit if bound == "min" else value <= limit)  # type: ignore[operator]
        sign = ">=" if bound == "min" else "<="
        results.append(
            GateResult(f"floor:{metric}", metric, value, float(limit), f"{sign} {limit}", passed)
        )
    return results


def relative_gates(
    card: Scorecard, champion: Scorecard, relative: Mapping[str, Mapping[str, float]]
) -> list[GateResult]:
    """No regression against the champion beyond a tolerance, metric by metric.

    A metric the champion cannot show (undefined on this data) does not block: there is
    nothing to regress from.
    """
    results = []
    for metric, rule in relative.items():
        (kind, tolerance), value, before = (
            next(iter(rule.items())),
            card.get(metric),
            champion.get(metric),
        )
        if not _defined(before):
            results.append(
                GateResult(
                    f"vs_champion:{metric}", metric, value, None, "champion has no value", True
                )
            )
            continue
        assert before is not None
        if kind == "max_drop":
            threshold, rule_text = before - tolerance, f"drop <= {tolerance} from {before:.4f}"
            passed = _defined(value) and value >= threshold  # type: ignore[operator]
        else:
            threshold, rule_text = before + tolerance, f"rise <= {tolerance} from {before:.4f}"
            passed = _defined(value) and value <= threshold  # type: ignore[operator]
        results.append(
            GateResult(f"vs_champion:{metric}", metric, value, threshold, rule_text, passed)
        )
    return results


@dataclass(frozen=True)
class GateOutcome:
    """Every gate applied, and the floors the champion itself fails on these alerts."""

    results: list[GateResult]
    champion_failures: list[GateResult]

    @property
    def failed(self) -> list[GateResult]:
        return [gate for gate in self.results if not gate.passed]


def evaluate_gates(
    card: Scorecard, champion: Scorecard | None, cfg: Mapping[str, Any]
) -> GateOutcome:
    """Every gate of the ``gates`` config.

    Relative gates need a champion that is still a valid baseline: one that meets the floors
    on the same alerts. A champion that fails a floor there (drift has left it behind: new
    attacks it misses) is not protected by "no worse than the champion"; the challenger then
    has to pass the floors only.
    """
    check_gate_config(cfg)
    floors = cfg.get("floors") or {}
    results = floor_gates(card, floors)
    champion_failures: list[GateResult] = []
    if champion is not None:
        champion_failures = [gate for gate in floor_gates(champion, floors) if not gate.passed]
        if not champion_failures:
            results += relative_gates(card, champion, cfg.get("relative") or {})
    return GateOutcome(results, champion_failures)
