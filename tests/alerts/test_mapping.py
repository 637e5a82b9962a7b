import ipaddress
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alertlens.alerts.ingest import read_export
from alertlens.alerts.mapping import (
    _IPV4,
    DataMapping,
    LabelRule,
    RecordError,
    coerce,
    parse_timestamp,
)
from alertlens.alerts.schema import Alert, GroundTruth


def _record(**overrides: Any) -> dict[str, Any]:
    record = {
        "id": "a1",
        "ts": "2026-01-05T10:00:00Z",
        "kind": "edr",
        "host": "ws-1",
        "verdict": "tp",
        "proc": {"cmd": "powershell -enc SQBFAFgA"},
        "net": {"port": "443", "src": "10.0.5.3"},
    }
    record.update(overrides)
    return record


def test_normalize_maps_nested_paths_and_types(toy_data_config: dict) -> None:
    alert = DataMapping.from_config(toy_data_config).normalize(_record(), raw="{}")
    assert (alert.id, alert.source, alert.label, alert.group) == ("a1", "edr", 1, "ws-1")
    assert alert.timestamp == 1767607200.0
    assert alert.fields == {
        "command_line": "powershell -enc SQBFAFgA",
        "dest_port": 443,
        "src_ip": "10.0.5.3",
    }


def test_first_present_path_wins(toy_data_config: dict) -> None:
    mapping = DataMapping.from_config(toy_data_config)
    assert mapping.normalize(_record(req={"uri": "/a"}), raw="{}").fields["url"] == "/a"
    assert (
        mapping.normalize(_record(http={"url": "/b"}, req={"uri": "/a"}), raw="{}").fields["url"]
        == "/b"
    )


@pytest.mark.parametrize(
    ("overrides", "reason", "message"),
    [
        ({"id": None}, "missing_field", "required field id ('id') is missing"),
        ({"ts": "yesterday"}, "wrong_type", "field timestamp: not epoch or ISO 8601: 'yesterday'"),
        ({"ts": "NaN"}, "wrong_type", "field timestamp: not epoch or ISO 8601: 'NaN'"),
        ({"ts": "inf"}, "wrong_type", "field timestamp: not epoch or ISO 8601: 'inf'"),
        ({"ts": 1e400}, "wrong_type", "field timestamp: not epoch or ISO 8601: inf"),
        ({"ts": float("nan")}, "wrong_type", "field timestamp: not epoch or ISO 8601: nan"),
        (
            {"net": {"port": "9" * 400}},
            "wrong_type",
            f"field dest_port: expected int, got '{'9' * 400}'",
        ),
        (
            {"proc": {"cmd": "whoami \ud800"}},
            "wrong_type",
            "field command_line: expected str, got 'whoami \\ud800'",
        ),
        ({"net": {"port": "https"}}, "wrong_type", "field dest_port: expected int, got 'https'"),
        ({"net": {"src": "10.0.5"}}, "wrong_type", "field src_ip: expected ip, got '10.0.5'"),
        (
            {"proc": {"cmd": {"nested": 1}}},
            "wrong_type",
            "field command_line: expected str, got a nested dict",
        ),
        (
            {"verdict": "maybe"},
            "unknown_label",
            "label value 'maybe' in 'verdict' is not in the data config",
        ),
    ],
)
def test_bad_records_raise_with_reason(
    toy_data_config: dict, overrides: dict, reason: str, message: str
) -> None:
    with pytest.raises(RecordError) as caught:
        DataMapping.from_config(toy_data_config).normalize(_record(**overrides), raw="{}")
    assert (caught.value.reason, caught.value.message) == (reason, message)


def test_missing_id_path_derives_a_stable_id(toy_data_config: dict) -> None:
    mapping = DataMapping.from_config({**toy_data_config, "id": None})
    first = mapping.normalize(_record(), raw='{"x": 1}').id
    assert (
        first
        == mapping.normalize(_record(), raw='{"x": 1}').id
        != mapping.normalize(_record(), raw='{"x": 2}').id
    )


def test_label_rule_every_value_except_dash_is_true_positive() -> None:
    rule = LabelRule(path="case", false_positive=["-"], true_positive="*", unlabeled=[None, ""])
    assert [rule.label_of({"case": v}) for v in ["-", "INC-42", "", None]] == [0, 1, None, None]


def test_label_rule_values_compare_case_insensitively() -> None:
    rule = LabelRule(
        path="v", false_positive=[False, "benign"], true_positive=[True], unlabeled=[None]
    )
    assert [rule.label_of({"v": v}) for v in ["False", "BENIGN", "true", True]] == [0, 0, 1, 1]
    with pytest.raises(ValueError, match="both false and true positive"):
        LabelRule(path="v", false_positive=["x"], true_positive=["X"])


def test_missing_label_is_a_reject_unless_declared_unlabeled() -> None:
    rule = LabelRule(path="v", false_positive=["fp"], true_positive=["tp"], unlabeled=["open"])
    with pytest.raises(RecordError, match="label field 'v' is missing"):
        rule.label_of({})


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1767607200, 1767607200.0),
        (1767607200123, 1767607200.123),
        ("1767607200", 1767607200.0),
        ("2026-01-05T04:00:00-0600", 1767607200.0),
        ("2026-01-05 10:00:00", 1767607200.0),
    ],
)
def test_parse_timestamp_accepts_epoch_and_iso(value: Any, expected: float) -> None:
    assert parse_timestamp(value) == pytest.approx(expected)


def test_coerce_rejects_bools_as_numbers() -> None:
    assert (
        coerce("8080", "int") == 8080
        and coerce(True, "str") == "true"
        and coerce("yes", "bool") is True
    )
    assert coerce(-(2**63) + 1, "int") == -(2**63) + 1 and coerce("1e300", "float") == 1e300
    bad = [(True, "int"), (2.5, "int"), (False, "float"), ("maybe", "bool"), (2**63, "int")]
    bad += [("nan", "float"), ("-inf", "float"), (float("inf"), "float"), ("\udc80", "str")]
    for value, kind in bad:
        with pytest.raises(ValueError, match=f"expected {kind}"):
            coerce(value, kind)


def test_config_validation_names_the_problem(toy_data_config: dict) -> None:
    with pytest.raises(ValueError, match="text_fields \\['nope'\\] are not declared"):
        DataMapping.from_config({**toy_data_config, "text_fields": ["nope"]})
    with pytest.raises(ValueError, match="type must be one of"):
        DataMapping.from_config({**toy_data_config, "fields": {"x": {"path": "x", "type": "date"}}})


def test_a_data_config_missing_a_required_key_is_a_user_error_naming_it() -> None:
    with pytest.raises(ValueError, match="missing required key\\(s\\) format, timestamp"):
        DataMapping.from_config({"name": "mysoc", "fields": {}})


def test_numeric_ids_beyond_64_bits_stay_distinct(tmp_path: Path, toy_data_config: dict) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text(
        '{"id": 123456789012345678901234567890, "ts": 1767607200, "kind": "edr"}\n'
        '{"id": 123456789012345678901234567891, "ts": 1767607200, "kind": "edr"}\n'
        '{"id": 1.5e3, "ts": 1767607200, "kind": "edr"}\n'
    )
    mapping = DataMapping.from_config({**toy_data_config, "label": None})
    alerts, counts = read_export(mapping, path, 0.0)
    assert [a.id for a in alerts] == [
        "123456789012345678901234567890",
        "123456789012345678901234567891",
        "1500.0",
    ]
    assert counts.rejected == 0


def test_ground_truth_is_read_where_the_config_says_and_survives_the_splits(
    toy_data_config: dict,
) -> None:
    mapping = DataMapping.from_config(
        {**toy_data_config, "truth": {"cause": "_synth.scenario", "evidence": "_synth.evidence"}}
    )
    synth = {"scenario": "encoded_powershell", "evidence": ["command_line", "parent_process"]}
    alert = mapping.normalize(_record(_synth=synth), raw="{}")
    assert alert.truth == GroundTruth("encoded_powershell", ("command_line", "parent_process"))
    assert "_synth" not in str(alert.fields)  # never model input
    saved = alert.to_dict()
    assert saved["truth"] == {"cause": "encoded_powershell", "evidence": synth["evidence"]}
    assert Alert.from_dict(saved) == alert
    assert mapping.normalize(_record(), raw="{}").truth is None  # a record without it
    older = _record(_synth={"scenario": "webshell"})  # written before evidence was recorded
    assert mapping.normalize(older, raw="{}").truth is None
    with pytest.raises(RecordError) as caught:
        mapping.normalize(_record(_synth={"scenario": "x", "evidence": "command_line"}), raw="{}")
    assert caught.value.reason == "wrong_type"
    for evidence in ([{"field": "command_line"}], ["command_line", 3]):  # unhashable, not a name
        with pytest.raises(RecordError, match="evidence must be a list of field names"):
            mapping.normalize(_record(_synth={"scenario": "x", "evidence": evidence}), raw="{}")
    again = mapping.normalize(_record(_synth=dict(synth)), raw="{}")
    assert again.truth is alert.truth  # one GroundTruth per cause, shared by its alerts


def test_an_alert_without_ground_truth_serializes_as_before(toy_data_config: dict) -> None:
    alert = DataMapping.from_config(toy_data_config).normalize(_record(), raw="{}")
    assert list(alert.to_dict()) == ["id", "timestamp", "source", "label", "group", "fields"]


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("10.0.5.3", True),
        (" 255.255.255.255 ", True),
        ("2001:db8::1", True),
        ("0.0.0.0", True),
        ("256.1.1.1", False),
        ("01.2.3.4", False),  # leading zero: ipaddress refuses it, so must the fast path
        ("1.2.3", False),
        ("1.2.3.4.5", False),
        ("\u0661.2.3.4", False),  # an Arabic-Indic digit: not ASCII
        ("1.2.3.4\n5", False),
    ],
)
def test_ip_fields_accept_what_ipaddress_accepts(text: str, valid: bool) -> None:
    if valid:
        assert coerce(text, "ip") == text.strip()
    else:
        with pytest.raises(ValueError):
            coerce(text, "ip")


@given(st.text(alphabet="0123456789.", max_size=16))
def test_the_fast_ipv4_check_accepts_only_addresses(text: str) -> None:
    fast = _IPV4.fullmatch(text) is not None
    try:
        ipaddress.IPv4Address(text)
        exact = True
    except ValueError:
        exact = False
    assert fast == exact
