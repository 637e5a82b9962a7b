"""The registered evasion transforms, by name (what conf/ refers to)."""

from __future__ import annotations

from collections.abc import Sequence

from alertlens.evasion import command_line, filler, sql, url
from alertlens.evasion.base import EvasionTransform

TRANSFORMS: dict[str, EvasionTransform] = {
    transform.name: transform
    for module in (command_line, url, sql, filler)
    for transform in module.TRANSFORMS
}


def transforms_by_name(names: Sequence[str]) -> list[EvasionTransform]:
    """The registered transforms called ``names``, in that order."""
    unknown = [name for name in names if name not in TRANSFORMS]
    if unknown:
        raise ValueError(
            f"unknown evasion transform(s): {', '.join(unknown)}; known: {', '.join(TRANSFORMS)}"
        )
    return [TRANSFORMS[name] for name in names]
