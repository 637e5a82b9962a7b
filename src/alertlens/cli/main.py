"""The `alertlens` command line."""

from __future__ import annotations

import argparse
import logging

from alertlens.cli.drift import add_drift_parser
from alertlens.cli.explain import add_explain_parser
from alertlens.cli.ingest import add_ingest_parser
from alertlens.cli.promote import add_promote_parser
from alertlens.cli.report import add_report_parser
from alertlens.cli.retrain import add_retrain_parser
from alertlens.cli.review import add_review_parser
from alertlens.cli.score import add_score_parser
from alertlens.cli.serve import add_serve_parser
from alertlens.cli.synth import add_synth_parser
from alertlens.cli.tune import add_tune_parser
from alertlens.errors import reports_errors, setup_logging

log = logging.getLogger("alertlens")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alertlens", description="Explainable triage of security alerts."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)
    for add_parser in (
        add_synth_parser,
        add_ingest_parser,
        add_explain_parser,
        add_score_parser,
        add_promote_parser,
        add_report_parser,
        add_drift_parser,
        add_retrain_parser,
        add_review_parser,
        add_tune_parser,
        add_serve_parser,
    ):
        add_parser(commands)
    return parser


@reports_errors
def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    args.handler(args)
