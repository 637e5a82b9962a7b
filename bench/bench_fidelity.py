"""What limits the surrogate's agreement with the teacher: where the teacher's test margins sit
around its threshold, agreement inside and outside that band, and refits of the surrogate on
the same teacher scores with more information than an analyst can read (every word of the
rendered alert text as extra columns) beside text-only models.

Needs a trained pair (`make run`); scores the distill stage's transfer set with the teacher
again (a few minutes on a CPU); writes the figures to bench/results/fidelity.json. Usage:

    python bench/bench_fidelity.py
"""

from __future__ import annotations

import argparse
from typing import Any

import lightgbm as lgb
import numpy as np
import scipy.sparse as sp
from machine import write_results
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from alertlens.alerts.dataset import load_split
from alertlens.alerts.render import RenderConfig, render_text
from alertlens.config import load_params, project_root, section
from alertlens.surrogate.distill import distill_inputs
from alertlens.surrogate.model import SurrogateConfig, agreement
from alertlens.teacher.artifact import load_teacher

BANDS = (0.05, 0.1, 0.2, 0.5)


def words(texts_fit: list[str], texts: list[str]) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Binary columns for every word seen at least 3 times in the transfer set."""
    vectorizer = CountVectorizer(min_df=3, token_pattern=r"[^\s|:]+", binary=True, dtype=np.float32)
    return vectorizer.fit_transform(texts_fit), vectorizer.transform(texts)


def main() -> None:
    args = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    ).parse_args()
    root = project_root()
    params = load_params(root / "params.yaml")
    data = root / "data" / "prepared"
    teacher = load_teacher(root / "models" / "hardened", params["teacher"]["device"])
    inputs = distill_inputs(teacher, data, params)
    cfg = params["evaluate"]
    test = load_split(data, "test", cfg["test_subsample"], cfg["seed"])
    teacher_test = teacher.scorer(batch_size=128)(test)
    threshold = inputs.threshold
    distance = np.abs(teacher_test - threshold)
    print(f"threshold {threshold:+.3f}; {len(test):,} test alerts")
    near = {f"within_{band}".replace(".", "_"): float(np.mean(distance < band)) for band in BANDS}
    for band, share in zip(BANDS, near.values(), strict=True):
        print(f"  teacher margin within {band} of the threshold: {share:.1%}")
    figures: dict[str, Any] = {
        "threshold": threshold,
        "test_alerts": len(test),
        "teacher_margin_share_near_threshold": near,
    }

    head = head_saturation(teacher, test[:400])
    if head is not None:
        figures["teacher_head"] = head

    model = inputs.fit(section(SurrogateConfig, params["surrogate"]))
    surrogate_test = model.margins(test)
    inside = distance < 0.1
    same = (teacher_test >= threshold) == (surrogate_test >= threshold)
    print(
        f"surrogate agreement {np.mean(same):.4f}: {np.mean(same[~inside]):.4f} farther than 0.1 "
        f"from the threshold ({np.sum(~inside):,} alerts), {np.mean(same[inside]):.4f} within "
        f"({np.sum(inside):,}); median distance of a disagreement {np.median(distance[~same]):.3f}"
    )
    figures["surrogate_agreement"] = {
        "all": float(np.mean(same)),
        "farther_than_0_1": float(np.mean(same[~inside])),
        "within_0_1": float(np.mean(same[inside])),
    }
    figures["alerts_farther_than_0_1"] = int(np.sum(~inside))
    figures["alerts_within_0_1"] = int(np.sum(inside))
    figures["disagreement_median_distance"] = float(np.median(distance[~same]))

    # The same transfer set and soft labels, with every word of the rendered text added.
    render = RenderConfig.from_data_config(params["data"])
    fit_words, test_words = words(
        [render_text(a, render) for a in inputs.transfer], [render_text(a, render) for a in test]
    )
    fit_fields, test_fields = model.matrix(inputs.transfer), model.matrix(test)
    verdicts = (inputs.transfer_margins >= threshold).astype(int)
    refits: dict[str, float] = {}
    for key, name, train, held_out in (
        (
            "lightgbm_fields",
            "fields (no categorical handling)",
            sp.csr_matrix(fit_fields),
            sp.csr_matrix(test_fields),
        ),
        (
            "lightgbm_fields_and_words",
            f"fields + {fit_words.shape[1]:,} words",
            sp.hstack([sp.csr_matrix(fit_fields), fit_words]).tocsr(),
            sp.hstack([sp.csr_matrix(test_fields), test_words]).tocsr(),
        ),
        ("lightgbm_words", "words only", fit_words, test_words),
    ):
        booster = _refit(train, inputs.transfer_margins, threshold, params["surrogate"])
        raw = booster.predict(held_out, raw_score=True)
        refits[key] = float(np.mean((raw >= 0) == (teacher_test >= threshold)))
        print(f"LightGBM on {name:36s} agreement {refits[key]:.4f}")
    logistic = LogisticRegression(C=10, max_iter=3000).fit(fit_words, verdicts)
    refits["logistic_regression_words"] = agreement(
        teacher_test, logistic.decision_function(test_words) + threshold, threshold
    )
    print(
        f"logistic regression on words only            agreement "
        f"{refits['logistic_regression_words']:.4f}"
    )
    figures["word_columns"] = fit_words.shape[1]
    figures["refit_agreement"] = refits
    write_results("fidelity", figures, args)


def head_saturation(teacher, alerts: list) -> dict[str, float] | None:
    """Is the teacher's pile of false-positive margins its head saturating? BERT's classifier
    reads the tanh pooler, so its margin is bounded; saturated units would sit near +-1.
    Returns what it prints, or None when the head is not a BERT pooler."""
    bert = getattr(teacher.model, "bert", None)
    if bert is None or bert.pooler is None:
        print("teacher head: not a BERT pooler head, saturation not checked")
        return None
    pooled: list[np.ndarray] = []  # |pooler output| of every batch the scorer runs
    hook = bert.pooler.activation.register_forward_hook(
        lambda _module, _inputs, output: pooled.append(output.detach().float().abs().cpu().numpy())
    )
    try:
        margins = teacher.scorer(batch_size=128)(alerts)
    finally:
        hook.remove()
    weight = teacher.model.classifier.weight.detach().float()
    bound = float((weight[1] - weight[0]).abs().sum())
    negatives = margins[np.array([a.label for a in alerts]) == 0]
    saturated = np.mean(np.concatenate([batch.ravel() for batch in pooled]) > 0.99)
    print(
        f"teacher head: margin within +-{bound:.2f} (+ bias) of the tanh pooler; on {len(alerts)} "
        f"test alerts, false positives' margins {negatives.min():+.2f} (min) "
        f"{np.median(negatives):+.2f} (median); pooler units with |tanh| > 0.99: {saturated:.1%}"
    )
    return {
        "alerts": len(alerts),
        "margin_bound": bound,
        "false_positive_margin_min": float(negatives.min()),
        "false_positive_margin_median": float(np.median(negatives)),
        "pooler_share_saturated": float(saturated),
    }


def _refit(matrix: sp.csr_matrix, margins: np.ndarray, threshold: float, cfg: dict):
    """LightGBM with the surrogate's settings on soft labels centred on the threshold."""
    soft = 1 / (1 + np.exp(-(margins - threshold) / cfg["temperature"]))
    settings = {
        "objective": "cross_entropy",
        "num_leaves": cfg["num_leaves"],
        "max_depth": cfg["max_depth"],
        "learning_rate": cfg["learning_rate"],
        "min_data_in_leaf": cfg["min_data_in_leaf"],
        "verbosity": -1,
        "seed": cfg["seed"],
        "num_threads": 2,
    }
    return lgb.train(settings, lgb.Dataset(matrix.astype(np.float32), soft), cfg["n_estimators"])


if __name__ == "__main__":
    main()
