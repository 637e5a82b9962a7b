"""End to end on a user's own export: a SIEM-style CSV without labels and without any field an
evasion transform may touch, the verdicts joined from a case-system file, the user's own golden
set and networks, and nothing synthetic in the run."""

from __future__ import annotations

import csv
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from pipeline_copy import fresh_copy, pipeline_env, run_checked

from alertlens.alerts.ingest import read_export
from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.schema import Alert
from alertlens.config import load_group_option

# normalized field -> the export's column: names no synthetic config uses. Like many IDS and
# host-alert exports it has no command line, URL, query or user agent: no field an evasion
# transform may touch, so hardening adds no variant and the adversarial set is empty.
COLUMNS = {
    "rule_name": "signature",
    "severity": "urgency_level",
    "category": "rule_category",
    "host": "dest_host",
    "user": "account",
    "src_ip": "src",
    "dest_ip": "dest",
    "dest_port": "dest_port",
    "process_name": "process",
    "parent_process": "parent_process",
    "http_status": "status",
    "dns_query": "query",
    "auth_outcome": "action",
    "failed_logins": "failures",
}
TYPES = {"severity": "int", "dest_port": "int", "http_status": "int", "failed_logins": "int"}
TYPES |= {"src_ip": "ip", "dest_ip": "ip"}
HEADER = ["event_id", "_time", "security_domain", "customer", *COLUMNS.values()]
GRADE = {1: "TruePositive", 0: "FalsePositive"}


def _row(alert: Alert) -> dict[str, object]:
    moment = datetime.fromtimestamp(alert.timestamp, UTC).isoformat()
    row = {"event_id": alert.id, "_time": moment, "security_domain": alert.source}
    row["customer"] = alert.group or ""
    row |= {column: alert.fields.get(name, "") for name, column in COLUMNS.items()}
    return row


def _write_csv(path: Path, rows: list[dict[str, object]], header: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def _data_config(golden: bool) -> dict[str, object]:
    """conf/data/mysoc.yaml as a user writes it (and its golden set's twin, labeled inline)."""
    fields = {
        name: {"path": column, "type": TYPES[name]} if name in TYPES else column
        for name, column in COLUMNS.items()
    }
    grades = {
        "path": "grade",
        "true_positive": ["TruePositive"],
        "false_positive": ["FalsePositive", "BenignPositive"],
        "unlabeled": [None, "", "Undetermined"],
    }
    config: dict[str, object] = {
        "name": "mysoc_golden" if golden else "mysoc",
        "format": "csv",
        "files": "*.csv",
        "id": "event_id",
        "timestamp": "_time",
        "source": "security_domain",
        "group": "customer",
        "label": grades if golden else None,
        "verdicts": None
        if golden
        else {"files": "verdicts/*.csv", "format": "csv", "id": "case_alert", "label": grades},
        "fields": fields,
        "text_fields": list(COLUMNS),
        "max_field_chars": 256,
        "max_reject_ratio": 0.05,
        "networks": {"vuln_scanners": ["192.0.2.0/28"], "internal": ["10.0.0.0/8"]},
        "golden": {"path": "data/golden/mysoc.csv", "data_config": "mysoc_golden"},
        "split": {"strategy": "time", "validation": 0.15, "test": 0.15, "seed": 5},
    }
    if not golden:
        config["split"] = {**config["split"], "held_out_groups": 1}  # type: ignore[dict-item]
    return config


def _synth(repo: Path, env: dict[str, str], out: Path, n: int, seed: int) -> list[Alert]:
    cli = [sys.executable, "-m", "alertlens.cli", "synth", "--out", str(out)]
    run_checked([*cli, "--n", str(n), "--seed", str(seed)], repo, env)
    mapping = DataMapping.from_config(load_group_option("data", "synthetic", root=repo))
    return read_export(mapping, out, 0.0)[0]


@pytest.mark.slow
def test_the_pipeline_runs_on_an_own_export_with_case_system_verdicts(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    env = pipeline_env(repo)
    fresh_copy(Path(__file__).resolve().parents[1], repo, env)
    alerts = _synth(repo, env, tmp_path / "a.jsonl", 700, seed=21)
    golden = _synth(repo, env, tmp_path / "g.jsonl", 200, seed=22)

    raw = repo / "data" / "raw"  # DVC's, so absent from the copy: the user's export goes here
    _write_csv(raw / "notables.csv", [_row(a) for a in alerts], HEADER)
    # The case system's export: a verdict for every triaged alert, none for the rest, two for
    # alerts this export does not hold, and one case closed twice (the later verdict wins).
    labeled = [a for a in alerts if a.label is not None]
    cases = [{"case_alert": a.id, "grade": GRADE[a.label or 0]} for a in labeled]
    cases += [{"case_alert": "elsewhere-1", "grade": "TruePositive"}]
    cases += [{"case_alert": "elsewhere-2", "grade": "FalsePositive"}]
    cases.insert(0, {"case_alert": labeled[0].id, "grade": "Undetermined"})
    _write_csv(raw / "verdicts" / "cases.csv", cases, ["case_alert", "grade"])
    golden_rows = [{**_row(a), "grade": GRADE.get(a.label, "")} for a in golden]  # type: ignore[arg-type]
    _write_csv(repo / "data" / "golden" / "mysoc.csv", golden_rows, [*HEADER, "grade"])
    for name in ("mysoc", "mysoc_golden"):
        config = _data_config(golden=name == "mysoc_golden")
        (repo / "conf" / "data" / f"{name}.yaml").write_text(
            yaml.safe_dump(config, sort_keys=False)
        )

    run_checked(["dvc", "add", "data/raw"], repo, env)
    run_checked(["dvc", "exp", "run", "-S", "data=mysoc", "-S", "experiment=tiny"], repo, env)

    params = (repo / "params.yaml").read_text()
    assert (
        "10.0.5." not in params and "data/golden/alerts.jsonl" not in params
    )  # no synthetic default
    composed = yaml.safe_load(params)
    assert composed["features"]["networks"]["vuln_scanners"] == ["192.0.2.0/28"]
    ingest = json.loads((repo / "metrics" / "prepare.json").read_text())["ingest"]
    real = sum(a.label == 1 for a in alerts)
    assert (ingest["accepted"], ingest["rejected"]) == (len(alerts), 0)
    assert (ingest["true_positive"], ingest["false_positive"]) == (
        real,
        len(labeled) - real,
    )
    assert {
        k: ingest["verdicts"][k] for k in ("rows_read", "joined", "unmatched", "superseded")
    } == {
        "rows_read": len(cases),
        "joined": len(labeled),
        "unmatched": 2,
        "superseded": 1,
    }
    decision = json.loads((repo / "reports" / "promotion.json").read_text())
    assert decision["golden_set"] == {
        "path": "data/golden/mysoc.csv",
        "data_config": "mysoc_golden",
        "alerts": sum(a.label is not None for a in golden),  # the labeled ones are scored
        "real": sum(a.label == 1 for a in golden),
    }
    adversarial = [g for g in decision["gates"] if g["metric"].startswith("adversarial.")]
    assert adversarial and all(
        g["passed"] and g["rule"] == "no adversarial set on this data" for g in adversarial
    )
    harden = json.loads((repo / "metrics" / "harden.json").read_text())
    assert harden["training"]["augmented_variants"] == 0
    page = " ".join((repo / "reports" / "index.html").read_text().split())
    assert f"Labels: {len(labeled)} of the {len(labeled)} labeled alerts" in page
