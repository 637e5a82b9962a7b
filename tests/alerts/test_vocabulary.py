import pytest

from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.vocabulary import (
    CANONICAL,
    ROLES,
    attacker_text_fields,
    field_roles,
    fields_with_roles,
    roles_of_data_config,
)


def test_every_canonical_field_has_a_known_role_and_a_meaning() -> None:
    assert all(f.role in ROLES and f.meaning for f in CANONICAL.values())
    assert CANONICAL["command_line"].role == "command_line"
    assert (CANONICAL["src_ip"].role, CANONICAL["dest_port"].role) == ("address", "numeric")


def test_attacker_text_comes_in_the_vocabulary_order_then_a_configs_own_fields() -> None:
    assert attacker_text_fields() == (
        "command_line",
        "url",
        "query_args",
        "user_agent",
        "dns_query",
        "tls_sni",
        "parent_command_line",
    )
    roles = roles_of_data_config(
        {
            "fields": {
                "cmdline": {"path": "proc.cmd", "role": "command_line"},
                "payload": {"path": "payload_printable", "role": "free_text"},
                "rule_name": "rule.name",
                "tls_sni": {"path": "tls.sni", "role": "categorical"},  # a config may override
            }
        }
    )
    assert attacker_text_fields(roles)[-2:] == ("cmdline", "payload")
    assert "tls_sni" not in attacker_text_fields(roles)
    assert fields_with_roles(roles, ("query", "command_line")) == (
        "query_args",
        "command_line",
        "cmdline",
    )


def test_an_unknown_role_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="field 'x': role must be one of command_line, url"):
        field_roles({"x": "shellcode"})
    with pytest.raises(ValueError, match="field 'cmdline': role must be one of"):
        DataMapping.from_config(
            {
                "name": "t",
                "format": "jsonl",
                "id": "id",
                "timestamp": "ts",
                "label": None,
                "fields": {"cmdline": {"path": "c", "role": "shell"}},
            }
        )
