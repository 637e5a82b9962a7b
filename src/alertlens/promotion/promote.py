"""Promotion: register the run's pair as challenger, gate its scorecard (the evaluate stage's)
against the champion's, scored now on the same alerts with the same settings, and move
``champion`` only when every gate passes.

The decision (every gate's value, threshold and verdict, both scorecards, the versions and
the links to data, commit and runs) goes to a JSON file DVC tracks, onto both model versions
as tags, and into an MLflow run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from alertlens.alerts.schema import TRUE_POSITIVE
from alertlens.assess.config import AssessConfig
from alertlens.assess.sample import AssessSample
from alertlens.assess.scorecard import Scorecard, assess_pair
from alertlens.config import ConfigError
from alertlens.promotion.gates import GateOutcome, GateResult, evaluate_gates
from alertlens.registry import (
    CHAMPION,
    SURROGATE_RUN_TAG,
    TEACHER_RUN_TAG,
    PairVersions,
    champion_pair,
    make_champion,
    pair_at,
    register_pair,
    registered_pair,
    tag_pair,
)
from alertlens.tracking import RUN_RECORD, read_run_record

log = logging.getLogger(__name__)

DECISION_TAG_PREFIX = "alertlens.gate."


@dataclass
class Challenger:
    """The pair this pipeline run produced: the run records its stages wrote."""

    teacher_run: dict[str, str]
    surrogate_run: dict[str, str]

    @classmethod
    def from_dirs(cls, teacher_dir: Path, surrogate_dir: Path) -> Challenger:
        records = []
        for directory in (teacher_dir, surrogate_dir):
            record = read_run_record(directory)
            if "model_uri" not in record:
                raise ConfigError(
                    f"{Path(directory) / RUN_RECORD} names no logged model (model_uri): rerun "
                    "that stage with this version"
                )
            records.append(record)
        distilled_from = records[1].get("teacher_run")
        if distilled_from and distilled_from != records[0]["mlflow_run_id"]:
            raise ConfigError(
                f"{surrogate_dir} was distilled from the teacher of run {distilled_from}, not "
                f"from {teacher_dir} (run {records[0]['mlflow_run_id']}): distill this teacher "
                "again before promoting the pair"
            )
        return cls(records[0], records[1])

    def runs(self) -> dict[str, str]:
        """The harden and distill runs that made the pair (a scorecard names them too)."""
        return {
            "teacher": self.teacher_run["mlflow_run_id"],
            "surrogate": self.surrogate_run["mlflow_run_id"],
        }

    def links(self, data_version: str | None, git_commit: str | None) -> dict[str, str]:
        """Tags linking a registered version to its data, code and runs."""
        links = {
            TEACHER_RUN_TAG: self.teacher_run["mlflow_run_id"],
            SURROGATE_RUN_TAG: self.surrogate_run["mlflow_run_id"],
        }
        if data_version:
            links["alertlens.data_version"] = data_version
        if git_commit:
            links["alertlens.git_commit"] = git_commit
        return links


@dataclass
class Decision:
    """What the gates said and what was done about it."""

    promoted: bool
    dry_run: bool
    summary: str
    gates: list[GateResult]
    challenger: Scorecard
    champion: Scorecard | None
    challenger_versions: PairVersions | None = None
    champion_before: PairVersions | None = None
    champion_failures: list[GateResult] = field(default_factory=list)  # floors it fails now
    links: dict[str, str] = field(default_factory=dict)
    # The golden set the gates scored on (the data config's): path, config, alerts; None: none.
    golden_set: dict[str, Any] | None = None
    decided_at: str = field(
        default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )

    @property
    def failed(self) -> list[GateResult]:
        return [gate for gate in self.gates if not gate.passed]

    def to_dict(self) -> dict[str, Any]:
        def versions(pair: PairVersions | None) -> dict[str, str] | None:
            return None if pair is None else {"teacher": pair.teacher, "pair": pair.pair}

        return {
            "promoted": self.promoted,
            "dry_run": self.dry_run,
            "summary": self.summary,
            "decided_at": self.decided_at,
            "challenger_versions": versions(self.challenger_versions),
            "champion_before": versions(self.champion_before),
            "links": self.links,
            "golden_set": self.golden_set,
            "gates": [gate.to_dict() for gate in self.gates],
            "champion_failures": [gate.to_dict() for gate in self.champion_failures],
            "scorecards": {"challenger": self.challenger, "champion": self.champion},
        }

    def to_text(self) -> str:
        lines = [self.summary, *(f"  {gate.line()}" for gate in self.gates)]
        return "\n".join(lines)

    def tags(self) -> dict[str, str]:
        """The decision as model version tags (one per gate, plus the outcome)."""
        tags = {
            "alertlens.decision": "promoted" if self.promoted else "refused",
            "alertlens.decided_at": self.decided_at,
            "alertlens.gates_failed": str(len(self.failed)),
        }
        for gate in self.gates:
            value = "missing" if gate.value is None else f"{gate.value:.4f}"
            tags[DECISION_TAG_PREFIX + gate.name.replace(":", ".")] = (
                f"{'pass' if gate.passed else 'FAIL'} {value} ({gate.rule})"
            )
        return tags


def golden_record(config: AssessConfig, sample: AssessSample) -> dict[str, Any] | None:
    """Which golden set a decision rests on, so an audit can tell the user's from a default."""
    golden = config.golden
    if golden.path is None:
        return None
    return {
        "path": golden.path,
        "data_config": golden.data_config,
        "alerts": len(sample.golden),  # its labeled alerts: the ones the gates score
        "real": sum(alert.label == TRUE_POSITIVE for alert in sample.golden),
    }


def data_version(root: Path) -> str | None:
    """The md5 data.dvc pins for data/raw: the data version a pair was trained on."""
    path = root / "data.dvc"
    if not path.is_file():
        return None
    outs = (yaml.safe_load(path.read_text()) or {}).get("outs") or [{}]
    return outs[0].get("md5")


def _summary(outcome: GateOutcome, first: bool, dry_run: bool) -> str:
    would = "would be " if dry_run else ""
    if outcome.failed:
        names = ", ".join(gate.name for gate in outcome.failed)
        refused = f"challenger {would}refused: {len(outcome.failed)} gate(s) failed: {names}"
        losses = [
            f"{gate.metric} {gate.figure()}"
            for gate in outcome.failed
            if gate.name.startswith("vs_baseline:")
        ]
        if losses:
            return f"{refused}; the teacher loses to a baseline: {'; '.join(losses)}"
        return refused
    if first:
        basis = "the absolute floors pass (first pair)"
    elif outcome.champion_failures:
        names = ", ".join(gate.name for gate in outcome.champion_failures)
        basis = (
            f"the absolute floors pass; the champion fails {names} on these alerts, so it is "
            "no baseline for the relative gates"
        )
    else:
        basis = "every gate passes"
    return f"challenger {would}promoted to {CHAMPION}: {basis}"


def decide(
    challenger_card: Scorecard,
    champion_card: Scorecard | None,
    gates_cfg: Mapping[str, Any],
    dry_run: bool,
) -> Decision:
    """Apply the gates; the first pair (no champion) needs only the absolute floors."""
    outcome = evaluate_gates(challenger_card, champion_card, gates_cfg)
    return Decision(
        promoted=not outcome.failed,
        dry_run=dry_run,
        summary=_summary(outcome, champion_card is None, dry_run),
        gates=outcome.results,
        challenger=challenger_card,
        champion=champion_card,
        champion_failures=outcome.champion_failures,
    )


def promote(
    challenger: Challenger,
    challenger_card: Scorecard,
    sample: AssessSample,
    config: AssessConfig,
    gates_cfg: Mapping[str, Any],
    links: Mapping[str, str],
    dry_run: bool = False,
    device: str = "auto",
) -> Decision:
    """Register (unless dry-run), assess the champion on ``sample`` with ``config`` (those of
    ``challenger_card``), gate, and act."""
    surrogate_run = challenger.surrogate_run["mlflow_run_id"]
    versions = registered_pair(surrogate_run)
    if versions is None and not dry_run:
        versions = register_pair(
            challenger.teacher_run["model_uri"], challenger.surrogate_run["model_uri"], links
        )
        log.info("registered %s as challenger", versions)
    champion = pair_at(CHAMPION)
    if champion is not None and champion == versions:
        # Nothing to decide: scoring the pair against itself would only cost time.
        summary = f"{versions} already holds {CHAMPION}: nothing to do"
        return Decision(
            False,
            dry_run,
            summary,
            [],
            {},
            None,
            versions,
            champion,
            links=dict(links),
            golden_set=golden_record(config, sample),
        )
    champion_card = (
        None if champion is None else assess_pair(champion_pair(device), sample, config).scorecard()
    )
    decision = decide(challenger_card, champion_card, gates_cfg, dry_run)
    decision.challenger_versions, decision.champion_before = versions, champion
    decision.links = dict(links)
    decision.golden_set = golden_record(config, sample)
    if not dry_run and versions is not None:
        tag_pair(versions, decision.tags())
        if decision.promoted:
            make_champion(versions)
    return decision
