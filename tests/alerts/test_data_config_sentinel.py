"""conf/data/sentinel.yaml: Sentinel alerts joined to their incident's classification (CSV)."""

import json
from pathlib import Path

from alertlens.alerts.ingest import ingest_to_dir
from alertlens.alerts.mapping import DataMapping
from alertlens.config import load_group_option


def _mapping(repo_root: Path) -> DataMapping:
    return DataMapping.from_config(load_group_option("data", "sentinel", root=repo_root))


def test_sentinel_alerts_ingest_with_zero_rejects_and_their_evidence_mapped(
    tmp_path: Path, fixtures: Path, repo_root: Path
) -> None:
    counts = ingest_to_dir(
        _mapping(repo_root), fixtures / "sentinel", tmp_path, max_reject_ratio=0.0
    )
    assert (counts.records_read, counts.accepted, counts.rejected) == (8, 8, 0)
    # TruePositive x2; FalsePositive x2 + BenignPositive; Undetermined, open incident, no incident
    assert (counts.true_positive, counts.false_positive, counts.unlabeled) == (2, 3, 3)
    alerts = {
        a["id"]: a for a in map(json.loads, (tmp_path / "alerts.jsonl").read_text().splitlines())
    }
    labels = {alert_id: alert["label"] for alert_id, alert in alerts.items()}
    assert labels["0e9a4c71-2b6d-4f38-8c55-91a7e3d0b2f4"] == 0  # BenignPositive
    assert labels["c41a8e92-5f07-4d3b-b1e6-8a2d7c09f513"] is None  # Undetermined
    assert labels["e8b7c3a1-6d2f-4a90-85c4-3f1e9b07d268"] is None  # incident still open

    mde = alerts["b6f1d2a4-7c3e-4e15-9a02-5d8c1f3e7a60"]
    assert (mde["label"], mde["group"]) == (1, "fin-ws-17")
    assert mde["source"] == "Microsoft Defender Advanced Threat Protection"
    assert mde["timestamp"] == 1772439247.553210  # 7 fractional digits, Z: read to the microsecond
    assert mde["fields"]["command_line"].startswith("powershell.exe -nop -w hidden -enc SQBFAFgA")
    assert (mde["fields"]["process_name"], mde["fields"]["parent_process"]) == (
        "powershell.exe",
        "WINWORD.EXE",
    )
    assert mde["fields"]["parent_command_line"].endswith(
        '/n "C:\\Users\\j.doe\\Downloads\\invoice_0311.docm"'
    )
    assert (mde["fields"]["severity"], mde["fields"]["rule_name"]) == (
        2,
        "Suspicious PowerShell command line",
    )
    assert mde["fields"]["techniques"] == '["T1059","T1059.001"]'

    sign_in = alerts["c41a8e92-5f07-4d3b-b1e6-8a2d7c09f513"]
    assert (sign_in["source"], sign_in["group"]) == (
        "Azure Active Directory Identity Protection",
        "a.smith@contoso.example",
    )
    assert (sign_in["fields"]["user"], sign_in["fields"]["src_ip"]) == (
        "a.smith@contoso.example",
        "198.51.100.77",
    )
    assert sign_in["fields"]["host"] == "a.smith@contoso.example"  # no host entity: the entity

    mail = alerts["5a93f0d6-1e4c-48b7-9d20-c6e83b5f7a12"]["fields"]
    assert (mail["url"], mail["severity"], mail["category"]) == (
        "https://login-contoso.example.net/owa/auth.aspx?session=8f3a2c&redirect=mail",
        3,
        "InitialAccess",
    )
    scheduled = alerts["e8b7c3a1-6d2f-4a90-85c4-3f1e9b07d268"]
    assert scheduled["source"] == "Azure Sentinel"
    assert scheduled["timestamp"] == 1772681400.0  # no fractional part
    assert scheduled["fields"]["category"] == "CredentialAccess, LateralMovement"
    malware = alerts["2f6d9b14-8a3c-4e71-b5f2-d07c4e1a9b83"]["fields"]
    assert (malware["severity"], malware["file_name"]) == (0, "buildtool-setup.exe")
    # The verdict's reason (and the incident number) never reach the alert: they are the label.
    assert "SuspiciousActivity" not in (tmp_path / "alerts.jsonl").read_text()
    assert "4711" not in json.dumps(mde)


def test_sentinel_unknown_classification_is_rejected(tmp_path: Path, repo_root: Path) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "alerts.csv").write_text(
        "TimeGenerated,SystemAlertId,AlertName,ProductName,CompromisedEntity,Classification\n"
        "2026-03-02T08:14:07.5532109Z,a-1,Suspicious PowerShell command line,"
        "Microsoft Defender Advanced Threat Protection,fin-ws-17,TruePositive\n"
        "2026-03-02T08:15:07.5532109Z,a-2,Suspicious PowerShell command line,"
        "Microsoft Defender Advanced Threat Protection,fin-ws-17,Malicious\n"
    )
    counts = ingest_to_dir(_mapping(repo_root), export, tmp_path / "out", max_reject_ratio=1.0)
    assert (counts.records_read, counts.accepted, counts.rejected) == (2, 1, 1)
    rejects = [
        json.loads(line) for line in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()
    ]
    assert [(r["reason"], r["line"]) for r in rejects] == [("unknown_label", 3)]
    assert "'malicious'" in rejects[0]["message"]
