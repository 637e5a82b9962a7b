"""The canonical alert vocabulary: the normalized field names later stages understand, and the
role each one plays.

Data configs map an export's fields onto these names (in the spirit of the Elastic Common
Schema). What a stage does with a field follows from its role, not from its name: evasion
transforms rewrite the attacker-controlled text of their role (a command line, a URL, a query
string, a user agent), teacher-guided keywords are drawn from every attacker-controlled text
field, and ``alertlens ingest --check`` warns when a field that drives features or hardening is
absent. A data config may add fields of its own and give them a role (``{path, role}``): a
command line called ``cmdline`` with ``role: command_line`` is hardened and keyword-guided like
``command_line``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

# Role -> what it means. The first five are text an attacker controls, in whole or in part.
ROLES: dict[str, str] = {
    "command_line": "a process command line (evasion: command-line rewrites, filler edits)",
    "url": "a requested URL or path with its query (evasion: percent-encoding, SQL spacing)",
    "query": "a query string or request arguments alone (evasion: encoding, SQL, padding)",
    "user_agent": "a client-chosen header such as the user agent (evasion: filler, padding)",
    "free_text": "other text an attacker influences (a queried name, a parent's command line)",
    "label_text": "text the detection writes (rule name, signature, log line)",
    "categorical": "a value from a bounded set (host, user, process, protocol, action)",
    "numeric": "a count, size, port, code or score",
    "address": "an IP address",
    "flag": "a yes/no value",
}
ATTACKER_TEXT = ("command_line", "url", "query", "user_agent", "free_text")


@dataclass(frozen=True)
class CanonicalField:
    """One normalized field name, its role and what it holds."""

    name: str
    role: str
    meaning: str


def _fields(role: str, entries: str) -> tuple[CanonicalField, ...]:
    """``name: meaning`` lines of one role."""
    pairs = (line.split(":", 1) for line in entries.strip().splitlines())
    return tuple(CanonicalField(name.strip(), role, meaning.strip()) for name, meaning in pairs)


# Attacker-controlled text comes first, in the order guided keywords are ranked.
VOCABULARY: tuple[CanonicalField, ...] = (
    *_fields("command_line", "command_line: the process's command line"),
    *_fields("url", "url: the requested URL, or path and query"),
    *_fields("query", "query_args: the request's query string or form arguments"),
    *_fields("user_agent", "user_agent: the HTTP User-Agent header"),
    *_fields(
        "free_text",
        """
        dns_query: the name looked up
        tls_sni: the TLS server name the client asked for
        parent_command_line: the parent process's command line
        """,
    ),
    *_fields(
        "label_text",
        """
        rule_name: the detection rule's name or title
        ids_signature: an IDS signature forwarded inside the alert
        full_log: the raw log line the alert was raised on
        """,
    ),
    *_fields(
        "categorical",
        """
        category: the rule's or product's category
        tenant: the customer or business unit
        host: the host the alert is about
        os: the host's operating system
        user: the account involved
        proto: the transport protocol
        app_proto: the application protocol
        http_method: the HTTP method
        http_host: the HTTP Host header
        dns_type: the DNS record type asked for
        tls_version: the TLS version
        ja3: the TLS client fingerprint
        process_name: the process's executable name
        process_path: the process's executable path
        parent_process: the parent process's executable name
        file_path: the file the alert is about
        auth_service: the service authenticated to
        auth_method: the authentication method
        auth_outcome: success or failure
        client_country: the client's country
        waf_action: what the WAF did
        """,
    ),
    *_fields(
        "numeric",
        """
        rule_id: the rule's numeric id
        severity: the rule's severity or risk score
        src_port: the source port
        dest_port: the destination port
        http_status: the HTTP response status
        bytes_out: bytes sent by the client
        bytes_in: bytes sent to the client
        failed_logins: failed logins in the rule's window
        distinct_users: distinct accounts tried from one address
        """,
    ),
    *_fields(
        "address",
        """
        src_ip: the source address
        dest_ip: the destination address
        host_ip: the host's address
        """,
    ),
)
CANONICAL: dict[str, CanonicalField] = {f.name: f for f in VOCABULARY}
# What the detection itself says about an alert: where it came from, which rule fired, its
# category and severity. Explanations show them as the alert's kind, apart from the reasons
# (which name evidence in the alert's content), and counterfactuals never change them: another
# rule firing would be another alert.
DETECTION_FIELDS = ("source", "rule_name", "rule_id", "ids_signature", "category", "severity")


def field_roles(declared: Mapping[str, str | None] | None = None) -> dict[str, str]:
    """Field name -> role: the vocabulary's, then a data config's (its own fields, or a
    canonical field it gives another role). Unknown roles are an error."""
    roles = {f.name: f.role for f in VOCABULARY}
    for name, role in (declared or {}).items():
        if role is None:
            continue
        if role not in ROLES:
            raise ValueError(
                f"field '{name}': role must be one of {', '.join(ROLES)}, got {role!r}"
            )
        roles[name] = role
    return roles


def fields_with_roles(roles: Mapping[str, str], wanted: Iterable[str]) -> tuple[str, ...]:
    """The fields whose role is among ``wanted``, role by role in that order and, within a
    role, vocabulary fields first (in vocabulary order), then a config's own (in its order)."""
    return tuple(name for role in wanted for name, has in roles.items() if has == role)


def attacker_text_fields(roles: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """Fields holding text an attacker controls, in the vocabulary's order (guided keywords)."""
    roles = roles if roles is not None else field_roles()
    return tuple(name for name, role in roles.items() if role in ATTACKER_TEXT)


def roles_of_data_config(data_cfg: Mapping[str, Any] | None) -> dict[str, str]:
    """:func:`field_roles` with the roles a data config's ``fields`` declare (``{path, role}``)."""
    fields = (data_cfg or {}).get("fields") or {}
    declared = {
        name: spec.get("role") for name, spec in fields.items() if isinstance(spec, Mapping)
    }
    return field_roles(declared)
