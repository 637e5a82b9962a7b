"""conf/data/elastic.yaml reads Elastic Security alert documents (tests/fixtures/elastic)."""

import json
from pathlib import Path

import pytest

from alertlens.alerts.ingest import ingest_to_dir
from alertlens.alerts.mapping import DataMapping
from alertlens.config import load_group_option

EQL_OFFICE = "4254bce7e7875aebac7d9500690eb7342e30ffbb8ba79736c8763fecb424a91a"
RDP_NESTED = "445c094c9fd7a3c6b0ea59a0c9985e50614d2bb27986c871cf134370c4638808"
THRESHOLD = "3a9f90a7aa09ca7226a1c6b6d82a0fed8532ad54a482dfc05260c355307c3f74"
ML_OPEN = "0db7cee015abaf94a7639fc9f1b48ffba7db2f86c5a89b83d4c00447538c3dec"
INDICATOR = "e8246ef9f6710ecf3b52f6fe71abdca8743b6058f528a6dd9c0ccfb201d39865"
WEB_ACK = "804b6a4ac8d22edbd1dfac0157da1b928666e7c05dc43cc505695efc994e2d01"
DUPLICATE = "b2af41b6882694afd678792b6e0a1768f9f14bb58be2e840d852567eca49c003"
NEW_TERMS = "9cba32dfee06330336ef08242925e598164f73a331f43fbf0a104ab07e4b0cfd"


@pytest.fixture
def mapping(repo_root: Path) -> DataMapping:
    return DataMapping.from_config(load_group_option("data", "elastic", root=repo_root))


@pytest.fixture
def alerts(mapping: DataMapping, fixtures: Path, tmp_path: Path) -> dict[str, dict]:
    counts = ingest_to_dir(mapping, fixtures / "elastic", tmp_path, max_reject_ratio=0.0)
    assert (counts.records_read, counts.accepted, counts.rejected, counts.filtered) == (8, 8, 0, 0)
    assert (counts.true_positive, counts.false_positive, counts.unlabeled) == (2, 3, 3)
    lines = (tmp_path / "alerts.jsonl").read_text().splitlines()
    return {a["id"]: a for a in map(json.loads, lines)}


def test_closing_reasons_become_labels(alerts: dict[str, dict]) -> None:
    labels = {alert_id: alert["label"] for alert_id, alert in alerts.items()}
    assert labels == {
        EQL_OFFICE: 1,  # true_positive
        INDICATOR: 1,  # true_positive
        RDP_NESTED: 0,  # false_positive
        NEW_TERMS: 0,  # false_positive
        THRESHOLD: 0,  # benign_positive, declared a false positive
        ML_OPEN: None,  # open: no closing reason
        WEB_ACK: None,  # acknowledged: no closing reason
        DUPLICATE: None,  # closed as duplicate
    }


def test_flat_dotted_alert_with_nested_ecs_process(alerts: dict[str, dict]) -> None:
    alert = alerts[EQL_OFFICE]
    assert (alert["source"], alert["group"]) == ("endpoint", "fin-ws-17")
    fields = alert["fields"]
    assert fields["rule_name"] == "Suspicious MS Office Child Process"
    assert fields["rule_id"] == "d23f0824-128b-4f33-8c5c-7fd0a6a3a450"  # rule_id before uuid
    assert (fields["rule_type"], fields["severity"], fields["severity_level"]) == (
        "eql",
        47.0,
        "medium",
    )
    assert isinstance(fields["severity"], float)
    assert fields["command_line"].startswith("powershell.exe -nop -w hidden -enc SQBFAFgA")
    assert (fields["process_name"], fields["parent_process"]) == ("powershell.exe", "WINWORD.EXE")
    assert fields["parent_command_line"].endswith('\\Downloads\\invoice_0303.docm"')
    assert (fields["user"], fields["os"], fields["dataset"]) == (
        "m.okafor",
        "Windows 11 Pro",
        "endpoint.events.process",
    )
    assert "category" not in fields  # event.category is an ECS list: not mapped


def test_wholly_nested_alert_maps_the_same_paths(alerts: dict[str, dict]) -> None:
    alert = alerts[RDP_NESTED]
    assert (alert["source"], alert["group"], alert["label"]) == ("network_traffic", "jump-01", 0)
    fields = alert["fields"]
    assert fields["rule_name"] == "RDP (Remote Desktop Protocol) from the Internet"
    assert (fields["src_ip"], fields["src_port"], fields["dest_ip"], fields["dest_port"]) == (
        "203.0.113.45",
        51522,
        "10.20.1.15",
        3389,
    )
    assert (fields["proto"], fields["severity"], fields["rule_type"]) == ("tcp", 47.0, "query")


def test_alerts_without_a_source_event_module_take_the_rule_type(alerts: dict[str, dict]) -> None:
    threshold, ml = alerts[THRESHOLD], alerts[ML_OPEN]
    assert (threshold["source"], threshold["group"]) == ("threshold", None)
    assert (threshold["fields"]["src_ip"], threshold["fields"]["severity"]) == ("10.0.5.4", 21.0)
    assert (ml["source"], ml["group"], ml["fields"]["user"]) == (
        "machine_learning",
        "build-07",
        "svc_backup2",
    )


def test_flat_ecs_indicator_match_and_nested_web_alert(alerts: dict[str, dict]) -> None:
    intel = alerts[INDICATOR]["fields"]
    assert (intel["dest_ip"], intel["dest_port"], intel["tls_sni"], intel["severity"]) == (
        "198.51.100.77",
        443,
        "cdn-update.example.net",
        73.0,
    )
    assert alerts[INDICATOR]["group"] == "hr-lt-08"
    web = alerts[WEB_ACK]
    assert (web["source"], web["group"]) == ("nginx", "web-02")
    assert web["fields"]["url"].startswith("https://shop.example.com/products.php?id=1%27%20UNION")
    assert web["fields"]["user_agent"] == "sqlmap/1.7.2#stable (https://sqlmap.org)"
    assert (web["fields"]["http_status"], web["fields"]["http_method"]) == (200, "GET")


def test_an_unlisted_closing_reason_is_rejected(mapping: DataMapping, tmp_path: Path) -> None:
    export = tmp_path / "custom.ndjson"
    record = {
        "@timestamp": "2026-03-04T08:00:00.000Z",
        "kibana.alert.uuid": "c0ffee",
        "kibana.alert.rule.name": "Suspicious MS Office Child Process",
        "kibana.alert.workflow_status": "closed",
        "kibana.alert.workflow_reason": "escalated_to_ir",  # a custom close reason
        "host": {"name": "fin-ws-17"},
    }
    export.write_text(json.dumps(record) + "\n")
    counts = ingest_to_dir(mapping, export, tmp_path / "out", max_reject_ratio=1.0)
    assert (counts.records_read, counts.accepted, counts.rejected) == (1, 0, 1)
    (reject,) = [json.loads(line) for line in (tmp_path / "out" / "rejected.jsonl").open()]
    assert reject["reason"] == "unknown_label"
    assert "escalated_to_ir" in reject["message"]
