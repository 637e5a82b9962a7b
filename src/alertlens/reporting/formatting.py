"""Numbers and metric keys as an analyst reads them."""

from __future__ import annotations

import math
from typing import Any, TypeGuard


def defined(value: Any) -> TypeGuard[float]:
    """A finite number (not None, NaN or a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def fmt(value: Any, kind: str) -> str:
    """A number as an analyst reads it; ``n/a`` when there is none."""
    if not defined(value):
        return "n/a"
    if kind == "pct" and 0 < abs(value) < 0.01:
        kind = "pct2"  # 0.25% should not read as 0.2%
    formats = {
        "int": "{:,.0f}",
        "pct": "{:.1%}",
        "pct2": "{:.2%}",
        "pct3": "{:.3%}",
        "num2": "{:.2f}",
        "num3": "{:.3f}",
        "num4": "{:.4f}",
        "ratio": "{:.1f}x",
        "ratio2": "{:.2f}x",
        "margin": "{:+.2f}",
    }
    return formats.get(kind, "{}").format(value)


def fmt_change(new: Any, old: Any, kind: str) -> str:
    """Challenger minus champion in the metric's own units (percentage points for rates)."""
    if not (defined(new) and defined(old)):
        return ""
    delta = new - old
    if kind.startswith("pct"):
        return f"{100 * delta:+.1f} pts"
    if kind == "int":
        return f"{delta:+,.0f}"
    if kind.startswith("ratio"):
        return f"{delta:+.1f}x"
    return f"{delta:+.3f}"


def cell(text: Any, cls: str = "") -> dict[str, str]:
    return {"text": str(text), "cls": cls}


DATASETS = {
    "test": "test split",
    "golden": "golden set",
    "adversarial": "evasion variants of real alerts",
}
METRICS = {
    "n": ("alerts scored", "int"),
    "threshold": ("decision threshold (teacher logit margin)", "num3"),
    "recall": ("real alerts caught (recall)", "pct"),
    "precision": ("precision", "pct"),
    "f1": ("F1", "num3"),
    "pr_auc": ("PR-AUC", "num3"),
    "auto_close_share": ("false positives the model would auto-close", "pct"),
    "agreement": ("surrogate agrees with the teacher", "pct"),
    "comprehensiveness_top3_vs_random": (
        "confidence drop when the top-3 explained fields are removed, vs random fields",
        "ratio",
    ),
    "comprehensiveness_aopc": ("confidence drop when explained fields are removed (AOPC)", "num3"),
    "pr_auc_gap_low": ("teacher minus best baseline PR-AUC, bootstrap interval low", "num3"),
    "pr_auc_gap_high": ("teacher minus best baseline PR-AUC, bootstrap interval high", "num3"),
    "pr_auc_gap_level": ("confidence level of that bootstrap interval", "pct"),
    "pr_auc_ceiling": ("PR-AUC of a perfect classifier on these labels", "num3"),
    "attack_success_rate": ("evasion attacks that succeed", "pct"),
    "evasion_rate": ("real alerts an attack turns into false positives", "pct"),
}
PRECISE = {"pct": "pct2", "num3": "num4", "ratio": "ratio2"}


def metric_label(key: str) -> tuple[str, str]:
    """A scorecard key (``test.recall``) as plain words, and its format kind."""
    scope, _, name = key.rpartition(".")
    label, kind = METRICS.get(name, (name.replace("_", " "), "num3"))
    label = label[0].upper() + label[1:]
    where = DATASETS.get(scope, scope)
    return (f"{label}, {where}" if where else label), kind


def gate_label(name: str) -> str:
    """``floor:test.f1`` -> ``Required level: F1, test split``."""
    kind, _, metric = name.partition(":")
    prefix = {"floor": "Required level", "vs_champion": "No worse than the champion"}.get(
        kind, kind
    )
    label = metric_label(metric)[0]
    if not label[:2].isupper():  # "Real alerts ..." reads on lower case; "F1", "PR-AUC" do not
        label = label[0].lower() + label[1:]
    return f"{prefix}: {label}"


def attack_label(name: str) -> str:
    """``random:url_encode`` -> ``url encode (random)``; ``search`` -> greedy search."""
    if name == "overall":
        return "all attacks"
    if name == "search":
        return "greedy search within a query budget"
    kind, _, transform = name.partition(":")
    return f"{transform.replace('_', ' ')} ({kind})" if transform else name.replace("_", " ")


def text_of(value: Any) -> str:
    """Any JSON value as text; nothing for null."""
    return "" if value is None else str(value)
