"""Alert -> canonical text for the BERT teacher: ordered ``field: value`` pieces."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from alertlens.alerts.schema import Alert

ELLIPSIS = " … "


@dataclass(frozen=True)
class RenderConfig:
    """Which fields are rendered, in which order, and how long each may get."""

    fields: tuple[str, ...]
    max_field_chars: int = 256
    separator: str = " | "

    def __post_init__(self) -> None:
        if self.max_field_chars < 16:
            raise ValueError(f"max_field_chars must be at least 16, got {self.max_field_chars}")

    @classmethod
    def from_data_config(cls, data_cfg: Mapping[str, Any]) -> RenderConfig:
        return cls(
            fields=tuple(data_cfg.get("text_fields") or ()),
            max_field_chars=int(data_cfg.get("max_field_chars", 256)),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": list(self.fields),
            "max_field_chars": self.max_field_chars,
            "separator": self.separator,
        }


def clip(text: str, limit: int) -> str:
    """Keep the head and the tail of an over-long value: payloads often sit at the end of URLs."""
    if len(text) <= limit:
        return text
    head = (limit - len(ELLIPSIS)) * 2 // 3
    tail = limit - len(ELLIPSIS) - head
    return text[:head] + ELLIPSIS + text[-tail:]


def rendered_pieces(
    alert: Alert, config: RenderConfig, fields: Sequence[str] | None = None
) -> list[tuple[str, str]]:
    """(field, rendered value) pairs in order, ``source`` first, missing fields left out.

    Whitespace runs (newlines in command lines) become one space so the same alert always
    renders the same way. ``fields`` overrides the configured order, e.g. to mask fields.
    """
    pieces = [("source", alert.source)]
    values = alert.fields
    for name in config.fields if fields is None else fields:
        value = values.get(name)
        if value is None:
            continue
        text = " ".join(str(value).split()) if not isinstance(value, bool) else str(value).lower()
        if text:
            pieces.append((name, clip(text, config.max_field_chars)))
    return pieces


def render_text(alert: Alert, config: RenderConfig, fields: Sequence[str] | None = None) -> str:
    """Deterministic text of an alert: ``source: ids | rule_name: ... | url: ...``."""
    return config.separator.join(
        f"{name}: {text}" for name, text in rendered_pieces(alert, config, fields)
    )


def render_spans(alert: Alert, config: RenderConfig) -> tuple[str, list[tuple[str, int, int]]]:
    """The rendered text and, per field, the character span of its value in that text.

    Token attributions map back to fields (and words inside them) through these spans.
    """
    parts: list[str] = []
    spans: list[tuple[str, int, int]] = []
    offset = 0
    for index, (name, text) in enumerate(rendered_pieces(alert, config)):
        prefix = (config.separator if index else "") + f"{name}: "
        start = offset + len(prefix)
        spans.append((name, start, start + len(text)))
        parts.append(prefix + text)
        offset = start + len(text)
    return "".join(parts), spans


def text_digest(text: str) -> str:
    """Stable short digest of rendered text; equal texts are the same alert for splitting."""
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=10).hexdigest()
