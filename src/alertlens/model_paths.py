"""What a logged model carries: where its artifacts may live (inside the model, never where a
tampered MLmodel points) and the requirements it pins (kept free of MLflow imports: commands
that never load a model import it cheaply)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

MODEL_ARTIFACTS_DIR = "artifacts"  # where a pyfunc model keeps the artifacts logged with it
# The alertlens package, logged with every model (``code_paths``): MLflow puts the model's copy
# first on ``sys.path`` when it loads the model, so a host or container without alertlens
# installed serves it from the registry alone, with the code of the run that logged it.
PACKAGE_CODE = Path(__file__).resolve().parent
# The third-party packages the models' code imports when it loads and scores; pinned to this
# environment's versions. alertlens itself travels with the model (PACKAGE_CODE).
RUNTIME_PACKAGES = (
    *("mlflow", "torch", "transformers", "onnxruntime", "lightgbm", "numba", "numpy", "pandas"),
    *("orjson", "omegaconf", "hydra-core"),
)


def pinned_requirements() -> list[str]:
    """RUNTIME_PACKAGES at this environment's versions. Given explicitly: MLflow would otherwise
    load the model in a subprocess to infer them, and infer only what that one load imported."""
    pins = []
    for package in RUNTIME_PACKAGES:
        try:
            pins.append(f"{package}=={version(package).split('+')[0]}")
        except PackageNotFoundError:
            pins.append(package)
    return pins


def model_artifact(path: str | Path, model_dir: Path | None = None) -> Path:
    """A pyfunc model's artifact path, refused when its MLmodel points outside the model (a
    tampered store): a ``..`` segment, a path that resolves outside ``model_dir``, or, where
    the model directory is not known (MLflow hands ``load_context`` joined paths), a path
    that is not in an ``artifacts/`` folder."""
    candidate = Path(path)
    inside = ".." not in candidate.parts
    if model_dir is not None:
        candidate = model_dir / candidate
        inside = inside and candidate.resolve().is_relative_to(model_dir.resolve())
    else:
        inside = inside and candidate.parent.name == MODEL_ARTIFACTS_DIR
    if not inside:
        raise ValueError(f"model artifact path {str(path)!r} points outside the model; refused")
    return candidate
