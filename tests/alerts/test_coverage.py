from pathlib import Path
from typing import Any

from alertlens.alerts.coverage import CoverageCounter, coverage_report, feature_fields
from alertlens.alerts.ingest import read_export
from alertlens.alerts.mapping import DataMapping

FEATURES = {
    "features": [
        {"kind": "source"},
        {"kind": "categorical", "field": "rule_name"},
        {"kind": "text_stats", "field": "command_line"},
        {"kind": "keywords", "field": "command_line", "keywords": ["enc"]},
    ]
}


def _export(tmp_path: Path) -> Path:
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"id": "1", "ts": 1767607200, "kind": "edr", "proc": {"cmd": "whoami"}}\n'
        '{"id": "2", "ts": 1767607201, "kind": "edr", "proc": {"cmd": "net user"}}\n'
        '{"id": "3", "ts": 1767607202, "kind": "waf", "net": {"src": "10.0.0.1"}}\n'
        '{"id": "4", "ts": 1767607203, "kind": "waf"}\n'
    )
    return path


def _coverage(config: dict[str, Any], path: Path, features: Any = FEATURES) -> Any:
    mapping = DataMapping.from_config(config)
    counter = CoverageCounter()
    alerts, _ = read_export(mapping, path, 0.0)
    list(counter.count(alerts))
    return coverage_report(mapping, counter, features)


def test_feature_fields_are_the_entries_that_read_a_field_once_each() -> None:
    assert feature_fields(FEATURES) == ["rule_name", "command_line"]


def test_coverage_gives_each_fields_share_and_names_what_features_and_hardening_lack(
    tmp_path: Path, toy_data_config: dict
) -> None:
    report = _coverage(toy_data_config, _export(tmp_path))
    assert report.alerts == 4
    assert report.fields == [
        ("command_line", "command_line", 0.5),
        ("dest_port", "numeric", 0.0),
        ("src_ip", "address", 0.25),
        ("url", "url", 0.0),
    ]
    assert report.warnings == [
        "mapped but never filled: dest_port, url (check its path)",
        "features read but not mapped by this data config: rule_name (their columns will be"
        " all missing)",
        "rendered for the teacher (text_fields) but never filled: url, dest_port (drop or remap)",
    ]
    assert "rule_name" in report.unmapped_canonical and "src_ip" not in report.unmapped_canonical
    assert report.as_dict()["fields"]["src_ip"] == {"role": "address", "share": 0.25}
    assert report.lines()[1] == "  command_line    50.0%  command_line"


def test_a_command_line_under_another_name_without_a_role_is_named_in_a_warning(
    tmp_path: Path, toy_data_config: dict
) -> None:
    config = {**toy_data_config, "fields": {"cmdline": "proc.cmd"}, "text_fields": ["cmdline"]}
    report = _coverage(config, _export(tmp_path), features=None)
    assert report.warnings[0].startswith("no field with a role evasion hardening edits")
    assert report.warnings[1].startswith("fields outside the vocabulary without a role: cmdline;")
    declared = {**config, "fields": {"cmdline": {"path": "proc.cmd", "role": "command_line"}}}
    assert _coverage(declared, _export(tmp_path), features=None).warnings == []
