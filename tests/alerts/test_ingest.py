import base64
import hashlib
import io
import json
from pathlib import Path

import pytest

from alertlens.alerts.ingest import IngestError, ingest_to_dir, read_export
from alertlens.alerts.mapping import DataMapping
from alertlens.config import load_group_option

GOOD = '{"id": "%s", "ts": 1767607200, "kind": "edr", "host": "h", "verdict": "%s", "proc": {"cmd": "x"}}'


def _corrupted_export(path: Path) -> Path:
    """One record of every kind of trouble, each on a known line."""
    lines = [
        GOOD % ("a1", "tp"),  # 1 accepted
        '{"id": "a2", "ts": 1767607200, "kind": "e',  # 2 truncated_json
        '{"id" "a3"}',  # 3 invalid_json
        None,  # 4 not_utf8 (bytes below)
        '{"ts": 1767607200, "kind": "edr", "verdict": "fp"}',  # 5 missing_field (id)
        '{"id": "a6", "ts": 1767607200, "kind": "edr", "verdict": "fp", "net": {"port": "ssh"}}',  # 6 wrong_type
        GOOD % ("a7", "escalated?"),  # 7 unknown_label
        GOOD % ("a1", "fp"),  # 8 duplicate_id
        "",  # 9 blank: not a record
        '{"id": "a10", "ts": "2026-01-05T10:00:00Z", "kind": "auth", "verdict": null}',  # 10 unlabeled
        "[1, 2]",  # 11 not_an_object
        GOOD % ("a12", "fp"),  # 12 accepted
    ]
    data = (
        b"\n".join(
            b'{"id": "a4", "ts": 1, "verdict": "tp", "proc": {"cmd": "caf\xe9"}}'
            if line is None
            else line.encode()
            for line in lines
        )
        + b"\n"
    )
    path.write_bytes(data)
    return path


def test_corrupted_export_counts_add_up_and_every_reject_is_kept(
    tmp_path: Path, toy_data_config: dict
) -> None:
    source = _corrupted_export(tmp_path / "export.jsonl")
    counts = ingest_to_dir(
        DataMapping.from_config(toy_data_config), source, tmp_path / "out", max_reject_ratio=1.0
    )
    assert (counts.records_read, counts.accepted, counts.rejected, counts.filtered) == (11, 3, 8, 0)
    assert (counts.true_positive, counts.false_positive, counts.unlabeled) == (1, 1, 1)
    rejected = [
        json.loads(line) for line in (tmp_path / "out" / "rejected.jsonl").read_text().splitlines()
    ]
    assert [(r["line"], r["reason"]) for r in rejected] == [
        (2, "truncated_json"),
        (3, "invalid_json"),
        (4, "not_utf8"),
        (5, "missing_field"),
        (6, "wrong_type"),
        (7, "unknown_label"),
        (8, "duplicate_id"),
        (11, "not_an_object"),
    ]
    assert rejected[6]["message"] == f"id 'a1' already seen at {source}:1"
    assert base64.b64decode(rejected[2]["raw_base64"]).endswith(b'"caf\xe9"}}')
    accepted = [
        json.loads(line)["id"]
        for line in (tmp_path / "out" / "alerts.jsonl").read_text().splitlines()
    ]
    assert accepted == ["a1", "a10", "a12"]
    assert (
        json.loads((tmp_path / "out" / "ingest.json").read_text())["rejected_by_reason"][
            "duplicate_id"
        ]
        == 1
    )


def test_reject_ratio_above_limit_fails_with_reasons_but_writes_outputs(
    tmp_path: Path, toy_data_config: dict
) -> None:
    source = _corrupted_export(tmp_path / "export.jsonl")
    with pytest.raises(
        IngestError, match=r"8 of 11 records rejected \(72.7%\), above max_reject_ratio 5.0%"
    ):
        ingest_to_dir(
            DataMapping.from_config(toy_data_config),
            source,
            tmp_path / "out",
            max_reject_ratio=0.05,
        )
    assert len((tmp_path / "out" / "rejected.jsonl").read_text().splitlines()) == 8


def test_empty_files_are_recorded_and_all_empty_input_fails(
    tmp_path: Path, toy_data_config: dict
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "a.jsonl").write_text(GOOD % ("a1", "tp") + "\n")
    (export / "b.jsonl").write_text("")
    mapping = DataMapping.from_config(toy_data_config)
    counts = ingest_to_dir(mapping, export, tmp_path / "out", max_reject_ratio=0.0)
    assert (counts.accepted, counts.rejected, counts.empty_files) == (
        1,
        0,
        [str(export / "b.jsonl")],
    )
    assert json.loads((tmp_path / "out" / "rejected.jsonl").read_text())["reason"] == "empty_file"
    (export / "a.jsonl").write_text("\n\n")
    with pytest.raises(IngestError, match="holds no records"):
        ingest_to_dir(mapping, export, tmp_path / "out", max_reject_ratio=0.0)


def test_missing_input_is_a_clear_error(tmp_path: Path, toy_data_config: dict) -> None:
    with pytest.raises(IngestError, match="does not exist"):
        ingest_to_dir(
            DataMapping.from_config(toy_data_config), tmp_path / "nope", tmp_path / "out", 0.0
        )


def test_suricata_samples_ingest_with_zero_rejects(
    tmp_path: Path, fixtures: Path, repo_root: Path
) -> None:
    mapping = DataMapping.from_config(load_group_option("data", "suricata_eve", root=repo_root))
    counts = ingest_to_dir(mapping, fixtures / "suricata", tmp_path, max_reject_ratio=0.0)
    assert (counts.records_read, counts.accepted, counts.rejected, counts.unlabeled) == (
        548,
        548,
        0,
        548,
    )
    first = json.loads((tmp_path / "alerts.jsonl").read_text().splitlines()[0])
    assert first["source"] == "ids" and first["fields"]["rule_name"] == "ET SCAN Potential SSH Scan"


def test_wazuh_alerts_ingest_with_zero_rejects_and_their_evidence_mapped(
    tmp_path: Path, fixtures: Path, repo_root: Path
) -> None:
    mapping = DataMapping.from_config(load_group_option("data", "wazuh", root=repo_root))
    counts = ingest_to_dir(mapping, fixtures / "wazuh", tmp_path, max_reject_ratio=0.0)
    assert (counts.records_read, counts.accepted, counts.rejected, counts.unlabeled) == (6, 6, 0, 6)
    alerts = {
        a["id"]: a for a in map(json.loads, (tmp_path / "alerts.jsonl").read_text().splitlines())
    }
    sysmon = alerts["1772446601.20871"]
    assert (sysmon["source"], sysmon["group"]) == ("windows_eventchannel", "fin-ws-17")
    assert sysmon["fields"]["command_line"].startswith("powershell.exe -nop -w hidden -enc")
    assert sysmon["fields"]["parent_process"].endswith("WINWORD.EXE")
    assert sysmon["fields"]["host"] == "fin-ws-17"  # agent.name before the event's computer
    web = alerts["1772446807.33410"]["fields"]
    assert (web["http_status"], web["src_ip"], web["severity"]) == (404, "198.51.100.23", 6)
    suricata = alerts["1772448012.51233"]["fields"]
    assert (suricata["ids_signature"], suricata["dest_port"]) == (
        "ET SCAN Possible Nmap User-Agent Observed",
        80,
    )
    assert alerts["1772447515.40012"]["fields"]["file_path"] == "/etc/crontab"


def test_eve_filter_counts_non_alert_events(tmp_path: Path, repo_root: Path) -> None:
    eve = tmp_path / "eve.json"
    eve.write_text(
        '{"timestamp": "2026-01-05T10:00:00Z", "event_type": "flow", "src_ip": "10.0.0.1"}\n'
        '{"timestamp": "2026-01-05T10:00:01Z", "event_type": "alert", "src_ip": "10.0.0.1",'
        ' "alert": {"signature": "ET X"}}\n'
    )
    mapping = DataMapping.from_config(load_group_option("data", "suricata_eve", root=repo_root))
    counts = ingest_to_dir(mapping, eve, tmp_path / "out", max_reject_ratio=0.0)
    assert (counts.records_read, counts.accepted, counts.filtered, counts.rejected) == (2, 1, 1, 0)


def test_csv_template_with_dash_label_and_group(tmp_path: Path, repo_root: Path) -> None:
    csv_file = tmp_path / "alerts.csv"
    csv_file.write_text(
        "alert_id,time,source,host,case,rule,severity,src_ip,dest_port,command_line\n"
        "1,2026-01-05T10:00:00Z,edr,ws-1,-,Susp PS,3,10.0.0.1,443,powershell -File a.ps1\n"
        "2,1767607300,edr,ws-2,INC-7,Susp PS,3,203.0.113.9,443,powershell -enc SQBFAFgA\n"
        "3,1767607400,edr,ws-2,,Susp PS,high,10.0.0.2,443,x\n"
    )
    mapping = DataMapping.from_config(load_group_option("data", "csv", root=repo_root))
    counts = ingest_to_dir(mapping, csv_file, tmp_path / "out", max_reject_ratio=1.0)
    assert (counts.false_positive, counts.true_positive, counts.rejected) == (1, 1, 1)
    rows = [
        json.loads(line) for line in (tmp_path / "out" / "alerts.jsonl").read_text().splitlines()
    ]
    assert [(r["label"], r["group"], r["fields"]["dest_port"]) for r in rows] == [
        (0, "ws-1", 443),
        (1, "ws-2", 443),
    ]


def test_read_export_keeps_alerts_in_memory_and_rejects_where_asked(
    tmp_path: Path, toy_data_config: dict
) -> None:
    export = tmp_path / "e.jsonl"
    good = {"id": "a", "ts": 1767607200, "kind": "edr", "verdict": "fp"}
    export.write_text(json.dumps(good) + "\n" + "{broken\n")
    mapping = DataMapping.from_config(toy_data_config)
    rejected = io.StringIO()
    alerts, counts = read_export(mapping, export, max_reject_ratio=0.5, rejected=rejected)
    assert [a.id for a in alerts] == ["a"]
    assert counts.records_read == counts.accepted + counts.rejected == 2
    assert json.loads(rejected.getvalue())["reason"] == "invalid_json"
    with pytest.raises(IngestError, match="above max_reject_ratio"):
        read_export(mapping, export, max_reject_ratio=0.0)


def test_identical_rows_without_ids_are_one_alert_by_default_and_events_with_dedupe_none(
    tmp_path: Path, toy_data_config: dict
) -> None:
    # An export without ids where several events share a second, a rule and a host.
    row = '{"ts": 1767607200, "kind": "ids", "host": "h", "verdict": "fp", "proc": {"cmd": "x"}}'
    other = row.replace('"h"', '"h2"')
    (tmp_path / "export.jsonl").write_text("\n".join([row, row, other, row]) + "\n")
    no_ids = {**toy_data_config, "id": None}

    deduped = ingest_to_dir(
        DataMapping.from_config(no_ids), tmp_path / "export.jsonl", tmp_path / "a", 1.0
    )
    assert (deduped.accepted, deduped.rejected_by_reason["duplicate_id"]) == (2, 2)

    events = ingest_to_dir(
        DataMapping.from_config({**no_ids, "dedupe": "none"}),
        tmp_path / "export.jsonl",
        tmp_path / "b",
        0.0,
    )
    assert (events.records_read, events.accepted, events.rejected) == (4, 4, 0)
    ids = [
        json.loads(line)["id"]
        for line in (tmp_path / "b" / "alerts.jsonl").read_text().splitlines()
    ]
    first = ids[0]
    assert ids == [first, f"{first}#2", ids[2], f"{first}#3"] and ids[2] != first
    # The same export read again gives the same ids: a rerun of prepare is reproducible.
    again = tmp_path / "c"
    ingest_to_dir(
        DataMapping.from_config({**no_ids, "dedupe": "none"}),
        tmp_path / "export.jsonl",
        again,
        0.0,
    )
    assert (again / "alerts.jsonl").read_text() == (tmp_path / "b" / "alerts.jsonl").read_text()


def test_a_kept_copy_never_takes_an_id_the_export_already_has(
    tmp_path: Path, toy_data_config: dict
) -> None:
    lines = [GOOD % ("a1", "tp"), GOOD % ("a1#2", "fp"), GOOD % ("a1", "fp")]
    (tmp_path / "export.jsonl").write_text("\n".join(lines) + "\n")
    mapping = DataMapping.from_config({**toy_data_config, "dedupe": "none"})
    ingest_to_dir(mapping, tmp_path / "export.jsonl", tmp_path / "out", 0.0)
    ids = [
        json.loads(line)["id"] for line in (tmp_path / "out" / "alerts.jsonl").read_text().split()
    ]
    assert ids == ["a1", "a1#2", "a1#3"]


def test_dedupe_must_be_content_or_none(toy_data_config: dict) -> None:
    with pytest.raises(ValueError, match="dedupe must be one of \\('content', 'none'\\)"):
        DataMapping.from_config({**toy_data_config, "dedupe": "merge"})


def test_values_no_later_stage_could_hold_are_rejected_and_the_output_is_strict_json(
    tmp_path: Path,
) -> None:
    # CSV cells are strings, so numbers arrive unchecked by a JSON parser.
    rows = [
        "alert_id,time,source,host,case,command_line,dest_port",
        "ok,1767607200,edr,h,-,whoami,443",
        "nan,NaN,edr,h,-,whoami,443",
        "inf,inf,edr,h,-,whoami,443",
        "huge-ts,1e400,edr,h,-,whoami,443",
        f"big-port,1767607200,edr,h,-,whoami,{'9' * 400}",
    ]
    (tmp_path / "export.csv").write_text("\n".join(rows) + "\n")
    mapping = DataMapping.from_config(load_group_option("data", "csv"))
    counts = ingest_to_dir(mapping, tmp_path / "export.csv", tmp_path / "out", 1.0)
    assert (counts.records_read, counts.accepted, counts.rejected) == (5, 1, 4)
    assert counts.rejected_by_reason == {"wrong_type": 4}

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the output")

    for name in ("alerts.jsonl", "rejected.jsonl"):
        for line in (tmp_path / "out" / name).read_text(encoding="utf-8").splitlines():
            json.loads(line, parse_constant=refuse)


def test_an_output_directory_inside_the_input_is_never_read_back(
    tmp_path: Path, toy_data_config: dict
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    (export / "a.jsonl").write_text(GOOD % ("a1", "tp") + "\n" + GOOD % ("a2", "fp") + "\n")
    mapping = DataMapping.from_config({**toy_data_config, "files": "*.jsonl"})
    for _ in range(2):  # a second run finds the first run's outputs in the input directory
        counts = ingest_to_dir(mapping, export, export / "sub", max_reject_ratio=0.0)
        assert (counts.records_read, counts.accepted) == (2, 2)
    assert len((export / "sub" / "alerts.jsonl").read_text().splitlines()) == 2


def test_nothing_outside_the_input_directory_is_read(tmp_path: Path, toy_data_config: dict) -> None:
    export, elsewhere = tmp_path / "export", tmp_path / "secret.jsonl"
    export.mkdir()
    elsewhere.write_text(GOOD % ("s1", "tp") + "\n")
    (export / "a.jsonl").write_text(GOOD % ("a1", "tp") + "\n")
    (export / "b.jsonl").symlink_to(elsewhere)
    mapping = DataMapping.from_config(toy_data_config)
    with pytest.raises(IngestError, match="links to .*secret.jsonl, outside the input directory"):
        ingest_to_dir(mapping, export, tmp_path / "out", max_reject_ratio=0.0)
    assert not (tmp_path / "out").exists()  # refused before writing anything
    absolute = DataMapping.from_config({**toy_data_config, "files": "/etc/*"})
    with pytest.raises(IngestError, match="'/etc/\\*' must be a pattern inside the input"):
        ingest_to_dir(absolute, export, tmp_path / "out", max_reject_ratio=0.0)
    (export / "b.jsonl").unlink()
    cache = tmp_path / "project" / ".dvc" / "cache" / "files" / "md5" / "ab"
    cache.mkdir(parents=True)
    (cache / "cdef").write_text(GOOD % ("d1", "tp") + "\n")
    (export / "d.jsonl").symlink_to(cache / "cdef")  # dvc's cache.type: symlink
    (export / "inner").mkdir()
    (export / "inner" / "c.jsonl").symlink_to(export / "a.jsonl")  # a link inside is fine
    counts = ingest_to_dir(mapping, export, tmp_path / "out", max_reject_ratio=1.0)
    assert counts.records_read == 3


def test_a_record_over_max_record_bytes_is_one_bounded_reject_and_big_csv_fields_are_read(
    tmp_path: Path, toy_data_config: dict
) -> None:
    huge_cmd = "A" * (2 << 20)  # a 2 MiB line
    lines = [
        GOOD % ("a1", "tp"),
        (GOOD % ("a2", "tp")).replace('"cmd": "x"', f'"cmd": "{huge_cmd}"'),
    ]
    (tmp_path / "export.jsonl").write_text("\n".join(lines) + "\n")
    counts = ingest_to_dir(
        DataMapping.from_config(toy_data_config), tmp_path / "export.jsonl", tmp_path / "out", 1.0
    )
    assert (counts.records_read, counts.accepted, counts.rejected) == (2, 1, 1)
    (reject,) = [json.loads(line) for line in (tmp_path / "out" / "rejected.jsonl").open()]
    assert reject["reason"] == "record_too_large" and reject["line"] == 2
    assert (
        reject["message"]
        == f"the record is {len(lines[1]):,} bytes, over data.max_record_bytes 1,048,576"
    )
    assert reject["raw"] == lines[1][:65536]
    assert reject["raw_truncated"] == {
        "bytes": len(lines[1]),
        "sha256": hashlib.sha256(lines[1].encode()).hexdigest(),
    }

    # A 200 KiB PowerShell script block in a CSV cell is an ordinary record.
    script = "Write-Host " + "x" * (200 << 10)
    rows = ["alert_id,time,source,host,case,command_line", f"e1,1767607200,edr,h,-,{script}"]
    (tmp_path / "export.csv").write_text("\n".join(rows) + "\n")
    mapping = DataMapping.from_config(load_group_option("data", "csv"))
    counts = ingest_to_dir(mapping, tmp_path / "export.csv", tmp_path / "csv", 0.0)
    assert (counts.accepted, counts.rejected) == (1, 0)


def test_a_record_in_an_array_too_long_to_buffer_is_one_record_too_large(
    tmp_path: Path, repo_root: Path
) -> None:
    """A 15 MB EVE record (braces inside its payload) in a JSON array: one reject, not a
    million, and the next record is read."""
    big = {
        "timestamp": "2026-01-05T10:00:00Z",
        "event_type": "alert",
        "alert": {"signature": "ET X"},
        "payload_printable": '{"a": [1,2]} ' * 1_200_000,
    }
    small = {
        "timestamp": "2026-01-05T10:00:01Z",
        "event_type": "alert",
        "alert": {"signature": "Y"},
    }
    path = tmp_path / "eve.json"
    path.write_text(f"[{json.dumps(big)},\n{json.dumps(small)}]")
    mapping = DataMapping.from_config(load_group_option("data", "suricata_eve", root=repo_root))
    counts = ingest_to_dir(mapping, path, tmp_path / "out", max_reject_ratio=1.0)
    assert (counts.records_read, counts.accepted, dict(counts.rejected_by_reason)) == (
        2,
        1,
        {"record_too_large": 1},
    )
    reject = json.loads((tmp_path / "out" / "rejected.jsonl").read_text())
    assert reject["message"].startswith("the record is at least 8,")
    assert reject["raw_truncated"]["bytes"] > 8_000_000
