"""Feature spec: columns per kind, validation messages, and the shipped default config."""

import pytest
import yaml
from omegaconf import OmegaConf

from alertlens.config import compose
from alertlens.features import KINDS, FeatureColumn, FeatureDef, FeatureSpec
from alertlens.features.spec import keyword_slug

NORMALIZED_FIELDS = {
    "rule_name", "rule_id", "severity", "category", "tenant", "host", "host_ip", "os", "user",
    "src_ip", "src_port", "dest_ip", "dest_port", "proto", "app_proto", "http_method",
    "http_host", "url", "user_agent", "http_status", "bytes_out", "bytes_in", "dns_query",
    "dns_type", "tls_sni", "tls_version", "ja3", "process_name", "process_path", "command_line",
    "parent_process", "parent_command_line", "auth_service", "auth_method", "auth_outcome",
    "failed_logins", "distinct_users", "client_country", "query_args", "waf_action",
}  # fmt: skip
NETWORKS = {"vuln_scanners": ["10.0.5.0/28"], "internal": ["10.0.0.0/8", "192.168.0.0/16"]}


def spec_of(*features, networks=None):
    return FeatureSpec.from_config(
        {"networks": NETWORKS if networks is None else networks, "features": list(features)}
    )


def columns_of(feature):
    return {column.name: column for column in spec_of(feature).columns()}


def test_source_and_time_columns_read_the_alert_itself():
    spec = spec_of({"kind": "source"}, {"kind": "time"})
    assert spec.columns() == [
        FeatureColumn("source", "categorical", ("source",), "alert source"),
        FeatureColumn("hour", "numeric", ("timestamp",), "hour of day (UTC)"),
        FeatureColumn("weekday", "numeric", ("timestamp",), "day of week (UTC, Monday=0)"),
    ]


@pytest.mark.parametrize(
    ("kind", "dtype"),
    [("categorical", "categorical"), ("numeric", "numeric"), ("boolean", "numeric")],
)
def test_single_column_kinds(kind, dtype):
    [column] = spec_of({"kind": kind, "field": "dest_port"}).columns()
    assert (column.name, column.dtype, column.source_fields) == ("dest_port", dtype, ("dest_port",))


def test_ip_columns():
    columns = columns_of(
        {"kind": "ip", "field": "src_ip", "networks": ["vuln_scanners", "internal"]}
    )
    assert list(columns) == [
        "src_ip_scope",
        "src_ip_subnet",
        "src_ip_in_vuln_scanners",
        "src_ip_in_internal",
    ]
    assert columns["src_ip_scope"].dtype == columns["src_ip_subnet"].dtype == "categorical"
    assert columns["src_ip_in_vuln_scanners"].dtype == "numeric"
    assert columns["src_ip_in_vuln_scanners"].description == "src_ip is in network vuln_scanners"


def test_ip_without_networks_has_scope_and_subnet_only():
    assert list(columns_of({"kind": "ip", "field": "dest_ip"})) == [
        "dest_ip_scope",
        "dest_ip_subnet",
    ]


def test_url_columns():
    columns = columns_of({"kind": "url", "field": "url"})
    assert list(columns) == [
        "url_path_depth",
        "url_path_length",
        "url_query_length",
        "url_n_params",
        "url_extension",
        "url_pct_encoded",
        "url_double_encoded",
        "url_host_is_ip",
    ]
    assert [name for name, c in columns.items() if c.dtype == "categorical"] == ["url_extension"]


def test_command_line_columns():
    columns = columns_of({"kind": "command_line", "field": "command_line"})
    assert list(columns) == [
        "command_line_executable",
        "command_line_n_args",
        "command_line_has_encoded_flag",
        "command_line_has_url",
        "command_line_n_obfuscation_chars",
    ]
    assert columns["command_line_executable"].dtype == "categorical"


def test_text_stats_columns():
    columns = columns_of({"kind": "text_stats", "field": "command_line"})
    assert [name.removeprefix("command_line_") for name in columns] == [
        "length",
        "entropy",
        "upper_ratio",
        "digit_ratio",
        "special_ratio",
        "longest_base64_run",
        "has_base64",
        "hex_run",
        "url_encoded_count",
    ]
    assert all(column.dtype == "numeric" for column in columns.values())
    assert columns["command_line_entropy"].description.startswith("entropy of command_line")


def test_keyword_columns():
    columns = columns_of(
        {"kind": "keywords", "field": "command_line", "keywords": ["-enc", "Bypass", "../"]}
    )
    assert list(columns) == [
        "command_line_contains_enc",
        "command_line_contains_bypass",
        "command_line_contains_dot_dot_slash",
    ]
    assert columns["command_line_contains_enc"].description == 'command_line contains "-enc"'


@pytest.mark.parametrize(
    ("keyword", "slug"),
    [
        ("-enc", "enc"),
        ("javascript:", "javascript"),
        ("or 1=1", "or_1_1"),
        ("DownloadString", "downloadstring"),
        ("../", "dot_dot_slash"),
        ("%2e", "2e"),
        ("<>", "lt_gt"),
        ("§", "xa7"),
    ],
)
def test_keyword_slug(keyword, slug):
    assert keyword_slug(keyword) == slug


def test_every_kind_yields_columns():
    for kind in KINDS:
        entry = {"kind": kind}
        if kind not in ("source", "time"):
            entry["field"] = "url"
        if kind == "keywords":
            entry["keywords"] = ["x"]
        assert spec_of(entry).columns(), kind


SRC_IP = {"kind": "ip", "field": "src_ip"}
KEYWORDS = {"kind": "keywords", "field": "url"}


@pytest.mark.parametrize(
    ("features", "message"),
    [
        ([{"kind": "source"}, {"kind": "colour"}], r"features\[1\]: unknown kind 'colour'"),
        ([{"kind": "categorical"}], r"features\[0\]: categorical feature needs 'field'"),
        ([{"field": "url"}], r"features\[0\]: a feature must be a mapping with a 'kind'"),
        ([{"kind": "url", "field": "url", "networks": ["internal"]}], "unexpected key.*networks"),
        ([{"kind": "numeric", "field": "bytes out"}], "a field name; got 'bytes out'"),
        ([{"kind": "time", "field": "timestamp"}], "time feature: unexpected key.*field"),
        (
            [{**SRC_IP, "networks": ["scanners"]}],
            r"features\[0\] \(ip feature on 'src_ip'\): unknown network\(s\) scanners; "
            "defined networks: vuln_scanners, internal",
        ),
        ([{**SRC_IP, "networks": "internal"}], "'networks' must be a list"),
        ([KEYWORDS], "'keywords' must be a non-empty list"),
        (
            [{**KEYWORDS, "keywords": ["-enc", "enc"]}],
            "keywords '-enc' and 'enc' both map to the column name suffix 'enc'",
        ),
        ([{**KEYWORDS, "keywords": ["  "]}], "must be non-blank"),
        ([], "features: the list is empty"),
        (
            [{"kind": "source"}, {"kind": "source"}],
            r"features\[1\] \(source feature\): column 'source' is already produced by "
            r"features\[0\]",
        ),
    ],
)
def test_validation_errors_name_the_bad_entry(features, message):
    with pytest.raises(ValueError, match=message):
        spec_of(*features)


@pytest.mark.parametrize(
    ("networks", "message"),
    [
        ({"lab": ["10.0.5.1/28"]}, "networks.lab: '10.0.5.1/28' is not a valid CIDR"),
        ({"my-lab": ["10.0.0.0/8"]}, "name 'my-lab' must be an identifier"),
    ],
)
def test_network_errors_name_the_bad_network(networks, message):
    with pytest.raises(ValueError, match=message):
        spec_of({"kind": "source"}, networks=networks)


@pytest.mark.parametrize(
    ("cfg", "message"),
    [
        ({"networks": {}}, "needs 'features', a list"),
        ({"features": [{"kind": "source"}], "featurs": []}, "unexpected key.*featurs"),
        (
            {"networks": ["10.0.0.0/8"], "features": [{"kind": "source"}]},
            "networks must map a name",
        ),
        (["source"], "feature spec must be a mapping"),
    ],
)
def test_from_config_rejects_malformed_specs(cfg, message):
    with pytest.raises(ValueError, match=message):
        FeatureSpec.from_config(cfg)


def test_direct_construction_is_validated_too():
    with pytest.raises(ValueError, match="unknown kind 'nope'"):
        FeatureDef(kind="nope")
    with pytest.raises(ValueError, match="time feature takes no 'field'"):
        FeatureDef(kind="time", field="timestamp")
    with pytest.raises(ValueError, match="unknown network"):
        FeatureSpec(networks={}, features=(FeatureDef("ip", "src_ip", networks=("internal",)),))


def test_to_dict_round_trips():
    spec = spec_of(
        {"kind": "source"},
        {"kind": "ip", "field": "src_ip", "networks": ["internal"]},
        {"kind": "keywords", "field": "url", "keywords": ["jndi", "../"]},
    )
    data = spec.to_dict()
    assert data["features"][1] == {"kind": "ip", "field": "src_ip", "networks": ["internal"]}
    assert data["networks"]["internal"] == ["10.0.0.0/8", "192.168.0.0/16"]
    assert yaml.safe_load(yaml.safe_dump(data)) == data  # plain types only
    assert FeatureSpec.from_config(data) == spec


def load_default():
    """The shipped features as composed (its networks are the default data config's)."""
    return FeatureSpec.from_config(compose()["features"])


def test_shipped_default_spec_loads():
    spec = load_default()
    names = [column.name for column in spec.columns()]
    assert len(names) == len(set(names)) == 134
    assert set(spec.networks) == {"vuln_scanners", "internal"}
    for name in ("source", "hour", "src_ip_in_vuln_scanners", "dest_ip_scope", "url_extension",
                 "command_line_has_encoded_flag", "command_line_contains_enc",
                 "user_agent_contains_sqlmap", "query_args_entropy", "tls_sni_length"):  # fmt: skip
        assert name in names


def test_default_spec_reads_only_known_fields():
    read = {field for column in load_default().columns() for field in column.source_fields}
    assert read - {"source", "timestamp"} <= NORMALIZED_FIELDS
    assert {"source", "timestamp", "src_ip", "command_line", "url"} <= read


def test_default_spec_loads_through_omegaconf_as_hydra_composes_it():
    cfg = OmegaConf.create({"features": compose()["features"]})
    assert FeatureSpec.from_config(cfg.features) == load_default()
