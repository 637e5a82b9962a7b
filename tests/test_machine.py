from pathlib import Path

from alertlens.machine import cpu_flags, cpu_model, precision_flags

CPUINFO = """processor\t: 0
model name\t: Intel(R) Xeon(R) Platinum 8480+
flags\t\t: fpu sse2 amx_tile avx512f avx2 fma avx512_bf16 amx_bf16 avx512vl
"""


def test_flags_are_the_precision_flags_present_in_a_fixed_order(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text(CPUINFO)
    assert precision_flags(cpuinfo) == [
        "avx2",
        "fma",
        "avx512f",
        "avx512_bf16",
        "amx_tile",
        "amx_bf16",
    ]
    assert "avx512vl" in cpu_flags(cpuinfo) and "sse2" in cpu_flags(cpuinfo)
    assert cpu_model(cpuinfo) == "Intel(R) Xeon(R) Platinum 8480+"


def test_arm_features_count_as_flags(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nFeatures\t: fp asimd bf16\n")
    assert cpu_flags(cpuinfo) == frozenset({"fp", "asimd", "bf16"})


def test_no_cpuinfo_means_no_flags(tmp_path: Path) -> None:
    assert cpu_flags(tmp_path / "absent") == frozenset()
    assert precision_flags(tmp_path / "absent") == []
