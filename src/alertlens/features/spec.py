"""The feature spec: which typed features the surrogate reads, and the columns each one yields.

The spec is plain config (``conf/features/*.yaml``), validated here, and saved beside every
surrogate model so that serving extracts exactly the columns the model was trained on. Every
column names the alert fields it reads, which is how explanations are grouped by source field
and how faithfulness tests know which fields to mask.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from alertlens.alerts.addresses import parse_network
from alertlens.features.parsers import CommandLineFeatures, TextStats, UrlFeatures

ColumnDtype = Literal["categorical", "numeric"]


@dataclass(frozen=True)
class FeatureColumn:
    """One input column of the surrogate, with the alert fields it is computed from."""

    name: str
    dtype: ColumnDtype
    source_fields: tuple[str, ...]
    description: str


# Descriptions of the derived columns, keyed by the parser's NamedTuple field (the column suffix).
_URL_DESCRIPTIONS = {
    "path_depth": "number of path segments in {field}",
    "path_length": "length of the path of {field}",
    "query_length": "length of the query string of {field}",
    "n_params": "number of query parameters in {field}",
    "extension": "file extension in the path of {field}",
    "pct_encoded": "number of percent-encoded bytes (%xx) in {field}",
    "double_encoded": "{field} is double percent-encoded (%25xx)",
    "host_is_ip": "host of {field} is an IP address",
}
_COMMAND_LINE_DESCRIPTIONS = {
    "executable": "program run by {field}",
    "n_args": "number of arguments in {field}",
    "has_encoded_flag": "{field} passes an encoded-command flag (-enc, -e, /enc, ...)",
    "has_url": "{field} contains a URL",
    "n_obfuscation_chars": 'number of obfuscation characters (^, `, "") in {field}',
}
_TEXT_STATS_DESCRIPTIONS = {
    "length": "length of {field}",
    "entropy": "entropy of {field} (bits per character)",
    "upper_ratio": "share of uppercase letters in {field}",
    "digit_ratio": "share of digits in {field}",
    "special_ratio": "share of special characters in {field}",
    "longest_base64_run": "longest run of base64 characters in {field}",
    "has_base64": "{field} contains a decodable base64 string (20+ characters)",
    "hex_run": "longest run of hex digits in {field}",
    "url_encoded_count": "number of percent-encoded bytes (%xx) in {field}",
}
_CATEGORICAL_OUTPUTS = frozenset({"extension", "executable"})

# Keys each kind accepts besides "kind"; source and time read the alert itself, not a field.
_KIND_KEYS: dict[str, frozenset[str]] = {
    "source": frozenset(),
    "time": frozenset(),
    "categorical": frozenset({"field"}),
    "numeric": frozenset({"field"}),
    "boolean": frozenset({"field"}),
    "ip": frozenset({"field", "networks"}),
    "url": frozenset({"field"}),
    "command_line": frozenset({"field"}),
    "text_stats": frozenset({"field"}),
    "keywords": frozenset({"field", "keywords"}),
    # The teacher's text model's share of its logit for the field (alertlens.features.text_evidence):
    # the distill stage adds these for a teacher with a TF-IDF prior.
    "text_evidence": frozenset({"field"}),
}
KINDS = tuple(_KIND_KEYS)

_PUNCTUATION_NAMES = {
    ".": "dot",
    "/": "slash",
    "\\": "backslash",
    "%": "pct",
    ":": "colon",
    "-": "dash",
    "_": "underscore",
    "<": "lt",
    ">": "gt",
    "'": "quote",
    '"': "dquote",
    "(": "lparen",
    ")": "rparen",
    "$": "dollar",
    "|": "pipe",
    "&": "amp",
    ";": "semicolon",
    "=": "eq",
}


def keyword_slug(keyword: str) -> str:
    """Column-safe name for a keyword: its words joined by "_", or its punctuation spelled out."""
    words = re.findall(r"[a-z0-9]+", keyword.lower())
    if words:
        return "_".join(words)
    return "_".join(
        _PUNCTUATION_NAMES.get(char, f"x{ord(char):02x}") for char in keyword if not char.isspace()
    )


@dataclass(frozen=True)
class FeatureDef:
    """One entry of the spec's ``features`` list."""

    kind: str
    field: str | None = None
    networks: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in _KIND_KEYS:
            raise ValueError(f"unknown kind {self.kind!r}; expected one of {', '.join(KINDS)}")
        keys = _KIND_KEYS[self.kind]
        if "field" in keys and not (isinstance(self.field, str) and self.field.isidentifier()):
            raise ValueError(f"{self.kind} feature needs 'field', a field name; got {self.field!r}")
        if "field" not in keys and self.field is not None:
            raise ValueError(f"{self.kind} feature takes no 'field' (it reads the alert itself)")
        if self.networks and self.kind != "ip":
            raise ValueError(f"{self.label}: only ip features take 'networks'")
        self._check_keywords()

    def _check_keywords(self) -> None:
        if self.kind != "keywords":
            if self.keywords:
                raise ValueError(f"{self.label}: only keywords features take 'keywords'")
            return
        if not self.keywords:
            raise ValueError(f"{self.label}: 'keywords' must be a non-empty list")
        slugs: dict[str, str] = {}
        for keyword in self.keywords:
            if not isinstance(keyword, str) or not keyword.strip():
                raise ValueError(f"{self.label}: keyword {keyword!r} must be non-blank text")
            slug = keyword_slug(keyword)
            if slug in slugs:
                raise ValueError(
                    f"{self.label}: keywords {slugs[slug]!r} and {keyword!r} both map to the "
                    f"column name suffix {slug!r}; drop or reword one"
                )
            slugs[slug] = keyword

    @property
    def label(self) -> str:
        """How error messages name this entry, e.g. "url feature on 'url'"."""
        return f"{self.kind} feature" + (f" on {self.field!r}" if self.field else "")

    @classmethod
    def from_config(cls, entry: Mapping[str, Any]) -> FeatureDef:
        """Build from one config mapping, rejecting keys the kind does not take."""
        if not isinstance(entry, Mapping) or "kind" not in entry:
            raise ValueError(f"a feature must be a mapping with a 'kind' key; got {entry!r}")
        kind = str(entry["kind"])
        allowed = _KIND_KEYS.get(kind)  # an unknown kind is reported by __post_init__
        unexpected = set(entry) - {"kind"} - allowed if allowed is not None else set()
        if unexpected:
            raise ValueError(f"{kind} feature: unexpected key(s) {', '.join(sorted(unexpected))}")
        return cls(
            kind=kind,
            field=entry.get("field"),
            networks=_string_tuple(entry.get("networks"), f"{kind} feature 'networks'"),
            keywords=_string_tuple(entry.get("keywords"), f"{kind} feature 'keywords'"),
        )

    def to_dict(self) -> dict[str, Any]:
        """Inverse of :meth:`from_config`, with only the keys this kind takes."""
        data: dict[str, Any] = {"kind": self.kind}
        if self.field is not None:
            data["field"] = self.field
        if self.kind == "ip":
            data["networks"] = list(self.networks)
        if self.kind == "keywords":
            data["keywords"] = list(self.keywords)
        return data

    def columns(self) -> list[FeatureColumn]:
        """The columns this feature yields, in the order the extractor fills them."""
        return _COLUMN_BUILDERS[self.kind](self)


def _string_tuple(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise ValueError(f"{what} must be a list; got {value!r}")
    return tuple(str(item) for item in value)


def _single(feature: FeatureDef, dtype: ColumnDtype, description: str) -> list[FeatureColumn]:
    field = str(feature.field)
    return [FeatureColumn(field, dtype, (field,), description.format(field=field))]


def _derived(
    feature: FeatureDef, outputs: Sequence[str], descriptions: Mapping[str, str]
) -> list[FeatureColumn]:
    field = str(feature.field)
    return [
        FeatureColumn(
            f"{field}_{output}",
            "categorical" if output in _CATEGORICAL_OUTPUTS else "numeric",
            (field,),
            descriptions[output].format(field=field),
        )
        for output in outputs
    ]


def _ip_columns(feature: FeatureDef) -> list[FeatureColumn]:
    field = str(feature.field)
    return [
        FeatureColumn(
            f"{field}_scope",
            "categorical",
            (field,),
            f"scope of {field} (private, public, loopback, ...)",
        ),
        FeatureColumn(
            f"{field}_subnet",
            "categorical",
            (field,),
            f"/24 (IPv4) or /48 (IPv6) subnet of {field}",
        ),
    ] + [
        FeatureColumn(f"{field}_in_{name}", "numeric", (field,), f"{field} is in network {name}")
        for name in feature.networks
    ]


def _keyword_columns(feature: FeatureDef) -> list[FeatureColumn]:
    field = str(feature.field)
    return [
        FeatureColumn(
            f"{field}_contains_{keyword_slug(keyword)}",
            "numeric",
            (field,),
            f'{field} contains "{keyword}"',
        )
        for keyword in feature.keywords
    ]


_COLUMN_BUILDERS: dict[str, Callable[[FeatureDef], list[FeatureColumn]]] = {
    "source": lambda _: [FeatureColumn("source", "categorical", ("source",), "alert source")],
    "time": lambda _: [
        FeatureColumn("hour", "numeric", ("timestamp",), "hour of day (UTC)"),
        FeatureColumn("weekday", "numeric", ("timestamp",), "day of week (UTC, Monday=0)"),
    ],
    "categorical": lambda f: _single(f, "categorical", "value of {field}"),
    "numeric": lambda f: _single(f, "numeric", "{field} (number)"),
    "boolean": lambda f: _single(f, "numeric", "{field} is true"),
    "ip": _ip_columns,
    "url": lambda f: _derived(f, UrlFeatures._fields, _URL_DESCRIPTIONS),
    "command_line": lambda f: _derived(f, CommandLineFeatures._fields, _COMMAND_LINE_DESCRIPTIONS),
    "text_stats": lambda f: _derived(f, TextStats._fields, _TEXT_STATS_DESCRIPTIONS),
    "keywords": _keyword_columns,
    "text_evidence": lambda f: [
        FeatureColumn(
            f"{f.field}_text_evidence",
            "numeric",
            (str(f.field),),
            f"what the words of {f.field} say in the teacher's text model (log-odds toward real)",
        )
    ],
}


@dataclass
class FeatureSpec:
    """Named CIDR lists plus the ordered feature entries; validated on construction."""

    networks: dict[str, tuple[str, ...]]
    features: tuple[FeatureDef, ...]

    def __post_init__(self) -> None:
        self.networks = {name: tuple(cidrs) for name, cidrs in self.networks.items()}
        self.features = tuple(self.features)
        for name, cidrs in self.networks.items():
            _check_network(name, cidrs)
        if not self.features:
            raise ValueError("features: the list is empty; a surrogate needs at least one feature")
        for index, feature in enumerate(self.features):
            unknown = [name for name in feature.networks if name not in self.networks]
            if unknown:
                defined = ", ".join(self.networks) or "none"
                raise ValueError(
                    f"features[{index}] ({feature.label}): unknown network(s) "
                    f"{', '.join(unknown)}; defined networks: {defined}"
                )
        self._check_unique_columns()

    def _check_unique_columns(self) -> None:
        owners: dict[str, int] = {}
        for index, feature in enumerate(self.features):
            for column in feature.columns():
                if column.name in owners:
                    raise ValueError(
                        f"features[{index}] ({feature.label}): column {column.name!r} is already "
                        f"produced by features[{owners[column.name]}]"
                    )
                owners[column.name] = index

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> FeatureSpec:
        """Build from the ``features`` config group (keys ``networks`` and ``features``)."""
        if not isinstance(cfg, Mapping):
            raise ValueError(f"feature spec must be a mapping; got {type(cfg).__name__}")
        unexpected = set(cfg) - {"networks", "features"}
        if unexpected:
            raise ValueError(f"feature spec: unexpected key(s) {', '.join(sorted(unexpected))}")
        networks = cfg.get("networks") or {}
        if not isinstance(networks, Mapping):
            raise ValueError("networks must map a name to a list of CIDRs")
        entries = cfg.get("features")
        if isinstance(entries, str) or not isinstance(entries, Sequence):
            raise ValueError("feature spec needs 'features', a list of feature entries")
        features = []
        for index, entry in enumerate(entries):
            try:
                features.append(FeatureDef.from_config(entry))
            except ValueError as error:
                raise ValueError(f"features[{index}]: {error}") from None
        return cls(
            networks={
                str(name): _string_tuple(cidrs, f"networks.{name}")
                for name, cidrs in networks.items()
            },
            features=tuple(features),
        )

    def to_dict(self) -> dict[str, Any]:
        """Plain config form (YAML/JSON-ready); ``from_config(to_dict())`` rebuilds the spec."""
        return {
            "networks": {name: list(cidrs) for name, cidrs in self.networks.items()},
            "features": [feature.to_dict() for feature in self.features],
        }

    def columns(self) -> list[FeatureColumn]:
        """All columns, in feature order."""
        return [column for feature in self.features for column in feature.columns()]


def _check_network(name: str, cidrs: tuple[str, ...]) -> None:
    if not name.isidentifier():
        raise ValueError(
            f"networks: name {name!r} must be an identifier (it is part of column names)"
        )
    for cidr in cidrs:
        try:
            parse_network(cidr)
        except ValueError as error:
            raise ValueError(f"networks.{name}: {cidr!r} is not a valid CIDR ({error})") from None
