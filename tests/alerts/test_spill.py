from pathlib import Path

import pytest

from alertlens.alerts.spill import SeenIds, SeenIdsOnDisk, connect


@pytest.fixture(params=["memory", "disk"])
def seen(request: pytest.FixtureRequest, tmp_path: Path) -> SeenIds:
    return SeenIds() if request.param == "memory" else SeenIdsOnDisk(tmp_path / "seen.sqlite")


def test_the_first_place_an_id_was_read_is_kept(seen: SeenIds) -> None:
    assert seen.first_seen("a1", ("x.jsonl", 1)) == ("x.jsonl", 1)
    assert seen.first_seen("a2", ("y.jsonl", 1)) == ("y.jsonl", 1)
    assert seen.first_seen("a1", ("y.jsonl", 7)) == ("x.jsonl", 1)
    # Undecodable export bytes arrive as lone surrogates; they are ids like any other.
    odd = "caf\udce9"
    assert odd not in seen
    assert seen.first_seen(odd, ("y.jsonl", 9)) == ("y.jsonl", 9)
    assert odd in seen and "a2" in seen and "a3" not in seen and "caf\udce8" not in seen
    assert seen.first_seen(odd, ("x.jsonl", 3)) == ("y.jsonl", 9)


def test_the_disk_store_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "seen.sqlite"
    path.write_text("a stale file of an interrupted run")
    seen = SeenIdsOnDisk(path)
    seen.first_seen("a1", ("x.jsonl", 1))
    assert path.stat().st_size > 0
    seen.close()
    assert not path.exists()


def test_a_scratch_database_skips_the_journal(tmp_path: Path) -> None:
    db = connect(tmp_path / "scratch.sqlite")
    assert db.execute("PRAGMA journal_mode").fetchone() == ("off",)
    assert db.execute("PRAGMA cache_size").fetchone() == (-32 * 1024,)
    db.close()
