"""The prepared data set: ingest an export, split it without leaks, write one file per split.

Two streaming passes keep memory flat with the export's size: the first ingests into a
temporary file, keeping the ids seen and a :class:`SplitKey` per alert in SQLite files beside it
(:mod:`alertlens.alerts.spill`); the second routes each alert line to its split's file.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alertlens.alerts.coverage import CoverageCounter, CoverageReport, coverage_report
from alertlens.alerts.ingest import AlertStream, export_files
from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.render import RenderConfig, render_text, text_digest
from alertlens.alerts.schema import Alert
from alertlens.alerts.spill import SeenIdsOnDisk
from alertlens.alerts.split import GROUP_TEST, SplitConfig, SplitKey, SplitKeys

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


def _split_stats(counts: Mapping[tuple[str, int | None], int]) -> dict[str, Any]:
    """Rows, classes and true-positive share, overall and per alert source, from the split's
    alert counts per (source, label)."""

    def summarize(by_label: Mapping[int | None, int]) -> dict[str, Any]:
        real, benign = by_label.get(1, 0), by_label.get(0, 0)
        rows = sum(by_label.values())
        return {
            "rows": rows,
            "true_positive": real,
            "false_positive": benign,
            "unlabeled": rows - real - benign,
            "true_positive_share": round(real / (real + benign), 4) if real + benign else 0.0,
        }

    overall: Counter[int | None] = Counter()
    by_source: dict[str, Counter[int | None]] = defaultdict(Counter)
    for (source, label), count in counts.items():
        overall[label] += count
        by_source[source][label] += count
    stats = summarize(overall)
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
    keys = SplitKeys(out_dir / ".split-keys.sqlite.tmp")
    seen = SeenIdsOnDisk(out_dir / ".seen-ids.sqlite.tmp")
    counter = CoverageCounter()
    sources: dict[str, int] = {}  # source name -> number, staged before each alert's line
    try:
        with (
            (out_dir / REJECTED_FILE).open("w", encoding="utf-8") as rejected,
            staged.open("w", encoding="utf-8") as out,
        ):
            stream = AlertStream(mapping, rejected, source, seen)
            # Two alerts that differ in an identifier are two alerts, however it is rendered.
            verbatim = render.verbatim()
            for alert in counter.count(stream.from_files(files)):
                keys.add(
                    SplitKey(
                        alert.timestamp,
                        text_digest(render_text(alert, verbatim)),
                        alert.label,
                        alert.group,
                    )
                )
                number = sources.setdefault(alert.source, len(sources))
                out.write(f"{number}\t{alert.label}\t{alert.to_json()}\n")
        seen.close()
        counts = stream.finish(max_reject_ratio)
        source_names = list(sources)
        labels: dict[str, int | None] = {"0": 0, "1": 1, "None": None}
        members: dict[str, Counter[tuple[str, int | None]]] = {n: Counter() for n in SPLIT_FILES}
        digest = hashlib.sha256()
        handles = {
            name: (out_dir / f"{name}.jsonl").open("w", encoding="utf-8") for name in SPLIT_FILES
        }
        with staged.open(encoding="utf-8") as accepted:
            for staged_line, name in zip(accepted, keys.assign(split), strict=True):
                source_number, label, line = staged_line.split("\t", 2)
                handles[name].write(line)
                digest.update(f"{name}\t{line}".encode("utf-8", "surrogateescape"))
                members[name][source_names[int(source_number)], labels[label]] += 1
        for handle in handles.values():
            handle.close()
    finally:
        seen.close()
        keys.close()
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
