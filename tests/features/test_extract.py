"""Feature extraction: concrete rows, missing values, frame dtypes and honest source fields."""

import math
import pickle

import numpy as np
import pandas as pd
import pytest

from alertlens.alerts.schema import Alert
from alertlens.config import compose
from alertlens.features import FeatureExtractor, FeatureSpec
from alertlens.features.parsers import NO_VALUE

ENCODED = "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkA"
TUESDAY_22H = 1700000000.0  # 2023-11-14 22:13:20 UTC

SPEC = {
    "networks": {"vuln_scanners": ["10.0.5.0/28"], "internal": ["10.0.0.0/8"]},
    "features": [
        {"kind": "source"},
        {"kind": "time"},
        {"kind": "categorical", "field": "process_name"},
        {"kind": "numeric", "field": "dest_port"},
        {"kind": "boolean", "field": "blocked"},
        {"kind": "ip", "field": "src_ip", "networks": ["vuln_scanners", "internal"]},
        {"kind": "url", "field": "url"},
        {"kind": "command_line", "field": "command_line"},
        {"kind": "text_stats", "field": "command_line"},
        {"kind": "keywords", "field": "command_line", "keywords": ["-enc", "bypass", "http"]},
    ],
}
FULL_FIELDS = {
    "process_name": " powershell.exe ",
    "dest_port": 443,
    "blocked": True,
    "src_ip": "10.0.5.3",
    "url": "/a/b/c.php?x=1&y=%2527",
    "command_line": f"powershell.exe -NoP -enc {ENCODED}",
}


@pytest.fixture(scope="module")
def extractor():
    return FeatureExtractor(FeatureSpec.from_config(SPEC))


def alert(fields=None, timestamp=TUESDAY_22H, source="edr"):
    return Alert(id="a1", timestamp=timestamp, source=source, fields=dict(fields or {}))


def row_of(extractor, fields=None, **kwargs):
    row = extractor.extract(alert(fields, **kwargs))
    assert len(row) == len(extractor.columns)
    return {column.name: value for column, value in zip(extractor.columns, row, strict=True)}


def same(a, b):
    """Equality where NaN equals NaN (a missing number is a value)."""
    return a == b or (
        isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)
    )


def test_full_alert_row(extractor):
    row = row_of(extractor, FULL_FIELDS)
    assert row["source"] == "edr"
    assert (row["hour"], row["weekday"]) == (22.0, 1.0)
    assert row["process_name"] == "powershell.exe"
    assert row["dest_port"] == 443.0
    assert row["blocked"] == 1.0
    assert row["src_ip_scope"] == "private"
    assert row["src_ip_subnet"] == "10.0.5.0/24"
    assert (row["src_ip_in_vuln_scanners"], row["src_ip_in_internal"]) == (1.0, 1.0)
    assert (row["url_path_depth"], row["url_n_params"]) == (3.0, 2.0)
    assert (row["url_extension"], row["url_double_encoded"]) == ("php", 1.0)
    assert row["command_line_executable"] == "powershell.exe"
    assert row["command_line_has_encoded_flag"] == 1.0
    assert row["command_line_has_base64"] == 1.0
    assert row["command_line_length"] == float(len(FULL_FIELDS["command_line"]))
    assert row["command_line_contains_enc"] == 1.0
    assert row["command_line_contains_bypass"] == 0.0


def test_bypass_without_encoded_flag(extractor):
    row = row_of(extractor, {"command_line": "PowerShell -ExecutionPolicy BYPASS -File x.ps1"})
    assert row["command_line_has_encoded_flag"] == 0.0
    assert row["command_line_contains_bypass"] == 1.0  # case-insensitive keyword
    assert row["command_line_executable"] == "powershell"


def test_missing_fields_are_none_or_nan(extractor):
    row = row_of(extractor, {})
    for column in extractor.columns:
        value = row[column.name]
        if column.name in ("source", "hour", "weekday"):
            continue
        if column.dtype == "categorical":
            assert value is None, column.name
        else:
            assert math.isnan(value), column.name


def test_non_finite_timestamp_gives_nan_time(extractor):
    row = row_of(extractor, {}, timestamp=float("nan"))
    assert math.isnan(row["hour"]) and math.isnan(row["weekday"])


def test_time_before_the_epoch(extractor):
    row = row_of(extractor, {}, timestamp=-1.0)  # 1969-12-31 23:59:59, a Wednesday
    assert (row["hour"], row["weekday"]) == (23.0, 2.0)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(443, 443.0), ("8080", 8080.0), (" 22 ", 22.0), ("n/a", math.nan), (True, 1.0), (1.5, 1.5)],
)
def test_numeric_values(extractor, value, expected):
    assert same(row_of(extractor, {"dest_port": value})["dest_port"], expected)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, 1.0), (False, 0.0), ("yes", 1.0), (" FALSE ", 0.0), ("maybe", math.nan), (0, 0.0)],
)
def test_boolean_values(extractor, value, expected):
    assert same(row_of(extractor, {"blocked": value})["blocked"], expected)


@pytest.mark.parametrize(
    ("value", "expected"), [("  svchost.exe ", "svchost.exe"), ("", None), (3, "3")]
)
def test_categorical_values(extractor, value, expected):
    assert row_of(extractor, {"process_name": value})["process_name"] == expected


def test_non_text_values_in_text_features_are_stringified(extractor):
    row = row_of(extractor, {"command_line": 12345, "url": 7, "src_ip": 42})
    assert row["command_line_length"] == 5.0
    assert row["command_line_digit_ratio"] == 1.0
    assert row["command_line_executable"] == "12345"
    assert row["url_path_length"] == 1.0
    assert row["src_ip_scope"] == "invalid"


def test_invalid_ip_is_a_value_not_an_error(extractor):
    row = row_of(extractor, {"src_ip": "999.1.1.1"})
    assert (row["src_ip_scope"], row["src_ip_subnet"]) == ("invalid", None)
    assert (row["src_ip_in_vuln_scanners"], row["src_ip_in_internal"]) == (0.0, 0.0)


def test_public_ip_outside_networks(extractor):
    row = row_of(extractor, {"src_ip": "203.0.114.9"})
    assert (row["src_ip_scope"], row["src_ip_subnet"]) == ("public", "203.0.114.0/24")
    assert (row["src_ip_in_vuln_scanners"], row["src_ip_in_internal"]) == (0.0, 0.0)


def test_empty_command_line_is_present_not_missing(extractor):
    row = row_of(extractor, {"command_line": ""})
    assert row["command_line_executable"] == NO_VALUE
    assert row["command_line_length"] == 0.0


def test_repeated_values_give_identical_rows(extractor):
    # Parsed values are cached by text; a cache hit must return what a miss computed.
    first = extractor.extract(alert(FULL_FIELDS))
    second = extractor.extract(alert(FULL_FIELDS))
    assert all(same(a, b) for a, b in zip(first, second, strict=True))
    assert first is not second


def test_rows_are_independent(extractor):
    row = extractor.extract(alert(FULL_FIELDS))
    row[0] = "mutated"
    assert extractor.extract(alert({}))[0] == "edr"


def test_removing_a_field_changes_only_its_columns(extractor):
    full = row_of(extractor, FULL_FIELDS)
    sources = extractor.source_fields()
    for field in FULL_FIELDS:
        masked = row_of(extractor, {k: v for k, v in FULL_FIELDS.items() if k != field})
        changed = {name for name in full if not same(full[name], masked[name])}
        reading = {name for name, fields in sources.items() if field in fields}
        assert changed and changed <= reading, field


def test_source_fields(extractor):
    sources = extractor.source_fields()
    assert list(sources) == [column.name for column in extractor.columns]
    assert sources["source"] == ("source",)
    assert sources["hour"] == sources["weekday"] == ("timestamp",)
    assert sources["src_ip_in_vuln_scanners"] == ("src_ip",)
    assert sources["url_extension"] == ("url",)
    assert (
        sources["command_line_entropy"] == sources["command_line_contains_enc"] == ("command_line",)
    )
    by_field = {}
    for name, fields in sources.items():
        by_field.setdefault(fields, []).append(name)
    assert {fields: len(names) for fields, names in by_field.items()} == {
        ("source",): 1,
        ("timestamp",): 2,
        ("process_name",): 1,
        ("dest_port",): 1,
        ("blocked",): 1,
        ("src_ip",): 4,
        ("url",): 8,
        ("command_line",): 5 + 9 + 3,
    }


def test_extract_frame_dtypes_and_order(extractor):
    frame = extractor.extract_frame(
        [alert(FULL_FIELDS), alert({}, source="waf"), alert({"src_ip": "8.8.8.8"})]
    )
    assert list(frame.columns) == [column.name for column in extractor.columns]
    assert frame.shape == (3, len(extractor.columns))
    for column in extractor.columns:
        expected = "category" if column.dtype == "categorical" else np.float64
        assert frame[column.name].dtype == expected, column.name
    assert frame["source"].tolist() == ["edr", "waf", "edr"]
    assert frame["src_ip_scope"].tolist()[0::2] == ["private", "public"]
    assert pd.isna(frame["src_ip_scope"].iloc[1])
    assert frame["dest_port"].tolist()[0] == 443.0
    assert np.isnan(frame["dest_port"].iloc[1])


def test_extract_frame_matches_extract(extractor):
    alerts = [alert(FULL_FIELDS), alert({"url": "http://1.2.3.4/x.exe"})]
    frame = extractor.extract_frame(iter(alerts))  # any iterable, not only lists
    for index, one in enumerate(alerts):
        row = extractor.extract(one)
        framed = frame.iloc[index].tolist()
        assert all(
            same(a, b) or (a is None and pd.isna(b)) for a, b in zip(row, framed, strict=True)
        )


def test_extract_frame_of_no_alerts_keeps_columns_and_dtypes(extractor):
    frame = extractor.extract_frame([])
    assert frame.shape == (0, len(extractor.columns))
    assert frame["source"].dtype == "category"
    assert frame["dest_port"].dtype == np.float64


def test_extractor_pickles_by_spec(extractor):
    copy = pickle.loads(pickle.dumps(extractor))
    assert copy.spec == extractor.spec
    first, second = copy.extract(alert(FULL_FIELDS)), extractor.extract(alert(FULL_FIELDS))
    assert all(same(a, b) for a, b in zip(first, second, strict=True))


def test_default_spec_extracts_every_column():
    spec = FeatureSpec.from_config(compose()["features"])
    extractor = FeatureExtractor(spec)
    fields = {
        "rule_name": "ET SCAN Nmap",
        "severity": 2,
        "src_ip": "10.0.5.1",
        "dest_ip": "2001:4860::1",
        "url": "/cgi-bin/../../etc/passwd",
        "user_agent": "sqlmap/1.7",
        "command_line": "cmd.exe /c whoami",
        "failed_logins": "7",
    }
    row = row_of(extractor, fields, source="waf")
    assert len(row) == len(spec.columns()) == 134
    assert row["src_ip_in_vuln_scanners"] == 1.0
    assert (row["dest_ip_scope"], row["dest_ip_in_internal"]) == ("public", 0.0)
    assert row["url_contains_dot_dot_slash"] == row["url_contains_passwd"] == 1.0
    assert row["user_agent_contains_sqlmap"] == 1.0
    assert row["command_line_contains_whoami"] == 1.0
    assert row["failed_logins"] == 7.0
    assert row["auth_outcome"] is None
