"""Data configs: how one export's records map onto the normalized :class:`Alert`.

A data config (``conf/data/<name>.yaml``) names, for each normalized field, the dotted path(s)
where the source keeps it and the type it must have. :func:`DataMapping.normalize` applies it to
one parsed record and returns either an Alert or a :class:`Rejection` with a reason code.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alertlens.alerts.readers import RawRecord, has_undecodable_bytes
from alertlens.alerts.schema import FALSE_POSITIVE, TRUE_POSITIVE, Alert, FieldValue, GroundTruth
from alertlens.alerts.vocabulary import ROLES

FIELD_TYPES = ("str", "int", "float", "bool", "ip")
FORMATS = ("jsonl", "json", "eve", "csv")
ANY_VALUE = "*"
_MISSING = object()
# Epoch values above this are milliseconds (1e11 s is the year 5138).
_EPOCH_MS_THRESHOLD = 1e11


@dataclass(slots=True)
class Rejection:
    """Why a record did not become an alert."""

    reason: str
    message: str


class RecordError(Exception):
    """A record breaks the data config; carries the reason code for rejected.jsonl."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


Paths = tuple[tuple[str, tuple[str, ...]], ...]


def _as_paths(value: str | Sequence[str]) -> Paths:
    """Precompiled dotted paths: the flat key and its parts, tried in order."""
    paths = [value] if isinstance(value, str) else list(value)
    return tuple((path, tuple(path.split("."))) for path in paths)


def lookup(record: dict[str, Any], paths: Paths) -> Any:
    """First non-null value found along ``paths``, else ``_MISSING``.

    A key that itself contains dots (a CSV column named ``http.url``) matches first. This runs
    dozens of times per record, so it sticks to dict.get and exact type checks.
    """
    for flat, parts in paths:
        value = record.get(flat)
        if value is None and len(parts) > 1:
            value = record
            for part in parts:
                value = value.get(part) if type(value) is dict else None
                if value is None:
                    break
        if value is not None:
            return value
    return _MISSING


def _label_key(value: Any) -> str | None:
    """Compare label values as case-folded text, so YAML `true` matches CSV "True"."""
    if value is None or value is _MISSING:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip().casefold()


@dataclass
class LabelRule:
    """Which source values mean false positive, true positive, or not triaged yet."""

    path: str
    false_positive: list[Any]
    true_positive: list[Any] | str
    unlabeled: list[Any] = field(default_factory=lambda: [None, ""])

    def __post_init__(self) -> None:
        if self.false_positive == ANY_VALUE and self.true_positive == ANY_VALUE:
            raise ValueError("label: false_positive and true_positive cannot both be '*'")
        self._paths = _as_paths(self.path)
        self._fp = self._keys(self.false_positive)
        self._tp = self._keys(self.true_positive)
        self._none = {_label_key(v) for v in self.unlabeled}
        overlap = (self._fp or set()) & (self._tp or set())
        if overlap:
            raise ValueError(
                f"label: values {sorted(map(str, overlap))} listed as both false and true positive"
            )

    @staticmethod
    def _keys(values: list[Any] | str) -> set[str | None] | None:
        return None if values == ANY_VALUE else {_label_key(v) for v in values}

    def label_of(self, record: dict[str, Any]) -> int | None:
        """1, 0 or None (unlabeled); raises RecordError for a value no rule covers."""
        key = _label_key(lookup(record, self._paths))
        if key in self._none:
            return None
        if self._fp is not None and key in self._fp:
            return FALSE_POSITIVE
        if self._tp is not None and key in self._tp:
            return TRUE_POSITIVE
        if key is not None and (self._tp is None or self._fp is None):
            return TRUE_POSITIVE if self._tp is None else FALSE_POSITIVE
        if key is None:
            raise RecordError("missing_field", f"label field '{self.path}' is missing")
        raise RecordError(
            "unknown_label", f"label value {key!r} in '{self.path}' is not in the data config"
        )


# Numbers every later stage can hold: int64 integers and finite floats. A 400-digit integer or a
# NaN accepted here would overflow feature extraction or write invalid JSON downstream.
_INT_MIN, _INT_MAX = -(2**63), 2**63 - 1


def _to_str(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = value if isinstance(value, str) else str(value)
    if has_undecodable_bytes(text):  # lone surrogates (JSON "\ud800"): no tokenizer takes them
        raise ValueError
    return text


def _to_int(value: Any) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ValueError
    number = int(value.strip()) if isinstance(value, str) else int(value)
    if not _INT_MIN <= number <= _INT_MAX:
        raise ValueError
    return number


def _to_float(value: Any) -> float:
    if isinstance(value, bool):
        raise ValueError
    number = float(value)
    if not math.isfinite(number):
        raise ValueError
    return number


def _to_bool(value: Any) -> bool:
    text = _label_key(value)
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    raise ValueError


# A dotted-quad IPv4 address exactly as ipaddress accepts it (ASCII digits, no leading zeros,
# octets up to 255): most addresses pass this in a fraction of ip_address's time.
_IPV4 = re.compile(
    r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
    r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
)


def _to_ip(value: Any) -> str:
    text = str(value).strip()
    if _IPV4.fullmatch(text) is None:
        ipaddress.ip_address(text)  # raises ValueError when it is not an address
    return text


_COERCERS: dict[str, Callable[[Any], FieldValue]] = {
    "str": _to_str,
    "int": _to_int,
    "float": _to_float,
    "bool": _to_bool,
    "ip": _to_ip,
}


def _exact_number(raw: str, paths: Paths, parsed: float) -> int | float:
    """The number at ``paths`` as the record's text writes it: the JSON reader gives an integer
    beyond 64 bits as a float, and two long numeric ids would collapse into one value."""
    try:
        value = lookup(json.loads(raw), paths)
    except (ValueError, RecursionError):
        return parsed
    return value if isinstance(value, int | float) and not isinstance(value, bool) else parsed


def coerce(value: Any, kind: str) -> FieldValue:
    """Convert a source value to the declared type, or raise ValueError saying what was wrong."""
    if isinstance(value, dict | list):
        raise ValueError(f"expected {kind}, got a nested {type(value).__name__}")
    try:
        return _COERCERS[kind](value)
    except (ValueError, TypeError, OverflowError):
        raise ValueError(f"expected {kind}, got {value!r}") from None


def parse_timestamp(value: Any) -> float:
    """Epoch seconds (or milliseconds) or ISO 8601 -> epoch seconds UTC; naive means UTC."""
    if isinstance(value, bool):
        raise ValueError(f"not a timestamp: {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    else:
        text = str(value).strip()
        try:
            number = float(text)
        except ValueError:
            moment = datetime.fromisoformat(text)
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=UTC)
            return moment.timestamp()
    if not math.isfinite(number):  # "NaN", "inf", 1e400: no time split can order them
        raise ValueError(f"not a finite timestamp: {value!r}")
    return number / 1000.0 if abs(number) >= _EPOCH_MS_THRESHOLD else number


@dataclass
class FieldMapping:
    """One normalized field: where the source keeps it, its type and (optionally) its role."""

    name: str
    path: str | list[str]
    type: str = "str"
    # What the field is (alertlens.alerts.vocabulary.ROLES); None: the vocabulary's role, if any.
    role: str | None = None

    def __post_init__(self) -> None:
        if self.type not in FIELD_TYPES:
            raise ValueError(
                f"field '{self.name}': type must be one of {FIELD_TYPES}, got '{self.type}'"
            )
        if self.role is not None and self.role not in ROLES:
            raise ValueError(
                f"field '{self.name}': role must be one of {', '.join(ROLES)}, got '{self.role}'"
            )
        self.paths = _as_paths(self.path)


@dataclass
class RecordFilter:
    """Keeps only records whose ``path`` equals one of ``values`` (e.g. EVE event_type=alert)."""

    path: str
    values: list[Any]

    def __post_init__(self) -> None:
        self._paths = _as_paths(self.path)
        self._keys = {_label_key(v) for v in self.values}

    def keeps(self, record: dict[str, Any]) -> bool:
        return _label_key(lookup(record, self._paths)) in self._keys


@dataclass
class VerdictSource:
    """A data config's ``verdicts``: the case system's verdict files (a glob inside the input
    directory), the column of the alert id, and the label rule for the verdict column."""

    files: str
    id: str | list[str]
    label: LabelRule
    format: str = "csv"

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"verdicts: format must be one of {FORMATS}, got {self.format!r}")
        if Path(self.files).is_absolute() or ".." in Path(self.files).parts:
            raise ValueError(
                f"verdicts: files '{self.files}' must be a pattern inside the input directory, "
                "e.g. 'verdicts/*.csv'"
            )
        self._id = _as_paths(self.id)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> VerdictSource:
        missing = [key for key in ("files", "id", "label") if not cfg.get(key)]
        if missing:
            raise ValueError(f"verdicts: missing required key(s) {', '.join(missing)}")
        return cls(
            files=cfg["files"],
            id=cfg["id"],
            label=LabelRule(**cfg["label"]),
            format=cfg.get("format") or "csv",
        )

    def paths(self, source: Path) -> list[Path]:
        """The verdict files of the export at ``source`` (a directory, or a file whose folder
        holds them), sorted: a later row for the same alert supersedes an earlier one."""
        root = source if source.is_dir() else source.parent
        return sorted(p for p in root.glob(self.files) if p.is_file())

    def parse(self, record: RawRecord) -> tuple[str, int | None]:
        """(alert id, label) of one verdict row; raises RecordError with the reason."""
        if record.error:
            raise RecordError(*record.error)
        if type(record.obj) is not dict:
            raise RecordError("not_an_object", "verdict row is not an object")
        alert_id = lookup(record.obj, self._id)
        if alert_id is _MISSING or isinstance(alert_id, dict | list) or not str(alert_id).strip():
            raise RecordError("missing_field", f"verdict row has no alert id ('{self.id}')")
        return str(alert_id), self.label.label_of(record.obj)


@dataclass
class TruthSource:
    """A data config's ``truth``: where records keep their generation ground truth (the cause and
    the fields carrying its decisive evidence), for evaluation only. Records without either have
    none; a malformed evidence list is rejected like any wrongly typed field."""

    cause: str | list[str]
    evidence: str | list[str]

    def __post_init__(self) -> None:
        self._cause, self._evidence = _as_paths(self.cause), _as_paths(self.evidence)
        # A data set has a few causes, each with its evidence: their GroundTruth is built once.
        self._known: dict[tuple[str, tuple[Any, ...]], GroundTruth] = {}

    def of(self, record: dict[str, Any]) -> GroundTruth | None:
        cause, evidence = lookup(record, self._cause), lookup(record, self._evidence)
        if cause is _MISSING or cause is None or evidence is _MISSING:
            return None
        if type(evidence) is not list:
            raise RecordError("wrong_type", "truth: evidence must be a list of field names")
        key = (str(cause), tuple(evidence))
        try:
            return self._known[key]
        except (KeyError, TypeError):  # TypeError: an unhashable entry (not a name either)
            pass
        if not all(type(name) is str for name in key[1]):
            raise RecordError("wrong_type", "truth: evidence must be a list of field names")
        truth = GroundTruth(*key)
        if len(self._known) < MAX_KNOWN_CAUSES:
            self._known[key] = truth
        return truth


# Distinct (cause, evidence) pairs TruthSource keeps built; beyond it each record builds its own.
MAX_KNOWN_CAUSES = 4096


DEDUPE = ("content", "none")  # what a data config's `dedupe` may say


@dataclass
class DataMapping:
    """A whole data config: input format, required fields, label rule, typed fields."""

    name: str
    format: str
    id: str | list[str] | None
    timestamp: str | list[str]
    label: LabelRule | None
    fields: list[FieldMapping]
    source: str | list[str] | None = None
    source_value: str = "alert"
    group: str | list[str] | None = None
    keep: RecordFilter | None = None
    text_fields: list[str] = field(default_factory=list)
    files: str = "*"  # which files of an input directory are read (a glob)
    # content: a record whose identity (its id, or its bytes when id is null) was already read is
    # rejected as a duplicate, so re-exports and overlapping windows dedupe | none: every record
    # is an event (exports where identical rows are distinct events: several per second, rule
    # and host); the n-th copy gets the id "<id>#n".
    dedupe: str = "content"
    # Larger records are rejected as record_too_large (EDR script blocks run to tens of KiB).
    max_record_bytes: int = 1 << 20
    # Verdicts from the case system, joined on the alert id; they override the alert's own label.
    verdicts: VerdictSource | None = None
    # Generation ground truth (the synthetic set): evaluation reads it, no model does.
    truth: TruthSource | None = None

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ValueError(f"data config '{self.name}': format must be one of {FORMATS}")
        if self.max_record_bytes < 1:
            raise ValueError(f"data config '{self.name}': max_record_bytes must be positive")
        if self.dedupe not in DEDUPE:
            raise ValueError(
                f"data config '{self.name}': dedupe must be one of {DEDUPE}, got {self.dedupe!r}"
            )
        if self.verdicts is not None and not self.id:
            raise ValueError(
                f"data config '{self.name}': verdicts are joined on the alert id, so `id` must "
                "name the export's id field"
            )
        known = {f.name for f in self.fields}
        unknown = [name for name in self.text_fields if name not in known]
        if unknown:
            raise ValueError(
                f"data config '{self.name}': text_fields {unknown} are not declared under fields"
            )
        self._id = _as_paths(self.id) if self.id else None
        self._timestamp = _as_paths(self.timestamp)
        self._source = _as_paths(self.source) if self.source else None
        self._group = _as_paths(self.group) if self.group else None
        self._field_plan = [(spec.name, spec.paths, spec.type) for spec in self.fields]

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any]) -> DataMapping:
        """Build from the ``data`` section of the composed config (a plain dict)."""
        missing = [key for key in ("name", "format", "timestamp") if key not in cfg]
        if missing:
            raise ValueError(f"data config: missing required key(s) {', '.join(missing)}")
        fields = [
            FieldMapping(name, spec) if isinstance(spec, str | list) else FieldMapping(name, **spec)
            for name, spec in (cfg.get("fields") or {}).items()
        ]
        label = cfg.get("label")
        keep = cfg.get("keep")
        verdicts, truth = cfg.get("verdicts"), cfg.get("truth")
        return cls(
            name=cfg["name"],
            format=cfg["format"],
            id=cfg.get("id"),
            timestamp=cfg["timestamp"],
            label=LabelRule(**label) if label else None,
            fields=fields,
            source=cfg.get("source"),
            source_value=cfg.get("source_value", "alert"),
            group=cfg.get("group"),
            keep=RecordFilter(**keep) if keep else None,
            text_fields=list(cfg.get("text_fields") or []),
            files=cfg.get("files") or "*",
            dedupe=cfg.get("dedupe") or "content",
            max_record_bytes=int(cfg.get("max_record_bytes") or 1 << 20),
            verdicts=VerdictSource.from_config(verdicts) if verdicts else None,
            truth=TruthSource(**truth) if truth else None,
        )

    def _required(self, record: dict[str, Any], paths: tuple, what: str, spelled: Any) -> Any:
        value = lookup(record, paths)
        if value is _MISSING:
            raise RecordError("missing_field", f"required field {what} ('{spelled}') is missing")
        return value

    def normalize(self, record: Any, raw: str) -> Alert:
        """Map one parsed record to an Alert; raises RecordError with the reason."""
        if type(record) is not dict:
            raise RecordError(
                "not_an_object", f"record is a JSON {type(record).__name__}, not an object"
            )
        if self._id:
            alert_id = self._required(record, self._id, "id", self.id)
            if isinstance(alert_id, dict | list):
                raise RecordError(
                    "wrong_type", f"field id: expected a scalar, got {type(alert_id).__name__}"
                )
            if type(alert_id) is float and raw:
                alert_id = _exact_number(raw, self._id, alert_id)
            alert_id = str(alert_id)
        else:
            # No id in the source: the record's own bytes identify it, so re-exports dedupe.
            alert_id = hashlib.sha1(raw.encode("utf-8", "surrogateescape")).hexdigest()[:20]
        stamp = self._required(record, self._timestamp, "timestamp", self.timestamp)
        try:
            timestamp = parse_timestamp(stamp)
        except (ValueError, OverflowError, OSError):
            raise RecordError(
                "wrong_type", f"field timestamp: not epoch or ISO 8601: {stamp!r}"
            ) from None
        values: dict[str, FieldValue] = {}
        for name, paths, kind in self._field_plan:
            value = lookup(record, paths)
            if value is _MISSING or value == "":
                continue
            if (
                kind == "str"
                and type(value) is str
                and (value.isascii() or not has_undecodable_bytes(value))
            ):
                values[name] = value  # the common case, without a call
                continue
            try:
                values[name] = coerce(value, kind)
            except ValueError as exc:
                raise RecordError("wrong_type", f"field {name}: {exc}") from None
        source = lookup(record, self._source) if self._source else _MISSING
        group = lookup(record, self._group) if self._group else _MISSING
        return Alert(
            id=alert_id,
            timestamp=timestamp,
            source=str(source) if source is not _MISSING else self.source_value,
            label=self.label.label_of(record) if self.label else None,
            group=str(group) if group is not _MISSING else None,
            fields=values,
            truth=self.truth.of(record) if self.truth else None,
        )
