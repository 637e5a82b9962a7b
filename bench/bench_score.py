"""Benchmark batch scoring (`alertlens score`): alerts per second in one process vs Spark.

Writes --n synthetic alerts (a seed the pipeline did not train on) as one JSON Lines export,
then scores it with the pipeline's pair (models/hardened + models/surrogate) twice: in this
process (`--engine local`: one Python process, torch on all its threads) and on Spark
`local[--cores]` (`--engine spark`: one Python worker per core, each with its own copy of the
pair, torch on one thread each). Both runs include reading the export, scoring and explaining
every alert, and writing Parquet; the Spark run also includes its counting passes and each
worker loading the pair, but not the session's start-up, which is printed apart. --mode pair:
the teacher decides and the surrogate explains; surrogate: the surrogate alone. The two outputs
are compared (verdict counts). Writes bench/results/score.json. Usage:

    python bench/bench_score.py [--n 100000] [--mode pair|surrogate] [--cores 2]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from machine import describe, write_results

from alertlens.config import project_root
from alertlens.scoring.batch import ScoreCounts, ScoreOptions, score_export
from alertlens.scoring.spark import describe_engine, score_on_spark, spark_session
from alertlens.synth.generate import write_synthetic
from alertlens.triage import TriagePair

SEED = 11  # the default data is generated with seed 7: these alerts are new to the pair


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("nan")


def run_local(
    pair: TriagePair, export: Path, out: Path, options: ScoreOptions
) -> tuple[ScoreCounts, float]:
    started = time.perf_counter()
    counts = score_export(pair, export, out, options)
    return counts, time.perf_counter() - started


def run_spark(
    pair: TriagePair, export: Path, out: Path, options: ScoreOptions, cores: int
) -> tuple[ScoreCounts, float, float, dict[str, Any]]:
    started = time.perf_counter()
    spark = spark_session(f"local[{cores}]", {"spark.ui.enabled": "false"})
    spark.sparkContext.setLogLevel("ERROR")
    startup = time.perf_counter() - started
    try:
        started = time.perf_counter()
        counts = score_on_spark(spark, pair, str(export), str(out), options)
        seconds = time.perf_counter() - started
        engine = describe_engine(spark)
    finally:
        spark.stop()
    return counts, seconds, startup, engine


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    root = project_root()
    parser.add_argument("--n", type=int, default=100_000, help="alerts in the export")
    parser.add_argument("--mode", choices=("pair", "surrogate"), default="pair")
    parser.add_argument("--cores", type=int, default=2, help="Spark local[N] (default 2)")
    parser.add_argument("--teacher", type=Path, default=root / "models" / "hardened")
    parser.add_argument("--surrogate", type=Path, default=root / "models" / "surrogate")
    args = parser.parse_args()

    pair = TriagePair.from_dirs(args.teacher, args.surrogate)
    options = ScoreOptions(use_teacher=args.mode == "pair")
    load_at_start = os.getloadavg()[0]
    print(
        f"machine: {describe()}; {args.n:,} alerts, mode {args.mode}; "
        f"load average at start {load_at_start:.1f}"
    )
    figures: dict[str, Any] = {"load_average_start": load_at_start}
    with tempfile.TemporaryDirectory(prefix="bench-score-") as tmp:
        export = Path(tmp) / "export.jsonl"
        write_synthetic(export, n=args.n, seed=SEED)
        figures["export_bytes"] = export.stat().st_size
        local, local_s = run_local(pair, export, Path(tmp) / "local.parquet", options)
        print(
            f"one process:        {local_s:8.1f} s  {rate(args.n, local_s):9,.0f} alerts/s"
            f"  ({local.summary()})"
        )
        spark, spark_s, startup_s, engine = run_spark(
            pair, export, Path(tmp) / "spark", options, args.cores
        )
        print(
            f"Spark local[{args.cores}]:     {spark_s:8.1f} s  {rate(args.n, spark_s):9,.0f} alerts/s"
            f"  (session start-up {startup_s:.1f} s apart; Spark {engine['spark']})"
        )
    same = spark.as_dict() == local.as_dict()
    print(
        f"Spark's speed-up over one process: {local_s / spark_s:.2f}x; "
        f"counts and verdicts {'identical' if same else 'DIFFER'}"
    )
    figures.update(
        {
            "alerts": args.n,
            "one_process": {
                "seconds": local_s,
                "alerts_per_s": rate(args.n, local_s),
                "counts": local.as_dict(),
            },
            "spark": {
                "seconds": spark_s,
                "alerts_per_s": rate(args.n, spark_s),
                "session_startup_seconds": startup_s,
                "engine": engine,
                "counts": spark.as_dict(),
            },
            "spark_speedup": local_s / spark_s,
            "same_counts": same,
            "load_average_end": os.getloadavg()[0],
        }
    )
    write_results("score", figures, args)


if __name__ == "__main__":
    main()
