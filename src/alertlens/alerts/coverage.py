"""Field coverage of an export under a data config: what `alertlens ingest --check` prints.

For each mapped field, the share of accepted alerts that carry it; the vocabulary's fields the
config does not map; and warnings for the fields that matter downstream: a feature's field, a
rendered text field or the attacker-controlled text evasion hardening edits, absent or never
filled. A mapping that silently finds nothing (a wrong path) shows up here as 0%.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.schema import Alert
from alertlens.alerts.vocabulary import ATTACKER_TEXT, CANONICAL, field_roles

HARDENED_ROLES = ("command_line", "url", "query", "user_agent")  # what evasion transforms edit


@dataclass
class CoverageCounter:
    """Counts, per field, the accepted alerts that carry it, as they stream past."""

    alerts: int = 0
    present: Counter[str] = field(default_factory=Counter)

    def count(self, alerts: Iterable[Alert]) -> Iterator[Alert]:
        """Pass ``alerts`` through, counting their fields."""
        for alert in alerts:
            self.alerts += 1
            self.present.update(alert.fields.keys())
            yield alert

    def share(self, name: str) -> float:
        return self.present[name] / self.alerts if self.alerts else 0.0


@dataclass
class CoverageReport:
    """Per-field coverage and the warnings drawn from it."""

    alerts: int
    fields: list[tuple[str, str, float]]  # (mapped field, role or "-", share of alerts)
    unmapped_canonical: list[str]
    warnings: list[str]

    def lines(self) -> list[str]:
        out = [f"field coverage over {self.alerts} accepted alerts:"]
        width = max((len(name) for name, _, _ in self.fields), default=5)
        out += [f"  {name:<{width}}  {share:7.1%}  {role}" for name, role, share in self.fields]
        if self.unmapped_canonical:
            out.append(
                "vocabulary fields this config does not map: " + ", ".join(self.unmapped_canonical)
            )
        out += [f"warning: {warning}" for warning in self.warnings]
        return out

    def as_dict(self) -> dict[str, Any]:
        return {
            "alerts": self.alerts,
            "fields": {
                name: {"role": role, "share": round(share, 6)} for name, role, share in self.fields
            },
            "unmapped_canonical": self.unmapped_canonical,
            "warnings": self.warnings,
        }


def feature_fields(features_cfg: Mapping[str, Any] | None) -> list[str]:
    """The alert fields a features config reads (entries with a ``field``), in order."""
    entries = (features_cfg or {}).get("features") or []
    return list(
        dict.fromkeys(e["field"] for e in entries if isinstance(e, Mapping) and "field" in e)
    )


def coverage_report(
    mapping: DataMapping,
    counter: CoverageCounter,
    features_cfg: Mapping[str, Any] | None = None,
) -> CoverageReport:
    """What ``counter`` saw, judged against the config's fields, the features and hardening."""
    roles = field_roles({spec.name: spec.role for spec in mapping.fields})
    mapped = [spec.name for spec in mapping.fields]
    rows = [(name, roles.get(name, "-"), counter.share(name)) for name in mapped]
    warnings: list[str] = []
    if counter.alerts:
        warnings += _never_filled(
            "mapped", [n for n in mapped if not counter.present[n]], "check its path"
        )
        wanted = feature_fields(features_cfg)
        warnings += _absent(
            "features read",
            [n for n in wanted if n not in mapped],
            "their columns will be all missing",
        )
        text = [n for n in mapping.text_fields if n in mapped and not counter.present[n]]
        warnings += _never_filled("rendered for the teacher (text_fields)", text, "drop or remap")
        hardened = [n for n in mapped if roles.get(n) in HARDENED_ROLES and counter.present[n]]
        if not hardened:
            warnings.append(
                "no field with a role evasion hardening edits ("
                + ", ".join(HARDENED_ROLES)
                + ") is filled: hardening and the robustness suite will change nothing; map such "
                "a field or give yours a role ({path, role: command_line})"
            )
        untyped = [n for n in mapped if n not in roles]
        if untyped:
            warnings.append(
                f"fields outside the vocabulary without a role: {', '.join(untyped)}; give each "
                f"a role ({', '.join(ATTACKER_TEXT)} are attacker text) so guided keywords and "
                "hardening know what they are"
            )
    else:
        warnings.append("no alert was accepted: nothing to measure")
    unmapped = [name for name in CANONICAL if name not in mapped]
    return CoverageReport(counter.alerts, rows, unmapped, warnings)


def _never_filled(what: str, names: Sequence[str], advice: str) -> list[str]:
    if not names:
        return []
    return [f"{what} but never filled: {', '.join(names)} ({advice})"]


def _absent(what: str, names: Sequence[str], consequence: str) -> list[str]:
    if not names:
        return []
    return [f"{what} but not mapped by this data config: {', '.join(names)} ({consequence})"]
