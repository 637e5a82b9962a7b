"""Alert-evasion transforms: rewrites an attacker controls that keep a malicious alert malicious.

Each transform edits only normalized fields the attacker controls (command line, URL, query
arguments, user agent) and only in ways the target still reads the same:

* cmd.exe expands ``%VAR:~start,length%`` substrings and strips carets before it starts a
  program, and drops empty quote pairs in program names (as programs do in their flags). An
  attacker who launches through cmd.exe gets these into the command line the EDR records.
* Windows and its tools ignore case in program names and flags; PowerShell accepts flag
  prefixes and aliases, and ``/`` for ``-``.
* Web applications percent-decode paths and query values (some twice, which is what double
  encoding aims at); SQL reads a comment, a tab or a run of spaces as one space.
* Words that carry no attack (filler in a user agent, a made-up job name) and extra benign
  text change nothing.

So a transformed true positive is still a true positive. :func:`deobfuscate_command` and
:func:`decode_url` undo the rewrites; the tests use them as oracles to prove the meaning is kept.
Command-line transforms leave quoted strings, URLs and base64 blobs alone, and edit only Windows
command lines: carets, case and ``%VAR%`` do not mean the same thing to a POSIX shell.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TypeVar

from alertlens.alerts.schema import Alert
from alertlens.alerts.vocabulary import ROLES, field_roles, fields_with_roles

FieldCheck = Callable[[str, str], bool]  # (field role, text) -> can the rewrite change it
FieldRewrite = Callable[[str, str, random.Random], str]  # (field role, text, rng) -> new text
Edit = tuple[int, int, str]  # replace text[start:end] with the string
Site = tuple[int, int, str]  # a raw span and what it holds (a flag's full name, "gap", "letter")
T = TypeVar("T")


@dataclass(frozen=True)
class EvasionTransform:
    """A named, meaning-preserving rewrite of attacker-controlled text of the ``roles`` it
    reads (alertlens.alerts.vocabulary: command_line, url, query, user_agent).

    It edits every field holding such a role: the vocabulary's by default, or a data config's
    after :meth:`bind` (a ``cmdline`` field declared ``role: command_line`` is rewritten too).
    """

    name: str
    roles: tuple[str, ...]
    can_rewrite: FieldCheck
    rewrite: FieldRewrite
    field_roles: Mapping[str, str] = field(default_factory=field_roles, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.name:
            raise ValueError("an evasion transform needs a name")
        if not self.roles:
            raise ValueError(f"evasion transform {self.name!r} declares no roles")
        unknown = [role for role in self.roles if role not in ROLES]
        if unknown:
            raise ValueError(f"evasion transform {self.name!r}: unknown roles {unknown}")
        object.__setattr__(self, "fields", fields_with_roles(self.field_roles, self.roles))

    fields: tuple[str, ...] = field(init=False, compare=False)  # the fields it may rewrite

    def bind(self, roles: Mapping[str, str]) -> EvasionTransform:
        """This transform over the fields ``roles`` (field name -> role) assigns its roles."""
        return replace(self, field_roles=dict(roles))

    def applies_to(self, alert: Alert) -> bool:
        """True when a field of its roles is present and this transform can change it."""
        return bool(self._targets(alert))

    def apply(self, alert: Alert, rng: random.Random) -> Alert:
        """A new alert with every applicable field rewritten; ``alert`` is untouched."""
        targets = self._targets(alert)
        if not targets:
            raise ValueError(
                f"evasion transform {self.name!r} does not apply to alert {alert.id!r}"
            )
        fields = dict(alert.fields)
        for name in targets:
            fields[name] = self.rewrite(self.field_roles[name], str(fields[name]), rng)
        return replace(alert, fields=fields)

    def _targets(self, alert: Alert) -> list[str]:
        return [
            name
            for name in self.fields
            if isinstance(value := alert.fields.get(name), str)
            and self.can_rewrite(self.field_roles[name], value)
        ]


def words(text: str) -> frozenset[str]:
    """Whitespace-separated word lists read better than one quoted string per word."""
    return frozenset(text.split())


def splice(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping (start, end, replacement) edits to ``text``."""
    pieces, last = [], 0
    for start, end, new in sorted(edits):
        pieces += [text[last:start], new]
        last = end
    return "".join(pieces) + text[last:]


def applies_where(sites: Callable[[str, str], Sequence[object]]) -> FieldCheck:
    """A transform applies where its site finder finds something to rewrite."""
    return lambda role, text: bool(sites(role, text))


def some_of(rng: random.Random, sites: Sequence[T], share: int) -> list[T]:
    """At least one and at most about ``1/share`` of the sites, drawn at random."""
    return rng.sample(list(sites), rng.randint(1, max(1, len(sites) // share)))
