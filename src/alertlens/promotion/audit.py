"""The audit trail of a registered pair: from a version to its data, code, config, runs and
the gate decision, with the commands that open each of them."""

from __future__ import annotations

from typing import Any

from mlflow.tracking import MlflowClient

from alertlens.config import ConfigError
from alertlens.promotion.promote import DECISION_TAG_PREFIX
from alertlens.registry import (
    PAIR_MODEL,
    PAIR_VERSION_TAG,
    SURROGATE_RUN_TAG,
    TEACHER_MODEL,
    TEACHER_RUN_TAG,
    TEACHER_VERSION_TAG,
)


def _pair_version(client: MlflowClient, ref: str) -> Any:
    """A pair model version by number or alias (``champion``, ``challenger``)."""
    try:
        if ref.isdigit():
            return client.get_model_version(PAIR_MODEL, ref)
        return client.get_model_version_by_alias(PAIR_MODEL, ref)
    except Exception:  # noqa: BLE001 - MLflow raises several types for "not found"
        raise ConfigError(f"{PAIR_MODEL} has no version or alias '{ref}'") from None


def audit_record(ref: str = "champion", client: MlflowClient | None = None) -> dict[str, Any]:
    """Everything the registry knows about the pair behind ``ref``."""
    client = client or MlflowClient()
    pair = _pair_version(client, ref)
    teacher_number = pair.tags.get(TEACHER_VERSION_TAG)
    teacher = client.get_model_version(TEACHER_MODEL, teacher_number) if teacher_number else None
    tags = dict(pair.tags)
    return {
        "pair_version": str(pair.version),
        "teacher_version": teacher_number,
        "teacher_links_back": teacher is not None
        and teacher.tags.get(PAIR_VERSION_TAG) == str(pair.version),
        "aliases": list(pair.aliases),
        "data_version": tags.get("alertlens.data_version"),
        "git_commit": tags.get("alertlens.git_commit"),
        "runs": {
            "teacher (harden)": tags.get(TEACHER_RUN_TAG),
            "surrogate (distill)": tags.get(SURROGATE_RUN_TAG),
            "promote": tags.get("alertlens.promote_run"),
        },
        "decision": tags.get("alertlens.decision"),
        "decided_at": tags.get("alertlens.decided_at"),
        "promoted_at": tags.get("alertlens.promoted_at"),
        "previous_champion": tags.get("alertlens.previous_champion"),
        "rollback": tags.get("alertlens.rollback_reason"),
        "gates": {
            key[len(DECISION_TAG_PREFIX) :]: value
            for key, value in sorted(tags.items())
            if key.startswith(DECISION_TAG_PREFIX)
        },
    }


def audit_text(record: dict[str, Any]) -> str:
    """The record as text, each link followed by the command that opens it."""
    runs = record["runs"]
    promote_run, commit, data = runs.get("promote"), record["git_commit"], record["data_version"]
    lines = [
        f"{PAIR_MODEL} v{record['pair_version']} + {TEACHER_MODEL} "
        f"v{record['teacher_version']}  aliases: {', '.join(record['aliases']) or 'none'}"
        + ("" if record["teacher_links_back"] else "  (WARNING: the teacher does not link back)"),
        f"decision: {record['decision']} at {record['decided_at']}"
        + (f"; champion since {record['promoted_at']}" if record["promoted_at"] else "")
        + (
            f"; replaced {PAIR_MODEL} v{record['previous_champion']}"
            if record["previous_champion"]
            else ""
        ),
    ]
    if record["rollback"]:
        lines.append(f"rolled back: {record['rollback']}")
    lines += [
        f"data version (data.dvc md5): {data}",
        f"    find it:    git log --oneline -S {data} -- data.dvc",
        "    restore it: git checkout <that commit> -- data.dvc && dvc checkout data.dvc",
        f"git commit: {commit}",
        f"    open it:    git show --stat {commit}",
        "config: params.yaml of the run, logged with the decision",
        f"    get it:     mlflow artifacts download --run-id {promote_run} --artifact-path params.yaml",
        f"decision record: mlflow artifacts download --run-id {promote_run} "
        "--artifact-path promotion.json  (and reports/promotion.json in that commit's dvc.lock)",
        "runs: " + ", ".join(f"{name} {run_id}" for name, run_id in runs.items()),
        "    metrics:    mlflow runs describe --run-id <run id>",
        "gates:",
        *(f"    {name}: {value}" for name, value in record["gates"].items()),
    ]
    return "\n".join(lines)
