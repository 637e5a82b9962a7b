"""Benchmark the data path at scale: synthesis, then ingest + render + feature extraction.

Streams N alerts (default 1,000,000) through each phase in its own process and prints the
throughput and the phase's peak resident memory, and writes them to bench/results/data.json.
Usage:

    python bench/bench_data.py [--n 1000000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe, write_results

ROOT = Path(__file__).resolve().parents[1]
# The phases, each in its own process, and how the printout names them.
PHASES = {"synth": "synth (generate + write JSONL)", "ingest": "ingest + render + extract"}


def phase_synth(n: int, out: Path) -> float:
    from alertlens.synth.generate import write_synthetic

    started = time.perf_counter()
    write_synthetic(out, n=n, seed=7)
    return time.perf_counter() - started


def phase_ingest(path: Path) -> float:
    """Ingest -> render -> extract, one alert at a time, nothing kept (as a stream would)."""
    import io

    from alertlens.alerts.ingest import AlertStream
    from alertlens.alerts.mapping import DataMapping
    from alertlens.alerts.render import RenderConfig, render_text
    from alertlens.config import compose, load_group_option
    from alertlens.features.extract import FeatureExtractor
    from alertlens.features.spec import FeatureSpec

    data_cfg = load_group_option("data", "synthetic", root=ROOT)
    render = RenderConfig.from_data_config(data_cfg)
    extractor = FeatureExtractor(FeatureSpec.from_config(compose(root=ROOT)["features"]))
    stream = AlertStream(DataMapping.from_config(data_cfg), io.StringIO())
    started = time.perf_counter()
    for alert in stream.from_path(path):
        render_text(alert, render)
        extractor.extract(alert)
    elapsed = time.perf_counter() - started
    stream.finish(max_reject_ratio=0.0)
    return elapsed


def _child(phase: str, n: int, path: Path) -> None:
    elapsed = phase_synth(n, path) if phase == "synth" else phase_ingest(path)
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{elapsed:.4f} {peak_mib:.1f}")


def _measure(phase: str, n: int, path: Path) -> tuple[float, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", phase, "--n", str(n), "--path", str(path)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=list(PHASES))
    parser.add_argument("--path", type=Path)
    args = parser.parse_args()
    if args.child:
        _child(args.child, args.n, args.path)
        return

    print(f"machine: {describe()}, Python {platform.python_version()}")
    print(
        f"alerts per run: {args.n:,}; repeats: {args.repeats}; figures are medians; one process per phase"
    )
    rates: dict[str, float] = {}
    durations: dict[str, float] = {}
    peaks: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "alerts.jsonl"
        for phase, label in PHASES.items():
            runs = [_measure(phase, args.n, path) for _ in range(args.repeats)]
            seconds = statistics.median(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            print(
                f"{label:34s} {args.n / seconds:>10,.0f} alerts/s  ({seconds:.1f} s)  peak RSS {peak:,.0f} MiB"
            )
            rates[phase], durations[phase], peaks[phase] = args.n / seconds, seconds, peak
        file_mib = path.stat().st_size / 2**20
        print(f"file size: {file_mib:,.0f} MiB")
    figures = {
        "alerts_per_s": rates,
        "seconds": durations,
        "peak_rss_mib": peaks,
        "file_size_mib": file_mib,
    }
    write_results("data", figures, {"n": args.n, "repeats": args.repeats})


if __name__ == "__main__":
    main()
