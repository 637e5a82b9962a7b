"""`alertlens ingest`: normalize an export, keeping every reject with its reason."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

OUTPUTS = ("alerts.jsonl", "rejected.jsonl", "ingest.json", "coverage.json")


def _ingest(args: argparse.Namespace) -> None:
    from alertlens.alerts.coverage import CoverageCounter, coverage_report
    from alertlens.alerts.ingest import ingest_to_dir
    from alertlens.alerts.mapping import DataMapping
    from alertlens.config import load_group_option

    data_cfg = load_group_option("data", args.data_config)
    mapping = DataMapping.from_config(data_cfg)
    ratio = (
        args.max_reject_ratio
        if args.max_reject_ratio is not None
        else float(data_cfg.get("max_reject_ratio", 0.05))
    )
    counter = CoverageCounter() if args.check else None
    (args.out / "coverage.json").unlink(missing_ok=True)  # only this run's outputs are listed
    try:
        counts = ingest_to_dir(mapping, args.input, args.out, ratio, counter)
    finally:
        if counter is not None and counter.alerts:
            # Written even when the reject ratio stops the ingest: coverage explains a bad path.
            features = load_group_option("features", args.features)
            report = coverage_report(mapping, counter, features)
            (args.out / "coverage.json").write_text(json.dumps(report.as_dict(), indent=2) + "\n")
            print("\n".join(report.lines()))
        outputs = [name for name in OUTPUTS if (args.out / name).is_file()]
        if outputs:  # what this run wrote (ingest.json is gone when reading failed midway)
            print(f"outputs in {args.out}: {', '.join(outputs)}")
    print(counts.summary())


def add_ingest_parser(commands: Any) -> None:
    """Register `ingest` on the CLI's subcommands."""
    ingest = commands.add_parser(
        "ingest", help="normalize an alert export, keeping every reject with its reason"
    )
    ingest.add_argument(
        "--data-config", required=True, help="name under conf/data/ or a path to a YAML file"
    )
    ingest.add_argument("--input", type=Path, required=True, help="export file or directory")
    ingest.add_argument("--out", type=Path, required=True, help="output directory")
    ingest.add_argument(
        "--max-reject-ratio", type=float, default=None, help="override the config's ratio"
    )
    ingest.add_argument(
        "--check",
        action="store_true",
        help="also print each field's coverage and warn about fields that features, the teacher"
        " or evasion hardening need but the export never fills (coverage.json)",
    )
    ingest.add_argument(
        "--features",
        default="default",
        help="features config (under conf/features/) whose fields --check looks for",
    )
    ingest.set_defaults(handler=_ingest)
