"""`alertlens report`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_OUT = Path("reports/index.html")


def print_outcome(out: Path, report: dict[str, Any], logged: str | None, use_mlflow: bool) -> None:
    """What was written, what is missing from it, and where in MLflow it went."""
    print(f"report: wrote {out}")
    for note in report["notes"]:
        print(f"  {note}")
    if logged:
        print(f"  logged to MLflow as {logged}")
    elif use_mlflow:
        print("  not logged to MLflow: the decision names no promote run")


def _report(args: argparse.Namespace) -> None:
    from alertlens.config import load_params, project_root
    from alertlens.reporting.run import write_report

    root = project_root()
    use_mlflow = not args.no_mlflow
    report, logged = write_report(load_params(root / "params.yaml"), root, args.out, use_mlflow)
    print_outcome(args.out, report, logged, use_mlflow)


def add_report_parser(commands: Any) -> None:
    """Register `report` on the CLI's subcommands."""
    report = commands.add_parser(
        "report",
        help="write the HTML report: challenger beside champion, the decision, plots, alerts",
    )
    report.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"page to write (default {DEFAULT_OUT})"
    )
    report.add_argument(
        "--no-mlflow",
        action="store_true",
        help="read nothing from MLflow (no champion stage metrics) and log nothing to it",
    )
    report.set_defaults(handler=_report)
