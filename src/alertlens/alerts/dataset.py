"""The prepared data set: ingest an export, split it without leaks, write one file per split.

Two streaming passes keep memory small: the first ingests into a temporary file and keeps only
a :class:`SplitKey` per alert; the second routes each alert line to its split's file.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alertlens.alerts.coverage import CoverageCounter, CoverageReport, coverage_report
from alertlens.alerts.ingest import AlertStream, export_files
from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.render import RenderConfig, render_text, text_digest
from alertlens.alerts.schema import Alert
from alertlens.alerts.split import GROUP_TEST, SplitConfig, SplitKey, assign_splits

SPLIT_FILES = ("train", "validation", "test", GROUP_TEST, "unlabeled")
REJECTED_FILE = "rejected.jsonl"


@dataclass
class PreparedData:
    """What the prepare stage produced: counts that add up, per-split stats, a digest."""

    ingest: dict[str, Any]
    splits: dict[str, dict[str, Any]]
    digest: str
    coverage: CoverageReport  # logged and kept in MLflow, not a metric (one row per field)

    def metrics(self) -> dict[str, Any]:
        return {"ingest": self.ingest, "splits": self.splits, "dataset_digest": self.digest}


def _split_stats(alerts: list[tuple[str, int | None]]) -> dict[str, Any]:
    """Rows, classes and true-positive share, overall and per alert source."""

    def summarize(labels: list[int | None]) -> dict[str, Any]:
        real = sum(1 for v in labels if v == 1)
        benign = sum(1 for v in labels if v == 0)
        return {
            "rows": len(labels),
            "true_positive": real,
            "false_positive": benign,
            "unlabeled": len(labels) - real - benign,
            "true_positive_share": round(real / (real + benign), 4) if real + benign else 0.0,
        }

    by_source: dict[str, list[int | None]] = defaultdict(list)
    for source, label in alerts:
        by_source[source].append(label)
    stats = summarize([label for _, label in alerts])
    stats["by_source"] = {source: summarize(labels) for source, labels in sorted(by_source.items())}
    return stats


def read_alerts(path: Path) -> Iterator[Alert]:
    """Alerts of a prepared split file."""
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            yield Alert.from_dict(json.loads(line))


def prepare_dataset(
    mapping: DataMapping,
    render: RenderConfig,
    split: SplitConfig,
    source: Path,
    out_dir: Path,
    max_reject_ratio: float,
) -> PreparedData:
    """Ingest ``source`` into ``out_dir/<split>.jsonl`` (SPLIT_FILES) and ``rejected.jsonl``."""
    files = export_files(mapping, source, exclude=out_dir)  # listed before any write
    out_dir.mkdir(parents=True, exist_ok=True)
    staged = out_dir / ".accepted.jsonl.tmp"
    keys: list[SplitKey] = []
    counter = CoverageCounter()
    sources: list[str] = []
    with (
        (out_dir / REJECTED_FILE).open("w", encoding="utf-8") as rejected,
        staged.open("w", encoding="utf-8") as out,
    ):
        stream = AlertStream(mapping, rejected, source)
        for alert in counter.count(stream.from_files(files)):
            keys.append(
                SplitKey(
                    alert.timestamp,
                    text_digest(render_text(alert, render)),
                    alert.label,
                    alert.group,
                )
            )
            sources.append(alert.source)
            out.write(alert.to_json() + "\n")
    try:
        counts = stream.finish(max_reject_ratio)
        assignment = assign_splits(keys, split)
        members: dict[str, list[tuple[str, int | None]]] = {name: [] for name in SPLIT_FILES}
        digest = hashlib.sha256()
        handles = {
            name: (out_dir / f"{name}.jsonl").open("w", encoding="utf-8") for name in SPLIT_FILES
        }
        with staged.open(encoding="utf-8") as accepted:
            for line, name, key, alert_source in zip(
                accepted, assignment, keys, sources, strict=True
            ):
                handles[name].write(line)
                digest.update(f"{name}\t{line}".encode("utf-8", "surrogateescape"))
                members[name].append((alert_source, key.label))
        for handle in handles.values():
            handle.close()
    finally:
        staged.unlink(missing_ok=True)
    return PreparedData(
        ingest=counts.as_dict(),
        splits={name: _split_stats(members[name]) for name in SPLIT_FILES},
        coverage=coverage_report(mapping, counter),
        digest=digest.hexdigest(),
    )


def split_config(data_cfg: Mapping[str, Any]) -> SplitConfig:
    """The ``data.split`` section as a validated SplitConfig."""
    return SplitConfig(**(data_cfg.get("split") or {}))


def load_split(
    prepared_dir: Path, name: str, limit: int | None = None, seed: int = 0
) -> list[Alert]:
    """Labeled alerts of one split; with ``limit``, a sample stratified by label and source.

    Stratifying keeps rare sources and the rare real class represented when a stage trains on
    a subsample to fit its time budget.
    """
    path = prepared_dir / f"{name}.jsonl"
    if name == GROUP_TEST and not path.is_file():
        return []  # prepared before groups were held out
    alerts = [a for a in read_alerts(path) if a.label is not None]
    if limit is None or limit >= len(alerts):
        return alerts
    strata: dict[tuple[int | None, str], list[Alert]] = defaultdict(list)
    for alert in alerts:
        strata[(alert.label, alert.source)].append(alert)
    rng = random.Random(seed)
    chosen: list[Alert] = []
    for key in sorted(strata, key=str):
        members = strata[key]
        rng.shuffle(members)
        chosen.extend(members[: max(1, round(limit * len(members) / len(alerts)))])
    chosen.sort(key=lambda a: (a.timestamp, a.id))
    return chosen


@dataclass
class HeldOut:
    """The labeled splits a model is early-stopped, thresholded and tested on."""

    validation: list[Alert]  # early stopping (the configured subsample)
    threshold_set: list[Alert]  # the whole validation split
    test: list[Alert]
    # Alerts of the groups held out from training (data.split.held_out_groups), subsampled as
    # the test split; empty when none are held out.
    test_groups: list[Alert] = field(default_factory=list)


def held_out_splits(data_dir: Path, teacher_cfg: Mapping[str, Any]) -> HeldOut:
    """Validation and test as the ``teacher`` config section subsamples them.

    The teacher, the hardened teacher and the baselines all read them here, so they are
    thresholded and tested on the same alerts.
    """
    seed = teacher_cfg["seed"]
    return HeldOut(
        validation=load_split(data_dir, "validation", teacher_cfg["validation_subsample"], seed),
        # The threshold sits on the few lowest-scoring real alerts: choose it on the whole split.
        threshold_set=load_split(data_dir, "validation"),
        test=load_split(data_dir, "test", teacher_cfg["test_subsample"], seed),
        test_groups=load_split(data_dir, GROUP_TEST, teacher_cfg["test_subsample"], seed),
    )
