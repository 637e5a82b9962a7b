"""The saved teacher: ``save_pretrained`` model + tokenizer + how to render and decide, and the
wide part's prior where it has one (``alertlens.teacher.prior``)."""

from __future__ import annotations

import json
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

from alertlens.alerts.render import RenderConfig
from alertlens.alerts.schema import Alert, verdict_of
from alertlens.metrics import sigmoid
from alertlens.operating_point import Scorer
from alertlens.teacher.confidence import Confidence
from alertlens.teacher.encoder import pick_device
from alertlens.teacher.prior import load_prior, save_prior
from alertlens.teacher.runtime import ONNX_DIR, ONNX_FILES, RUNTIMES, TORCH, OnnxEncoder
from alertlens.teacher.scoring import TeacherScorer

META_FILE = "alertlens_teacher.json"


@dataclass
class TeacherMeta:
    """Everything besides the weights that scoring an alert needs."""

    encoder: str
    threshold: float  # in logit-margin space: real when margin >= threshold
    max_length: int
    precision: str
    recall_target: float
    render: dict[str, Any]
    # What scores alerts (alertlens.teacher.runtime): torch | onnx | onnx-int8. The threshold
    # was chosen on this runtime's margins.
    runtime: str = TORCH
    # Calibration and borderline band (alertlens.teacher.confidence.Confidence.to_dict), set
    # with the threshold by the harden stage; None for a teacher saved without them.
    confidence: dict[str, Any] | None = None


@dataclass
class Teacher:
    """A loaded teacher, ready to score alerts."""

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    meta: TeacherMeta
    device: torch.device
    prior: Scorer | None = None  # the wide part: its logit adds to the encoder's margin
    # The prior's out-of-fold logit per training alert id: what fine-tuning trains on.
    prior_out_of_fold: dict[str, float] | None = None
    # The exported encoder per ONNX runtime name (alertlens.teacher.runtime.ONNX_FILES).
    onnx_files: dict[str, Path] = field(default_factory=dict)
    _onnx_encoders: dict[str, OnnxEncoder] = field(default_factory=dict, repr=False)

    @property
    def confidence(self) -> Confidence | None:
        """The calibration and borderline band the harden stage set, if any."""
        return Confidence.from_dict(self.meta.confidence)

    @property
    def render(self) -> RenderConfig:
        return RenderConfig.from_dict(self.meta.render)

    def onnx_encoder(self, runtime: str) -> OnnxEncoder | None:
        """The ONNX Runtime session for ``runtime`` (loaded once), or None for torch."""
        if runtime == TORCH:
            return None
        if runtime not in RUNTIMES:
            raise ValueError(f"unknown teacher runtime {runtime!r}; one of {RUNTIMES}")
        if runtime not in self.onnx_files:
            raise ValueError(
                f"the teacher scores with {runtime}, but its directory has no "
                f"{ONNX_DIR}/{ONNX_FILES[runtime]}: re-run the harden stage"
            )
        if runtime not in self._onnx_encoders:
            self._onnx_encoders[runtime] = OnnxEncoder(self.onnx_files[runtime])
        return self._onnx_encoders[runtime]

    def scorer(
        self, batch_size: int = 64, memoize: bool = False, runtime: str | None = None
    ) -> TeacherScorer:
        """A scorer on the teacher's deployed runtime, or on ``runtime``."""
        return TeacherScorer(
            self.model,
            self.tokenizer,
            self.render,
            self.meta.max_length,
            self.device,
            self.meta.precision,
            batch_size,
            memoize,
            self.prior,
            self.onnx_encoder(runtime or self.meta.runtime),
        )


def save_teacher(directory: Path, teacher: Teacher) -> None:
    """Write a directory any transformers user can load, plus our ``alertlens_teacher.json``."""
    directory.mkdir(parents=True, exist_ok=True)
    teacher.model.save_pretrained(directory)
    teacher.tokenizer.save_pretrained(directory)
    (directory / META_FILE).write_text(json.dumps(asdict(teacher.meta), indent=2) + "\n")
    if teacher.prior is not None:
        save_prior(teacher.prior, directory, teacher.prior_out_of_fold)
    saved = {}
    for runtime, path in teacher.onnx_files.items():
        target = directory / ONNX_DIR / ONNX_FILES[runtime]
        if Path(path).resolve() != target.resolve():
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(path, target)
        saved[runtime] = target
    teacher.onnx_files = saved


def load_teacher(directory: Path, device: str = "auto") -> Teacher:
    """Load a teacher saved by :func:`save_teacher` (offline)."""
    meta_path = Path(directory) / META_FILE
    if not meta_path.is_file():
        raise ValueError(f"{directory} is not an alertlens teacher (no {META_FILE})")
    meta = TeacherMeta(**json.loads(meta_path.read_text()))
    torch_device = pick_device(device)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(directory), local_files_only=True
    )
    tokenizer = AutoTokenizer.from_pretrained(str(directory), local_files_only=True)
    teacher = Teacher(model.to(torch_device).eval(), tokenizer, meta, torch_device)
    teacher.prior, teacher.prior_out_of_fold = load_prior(Path(directory), teacher.render)
    exported = Path(directory) / ONNX_DIR
    teacher.onnx_files = {
        runtime: exported / name
        for runtime, name in ONNX_FILES.items()
        if (exported / name).is_file()
    }
    teacher.onnx_encoder(meta.runtime)  # fail at load, not at the first alert
    return teacher


def score_frame(teacher: Teacher, alerts: list[Alert]) -> pd.DataFrame:
    """The teacher's answer per alert: margin, probability, verdict."""
    margins = teacher.scorer()(alerts)
    probability = sigmoid(margins)
    verdict = [verdict_of(m, teacher.meta.threshold) for m in margins]
    return pd.DataFrame({"score": margins, "probability": probability, "verdict": verdict})
