import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_dvc_ignores_the_caches_written_next_to_the_source() -> None:
    """numba (the memoized TreeSHAP kernels) and Python write caches into src/; if DVC hashed
    them, a stage depending on src/alertlens/explain/treeshap.py would look changed after every run."""
    cached = [
        "src/alertlens/explain/__pycache__/treeshap._fill-338.py311.nbi",
        "src/alertlens/surrogate/__pycache__/model.cpython-311.pyc",
    ]
    dvc = Path(sys.executable).with_name("dvc")
    result = subprocess.run(
        [str(dvc), "check-ignore", *cached], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.split() == cached
    source = subprocess.run(
        [str(dvc), "check-ignore", "src/alertlens/explain/treeshap.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert source.returncode == 1  # the source itself is still an input
