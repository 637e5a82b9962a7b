"""`alertlens promote`, `alertlens rollback` and `alertlens audit`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

DEFAULT_DECISION = Path("reports/promotion.json")
DEFAULT_SCORECARD = Path("reports/scorecard.json")


def _promote(args: argparse.Namespace) -> None:
    from alertlens.config import load_params, project_root
    from alertlens.promotion.run import run_promotion

    root = project_root()
    decision = run_promotion(
        load_params(root / "params.yaml"),
        root,
        args.data,
        args.teacher,
        args.surrogate,
        args.scorecard,
        None if args.dry_run else args.decision,
        None,
        dry_run=args.dry_run,
    )
    print(decision.to_text())
    if not args.dry_run and decision.promoted:
        print(f"champion is now {decision.challenger_versions}")


def _rollback(args: argparse.Namespace) -> None:
    import mlflow

    from alertlens.config import load_params, project_root
    from alertlens.promotion.run import registry_lock
    from alertlens.registry import rollback
    from alertlens.tracking import stage_run

    root = project_root()
    params = load_params(root / "params.yaml")
    with registry_lock(root), stage_run("rollback", params["tracking"], root):
        before, after = rollback(args.reason)
        mlflow.set_tags(
            {
                "alertlens.rollback_reason": args.reason,
                "alertlens.rolled_back_from": before.pair,
                "alertlens.rolled_back_to": after.pair,
            }
        )
    print(f"champion rolled back from {before} to {after}: {args.reason}")


def _audit(args: argparse.Namespace) -> None:
    import json

    from alertlens.config import project_root
    from alertlens.promotion.audit import audit_record, audit_text
    from alertlens.tracking import use_project_store

    use_project_store(project_root())
    record = audit_record(args.version)
    print(json.dumps(record, indent=2) if args.json else audit_text(record))


def add_promote_parser(commands: Any) -> None:
    """Register `promote`, `rollback` and `audit` on the CLI's subcommands."""
    promote = commands.add_parser(
        "promote",
        help="register the pipeline's pair as challenger; promote it if every gate passes",
    )
    promote.add_argument("--data", type=Path, default=Path("data/prepared"))
    promote.add_argument("--teacher", type=Path, default=Path("models/hardened"))
    promote.add_argument("--surrogate", type=Path, default=Path("models/surrogate"))
    promote.add_argument(
        "--scorecard",
        type=Path,
        default=DEFAULT_SCORECARD,
        help="the pair's scorecard, written by the evaluate stage",
    )
    promote.add_argument(
        "--decision", type=Path, default=DEFAULT_DECISION, help="decision file to write"
    )
    promote.add_argument(
        "--dry-run",
        action="store_true",
        help="show the gates' decision without registering, tagging or moving aliases",
    )
    promote.set_defaults(handler=_promote)

    rollback = commands.add_parser(
        "rollback", help="move the champion alias back to the previous pair, recording why"
    )
    rollback.add_argument("--reason", required=True, help="why (kept on the model versions)")
    rollback.set_defaults(handler=_rollback)

    audit = commands.add_parser(
        "audit",
        help="follow a registered pair to its data version, commit, config, runs and gates",
    )
    audit.add_argument(
        "version", nargs="?", default="champion", help="pair version number or alias"
    )
    audit.add_argument("--json", action="store_true", help="print the record as JSON")
    audit.set_defaults(handler=_audit)
