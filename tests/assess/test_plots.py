"""Evaluation plots are files that depend on their data only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from alertlens.assess import plots
from alertlens.teacher.confidence import reliability


def test_the_beeswarm_does_not_depend_on_numpys_global_generator(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    matrix = rng.integers(0, 3, size=(200, 3)).astype(float)  # ties: shap jitters them
    contributions = np.column_stack([matrix * 0.5, np.zeros(200)])
    explanation = plots.shap_explanation(contributions, matrix, ["a", "b", "c"], matrix.tolist())
    drawn = []
    for seed in (1, 2):
        np.random.seed(seed)
        drawn.append(plots.beeswarm(explanation, tmp_path / f"{seed}.png").read_bytes())
        assert np.random.get_state()[1][0] == np.random.RandomState(seed).get_state()[1][0]
    assert drawn[0] == drawn[1]


def test_reliability_diagram_writes_a_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    probs = rng.random(500)
    labels = (rng.random(500) < probs).astype(int)
    table = reliability(probs, labels)
    path = plots.reliability_diagram(table, 0.03, tmp_path / "plots" / "r.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_an_absent_value_reads_missing_in_the_explanation() -> None:
    contributions = np.array([[0.5, -0.2, 0.1, -1.0]])
    matrix = np.array([[1.0, np.nan, np.nan]])
    shown = [["powershell.exe", None, float("nan")]]
    explanation = plots.shap_explanation(contributions, matrix, ["a", "b", "c"], shown)
    assert explanation.display_data.tolist() == [["powershell.exe", "missing", "missing"]]
    assert explanation.base_values.tolist() == [-1.0]
