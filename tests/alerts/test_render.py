import pytest

from alertlens.alerts.render import RenderConfig, clip, render_spans, render_text, text_digest
from alertlens.alerts.schema import Alert


def _alert(**fields: object) -> Alert:
    return Alert(id="a", timestamp=0.0, source="edr", fields=dict(fields))


def test_render_orders_fields_and_skips_missing() -> None:
    config = RenderConfig(fields=("process_name", "command_line", "user", "dest_port"))
    alert = _alert(
        dest_port=443, command_line="powershell  -enc\n SQBFAFgA", process_name="powershell.exe"
    )
    assert render_text(alert, config) == (
        "source: edr | process_name: powershell.exe | command_line: powershell -enc SQBFAFgA | dest_port: 443"
    )


def test_render_can_mask_fields_for_faithfulness_checks() -> None:
    config = RenderConfig(fields=("process_name", "command_line"))
    alert = _alert(command_line="whoami", process_name="cmd.exe")
    assert (
        render_text(alert, config, fields=["process_name"]) == "source: edr | process_name: cmd.exe"
    )


def test_clip_keeps_head_and_tail_within_limit() -> None:
    text = "/index.php?" + "a" * 300 + "UNION SELECT"
    clipped = clip(text, 64)
    assert len(clipped) == 64 and clipped.startswith("/index.php?") and clipped.endswith("SELECT")
    assert clip("short", 64) == "short"


def test_render_is_deterministic_and_digest_follows_text() -> None:
    config = RenderConfig(fields=("url",))
    first, second = render_text(_alert(url="/a"), config), render_text(_alert(url="/a"), config)
    assert first == second and text_digest(first) == text_digest(second) != text_digest(first + " ")


def test_render_config_rejects_tiny_limits() -> None:
    with pytest.raises(ValueError, match="max_field_chars"):
        RenderConfig(fields=(), max_field_chars=4)


def test_render_spans_point_at_each_value() -> None:
    config = RenderConfig(fields=("process_name", "command_line"))
    alert = _alert(command_line="powershell -enc  AAA", process_name="powershell.exe")
    text, spans = render_spans(alert, config)
    assert text == render_text(alert, config)
    assert [(name, text[start:end]) for name, start, end in spans] == [
        ("source", "edr"),
        ("process_name", "powershell.exe"),
        ("command_line", "powershell -enc AAA"),
    ]


IDENTIFIERS = RenderConfig(
    fields=("host", "src_ip", "dest_ip", "user"),
    identifiers={"src_ip": "address", "dest_ip": "address", "host": "number"},
    networks={"vuln_scanners": ("10.0.5.0/28",), "internal": ("10.0.0.0/8",)},
)


def test_identifiers_render_as_what_they_mean() -> None:
    alert = _alert(host="acme-web-03", src_ip="10.0.5.6", dest_ip="185.71.176.163", user="bob7")
    assert render_text(alert, IDENTIFIERS) == (
        "source: edr | host: acme-web-# | src_ip: private address (vuln_scanners, internal)"
        " | dest_ip: public address | user: bob7"
    )
    # Two hosts of one role and two addresses of one network read the same to the teacher.
    other = _alert(host="acme-web-11", src_ip="10.0.5.9", dest_ip="91.40.216.194", user="bob7")
    assert render_text(other, IDENTIFIERS) == render_text(alert, IDENTIFIERS)


@pytest.mark.parametrize(
    ("value", "rendered"),
    [
        ("10.9.8.7", "private address (internal)"),
        ("192.168.1.1", "private address"),
        ("::1", "loopback address"),
        ("169.254.0.9", "link local address"),
        ("not an address", "not an address"),  # shown as it is, never lost
    ],
)
def test_an_address_reads_as_its_scope_and_named_networks(value: str, rendered: str) -> None:
    assert render_text(_alert(src_ip=value), IDENTIFIERS) == f"source: edr | src_ip: {rendered}"


def test_verbatim_rendering_keeps_the_identifiers() -> None:
    alert = _alert(host="acme-web-03", src_ip="10.0.5.6")
    assert render_text(alert, IDENTIFIERS.verbatim()) == (
        "source: edr | host: acme-web-03 | src_ip: 10.0.5.6"
    )


def test_render_config_round_trips_and_old_specs_render_verbatim() -> None:
    assert RenderConfig.from_dict(IDENTIFIERS.to_dict()) == IDENTIFIERS
    old = {"fields": ["host"], "max_field_chars": 256}  # saved before identifiers existed
    assert (
        render_text(_alert(host="ws-12"), RenderConfig.from_dict(old))
        == "source: edr | host: ws-12"
    )


def test_render_config_rejects_unknown_identifier_kinds() -> None:
    with pytest.raises(ValueError, match=r"text_identifiers kinds must be one of .*'hash'"):
        RenderConfig(fields=("host",), identifiers={"host": "hash"})


def test_render_config_from_the_data_config_reads_identifiers_and_networks() -> None:
    config = RenderConfig.from_data_config(
        {
            "text_fields": ["src_ip"],
            "max_field_chars": 64,
            "text_identifiers": {"src_ip": "address"},
            "networks": {"vuln_scanners": ["10.0.5.0/28"]},
        }
    )
    assert render_text(_alert(src_ip="10.0.5.1"), config) == (
        "source: edr | src_ip: private address (vuln_scanners)"
    )
