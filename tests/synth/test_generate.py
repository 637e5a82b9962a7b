"""Tests for the synthetic alert generator: determinism, shapes, label statistics, drift."""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from alertlens.alerts.mapping import DataMapping
from alertlens.config import load_group_option
from alertlens.synth.generate import SYNTH_START, SYNTH_WEEKS, generate_alerts, write_synthetic
from alertlens.synth.scenarios import DRIFT_SCENARIOS, SCANNER_NET, SCENARIOS

N = 5000
TRUTH = {s.name: s.verdict for s in SCENARIOS}
COMMON_KEYS = {"alert_id", "@timestamp", "source", "tenant", "rule", "triage", "_synth"}
# Top-level keys per source, and the keys of their nested sections.
SOURCE_KEYS: dict[str, dict[str, set[str]]] = {
    "ids": {
        "event_type": set(),
        "src_ip": set(),
        "src_port": set(),
        "dest_ip": set(),
        "dest_port": set(),
        "proto": set(),
        "app_proto": set(),
        "alert": {"signature", "signature_id", "category", "severity", "action"},
        "flow": {"pkts_toserver", "pkts_toclient", "bytes_toserver", "bytes_toclient"},
    },
    "edr": {
        "host": {"name", "ip", "os"},
        "process": {"name", "path", "command_line", "pid", "user", "parent"},
    },
    "auth": {
        "user": {"name", "domain"},
        "client": {"ip", "geo_country"},
        "host": {"name"},
        "auth": {
            "service",
            "method",
            "outcome",
            "failures_last_hour",
            "distinct_users_from_ip",
        },
    },
    "waf": {
        "client": {"ip"},
        "host": {"name"},
        "request": {"method", "host", "uri", "args", "user_agent", "length"},
        "response": {"status", "length"},
        "waf": {"action", "matched_rule"},
    },
}
IDS_SECTIONS = {
    "http": {"hostname", "url", "http_user_agent", "http_method", "status", "length"},
    "dns": {"rrname", "rrtype"},
    "tls": {"sni", "version", "ja3"},
}


@pytest.fixture(scope="module")
def alerts() -> list[dict[str, Any]]:
    return list(generate_alerts(N, seed=7))


def _labelled(alerts: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [a for a in alerts if a["triage"]["verdict"] is not None]


def _when(alert: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(alert["@timestamp"].replace("Z", "+00:00"))


def test_same_seed_writes_identical_bytes(tmp_path: Path) -> None:
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    assert write_synthetic(first, n=400, seed=11) == 400
    assert write_synthetic(second, n=400, seed=11) == 400
    assert first.read_bytes() == second.read_bytes()


def test_different_seed_writes_different_bytes(tmp_path: Path) -> None:
    write_synthetic(tmp_path / "a.jsonl", n=400, seed=11)
    write_synthetic(tmp_path / "b.jsonl", n=400, seed=12)
    assert (tmp_path / "a.jsonl").read_bytes() != (tmp_path / "b.jsonl").read_bytes()


def test_write_creates_parents_and_writes_compact_json_lines(tmp_path: Path) -> None:
    path = tmp_path / "raw" / "nested" / "alerts.jsonl"
    assert write_synthetic(path, n=50, seed=3) == 50
    expected = "".join(
        json.dumps(a, ensure_ascii=False, separators=(",", ":")) + "\n"
        for a in generate_alerts(50, seed=3)
    )
    assert path.read_text(encoding="utf-8") == expected
    assert len(path.read_bytes().splitlines()) == 50


def test_count_and_ids() -> None:
    ids = [a["alert_id"] for a in generate_alerts(12, seed=1)]
    assert ids == [f"SYN-{i:07d}" for i in range(12)]
    assert list(generate_alerts(0)) == []
    with pytest.raises(ValueError, match="n must be"):
        list(generate_alerts(-1))


def test_every_record_has_common_and_source_keys(alerts: list[dict[str, Any]]) -> None:
    for alert in alerts:
        assert alert.keys() >= COMMON_KEYS, alert["alert_id"]
        assert set(alert["rule"]) == {"name", "id", "severity"}
        assert alert["rule"]["severity"] in {1, 2, 3, 4}
        assert set(alert["triage"]) == {"verdict", "analyst"}
        assert set(alert["_synth"]) == {"scenario", "label_flipped", "evidence"}
        assert alert["tenant"] in {"acme", "globex", "initech", "umbrella"}
        for key, nested in SOURCE_KEYS[alert["source"]].items():
            assert key in alert, (alert["alert_id"], key)
            assert nested <= set(alert[key] if nested else ()), (alert["alert_id"], key)


def test_ids_records_are_consistent_eve_alerts(alerts: list[dict[str, Any]]) -> None:
    ids = [a for a in alerts if a["source"] == "ids"]
    for alert in ids:
        assert alert["event_type"] == "alert"
        assert alert["alert"]["signature"] == alert["rule"]["name"]
        assert alert["alert"]["signature_id"] == alert["rule"]["id"]
        section = alert["app_proto"]
        assert IDS_SECTIONS[section] <= alert[section].keys()
        assert alert["proto"] == ("UDP" if section == "dns" else "TCP")
    assert {a["app_proto"] for a in ids} == {"http", "dns", "tls"}


def test_all_sources_appear(alerts: list[dict[str, Any]]) -> None:
    counts = Counter(a["source"] for a in alerts)
    assert set(counts) == {"ids", "edr", "auth", "waf"}
    assert min(counts.values()) > N * 0.1


def test_false_positives_dominate(alerts: list[dict[str, Any]]) -> None:
    labelled = _labelled(alerts)
    share = sum(a["triage"]["verdict"] == "false_positive" for a in labelled) / len(labelled)
    assert 0.78 <= share <= 0.88


def test_label_noise_and_untriaged_shares(alerts: list[dict[str, Any]]) -> None:
    labelled = _labelled(alerts)
    flipped = sum(a["_synth"]["label_flipped"] for a in labelled) / len(labelled)
    assert 0.015 <= flipped <= 0.05
    untriaged = [a for a in alerts if a["triage"]["verdict"] is None]
    assert 0.01 <= len(untriaged) / len(alerts) <= 0.06
    assert all(a["triage"]["analyst"] is None for a in untriaged)
    assert not any(a["_synth"]["label_flipped"] for a in untriaged)


def test_label_noise_is_mostly_missed_attacks(alerts: list[dict[str, Any]]) -> None:
    labelled = _labelled(alerts)
    truly_real = [a for a in labelled if TRUTH[a["_synth"]["scenario"]] == "true_positive"]
    truly_benign = [a for a in labelled if TRUTH[a["_synth"]["scenario"]] == "false_positive"]
    missed = sum(a["_synth"]["label_flipped"] for a in truly_real) / len(truly_real)
    escalated = sum(a["_synth"]["label_flipped"] for a in truly_benign) / len(truly_benign)
    assert 0.08 <= missed <= 0.16 and escalated <= 0.008


def test_flipped_flag_marks_exactly_the_wrong_verdicts(alerts: list[dict[str, Any]]) -> None:
    for alert in _labelled(alerts):
        wrong = alert["triage"]["verdict"] != TRUTH[alert["_synth"]["scenario"]]
        assert wrong == alert["_synth"]["label_flipped"], alert["alert_id"]


def test_reviewed_verdicts_are_the_truth_and_the_alerts_the_same(
    alerts: list[dict[str, Any]],
) -> None:
    reviewed = list(generate_alerts(N, seed=7, reviewed=True))
    assert [{**a, "triage": None, "_synth": None} for a in reviewed] == [
        {**a, "triage": None, "_synth": None} for a in alerts
    ]
    assert all(
        a["triage"] == {"verdict": TRUTH[a["_synth"]["scenario"]], "analyst": "golden.review"}
        and not a["_synth"]["label_flipped"]
        for a in reviewed
    )
    corrected = sum(
        r["triage"]["verdict"] != a["triage"]["verdict"]
        for r, a in zip(reviewed, alerts, strict=True)
    )
    noisy = sum(a["_synth"]["label_flipped"] or a["triage"]["verdict"] is None for a in alerts)
    assert corrected == noisy > 0


def test_drift_scenarios_appear_only_in_weeks_7_and_8(alerts: list[dict[str, Any]]) -> None:
    drift_start = SYNTH_START + timedelta(weeks=6)
    drifted = [a for a in alerts if a["_synth"]["scenario"] in DRIFT_SCENARIOS]
    assert {a["_synth"]["scenario"] for a in drifted} == set(DRIFT_SCENARIOS)
    assert {TRUTH[name] for name in DRIFT_SCENARIOS} == {"false_positive", "true_positive"}
    assert all(_when(a) >= drift_start for a in drifted)
    late = [a for a in alerts if _when(a) >= drift_start]
    assert len(drifted) / len(late) > 0.03


def test_timestamps_ascending_within_the_eight_weeks(alerts: list[dict[str, Any]]) -> None:
    pattern = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
    assert all(pattern.fullmatch(a["@timestamp"]) for a in alerts)
    times = [_when(a) for a in alerts]
    assert times == sorted(times)
    assert times[0] >= SYNTH_START
    assert times[-1] < SYNTH_START + timedelta(weeks=SYNTH_WEEKS)
    # Spread over the whole span, not bunched at the start.
    assert times[-1] - times[0] > timedelta(weeks=SYNTH_WEEKS) * 0.99


def test_encoded_powershell_decodes_to_a_download_url(alerts: list[dict[str, Any]]) -> None:
    encoded = [a for a in alerts if a["_synth"]["scenario"] == "encoded_powershell"]
    assert len(encoded) > 20
    for alert in encoded:
        token = alert["process"]["command_line"].rsplit(" ", 1)[1]
        script = base64.b64decode(token, validate=True).decode("utf-16-le")
        assert re.search(r"https?://[\w.:-]+/\S+", script), script


def test_rules_are_shared_between_false_and_true_positives(alerts: list[dict[str, Any]]) -> None:
    rules: dict[str, set[str]] = {"false_positive": set(), "true_positive": set()}
    for alert in alerts:
        rules[TRUTH[alert["_synth"]["scenario"]]].add(alert["rule"]["name"])
    shared = rules["false_positive"] & rules["true_positive"]
    assert {"Suspicious PowerShell Execution", "SQL Injection Attempt"} <= shared
    assert len(shared) >= 8


def test_powershell_fp_and_tp_share_process_and_some_parents(
    alerts: list[dict[str, Any]],
) -> None:
    powershell = [a for a in alerts if a["rule"]["name"] == "Suspicious PowerShell Execution"]
    by_truth: dict[str, set[str]] = {"false_positive": set(), "true_positive": set()}
    for alert in powershell:
        assert alert["process"]["name"] == "powershell.exe"
        by_truth[TRUTH[alert["_synth"]["scenario"]]].add(alert["process"]["parent"]["name"])
    assert by_truth["false_positive"] & by_truth["true_positive"]


def test_backups_run_at_night(alerts: list[dict[str, Any]]) -> None:
    backups = [a for a in alerts if a["_synth"]["scenario"] == "backup_job"]
    assert len(backups) > 50
    assert all(_when(a).hour <= 4 for a in backups)


def test_scanners_come_from_the_scanner_subnet(alerts: list[dict[str, Any]]) -> None:
    net = ipaddress.ip_network(SCANNER_NET)
    scans = [a for a in alerts if a["_synth"]["scenario"] in {"scanner_waf", "scanner_ids"}]
    sources = [a["client"]["ip"] if a["source"] == "waf" else a["src_ip"] for a in scans]
    assert sources and all(ipaddress.ip_address(ip) in net for ip in sources)
    others = [a["client"]["ip"] for a in alerts if a["source"] == "waf" and a not in scans]
    assert not any(ipaddress.ip_address(ip) in net for ip in others)


def test_free_text_is_varied(alerts: list[dict[str, Any]]) -> None:
    command_lines = [a["process"]["command_line"] for a in alerts if a["source"] == "edr"]
    assert len(set(command_lines)) > 0.75 * len(command_lines)
    waf_requests = [a["request"]["uri"] + a["request"]["args"] for a in alerts if "request" in a]
    assert len(set(waf_requests)) > 0.5 * len(waf_requests)
    hosts = {a["host"]["name"] for a in alerts if a["source"] == "edr"}
    assert len(hosts) > 500


def test_dns_names_are_valid(alerts: list[dict[str, Any]]) -> None:
    names = [a["dns"]["rrname"] for a in alerts if a.get("app_proto") == "dns"]
    assert names
    for name in names:
        assert len(name) <= 253
        assert all(0 < len(label) <= 63 for label in name.split(".")), name


def test_every_alert_carries_evidence_of_its_scenario_in_mapped_fields(
    alerts: list[dict[str, Any]],
) -> None:
    mapping = DataMapping.from_config(load_group_option("data", "synthetic"))
    declared = {spec.name for spec in mapping.fields}
    for scenario in SCENARIOS:
        assert scenario.evidence and set(scenario.evidence) <= declared, scenario.name
    for record in alerts:
        alert = mapping.normalize(record, json.dumps(record))
        assert alert.truth is not None and alert.truth.cause == record["_synth"]["scenario"]
        assert any(name in alert.fields for name in alert.truth.evidence), alert.id
    webshells = [a for a in alerts if a["_synth"]["scenario"] == "webshell"]
    assert webshells and all(
        a["_synth"]["evidence"] == ["parent_process", "command_line"] for a in webshells
    )
