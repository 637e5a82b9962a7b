"""Property tests over every reader and shipped data config: whatever an export holds, each
record is accepted, rejected with a reason, or filtered; the counts add up; every line written
is valid JSON; nothing escapes as an exception but the clear IngestError.

Inputs are real records (the shipped fixtures and the golden set) mutated two ways: bytes edited
at random (truncation, stray brackets and quotes, invalid UTF-8, duplicated spans), and one
mapped field set to a hostile value (huge integers, NaN and infinities, lone surrogates, deep
nesting, long text). ``HYPOTHESIS_PROFILE=deep`` (what ``make test`` sets) runs ten times the
examples of the default ``quick`` profile.
"""

from __future__ import annotations

import copy
import csv
import functools
import io
import json
import os
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alertlens.alerts.ingest import IngestError, ingest_to_dir
from alertlens.alerts.mapping import DataMapping
from alertlens.alerts.readers import read_json
from alertlens.config import load_group_option

settings.register_profile(
    "quick", max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "deep", max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "quick"))

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures"
SAMPLES = {  # data config -> (file of real records, how many records to start from)
    "synthetic": (ROOT / "data" / "golden" / "alerts.jsonl", 6),
    "suricata_eve": (FIXTURES / "suricata" / "wrccdc-2018.json", 6),
    "wazuh": (FIXTURES / "wazuh" / "alerts.json", 6),
    "elastic": (FIXTURES / "elastic" / "alerts.ndjson", 8),
    "splunk_es": (FIXTURES / "splunk_es" / "notables.csv", 8),
    "sentinel": (FIXTURES / "sentinel" / "alerts.csv", 8),
}
CONFIGS = sorted(SAMPLES)


def _no_constants(name: str) -> Any:
    raise ValueError(f"non-standard JSON constant {name}")


@functools.cache
def _mapping(name: str) -> DataMapping:
    return DataMapping.from_config(load_group_option("data", name, root=ROOT))


@functools.cache
def _sample_records(name: str) -> tuple[list[str], list[list[str]]] | list[dict[str, Any]]:
    """The first records of the config's sample: CSV (header, rows) or parsed JSON objects."""
    path, count = SAMPLES[name]
    if path.suffix == ".csv":
        rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
        return rows[0], rows[1 : count + 1]
    return [record.obj for record in read_json(path)][:count]


def _export_text(name: str, records: Any) -> str:
    """Records written as the config's format reads them: CSV, a JSON array (json, eve) or
    JSON Lines."""
    if _mapping(name).format == "csv":
        header, rows = records
        out = io.StringIO()
        csv.writer(out).writerows([header, *rows])
        return out.getvalue()
    lines = [json.dumps(r, allow_nan=True) for r in records]
    if _mapping(name).format in ("json", "eve"):
        return "[\n" + ",\n".join(lines) + "\n]\n"
    return "".join(line + "\n" for line in lines)


def _sample_text(name: str) -> str:
    return _export_text(name, _sample_records(name))


def _mapped_paths(mapping: DataMapping) -> list[str]:
    """Every dotted path the config reads a field from."""
    return [flat for spec in mapping.fields for flat, _ in spec.paths]


def _check_ingest(name: str, content: bytes) -> None:
    """The properties, for one export file holding ``content``."""
    mapping = _mapping(name)
    suffix = ".csv" if mapping.format == "csv" else ".json"
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "in" / f"export{suffix}"
        export.parent.mkdir()
        export.write_bytes(content)
        out = Path(tmp) / "out"
        try:
            counts = ingest_to_dir(mapping, export, out, max_reject_ratio=1.0)
        except IngestError as exc:  # only "the input holds no records" at this ratio
            assert "holds no records" in str(exc)
            return
        assert counts.records_read == counts.accepted + counts.rejected + counts.filtered
        assert counts.accepted == counts.true_positive + counts.false_positive + counts.unlabeled
        # Lines end at \n only: U+2028 or \x85 inside a value is JSON text, not a line break.
        alerts = (out / "alerts.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
        rejects = (out / "rejected.jsonl").read_text(encoding="utf-8").split("\n")[:-1]
        assert len(alerts) == counts.accepted
        assert len(rejects) == counts.rejected + len(counts.empty_files)
        for line in alerts + rejects:
            json.loads(line, parse_constant=_no_constants)  # strict JSON, no NaN or Infinity
        assert all(json.loads(r)["reason"] for r in rejects)
        written = json.loads((out / "ingest.json").read_text())
        assert written["records_read"] == counts.records_read


EDITS = st.lists(
    st.tuples(
        st.sampled_from(["insert", "delete", "duplicate", "replace"]),
        st.floats(0, 1),
        st.floats(0, 1),
        st.binary(min_size=1, max_size=12)
        | st.sampled_from([b"{", b"}", b"[", b"]", b'"', b"\\", b",", b"\n", b"\r", b"\xff\xfe"]),
    ),
    min_size=1,
    max_size=6,
)


def _edit(content: bytes, edits: list[tuple[str, float, float, bytes]]) -> bytes:
    for kind, at, length, data in edits:
        start = int(at * len(content))
        end = min(len(content), start + int(length * 64))
        if kind == "insert":
            content = content[:start] + data + content[start:]
        elif kind == "delete":
            content = content[:start] + content[end:]
        elif kind == "duplicate":
            content = content[:end] + content[start:end] + content[end:]
        else:
            content = content[:start] + data + content[start + len(data) :]
    return content


@pytest.mark.parametrize("name", CONFIGS)
@given(edits=EDITS)
def test_any_byte_edit_of_a_real_export_is_accounted_for(
    name: str, edits: list[tuple[str, float, float, bytes]]
) -> None:
    _check_ingest(name, _edit(_sample_text(name).encode("utf-8"), edits))


HOSTILE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**400), max_value=10**400)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from(["NaN", "inf", "-Infinity", "1e400", "", " ", "\ud800", "9" * 500])
    | st.text(max_size=200)
    | st.text(alphabet=st.characters(codec=None, min_codepoint=0xD800, max_codepoint=0xDFFF)),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=8,
)


def _set_path(record: dict[str, Any], dotted: str, value: Any) -> None:
    """Set ``dotted`` in ``record``: the flat key when the record has it, else nested."""
    if dotted in record or "." not in dotted:
        record[dotted] = value
        return
    node = record
    *parents, last = dotted.split(".")
    for part in parents:
        child = node.get(part)
        if not isinstance(child, dict):
            child = node[part] = {}
        node = child
    node[last] = value


def _hostile_text(name: str, index: int, path_pick: float, value: Any) -> str:
    """The sample with one mapped field (or the timestamp) of one record set to ``value``."""
    mapping = _mapping(name)
    paths = [*_mapped_paths(mapping), *(flat for flat, _ in mapping._timestamp)]
    dotted = paths[int(path_pick * (len(paths) - 1))]
    sample = _sample_records(name)
    if mapping.format == "csv":
        header, rows = sample  # type: ignore[misc]
        column = header.index(dotted) if dotted in header else int(path_pick * (len(header) - 1))
        rows = [list(row) for row in rows]
        text = value if isinstance(value, str) else json.dumps(value, allow_nan=True)
        rows[index % len(rows)][column] = text
        return _export_text(name, (header, rows))
    records = copy.deepcopy(sample)
    _set_path(records[index % len(records)], dotted, value)  # type: ignore[index]
    return _export_text(name, records)


@pytest.mark.parametrize("name", CONFIGS)
@given(
    index=st.integers(0, 7),
    path_pick=st.floats(0, 1),
    value=HOSTILE | st.just(float("nan")) | st.just(float("inf")),
)
def test_a_hostile_value_in_any_mapped_field_is_accepted_or_rejected_never_crashes(
    name: str, index: int, path_pick: float, value: Any
) -> None:
    text = _hostile_text(name, index, path_pick, value)
    _check_ingest(name, text.encode("utf-8", "surrogatepass"))
