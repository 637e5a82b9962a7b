"""`alertlens retrain`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from alertlens.alerts.schema import Alert

BUSY_EXIT = 75  # EX_TEMPFAIL: cron may simply try again later
FAILED_EXIT = 1


def _drift_check(root: Path) -> Any:
    """Drift of the export against the champion pair (``--if-drift``)."""
    from alertlens.monitoring.check import drift_of_alerts

    def check(alerts: list[Alert]) -> dict[str, Any]:
        report = drift_of_alerts(root, alerts)
        print(report.summary())
        return report.to_dict()

    return check


def _retrain(args: argparse.Namespace) -> None:
    from alertlens.config import project_root
    from alertlens.locks import LockBusy
    from alertlens.registry import CHAMPION, pair_at
    from alertlens.retraining.retrain import PipelineFailed, retrain
    from alertlens.tracking import use_project_store

    root = project_root()
    use_project_store(root)
    try:
        result = retrain(
            root,
            args.new_data,
            overrides=args.set or (),
            drift_check=_drift_check(root) if args.if_drift else None,
        )
    except LockBusy as exc:
        print(f"retrain not started: {exc}", file=sys.stderr)
        sys.exit(BUSY_EXIT)
    except PipelineFailed as exc:
        print(
            f"retrain failed: {exc}. The champion is unchanged ({pair_at(CHAMPION)}); "
            "fix the cause and rerun the same command.",
            file=sys.stderr,
        )
        sys.exit(FAILED_EXIT)
    print(json.dumps(result.to_dict(), indent=2, default=str) if args.json else result.summary())
    print(f"{CHAMPION}: {pair_at(CHAMPION)}")


def add_retrain_parser(commands: Any) -> None:
    """Register `retrain` on the CLI's subcommands."""
    retrain = commands.add_parser(
        "retrain",
        help="add a new alert export to data/raw, rerun the pipeline (dvc exp run) and promote "
        "the new pair if the gates pass; safe under cron",
        description=(
            "Exit status: 0 done (promoted or not: see the summary), 1 the pipeline failed "
            "(champion unchanged), 2 bad input or config, 75 another retrain is running."
        ),
    )
    retrain.add_argument(
        "--new-data", type=Path, required=True, help="export file or directory to add"
    )
    retrain.add_argument(
        "--if-drift",
        action="store_true",
        help="retrain only when `alertlens drift` says the export warrants it",
    )
    retrain.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="config override passed to dvc exp run -S (repeatable), e.g. experiment=tiny",
    )
    retrain.add_argument("--json", action="store_true", help="print the result as JSON")
    retrain.set_defaults(handler=_retrain)
