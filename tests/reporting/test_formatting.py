"""Number formatting and plain-language labels."""

from __future__ import annotations

import math

import pytest

from alertlens.reporting.formatting import attack_label, fmt, fmt_change, gate_label, metric_label


@pytest.mark.parametrize(
    ("value", "kind", "text"),
    [
        (0.99346, "pct", "99.3%"),
        (0.0025, "pct", "0.25%"),  # a small rate keeps its figure
        (0.0, "pct", "0.0%"),
        (10958, "int", "10,958"),
        (12.5627, "ratio", "12.6x"),
        (-4.625, "num3", "-4.625"),
        (None, "pct", "n/a"),
        (math.nan, "num3", "n/a"),
    ],
)
def test_fmt(value: float | None, kind: str, text: str) -> None:
    assert fmt(value, kind) == text


def test_changes_are_in_the_metrics_units() -> None:
    assert fmt_change(0.9956, 0.9935, "pct") == "+0.2 pts"
    assert fmt_change(0.4712, 0.512, "num3") == "-0.041"
    assert fmt_change(1500, 1400, "int") == "+100"
    assert fmt_change(0.5, None, "num3") == ""


def test_labels_read_as_plain_words() -> None:
    assert metric_label("golden.recall") == ("Real alerts caught (recall), golden set", "pct")
    assert metric_label("faithfulness.comprehensiveness_aopc")[1] == "num3"
    assert metric_label("test_groups.pr_auc_gap_low") == (
        "Teacher minus best baseline PR-AUC, bootstrap interval low, test_groups",
        "num3",
    )
    assert metric_label("test.pr_auc_ceiling") == (
        "PR-AUC of a perfect classifier on these labels, test split",
        "num3",
    )
    assert gate_label("vs_champion:test.f1") == "No worse than the champion: F1, test split"
    assert attack_label("random:url_encode") == "url encode (random)"
