"""Benchmark explanations: the surrogate (TreeSHAP) against explainers run on the teacher.

On the same test alerts, in one run: the surrogate's explanation at batch size 1 (p50/p95,
feature extraction and reason text included) and batched; LIME (lime_text, default 5,000
samples), shap's Partition explainer and Captum integrated gradients on the hardened teacher.
The batched figures are split into feature extraction, TreeSHAP (the memoized TreeSHAP beside
LightGBM's own pred_contrib) and reason wording. The memo is warmed on the validation split,
as a running service would be, never on the test alerts it is measured on. Needs a trained
pair (`make run`); writes the figures to bench/results/explain.json. Usage:

    python bench/bench_explain.py [--alerts 300] [--teacher-alerts 3]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from machine import describe, write_results

from alertlens.alerts.dataset import load_split
from alertlens.alerts.render import render_text
from alertlens.config import project_root
from alertlens.metrics import sigmoid
from alertlens.teacher.interpret import integrated_gradients
from alertlens.triage import TriagePair

# The batched measurements: a key for the results file, and the line the printout shows.
BATCHED = {
    "end_to_end": "end to end (extraction, TreeSHAP, reasons)",
    "from_extracted_rows": "from extracted rows (TreeSHAP, reasons)",
    "attributions_only": "attributions only (extraction, TreeSHAP)",
    "feature_extraction_only": "feature extraction only",
    "treeshap_memoized": "TreeSHAP only, memoized",
    "treeshap_lightgbm_pred_contrib_2_threads": "TreeSHAP only, LightGBM pred_contrib (2 threads)",
    "end_to_end_empty_memo": "end to end, empty memo (a fresh process)",
}
# The teacher-side explainers: a key for the results file, and the printed name.
TEACHER_EXPLAINERS = {
    "lime_5000_samples": "lime (5,000 samples)",
    "shap_partition": "shap partition",
    "captum_ig_32_steps": "captum IG (32 steps)",
}


def percentile_ms(seconds: list[float], q: float) -> float:
    return float(np.percentile(seconds, q) * 1000)


def surrogate_single(pair: TriagePair, alerts: list) -> list[float]:
    """Seconds per alert, one alert at a time (what an online request pays)."""
    times = []
    for alert in alerts:
        started = time.perf_counter()
        pair.explainer.explain([alert], counterfactuals=False)
        times.append(time.perf_counter() - started)
    return times


def median_rate(
    alerts: int, run: Callable[[], object], repeats: int, setup: Callable[[], None]
) -> float:
    """Alerts per second, the median of ``repeats`` timed runs (``setup`` untimed before each)."""
    rates = []
    for _ in range(repeats):
        setup()
        started = time.perf_counter()
        run()
        rates.append(alerts / (time.perf_counter() - started))
    return statistics.median(rates)


def surrogate_batched(
    pair: TriagePair, alerts: list, repeats: int, setup: Callable[[], None]
) -> dict[str, float]:
    """Alerts per second explaining a batch: end to end, and each part on its own (``setup``
    runs untimed before every timed run)."""
    explainer, model = pair.explainer, pair.surrogate
    engine = explainer.treeshap  # the engine the explanations use (memoized, or pred_contrib)
    matrix = model.matrix(alerts)
    n = len(alerts)

    def rate(run: Callable[[], object]) -> float:
        return median_rate(n, run, repeats, setup)

    return {
        "end_to_end": rate(lambda: explainer.explain(alerts, counterfactuals=False)),
        "from_extracted_rows": rate(lambda: explainer.explain_matrix(alerts, matrix)),
        # What LIME, Partition and IG return: attributions, before any reason is worded.
        "attributions_only": rate(lambda: engine.contributions(model.matrix(alerts))),
        "feature_extraction_only": rate(lambda: model.matrix(alerts)),
        "treeshap_memoized": rate(lambda: engine.contributions(matrix)),
        "treeshap_lightgbm_pred_contrib_2_threads": rate(
            lambda: model.booster.predict(matrix, pred_contrib=True, num_threads=2)
        ),
    }


def teacher_explainers(pair: TriagePair, alerts: list) -> dict[str, list[float]]:
    """Seconds per alert for LIME, shap Partition and Captum IG on the teacher, by the keys
    of :data:`TEACHER_EXPLAINERS`."""
    import shap
    from lime.lime_text import LimeTextExplainer

    scorer = pair.teacher.scorer(batch_size=128)
    # Text maskers perturb rendered text, and a wide-and-deep teacher's prior scores whole
    # alerts: LIME and shap time the encoder's margins (the prior costs microseconds per alert).

    def probabilities(texts: list[str]) -> np.ndarray:
        p = sigmoid(scorer.encoder_margins(list(texts)))
        return np.column_stack([1 - p, p])

    lime = LimeTextExplainer(class_names=["false_positive", "real"], random_state=0)
    partition = shap.Explainer(
        lambda texts: scorer.encoder_margins(list(texts)), shap.maskers.Text(r"\W+")
    )
    explainers = {
        "lime_5000_samples": lambda text, _: lime.explain_instance(
            text, probabilities, num_features=10
        ),
        "shap_partition": lambda text, _: partition([text]),
        "captum_ig_32_steps": lambda _, alert: integrated_gradients(pair.teacher, alert),
    }
    times: dict[str, list[float]] = {name: [] for name in explainers}
    for alert in alerts:
        text = render_text(alert, pair.teacher.render)
        for name, run in explainers.items():
            started = time.perf_counter()
            run(text, alert)
            times[name].append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=1000, help="alerts for the surrogate figures")
    parser.add_argument(
        "--teacher-alerts", type=int, default=3, help="alerts for the teacher-side explainers"
    )
    args = parser.parse_args()
    root = project_root()
    pair = TriagePair.from_dirs(root / "models" / "hardened", root / "models" / "surrogate")
    alerts = load_split(root / "data" / "prepared", "test", args.alerts, seed=5)
    warm = load_split(root / "data" / "prepared", "validation", None, seed=5)
    print(
        f"machine: {describe()}; surrogate: {len(pair.surrogate.columns)} features, "
        f"{pair.surrogate.booster.num_trees()} trees; {len(alerts)} test alerts"
    )
    memo = pair.explainer.treeshap.memo  # None: LightGBM's pred_contrib explains, no memo
    cold = memo.snapshot() if memo is not None else None
    # Warm the explainer (and its TreeSHAP memo) on the validation split, as a running service
    # would be warm from earlier alerts; the test alerts are new to it.
    started = time.perf_counter()
    pair.explainer.explain(warm, counterfactuals=False)
    warmup_seconds = time.perf_counter() - started
    print(
        f"warm-up: the first call (loading the compiled TreeSHAP kernels, an empty memo) "
        f"explained the {len(warm):,} validation alerts in {warmup_seconds:.2f} s"
    )
    figures: dict[str, Any] = {
        "surrogate_features": len(pair.surrogate.columns),
        "surrogate_trees": pair.surrogate.booster.num_trees(),
        "test_alerts": len(alerts),
        "validation_alerts": len(warm),
        "warmup_seconds": warmup_seconds,
    }
    warm_state = memo.snapshot() if memo is not None else None

    def back_to(state: tuple | None) -> None:
        """Put the memo back to ``state`` before a timed run, so no run sees a memo that has
        already met these test alerts in an earlier one."""
        if memo is not None and state is not None:
            memo.restore(state)

    batched = surrogate_batched(pair, alerts, repeats=5, setup=lambda: back_to(warm_state))
    if memo is not None:
        # A fresh process: every (tree, pattern) of the batch is computed before it is reused.
        batched["end_to_end_empty_memo"] = median_rate(
            len(alerts),
            lambda: pair.explainer.explain(alerts, counterfactuals=False),
            repeats=5,
            setup=lambda: back_to(cold),
        )
    back_to(warm_state)
    single = surrogate_single(pair, alerts)
    if memo is not None and warm_state is not None:
        before = warm_state[-1]
        new_share = (memo.patterns - before) / (len(alerts) * pair.surrogate.booster.num_trees())
        print(
            f"TreeSHAP memo: {before:,} (tree, split pattern) entries after {len(warm):,} validation "
            f"alerts; the {len(alerts):,} test alerts added {memo.patterns - before:,} "
            f"({new_share:.2%} of their tree visits)"
        )
        figures["memo_entries_after_warmup"] = before
        figures["memo_entries_added_by_test"] = memo.patterns - before
        figures["memo_new_share_of_test_tree_visits"] = new_share
    print(
        f"surrogate, batch 1:   p50 {percentile_ms(single, 50):.3f} ms  p95 {percentile_ms(single, 95):.3f} ms per alert"
    )
    figures["batch_1_ms_per_alert"] = {
        "p50": percentile_ms(single, 50),
        "p95": percentile_ms(single, 95),
    }
    for key, rate in batched.items():
        print(f"surrogate, batched, {BATCHED[key]:48s} {rate:9,.0f} alerts/s")
    figures["batched_alerts_per_s"] = batched
    teacher_times = teacher_explainers(pair, alerts[: args.teacher_alerts])
    fastest = min(statistics.median(t) for t in teacher_times.values())
    for key, seconds in teacher_times.items():
        print(
            f"teacher, {TEACHER_EXPLAINERS[key]:22s} median {statistics.median(seconds):8.2f} s per alert "
            f"({len(seconds)} alerts)"
        )
    ratio = fastest / (percentile_ms(single, 50) / 1000)
    print(f"surrogate p50 is {ratio:,.0f}x faster than the fastest teacher-side explainer")
    figures["teacher_alerts"] = len(alerts[: args.teacher_alerts])
    figures["teacher_seconds_per_alert"] = {
        key: statistics.median(seconds) for key, seconds in teacher_times.items()
    }
    figures["surrogate_p50_speedup_vs_fastest_teacher"] = ratio
    write_results("explain", figures, args)


if __name__ == "__main__":
    main()
