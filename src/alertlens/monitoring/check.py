"""The drift check of an export against a pair: the reference it is compared with, and the
check behind `alertlens retrain --if-drift`."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from alertlens.config import ConfigError, load_group_option
from alertlens.monitoring.config import DriftConfig
from alertlens.pair_source import PairSource, load_pair

# Callers build parsers without these: torch and LightGBM load only when drift runs.
if TYPE_CHECKING:
    from alertlens.alerts.ingest import IngestCounts
    from alertlens.alerts.mapping import DataMapping
    from alertlens.alerts.schema import Alert
    from alertlens.monitoring.drift import DriftReport
    from alertlens.monitoring.profile import ReferenceProfile
    from alertlens.triage import TriagePair

log = logging.getLogger(__name__)

DEFAULT_REFERENCE = Path("data") / "prepared" / "train.jsonl"


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
    pair: TriagePair,
    cfg: DriftConfig,
    root: Path,
    profile: Path | None = None,
    reference: Path | None = None,
) -> ReferenceProfile:
    """The profile the export is compared with: ``profile``; else the alerts of ``reference``;
    else the pair's saved drift profile; else the project's training split, profiled now."""
    from alertlens.monitoring.profile import ReferenceProfile, score_reference_profile

    if profile:
        return ReferenceProfile.load(profile)
    if not reference:
        if found := saved_profile(pair):
            saved, where = found
            saved.description = f"{saved.description or 'the training data'} ({where})"
            return saved
        # The current checkout's train split may not be what this pair was trained on.
        log.warning(
            "%s has no saved drift profile: profiling %s instead", pair.origin, DEFAULT_REFERENCE
        )
    path = reference or root / DEFAULT_REFERENCE
    alerts = read_reference(path)
    scored = min(len(alerts), cfg.max_reference_alerts)
    return score_reference_profile(
        pair, alerts, cfg, description=f"{path} ({scored} of {len(alerts)} alerts profiled now)"
    )


def drift_of_alerts(
    root: Path, alerts: Sequence[Alert], cfg: DriftConfig | Mapping[str, Any] | None = None
) -> DriftReport:
    """Drift of already ingested alerts against the champion pair (the pipeline outputs under
    ``root/models`` while no pair is registered), with ``conf/drift/default.yaml`` unless ``cfg``
    is given: the check behind `alertlens retrain --if-drift`."""
    from alertlens.monitoring.drift import drift_report

    config = DriftConfig.from_config(
        cfg if cfg is not None else load_group_option("drift", "default", root)
    )
    try:
        pair = load_pair(PairSource(champion=True), root)
    except ConfigError as exc:
        log.warning("%s; checking drift against the pipeline outputs in %s/models", exc, root)
        pair = load_pair(PairSource(), root)
    return drift_report(pair, alerts, reference_profile(pair, config, root), config)
