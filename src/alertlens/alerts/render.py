"""Alert -> canonical text for the BERT teacher: ordered ``field: value`` pieces.

Identifiers can be rendered as what they mean (``text_identifiers`` in the data config): an
address as its scope and the named networks it lies in (``private address (vuln_scanners)``),
a host name with its numbers as ``#`` (``acme-web-#``). A transformer memorizes the numbers of
the networks it trains on; their meaning is what carries over to networks it has not seen.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alertlens.alerts.addresses import Network, in_networks, parse_ip, parse_network
from alertlens.alerts.schema import Alert

ELLIPSIS = " … "
IDENTIFIER_KINDS = ("address", "number")
_DIGIT_RUN = re.compile(r"[0-9]+")


@dataclass(frozen=True)
class RenderConfig:
    """Which fields are rendered, in which order, and how long each may get."""

    fields: tuple[str, ...]
    max_field_chars: int = 256
    separator: str = " | "
    # field -> "address" | "number": rendered as what it means, not verbatim (module docstring)
    identifiers: Mapping[str, str] = field(default_factory=dict, hash=False)
    # named CIDR lists an address is described by (the data config's ``networks``)
    networks: Mapping[str, Sequence[str]] = field(default_factory=dict, hash=False)
    _parsed: tuple[tuple[str, tuple[Network, ...]], ...] = field(
        default=(), init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if self.max_field_chars < 16:
            raise ValueError(f"max_field_chars must be at least 16, got {self.max_field_chars}")
        unknown = {kind for kind in self.identifiers.values() if kind not in IDENTIFIER_KINDS}
        if unknown:
            raise ValueError(
                f"text_identifiers kinds must be one of {IDENTIFIER_KINDS}, got {sorted(unknown)}"
            )
        parsed = tuple(
            (name, tuple(parse_network(cidr) for cidr in cidrs))
            for name, cidrs in self.networks.items()
        )
        object.__setattr__(self, "_parsed", parsed)

    @classmethod
    def from_data_config(cls, data_cfg: Mapping[str, Any]) -> RenderConfig:
        return cls.from_dict(
            {
                "fields": data_cfg.get("text_fields") or (),
                "max_field_chars": int(data_cfg.get("max_field_chars", 256)),
                "identifiers": data_cfg.get("text_identifiers"),
                "networks": data_cfg.get("networks"),
            }
        )

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> RenderConfig:
        """What :meth:`to_dict` wrote; a spec saved before identifiers renders them verbatim."""
        return cls(
            fields=tuple(spec["fields"]),
            max_field_chars=spec["max_field_chars"],
            separator=spec.get("separator", " | "),
            identifiers=dict(spec.get("identifiers") or {}),
            networks={k: tuple(v) for k, v in (spec.get("networks") or {}).items()},
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "fields": list(self.fields),
            "max_field_chars": self.max_field_chars,
            "separator": self.separator,
            "identifiers": dict(self.identifiers),
            "networks": {name: list(cidrs) for name, cidrs in self.networks.items()},
        }

    def verbatim(self) -> RenderConfig:
        """The same rendering with every identifier as it is (what tells two alerts apart)."""
        return dataclasses.replace(self, identifiers={})

    def meaning(self, kind: str, text: str) -> str:
        """An identifier's rendering: an address's scope and named networks, or a name whose
        numbers read ``#``; text that is not an address stays as it is."""
        if kind == "number":
            return _DIGIT_RUN.sub("#", text)
        address = parse_ip(text)
        if address.version == 0:
            return text
        names = [name for name, nets in self._parsed if in_networks(address, nets)]
        scope = address.scope.replace("_", " ") + " address"
        return f"{scope} ({', '.join(names)})" if names else scope


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
        kind = config.identifiers.get(name)
        if kind is not None and text:
            text = config.meaning(kind, text)
        if text:
            pieces.append((name, clip(text, config.max_field_chars)))
    return pieces


def piece_text(name: str, text: str) -> str:
    """One field's part of the rendered text: ``url: /index.php``."""
    return f"{name}: {text}"


def join_pieces(pieces: Sequence[tuple[str, str]], config: RenderConfig) -> str:
    """The rendered text of (field, rendered value) pairs, as :func:`render_text` writes it."""
    return config.separator.join(piece_text(name, text) for name, text in pieces)


def render_text(alert: Alert, config: RenderConfig, fields: Sequence[str] | None = None) -> str:
    """Deterministic text of an alert: ``source: ids | rule_name: ... | url: ...``."""
    return join_pieces(rendered_pieces(alert, config, fields), config)


def render_spans(alert: Alert, config: RenderConfig) -> tuple[str, list[tuple[str, int, int]]]:
    """The rendered text and, per field, the character span of its value in that text.

    Token attributions map back to fields (and words inside them) through these spans.
    """
    parts: list[str] = []
    spans: list[tuple[str, int, int]] = []
    offset = 0
    for index, (name, text) in enumerate(rendered_pieces(alert, config)):
        prefix = (config.separator if index else "") + piece_text(name, "")
        start = offset + len(prefix)
        spans.append((name, start, start + len(text)))
        parts.append(prefix + text)
        offset = start + len(text)
    return "".join(parts), spans


def text_digest(text: str) -> str:
    """Stable short digest of rendered text; equal texts are the same alert for splitting."""
    return hashlib.blake2b(text.encode("utf-8", "surrogateescape"), digest_size=10).hexdigest()
