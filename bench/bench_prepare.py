"""Benchmark the prepare stage at scale: peak memory and throughput at several export sizes.

For each --sizes N (default 1,000,000 and 5,000,000), writes N synthetic alerts (the default
data's generator, seed 7) as one JSON Lines export, then runs the prepare stage's own code
(ingest, dedupe, split, write the split files) on it with the default data config, in a fresh
process, and prints its peak resident memory and alerts per second. The figure to read is how
peak memory grows from one size to the next: per extra million alerts. Writes
bench/results/prepare.json. Usage:

    python bench/bench_prepare.py [--sizes 1000000 5000000]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import describe, write_results

ROOT = Path(__file__).resolve().parents[1]


def _child(export: Path, out_dir: Path) -> None:
    """Prepare ``export`` into ``out_dir``; print seconds, peak RSS (MiB) and accepted alerts."""
    from alertlens.alerts.dataset import prepare_dataset, split_config
    from alertlens.alerts.mapping import DataMapping
    from alertlens.alerts.render import RenderConfig
    from alertlens.config import load_group_option

    data_cfg = load_group_option("data", "synthetic", root=ROOT)
    started = time.perf_counter()
    prepared = prepare_dataset(
        mapping=DataMapping.from_config(data_cfg),
        render=RenderConfig.from_data_config(data_cfg),
        split=split_config(data_cfg),
        source=export,
        out_dir=out_dir,
        max_reject_ratio=float(data_cfg["max_reject_ratio"]),
    )
    elapsed = time.perf_counter() - started
    peak_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{elapsed:.3f} {peak_mib:.1f} {prepared.ingest['accepted']}")


def _measure(export: Path, out_dir: Path) -> tuple[float, float, int]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", str(export), str(out_dir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return float(out[0]), float(out[1]), int(out[2])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--child", nargs=2, type=Path, metavar=("EXPORT", "OUT_DIR"))
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return

    from alertlens.synth.generate import write_synthetic

    print(f"machine: {describe()}")
    print("one fresh process per size; peak RSS is the process's maximum resident set")
    rows = []
    for n in sorted(args.sizes):
        with tempfile.TemporaryDirectory() as tmp:
            export = Path(tmp) / "raw" / "alerts.jsonl"
            export.parent.mkdir()
            write_synthetic(export, n=n, seed=7)
            export_mib = export.stat().st_size / 2**20
            seconds, peak, accepted = _measure(export, Path(tmp) / "prepared")
            shutil.rmtree(Path(tmp) / "prepared")
        rows.append(
            {
                "alerts": n,
                "accepted": accepted,
                "export_mib": round(export_mib, 1),
                "seconds": round(seconds, 2),
                "alerts_per_s": round(n / seconds, 1),
                "peak_rss_mib": peak,
            }
        )
        print(
            f"{n:>10,} alerts ({export_mib:,.0f} MiB): {n / seconds:>8,.0f} alerts/s "
            f"({seconds:.1f} s), peak RSS {peak:,.0f} MiB"
        )
    figures: dict[str, object] = {f"alerts_{row['alerts']}": row for row in rows}
    if len(rows) > 1:
        first, last = rows[0], rows[-1]
        growth = (last["peak_rss_mib"] - first["peak_rss_mib"]) / (
            (last["alerts"] - first["alerts"]) / 1e6
        )
        figures["peak_rss_growth_mib_per_million"] = round(growth, 1)
        print(f"peak RSS grows {growth:,.1f} MiB per extra million alerts")
    write_results("prepare", figures, {"sizes": sorted(args.sizes)})


if __name__ == "__main__":
    main()
