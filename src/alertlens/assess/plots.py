"""Evaluation plots: SHAP beeswarm, per-alert waterfalls, teacher-vs-surrogate scatter."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; no display on servers and CI

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import shap  # noqa: E402

from alertlens.alerts.schema import is_real  # noqa: E402


def shap_explanation(
    contributions: np.ndarray,
    matrix: np.ndarray,
    names: Sequence[str],
    shown: Sequence[Sequence[object]],
) -> shap.Explanation:
    """LightGBM pred_contrib output (base value in the last column) as a shap.Explanation.

    ``shown`` holds the extracted values as an analyst reads them (category names, not codes);
    an absent value (None, or NaN as a text evidence column of a field the alert lacks reads)
    shows as ``missing``.
    """
    return shap.Explanation(
        values=contributions[:, :-1],
        base_values=contributions[:, -1],
        data=matrix,
        display_data=np.array(
            [["missing" if _absent(v) else v for v in row] for row in shown], dtype=object
        ),
        feature_names=list(names),
    )


def _absent(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def beeswarm(explanation: shap.Explanation, path: Path, max_display: int = 20) -> Path:
    """SHAP summary (beeswarm) over many alerts."""
    # shap jitters the points with numpy's global generator: seeded here, the picture depends
    # on the data only, not on whatever drew from that generator earlier in the process.
    state = np.random.get_state()
    np.random.seed(0)
    try:
        shap.plots.beeswarm(explanation, max_display=max_display, show=False)
    finally:
        np.random.set_state(state)
    return _save(path)


def waterfall(explanation: shap.Explanation, index: int, path: Path, title: str) -> Path:
    """One alert's contributions from the base value to its margin."""
    shap.plots.waterfall(explanation[index], max_display=12, show=False)
    plt.title(title, fontsize=9)
    return _save(path)


def score_scatter(teacher: np.ndarray, surrogate: np.ndarray, threshold: float, path: Path) -> Path:
    """Teacher margin vs surrogate margin, with the shared threshold on both axes."""
    fig, axis = plt.subplots(figsize=(5, 5))
    agree = is_real(teacher, threshold) == is_real(surrogate, threshold)
    axis.scatter(teacher[agree], surrogate[agree], s=6, alpha=0.5, label="agree")
    axis.scatter(teacher[~agree], surrogate[~agree], s=10, color="crimson", label="disagree")
    axis.axvline(threshold, color="grey", lw=0.8)
    axis.axhline(threshold, color="grey", lw=0.8)
    axis.set_xlabel("teacher logit margin")
    axis.set_ylabel("surrogate score")
    axis.set_title(f"fidelity: {agree.mean():.3f} agreement at the operating point")
    axis.legend(loc="upper left")
    return _save(path, fig)


def reliability_diagram(bins: list[dict[str, float]], ece: float, path: Path) -> Path:
    """Observed real share against the calibrated p(real) per probability bin (the marker's
    area grows with the bin's alerts), with the diagonal of perfect calibration."""
    fig, axis = plt.subplots(figsize=(5, 5))
    axis.plot([0, 1], [0, 1], color="grey", lw=0.8, label="perfectly calibrated")
    predicted = [b["predicted"] for b in bins]
    observed = [b["observed"] for b in bins]
    sizes = [12 + 4 * np.sqrt(b["n"]) for b in bins]
    axis.plot(predicted, observed, color="tab:blue", lw=1)
    axis.scatter(predicted, observed, s=sizes, color="tab:blue", label="test alerts per bin")
    axis.set_xlim(0, 1)
    axis.set_ylim(0, 1)
    axis.set_xlabel("teacher's calibrated p(real)")
    axis.set_ylabel("share the analysts called real")
    axis.set_title(f"calibration: ECE {ece:.3f} on the test split")
    axis.legend(loc="lower right")  # well-calibrated bins run along the diagonal, above it
    return _save(path, fig)


def _save(path: Path, fig: plt.Figure | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    (fig or plt.gcf()).savefig(path, dpi=110, bbox_inches="tight")
    plt.close("all")
    return path
