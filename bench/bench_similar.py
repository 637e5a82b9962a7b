"""Benchmark the similar past alerts: what listing them adds to an answer.

On the same test alerts, in one run and alternating: the pair's answer (teacher, explanation,
no counterfactual) one alert at a time with its similar past alerts and without them (p50/p95
per alert), then the index query alone, one alert at a time and batched, from the teacher's
embeddings of those alerts. Needs a trained pair (`make run`) whose distill stage built the
index; writes the figures to bench/results/similar.json. Usage:

    python bench/bench_similar.py [--alerts 300] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from typing import Any

import numpy as np
from machine import describe, write_results

from alertlens.alerts.dataset import load_split
from alertlens.config import project_root
from alertlens.triage import TriagePair


def per_alert_ms(seconds: list[float]) -> dict[str, float]:
    return {
        "p50": float(np.percentile(seconds, 50) * 1000),
        "p95": float(np.percentile(seconds, 95) * 1000),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--alerts", type=int, default=300, help="test alerts answered")
    parser.add_argument("--repeats", type=int, default=5, help="batched query repeats")
    args = parser.parse_args()
    root = project_root()
    pair = TriagePair.from_dirs(root / "models" / "hardened", root / "models" / "surrogate")
    index = pair.similar
    if index is None:
        raise SystemExit("the pair has no similar-alerts index: run the distill stage (make run)")
    alerts = load_split(root / "data" / "prepared", "test", args.alerts, seed=5)
    print(f"machine: {describe()}; index: {len(index):,} past alerts, k {index.k}")
    pair.triage(alerts[:8], counterfactuals=False)  # load the sessions and kernels once

    with_index, without = [], []
    for alert in alerts:  # alternating, so both see the same machine state
        for times, similar in ((with_index, index), (without, None)):
            pair.similar = similar
            started = time.perf_counter()
            pair.triage([alert], counterfactuals=False)
            times.append(time.perf_counter() - started)
    pair.similar = index
    _, embeddings = pair.teacher.scorer().margins_and_embeddings(alerts)
    single = []
    for row in embeddings:
        started = time.perf_counter()
        index.query(row[None, :])
        single.append(time.perf_counter() - started)
    batched = []
    for _ in range(args.repeats):
        started = time.perf_counter()
        index.query(embeddings)
        batched.append((time.perf_counter() - started) / len(alerts))

    figures: dict[str, Any] = {
        "indexed_alerts": len(index),
        "k": index.k,
        "embedding_dimensions": int(index.embeddings.shape[1]),
        "index_mib_on_disk": index.embeddings.size * 2 / 2**20,  # float16
        "test_alerts": len(alerts),
        "answer_ms_with_similar": per_alert_ms(with_index),
        "answer_ms_without_similar": per_alert_ms(without),
        "added_ms_p50": (statistics.median(with_index) - statistics.median(without)) * 1000,
        "query_ms_one_alert": per_alert_ms(single),
        "query_ms_per_alert_batched": statistics.median(batched) * 1000,
    }
    for label, key in (
        ("with", "answer_ms_with_similar"),
        ("without", "answer_ms_without_similar"),
    ):
        print(
            f"answer, one alert, {label:7s} similar alerts: p50 {figures[key]['p50']:.2f} ms  "
            f"p95 {figures[key]['p95']:.2f} ms"
        )
    print(
        f"added by the similar alerts: {figures['added_ms_p50']:.2f} ms per answer (p50); the "
        f"query alone {figures['query_ms_one_alert']['p50']:.2f} ms for one alert, "
        f"{figures['query_ms_per_alert_batched']:.3f} ms per alert batched"
    )
    write_results("similar", figures, args)


if __name__ == "__main__":
    main()
