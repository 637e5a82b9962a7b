"""choose_precision: configured precisions pass through; auto follows CUDA, AMX, or a cached
matmul timing."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
import torch

from alertlens.alerts.dataset import HeldOut
from alertlens.config import compose
from alertlens.teacher import precision
from alertlens.teacher.fit import train_teacher
from alertlens.teacher.precision import PrecisionChoice, choose_precision

from .conftest import RENDER, toy_alerts

CPU = torch.device("cpu")
EPYC = "model name\t: AMD EPYC\nflags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 avx512vl\n"
SAPPHIRE_RAPIDS = (
    "model name\t: Intel(R) Xeon(R) Platinum 8480+\n"
    "flags\t\t: fpu sse2 avx2 fma avx512f avx512_bf16 amx_tile amx_bf16 amx_int8\n"
)


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    directory = tmp_path / "cache"
    monkeypatch.setenv(precision.CACHE_ENV, str(directory))
    return directory


@pytest.fixture
def cpuinfo(tmp_path: Path) -> Path:
    path = tmp_path / "cpuinfo"
    path.write_text(EPYC)
    return path


@pytest.fixture
def no_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> tuple[float, float]:
        raise AssertionError("the matmul benchmark ran")

    monkeypatch.setattr(precision, "matmul_seconds", refuse)


def fixed_timings(
    monkeypatch: pytest.MonkeyPatch, fp32_seconds: float, bf16_seconds: float
) -> list[int]:
    """Make the benchmark return fixed timings; the returned list counts its calls."""
    calls: list[int] = []

    def timed() -> tuple[float, float]:
        calls.append(1)
        return fp32_seconds, bf16_seconds

    monkeypatch.setattr(precision, "matmul_seconds", timed)
    return calls


@pytest.mark.parametrize("configured", ["bf16", "fp32"])
def test_a_configured_precision_passes_through(configured: str, no_benchmark: None) -> None:
    assert choose_precision(configured, CPU) == PrecisionChoice(configured, "configured")


def test_an_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="precision must be 'auto', 'bf16' or 'fp32', got 'fp16'"):
        choose_precision("fp16", CPU)


@pytest.mark.parametrize(("supported", "expected"), [(True, "bf16"), (False, "fp32")])
def test_auto_on_cuda_follows_the_device_s_bf16_support(
    monkeypatch: pytest.MonkeyPatch, no_benchmark: None, supported: bool, expected: str
) -> None:
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda: supported)
    assert choose_precision("auto", torch.device("cuda")).precision == expected


def test_auto_on_a_cpu_with_amx_picks_bf16_without_measuring(
    tmp_path: Path, no_benchmark: None, cache_dir: Path
) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(SAPPHIRE_RAPIDS)
    choice = choose_precision("auto", CPU, cpuinfo)
    assert choice == PrecisionChoice("bf16", "the CPU has AMX (amx_bf16), which runs bf16 matmuls")
    assert not cache_dir.exists()


def test_auto_without_amx_measures_once_and_reads_the_cache_after(
    monkeypatch: pytest.MonkeyPatch,
    cpuinfo: Path,
    cache_dir: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls = fixed_timings(monkeypatch, fp32_seconds=0.030, bf16_seconds=0.020)
    with caplog.at_level(logging.INFO, logger=precision.__name__):
        first = choose_precision("auto", CPU, cpuinfo)
        second = choose_precision("auto", CPU, cpuinfo)
    assert len(calls) == 1
    assert first == second and first.precision == "bf16"
    assert first.reason.startswith(
        "no AMX; a training-shaped matmul took 20.0 ms in bf16 and 30.0 ms in fp32 "
        "(1.50x, bf16 needs 1.10x); measured "
    )
    key = f"AMD EPYC | avx2,fma,avx512f,avx512_bf16 | torch {torch.__version__} | "
    key += f"{torch.get_num_threads()} threads"
    cached = json.loads((cache_dir / "precision.json").read_text())
    assert list(cached) == [key]
    assert (cached[key]["fp32_ms"], cached[key]["bf16_ms"]) == (30.0, 20.0)
    assert [r.getMessage() for r in caplog.records] == [
        f"precision bf16 (auto): {first.reason}"
    ] * 2


@pytest.mark.parametrize(
    ("bf16_seconds", "expected"),
    [(0.0270, "bf16"), (0.0275, "fp32"), (0.060, "fp32")],  # 1.11x, 1.09x, 0.5x
)
def test_auto_picks_bf16_only_when_it_is_faster_by_the_margin(
    monkeypatch: pytest.MonkeyPatch, cpuinfo: Path, bf16_seconds: float, expected: str
) -> None:
    fixed_timings(monkeypatch, fp32_seconds=0.030, bf16_seconds=bf16_seconds)
    assert choose_precision("auto", CPU, cpuinfo).precision == expected


def test_the_cache_key_changes_with_the_thread_count(
    monkeypatch: pytest.MonkeyPatch, cpuinfo: Path, cache_dir: Path
) -> None:
    calls = fixed_timings(monkeypatch, fp32_seconds=0.030, bf16_seconds=0.020)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    choose_precision("auto", CPU, cpuinfo)
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    choose_precision("auto", CPU, cpuinfo)
    assert len(calls) == 2
    cached = json.loads((cache_dir / "precision.json").read_text())
    assert sorted(key.rsplit(" | ", 1)[1] for key in cached) == ["1 threads", "2 threads"]


def test_an_unreadable_cache_is_measured_again(
    monkeypatch: pytest.MonkeyPatch, cpuinfo: Path, cache_dir: Path
) -> None:
    cache_dir.mkdir()
    (cache_dir / "precision.json").write_text("{not json")
    calls = fixed_timings(monkeypatch, fp32_seconds=0.030, bf16_seconds=0.060)
    assert choose_precision("auto", CPU, cpuinfo).precision == "fp32"
    assert len(calls) == 1


def test_the_benchmark_times_both_precisions_and_leaves_the_global_rng_alone() -> None:
    torch.manual_seed(3)
    expected = torch.rand(1)
    torch.manual_seed(3)
    fp32_seconds, bf16_seconds = precision.matmul_seconds(repeats=1)
    assert fp32_seconds > 0 and bf16_seconds > 0
    assert torch.equal(torch.rand(1), expected)


def test_train_teacher_with_auto_saves_the_concrete_precision_in_the_meta(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(precision, "cpu_flags", lambda cpuinfo: frozenset({"avx512_bf16"}))
    fixed_timings(monkeypatch, fp32_seconds=0.030, bf16_seconds=0.015)
    overrides = ["teacher=tiny", "teacher.epochs=1", "teacher.device=cpu", "teacher.precision=auto"]
    cfg = compose(overrides)["teacher"]
    held_out = HeldOut(toy_alerts(12, seed=1), toy_alerts(18, seed=1), toy_alerts(9, seed=2))
    fitted = train_teacher(cfg, RENDER, toy_alerts(32), held_out)
    assert fitted.teacher.meta.precision == "bf16"
    assert fitted.teacher.scorer().precision == "bf16"
    assert fitted.precision.precision == "bf16" and fitted.precision.reason.startswith("no AMX")
