from pathlib import Path

import pytest

from alertlens.alerts import readers


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def _summary(records: list[readers.RawRecord]) -> list[tuple[int, str | None]]:
    return [(r.line, r.error[0] if r.error else None) for r in records]


def test_json_lines_reports_line_numbers_and_skips_blank_lines(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.jsonl", '{"a": 1}\n\n{"a": 2\n{"a" 3}\n[1]\n')
    records = list(readers.read_json_lines(path))
    assert _summary(records) == [(1, None), (3, "truncated_json"), (4, "invalid_json"), (5, None)]
    assert records[0].obj == {"a": 1}


def test_non_utf8_bytes_are_flagged_not_replaced(tmp_path: Path) -> None:
    path = _write(tmp_path, "a.jsonl", b'{"a": "caf\xe9"}\n{"a": "ok"}\n')
    records = list(readers.read_json_lines(path))
    assert _summary(records) == [(1, "not_utf8"), (2, None)]
    assert records[0].raw.encode("utf-8", "surrogateescape") == b'{"a": "caf\xe9"}'


@pytest.mark.parametrize("chunk", [5, 64, 1 << 16])
def test_json_array_stream_survives_any_chunk_boundary(
    tmp_path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "CHUNK_CHARS", chunk)
    content = (
        '[\n  {"s": "br}ace{ \\" [x]"},\n  {"n": {"deep": [1, {"k": "]"}]}},\n  oops,\n  {"t": "cut'
    )
    records = list(readers.read_json(_write(tmp_path, "a.json", content)))
    assert _summary(records) == [(2, None), (3, None), (4, "invalid_json"), (5, "truncated_json")]
    assert records[0].obj == {"s": 'br}ace{ " [x]'}
    assert records[1].obj == {"n": {"deep": [1, {"k": "]"}]}}


def test_json_reader_detects_lines_and_concatenated_arrays(tmp_path: Path) -> None:
    lines = list(readers.read_json(_write(tmp_path, "l.json", '{"a": 1}\n{"a": 2}\n')))
    arrays = list(
        readers.read_json(_write(tmp_path, "arr.json", '[{"a": 1}]\n[{"a": 2}, {"a": 3}] tail'))
    )
    assert [r.obj for r in lines] == [{"a": 1}, {"a": 2}]
    assert _summary(arrays) == [(1, None), (2, None), (2, None), (2, "invalid_json")]


def test_csv_rows_with_wrong_column_count_are_rejected(tmp_path: Path) -> None:
    content = 'id,cmd,port\n1,"a,b",80\n2,x\n\n3,"multi\nline",\n'
    records = list(readers.read_csv(_write(tmp_path, "a.csv", content)))
    assert _summary(records) == [(2, None), (3, "wrong_column_count"), (5, None)]
    assert records[0].obj == {"id": "1", "cmd": "a,b", "port": "80"}
    assert records[2].obj == {"id": "3", "cmd": "multi\nline"}  # empty cells are missing


def test_real_suricata_samples_parse_completely(fixtures: Path) -> None:
    records = [
        r
        for path in sorted((fixtures / "suricata").glob("*.json"))
        for r in readers.read_json(path)
    ]
    assert len(records) == 548
    assert all(r.error is None and r.obj["event_type"] == "alert" for r in records)


def test_rejected_csv_rows_keep_their_quoting(tmp_path: Path) -> None:
    records = list(readers.read_csv(_write(tmp_path, "a.csv", 'id,cmd\n1,"a,b",extra\n')))
    assert records[0].error[0] == "wrong_column_count" and records[0].raw == '1,"a,b",extra'


def test_json_lines_read_a_byte_order_mark_lone_cr_endings_and_unicode_blank_lines(
    tmp_path: Path,
) -> None:
    bom = _write(tmp_path, "bom.jsonl", b'\xef\xbb\xbf{"a": 1}\n{"a": 2}\n')
    assert [r.obj for r in readers.read_json_lines(bom)] == [{"a": 1}, {"a": 2}]
    # In a file with line feeds a CR is JSON whitespace inside a record.
    spaced = _write(tmp_path, "crlf.jsonl", b'{"a": 1,\r "b": 2}\r\n{"a": 3}\n')
    assert [(r.line, r.obj) for r in readers.read_json_lines(spaced)] == [
        (1, {"a": 1, "b": 2}),
        (2, {"a": 3}),
    ]
    old_mac = _write(tmp_path, "cr.jsonl", b'{"a": 1}\r{"a": 2}\r\r{"a": 3}\r')
    records = list(readers.read_json_lines(old_mac))
    assert [(r.line, r.obj) for r in records] == [(1, {"a": 1}), (2, {"a": 2}), (4, {"a": 3})]
    # A line of non-breaking spaces is not blank to JSON: it is read, and rejected, not dropped.
    nbsp = _write(tmp_path, "nbsp.jsonl", '{"a": 1}\n\u00a0\u00a0\n \t\n{"a": 2}\r\n')
    assert _summary(list(readers.read_json_lines(nbsp))) == [
        (1, None),
        (2, "invalid_json"),
        (4, None),
    ]


def test_a_record_too_long_to_buffer_stays_one_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "MAX_RECORD_CHARS", 200)
    monkeypatch.setattr(readers, "CHUNK_CHARS", 64)  # the overflow meets chunk boundaries too
    # braces and quotes inside strings, nested objects and arrays after the overflow point
    huge = (
        '{"id": "big", "script": "' + 'if (x) { y = \\"}\\" } ' * 40 + '", "n": [{"a": [1, {}]}]}'
    )
    path = tmp_path / "a.json"
    path.write_text(f'[{{"id": "a1"}},\n {huge},\n {{"id": "a2"}}]')
    records = list(readers.read_json(path))
    assert [r.line for r in records] == [1, 2, 3]
    assert records[0].obj == {"id": "a1"} and records[2].obj == {"id": "a2"}
    assert records[1].error is not None and records[1].raw.startswith('{"id": "big"')
    assert len(records[1].raw) <= 200 + 64


def test_a_plain_string_too_long_to_buffer_is_skipped_in_bounded_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(readers, "MAX_RECORD_CHARS", 1000)
    monkeypatch.setattr(readers, "CHUNK_CHARS", 256)
    scanner = readers._JsonStreamScanner  # watch the buffer while a 200 KB string streams past
    longest = 0
    drop = scanner._drop_before

    def watched(self: readers._JsonStreamScanner, keep: int) -> None:
        nonlocal longest
        longest = max(longest, len(self.buffer))
        drop(self, keep)

    monkeypatch.setattr(scanner, "_drop_before", watched)
    path = tmp_path / "a.json"
    path.write_text('[{"payload": "' + "A" * 200_000 + '"}, {"id": "after"}]')
    records = list(readers.read_json(path))
    assert len(records) == 2 and records[1].obj == {"id": "after"}
    assert records[0].error is not None and longest < 1000 + 2 * 256
