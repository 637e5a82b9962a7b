"""configure_threads: torch's pools fit the usable cores; tokenizers stay serial unless set."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pytest

from alertlens import threads


class FakeTorch(SimpleNamespace):
    """torch's thread settings, recorded instead of applied (inter-op is settable once)."""

    def __init__(self, threads: int, interop: int, interop_fixed: bool = False) -> None:
        super().__init__(threads=threads, interop=interop, interop_fixed=interop_fixed)

    def get_num_threads(self) -> int:
        return self.threads

    def set_num_threads(self, count: int) -> None:
        self.threads = count

    def get_num_interop_threads(self) -> int:
        return self.interop

    def set_num_interop_threads(self, count: int) -> None:
        if self.interop_fixed:
            raise RuntimeError("Error: cannot set number of interop threads after parallel work")
        self.interop = count


@pytest.fixture(autouse=True)
def four_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1, 2, 3})
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "")  # recorded, so the teardown restores it
    monkeypatch.delenv("TOKENIZERS_PARALLELISM")


def test_usable_cores_are_the_affinity_mask() -> None:
    assert threads.usable_cores() == 4


def test_torch_threads_are_capped_at_the_usable_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeTorch(threads=32, interop=32)
    monkeypatch.setattr(threads, "torch", fake)
    counts = threads.configure_threads()
    assert (fake.threads, fake.interop) == (4, 4)
    assert counts == threads.ThreadCounts(4, 4, 4, tokenizers_parallel=False)
    assert os.environ["TOKENIZERS_PARALLELISM"] == "false"


def test_fewer_torch_threads_than_cores_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "torch", FakeTorch(threads=2, interop=2))  # OMP_NUM_THREADS=2
    assert threads.configure_threads() == threads.ThreadCounts(4, 2, 2, False)


def test_an_inter_op_count_fixed_already_is_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "torch", FakeTorch(threads=32, interop=32, interop_fixed=True))
    assert threads.configure_threads() == threads.ThreadCounts(4, 4, 32, False)


def test_a_user_s_tokenizers_setting_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(threads, "torch", FakeTorch(threads=4, interop=4))
    monkeypatch.setenv("TOKENIZERS_PARALLELISM", "true")
    assert threads.configure_threads().tokenizers_parallel is True
    assert os.environ["TOKENIZERS_PARALLELISM"] == "true"


def test_torchrun_s_processes_on_one_machine_split_its_cores(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(threads, "torch", FakeTorch(threads=32, interop=32))
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "2")
    assert threads.configure_threads() == threads.ThreadCounts(2, 2, 2, False)
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "8")  # more processes than cores: one thread each
    assert threads.configure_threads() == threads.ThreadCounts(1, 1, 1, False)
