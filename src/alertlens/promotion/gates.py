"""Promotion gates: absolute floors, the teacher against the classical baselines, and
no-regression checks against the champion.

A gate reads one scorecard metric. A missing or undefined value fails its gate: a pair that
cannot show a figure has not earned promotion. The exception is a metric of an assessed set the
data does not give (no golden set configured, no held-out groups, no field an evasion transform
may touch): that gate passes and says so, since no pair could show the figure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

Scorecard = Mapping[str, float | None]

BOUNDS = ("min", "max")
BASELINE_PREFIX = "baselines."  # scorecard keys baselines.<name>.<metric>
RELATIVE_KINDS = ("max_drop", "max_increase")
# The scorecard's optional sets (alertlens.assess.sample.AssessSample; the test sample is always
# there) and "evidence", the explained alerts with ground truth; "<set>.n" counts their alerts.
OPTIONAL_SETS = ("golden", "adversarial", "test_groups", "evidence")


def absent_set_gate(name: str, card: Scorecard, metric: str) -> GateResult | None:
    """A passing gate saying so when ``metric`` belongs to an optional set the card holds no
    alerts of, else None (the gate is applied)."""
    assessed_set = metric.split(".", 1)[0]
    if assessed_set not in OPTIONAL_SETS or card.get(f"{assessed_set}.n"):
        return None
    text = (
        "no ground truth on this data"
        if assessed_set == "evidence"
        else f"no {assessed_set} set on this data"
    )
    return GateResult(name, metric, card.get(metric), None, text, True)


@dataclass(frozen=True)
class GateResult:
    """One gate's verdict, with what it compared."""

    name: str  # "floor:<metric>", "vs_champion:<metric>" or "vs_baseline:<metric>"
    metric: str
    value: float | None
    threshold: float | None
    rule: str  # ">= 0.97", "<= 0.10", "drop <= 0.02 from 0.951", ">= tfidf_logreg 0.881 - 0.005"
    passed: bool

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def figure(self) -> str:
        """The value against its rule: ``0.7480 (>= 0.97)``."""
        shown = "missing" if self.value is None else f"{self.value:.4f}"
        return f"{shown} ({self.rule})"

    def line(self) -> str:
        return f"{'PASS' if self.passed else 'FAIL'}  {self.name}: {self.figure()}"


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
    baselines = cfg.get("baselines")
    if baselines is not None and (
        set(baselines) != {"metrics", "tolerance"} or float(baselines["tolerance"]) < 0
    ):
        raise ValueError(
            "gates.baselines must be {metrics: [scorecard metrics], tolerance: X >= 0}, "
            f"got {baselines}"
        )


def baseline_figures(card: Scorecard, metric: str) -> dict[str, float]:
    """Each baseline's defined ``metric`` on the card, by baseline name."""
    suffix = "." + metric
    return {
        key[len(BASELINE_PREFIX) : -len(suffix)]: float(value)  # type: ignore[arg-type]
        for key, value in card.items()
        if key.startswith(BASELINE_PREFIX) and key.endswith(suffix) and _defined(value)
    }


def _gap_context(card: Scorecard, metric: str) -> str:
    """What the card knows around a baseline comparison: the assessment's bootstrap interval of
    the teacher minus the best baseline, and a perfect classifier's figure on the same labels
    (on data with ground truth), as clauses of the rule's text."""
    text = ""
    low, high, level = (card.get(f"{metric}_gap_{key}") for key in ("low", "high", "level"))
    if _defined(low) and _defined(high):
        width = f"{level:.0%} interval" if _defined(level) else "bootstrap interval"
        text += f"; teacher - best, {width} {low:+.4f} to {high:+.4f}"
    ceiling = card.get(f"{metric}_ceiling")
    if _defined(ceiling):
        text += f"; a perfect classifier {ceiling:.4f}"
    return text


def baseline_gates(card: Scorecard, rule: Mapping[str, Any]) -> list[GateResult]:
    """The teacher's figure against the best baseline's on the same alerts, per metric:
    value >= best - tolerance. A card without baseline figures fails: the comparison is the
    point of the gate. A metric of a set the card does not hold (``test_groups`` where no group
    was held out) is not measured here, and passes saying so."""
    results = []
    tolerance = float(rule["tolerance"])
    for metric in rule["metrics"]:
        value, rivals = card.get(metric), baseline_figures(card, metric)
        name = f"vs_baseline:{metric}"
        absent = absent_set_gate(name, card, metric)  # e.g. test_groups on data without groups
        if absent is not None:
            results.append(absent)
            continue
        if not rivals:
            text = "no baseline figures on the scorecard: run the baselines and evaluate stages"
            results.append(GateResult(name, metric, value, None, text, False))
            continue
        best = max(rivals, key=rivals.__getitem__)
        threshold = rivals[best] - tolerance
        passed = _defined(value) and value >= threshold  # type: ignore[operator]
        text = f">= {best} {rivals[best]:.4f} - {tolerance}"
        text += _gap_context(card, metric)
        results.append(GateResult(name, metric, value, threshold, text, passed))
    return results


def floor_gates(card: Scorecard, floors: Mapping[str, Mapping[str, float]]) -> list[GateResult]:
    """Absolute floors: ``{min: x}`` means value >= x, ``{max: x}`` means value <= x."""
    results = []
    for metric, rule in floors.items():
        (bound, limit), value = next(iter(rule.items())), card.get(metric)
        absent = absent_set_gate(f"floor:{metric}", card, metric)
        if absent is not None:
            results.append(absent)
            continue
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
        absent = absent_set_gate(f"vs_champion:{metric}", card, metric)
        if absent is not None:
            results.append(absent)
            continue
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
    if cfg.get("baselines"):
        results += baseline_gates(card, cfg["baselines"])
    champion_failures: list[GateResult] = []
    if champion is not None:
        champion_failures = [gate for gate in floor_gates(champion, floors) if not gate.passed]
        if not champion_failures:
            results += relative_gates(card, champion, cfg.get("relative") or {})
    return GateOutcome(results, champion_failures)
