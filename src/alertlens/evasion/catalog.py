"""The registered evasion transforms, by name (what conf/ refers to)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from alertlens.evasion import command_line, filler, sql, url
from alertlens.evasion.base import EvasionTransform

TRANSFORMS: dict[str, EvasionTransform] = {
    transform.name: transform
    for module in (command_line, url, sql, filler)
    for transform in module.TRANSFORMS
}


def transforms_by_name(
    names: Sequence[str], roles: Mapping[str, str] | None = None
) -> list[EvasionTransform]:
    """The registered transforms called ``names``, in that order, over the fields ``roles``
    assigns their roles (field name -> role; None: the vocabulary's fields alone)."""
    unknown = [name for name in names if name not in TRANSFORMS]
    if unknown:
        raise ValueError(
            f"unknown evasion transform(s): {', '.join(unknown)}; known: {', '.join(TRANSFORMS)}"
        )
    chosen = [TRANSFORMS[name] for name in names]
    return chosen if roles is None else [transform.bind(roles) for transform in chosen]
