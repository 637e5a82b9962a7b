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
