"""The audit trail: where a decision came from, and the commands that follow each link."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from alertlens.registry import PAIR_MODEL, TEACHER_MODEL, PairVersions
from alertlens.reporting.formatting import cell, text_of


def pair_text(versions: Mapping[str, str] | None, missing: str = "not registered") -> str:
    """A pair's registered versions in words."""
    return str(PairVersions(**versions)) if versions else missing


def model_uris(versions: Mapping[str, str] | None) -> str:
    """The pair's ``models:/`` URIs (load either with mlflow)."""
    if not versions:
        return ""
    return (
        f"models:/{TEACHER_MODEL}/{versions.get('teacher')} "
        f"models:/{PAIR_MODEL}/{versions.get('pair')}"
    )


def _run_uri(run_id: str | None) -> str:
    return f"runs:/{run_id}" if run_id else "n/a"


def audit_rows(
    decision: Mapping[str, Any], champion: Mapping[str, Any] | None, evaluate_run: str | None
) -> dict[str, Any]:
    """Versions, data, commit and runs of the challenger, beside the champion's."""
    links, tags = decision.get("links") or {}, (champion or {}).get("tags") or {}
    runs = (champion or {}).get("runs") or {}
    spec = [
        (
            "Model versions",
            pair_text(decision.get("challenger_versions")),
            pair_text((champion or {}).get("versions"), "none"),
        ),
        (
            "Model URIs",
            model_uris(decision.get("challenger_versions")),
            model_uris((champion or {}).get("versions")),
        ),
        (
            "Data version (md5 of data/raw in data.dvc)",
            links.get("alertlens.data_version"),
            tags.get("alertlens.data_version"),
        ),
        ("Git commit", links.get("alertlens.git_commit"), tags.get("alertlens.git_commit")),
        (
            "Teacher run (harden stage)",
            _run_uri(links.get("alertlens.teacher_run")),
            _run_uri(runs.get("harden")),
        ),
        (
            "Surrogate run (distill stage)",
            _run_uri(links.get("alertlens.surrogate_run")),
            _run_uri(runs.get("distill")),
        ),
        ("Evaluation run", _run_uri(evaluate_run), _run_uri(runs.get("evaluate"))),
        (
            "Promotion run (decision record, this report)",
            _run_uri(links.get("alertlens.promote_run")),
            _run_uri(tags.get("alertlens.promote_run")),
        ),
        ("Decided at / promoted at", decision.get("decided_at"), tags.get("alertlens.promoted_at")),
    ]
    rows = [
        [
            cell(label),
            cell(text_of(new) or "n/a", "code"),
            cell(text_of(old) or ("n/a" if champion else ""), "code"),
        ]
        for label, new, old in spec
    ]
    return {"headers": ["", "Challenger", "Champion"], "rows": rows, "caption": ""}


def audit_commands(decision: Mapping[str, Any], tracking_uri: str) -> list[dict[str, str]]:
    """Exact commands that follow the challenger's links to its data, code, config and runs."""
    links = decision.get("links") or {}
    q = shlex.quote
    env = f"MLFLOW_TRACKING_URI={q(tracking_uri)}"
    commands = []
    commit, data = links.get("alertlens.git_commit"), links.get("alertlens.data_version")
    if commit:
        commands += [
            ("The configuration the pair was trained with", f"git show {q(commit)}:params.yaml"),
            ("The data version pinned at that commit", f"git show {q(commit)}:data.dvc"),
            (
                "Settings and metrics changed since then",
                f"dvc params diff {q(commit)} && dvc metrics diff {q(commit)}",
            ),
        ]
    if data:
        commands.append(
            (
                "Every commit that pinned this data version",
                f"git log --oneline -S {q(data)} -- data.dvc",
            )
        )
    commands.append(("All experiments with their parameters and metrics", "dvc exp show"))
    for label, key in (
        ("Teacher run: parameters, metrics, tags", "alertlens.teacher_run"),
        ("Surrogate run: parameters, metrics, tags", "alertlens.surrogate_run"),
        ("Promotion run: gate metrics and both scorecards", "alertlens.promote_run"),
    ):
        if links.get(key):
            commands.append((label, f"{env} mlflow runs describe --run-id {q(links[key])}"))
    promote = links.get("alertlens.promote_run")
    if promote:
        for what, artifact in (
            ("The decision record", "promotion.json"),
            ("This report", "report"),
        ):
            uri = q(f"runs:/{promote}/{artifact}")
            commands.append((what, f"{env} mlflow artifacts download -u {uri} -d alertlens-audit"))
    versions = decision.get("challenger_versions") or {}
    if versions.get("pair"):
        code = (
            "from mlflow import MlflowClient; "
            f'print(MlflowClient().get_model_version("{PAIR_MODEL}", "{versions["pair"]}").tags)'
        )
        commands.append(
            (
                "The gate results and links recorded on the model version",
                f"{env} python -c {q(code)}",
            )
        )
    commands.append(
        ("Browse everything in the MLflow UI", f"mlflow ui --backend-store-uri {q(tracking_uri)}")
    )
    return [{"what": what, "command": command} for what, command in commands]
