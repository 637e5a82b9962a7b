"""The `alertlens` command line."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path

from alertlens.errors import reports_errors, setup_logging
from alertlens.explain_cli import add_pair_arguments
from alertlens.monitoring.cli import add_drift_parser
from alertlens.promotion.cli import add_promote_parser
from alertlens.reporting.cli import add_report_parser
from alertlens.retraining.cli import add_retrain_parser
from alertlens.serving.cli import add_serve_parser
from alertlens.tuning.cli import add_tune_parser

log = logging.getLogger("alertlens")


def _synth(args: argparse.Namespace) -> None:
    from alertlens.synth.generate import write_synthetic

    started = time.perf_counter()
    count = write_synthetic(args.out, n=args.n, seed=args.seed)
    elapsed = time.perf_counter() - started
    print(f"wrote {count} alerts to {args.out} in {elapsed:.1f}s (seed {args.seed})")


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


def _explain(args: argparse.Namespace) -> None:
    from alertlens.explain_cli import run_explain

    run_explain(args)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alertlens", description="Explainable triage of security alerts."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    commands = parser.add_subparsers(dest="command", required=True)

    synth = commands.add_parser(
        "synth", help="generate the synthetic SOC alert set (the default data)"
    )
    synth.add_argument("--out", type=Path, required=True, help="JSON Lines file to write")
    synth.add_argument("--n", type=int, default=20000, help="number of alerts (default 20000)")
    synth.add_argument("--seed", type=int, default=7, help="random seed (default 7)")
    synth.set_defaults(handler=_synth)

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

    explain = commands.add_parser(
        "explain",
        help="verdict, reasons and counterfactual for alerts (one JSON alert or a JSONL batch)",
    )
    explain.add_argument(
        "input", nargs="?", default="-", help="alert file (JSON or JSONL); - or nothing = stdin"
    )
    explain.add_argument(
        "--json", action="store_true", help="print JSON (one object per alert, JSON Lines)"
    )
    add_pair_arguments(explain)
    explain.add_argument(
        "--normalized",
        action="store_true",
        help="input alerts are already normalized (as in data/prepared), not raw export records",
    )
    explain.add_argument(
        "--teacher-view",
        action="store_true",
        help="also show the teacher's integrated-gradients tokens and attention rollout",
    )
    explain.add_argument(
        "--no-counterfactual", action="store_true", help="skip the counterfactual search"
    )
    explain.set_defaults(handler=_explain)
    add_promote_parser(commands)
    add_report_parser(commands)
    add_drift_parser(commands)
    add_retrain_parser(commands)
    add_tune_parser(commands)
    add_serve_parser(commands)
    return parser


@reports_errors
def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    setup_logging(args.verbose)
    args.handler(args)


if __name__ == "__main__":
    main()
