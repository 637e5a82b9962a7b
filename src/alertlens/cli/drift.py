"""`alertlens drift`: does a new alert export warrant retraining the deployed pair?"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alertlens.cli.pair_args import add_pair_arguments, pair_source
from alertlens.config import ConfigError, load_group_option, project_root
from alertlens.monitoring.config import DriftConfig

# The CLI builds every parser on each call: torch and LightGBM load only when drift runs.
if TYPE_CHECKING:
    from alertlens.alerts.mapping import DataMapping
    from alertlens.monitoring.drift import DriftReport
    from alertlens.triage import TriagePair

log = logging.getLogger(__name__)

DRIFT_FOUND_EXIT = 4

EPILOG = """\
The reference is, in order: --profile FILE; the alerts of --reference; the pair's own
drift_profile.json (saved beside the surrogate); data/prepared/train.jsonl of the project.
Without a saved profile, a capped sample of the reference is scored by the teacher first.
Thresholds: conf/drift/default.yaml (or --drift-config).

exit status: 0 the check ran (whatever the verdict); 2 bad input or configuration (a missing or
malformed export, too many rejected records, too few alerts); 4 retraining is warranted and
--fail-on-drift was given (for cron and CI).
"""


def add_drift_parser(commands: Any) -> None:
    """Register the ``drift`` subcommand on the CLI's subparsers."""
    drift = commands.add_parser(
        "drift",
        help="compare a new alert export with the training data: is retraining warranted?",
        description="Feature PSI, teacher score shift, teacher/surrogate disagreement (and "
        "teacher recall/F1 when the export is labeled) of a new export against the pair's "
        "training data, and a retrain verdict with the thresholds crossed.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    drift.add_argument(
        "--new-data", type=Path, required=True, help="the new raw export (file or directory)"
    )
    drift.add_argument(
        "--data-config",
        help="data config of the export (name under conf/data/ or a YAML path); default: the "
        "pair's own (data_config.json beside the surrogate)",
    )
    drift.add_argument(
        "--reference",
        type=Path,
        help="normalized training alerts to profile (default: the pair's saved profile, "
        "else data/prepared/train.jsonl)",
    )
    drift.add_argument("--profile", type=Path, help="use this saved drift profile (JSON)")
    drift.add_argument(
        "--save-profile", type=Path, help="write the reference profile used to this file"
    )
    drift.add_argument(
        "--drift-config", default="default", help="name under conf/drift/ or a YAML path"
    )
    add_pair_arguments(drift)
    drift.add_argument("--json", action="store_true", help="print the full report as JSON")
    drift.add_argument("--out", type=Path, help="also write the full JSON report to this file")
    drift.add_argument(
        "--rejected", type=Path, help="write the export's rejected records (JSON Lines) here"
    )
    drift.add_argument(
        "--max-reject-ratio", type=float, help="override drift.max_reject_ratio for the export"
    )
    drift.add_argument(
        "--fail-on-drift",
        action="store_true",
        help=f"exit with status {DRIFT_FOUND_EXIT} when retraining is warranted",
    )
    drift.set_defaults(handler=run_drift)


def _mapping(args: argparse.Namespace, pair: TriagePair) -> DataMapping:
    from alertlens.alerts.mapping import DataMapping

    if args.data_config:
        return DataMapping.from_config(load_group_option("data", args.data_config))
    if pair.mapping is None:
        raise ConfigError("the pair was saved without its data config: pass --data-config NAME")
    return pair.mapping


def run_drift(args: argparse.Namespace) -> DriftReport:
    """The command: load the pair, ingest the export, compare, report, pick the exit status."""
    from alertlens.monitoring.check import ingest_export, reference_profile
    from alertlens.monitoring.drift import drift_report
    from alertlens.pair_source import load_pair

    started = time.perf_counter()
    cfg = DriftConfig.from_config(load_group_option("drift", args.drift_config))
    pair = load_pair(pair_source(args))
    ratio = cfg.max_reject_ratio if args.max_reject_ratio is None else args.max_reject_ratio
    alerts, counts = ingest_export(_mapping(args, pair), args.new_data, ratio, args.rejected)
    profile = reference_profile(pair, cfg, project_root(), args.profile, args.reference)
    if args.save_profile:
        profile.save(args.save_profile)
    report = drift_report(pair, alerts, profile, cfg)
    report.ingest = {**counts.as_dict(), "summary": counts.summary()}
    report.timings["command"] = time.perf_counter() - started
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report.to_dict(), indent=2) + "\n")
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.summary())
    if args.fail_on_drift and report.warranted:
        raise SystemExit(DRIFT_FOUND_EXIT)
    return report
