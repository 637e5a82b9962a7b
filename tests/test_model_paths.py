from pathlib import Path

import pytest

from alertlens.model_paths import model_artifact


def test_an_artifact_inside_the_model_is_returned(tmp_path: Path) -> None:
    assert model_artifact("artifacts/hardened", tmp_path) == tmp_path / "artifacts" / "hardened"
    joined = tmp_path / "artifacts" / "surrogate"  # as MLflow hands it to load_context
    assert model_artifact(str(joined)) == joined


@pytest.mark.parametrize(
    ("path", "in_model_dir"),
    [
        ("../../etc", True),
        ("/etc/passwd", True),
        ("artifacts/../../x", True),
        ("/models/m-1/artifacts/../../../etc", False),
        ("/etc/passwd", False),
    ],
)
def test_a_path_pointing_outside_the_model_is_refused(
    tmp_path: Path, path: str, in_model_dir: bool
) -> None:
    with pytest.raises(ValueError, match="points outside the model; refused"):
        model_artifact(path, tmp_path if in_model_dir else None)
