"""`alertlens drift`: does a new alert export warrant retraining the deployed pair?"""

from __future__ import annotations

import argparse
import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alertlens.config import ConfigError, load_group_option, project_root
from alertlens.explain_cli import add_pair_arguments
from alertlens.monitoring.config import DriftConfig

# The CLI builds every parser on each call: torch and LightGBM load only when drift runs.
if TYPE_CHECKING:
    from alertlens.alerts.ingest import IngestCounts
    from alertlens.alerts.mapping import DataMapping
    from alertlens.alerts.schema import Alert
    from alertlens.monitoring.drift import DriftReport
    from alertlens.monitoring.profile import ReferenceProfile
    from alertlens.triage import TriagePair

log = logging.getLogger(__name__)

DRIFT_FOUND_EXIT = 4
DEFAULT_REFERENCE = Path("data") / "prepared" / "train.jsonl"

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


def ingest_export(
    mapping: DataMapping, source: Path, max_reject_ratio: float, rejected: Path | None
) -> tuple[list[Alert], IngestCounts]:
    """The export's accepted alerts; every reject is counted (and kept when ``rejected`` is set)."""
    from alertlens.alerts.ingest import read_export

    if rejected is None:
        return read_export(mapping, source, max_reject_ratio)
    with rejected.open("w", encoding="utf-8") as handle:
        return read_export(mapping, source, max_reject_ratio, handle)


def read_reference(path: Path) -> list[Alert]:
    """Normalized alerts (as in data/prepared/*.jsonl), with a clear error for anything else."""
    from alertlens.alerts.dataset import read_alerts

    if not path.is_file():
        raise ConfigError(
            f"reference {path} not found: run the pipeline first, or pass --reference/--profile"
        )
    try:
        return list(read_alerts(path))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ValueError(
            f"reference {path} is not normalized alerts (one JSON alert per line, as in "
            f"data/prepared/train.jsonl): {type(exc).__name__}: {exc}"
        ) from None


def saved_profile(pair: TriagePair) -> tuple[ReferenceProfile, str] | None:
    """The drift_profile.json saved with the pair (in the directory it was loaded from)."""
    from alertlens.monitoring.profile import PROFILE_FILE, ReferenceProfile

    path = None if pair.surrogate_dir is None else pair.surrogate_dir / PROFILE_FILE
    if path is None or not path.is_file():
        return None
    return ReferenceProfile.load(path), str(path)


def reference_profile(
    args: argparse.Namespace, pair: TriagePair, cfg: DriftConfig, root: Path
) -> ReferenceProfile:
    """The profile the export is compared with (see the command's epilog for the order)."""
    from alertlens.monitoring.profile import ReferenceProfile, score_reference_profile

    if args.profile:
        return ReferenceProfile.load(args.profile)
    if not args.reference:
        if found := saved_profile(pair):
            profile, where = found
            profile.description = f"{profile.description or 'the training data'} ({where})"
            return profile
        # The current checkout's train split may not be what this pair was trained on.
        log.warning(
            "%s has no saved drift profile: profiling %s instead", pair.origin, DEFAULT_REFERENCE
        )
    path = args.reference or root / DEFAULT_REFERENCE
    alerts = read_reference(path)
    scored = min(len(alerts), cfg.max_reference_alerts)
    return score_reference_profile(
        pair, alerts, cfg, description=f"{path} ({scored} of {len(alerts)} alerts profiled now)"
    )


def _mapping(args: argparse.Namespace, pair: TriagePair) -> DataMapping:
    from alertlens.alerts.mapping import DataMapping

    if args.data_config:
        return DataMapping.from_config(load_group_option("data", args.data_config))
    if pair.mapping is None:
        raise ConfigError("the pair was saved without its data config: pass --data-config NAME")
    return pair.mapping


def run_drift(args: argparse.Namespace) -> DriftReport:
    """The command: load the pair, ingest the export, compare, report, pick the exit status."""
    from alertlens.explain_cli import load_pair
    from alertlens.monitoring.drift import drift_report

    started = time.perf_counter()
    cfg = DriftConfig.from_config(load_group_option("drift", args.drift_config))
    pair = load_pair(args)
    ratio = cfg.max_reject_ratio if args.max_reject_ratio is None else args.max_reject_ratio
    alerts, counts = ingest_export(_mapping(args, pair), args.new_data, ratio, args.rejected)
    profile = reference_profile(args, pair, cfg, project_root())
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


def drift_of_alerts(
    root: Path, alerts: Sequence[Alert], cfg: DriftConfig | Mapping[str, Any] | None = None
) -> DriftReport:
    """Drift of already ingested alerts against the champion pair (the pipeline outputs under
    ``root/models`` while no pair is registered), with ``conf/drift/default.yaml`` unless ``cfg``
    is given: the check behind `alertlens retrain --if-drift`."""
    from alertlens.explain_cli import load_pair
    from alertlens.monitoring.drift import drift_report

    config = DriftConfig.from_config(
        cfg if cfg is not None else load_group_option("drift", "default", root)
    )
    args = argparse.Namespace(
        run=None, champion=True, teacher=None, surrogate=None, reference=None, profile=None
    )
    try:
        pair = load_pair(args)
    except ConfigError as exc:
        log.warning("%s; checking drift against the pipeline outputs in %s/models", exc, root)
        args.champion = False
        args.teacher, args.surrogate = root / "models" / "hardened", root / "models" / "surrogate"
        pair = load_pair(args)
    return drift_report(pair, alerts, reference_profile(args, pair, config, root), config)
