"""`alertlens ingest`: normalize an export, keeping every reject with its reason."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def _ingest(args: argparse.Namespace) -> None:
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
    try:
        counts = ingest_to_dir(mapping, args.input, args.out, ratio)
    finally:
        print(f"outputs in {args.out}: alerts.jsonl, rejected.jsonl, ingest.json")
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
    ingest.set_defaults(handler=_ingest)
