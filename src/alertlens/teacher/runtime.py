"""The teacher's encoder for inference: PyTorch, or exported to ONNX and run by ONNX Runtime,
in fp32 or int8 (dynamic quantization), whichever is fastest here while it keeps PyTorch's
verdicts.

Only scoring changes runtime; gradients (hardening, Integrated Gradients, guided keywords) stay
on the PyTorch model. The runtime is chosen before the hardened teacher's threshold, so the
margins that are thresholded, distilled and gated are the deployed runtime's own
(docs/decisions/2026-12-02-onnx-runtime.md).
"""

from __future__ import annotations

import copy
import logging
import time
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedModel

from alertlens.machine import usable_cores
from alertlens.teacher.batching import EncodedSet, bucketed_batches, collate

log = logging.getLogger(__name__)

TORCH = "torch"
RUNTIMES = (TORCH, "onnx", "onnx-int8")
ONNX_DIR = "onnx"  # inside the saved teacher directory
ONNX_FILES = {"onnx": "encoder.onnx", "onnx-int8": "encoder-int8.onnx"}
ONNX_OPSET = 17
INPUTS = ("input_ids", "attention_mask")
OUTPUTS = ("margin", "embedding")


class _MarginHead(torch.nn.Module):
    """The exported graph's outputs: the classifier's margin (real minus false positive) and
    the teacher's embedding of the alert (the last layer's first-token state, which the
    classification head pools), so one pass gives the verdict and the similar-alert query."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(
        self, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        output = self.model(
            input_ids=input_ids, attention_mask=attention_mask, output_hidden_states=True
        )
        return output.logits[:, 1] - output.logits[:, 0], output.hidden_states[-1][:, 0]


def export_onnx(model: PreTrainedModel, directory: Path, quantize: bool = True) -> dict[str, Path]:
    """Write the encoder's margin and embedding graph (dynamic batch and sequence axes) to ``directory`` in
    fp32 and, with ``quantize``, an int8 copy (weights quantized, activations per batch).

    The graph is exported with eager attention and then fused by ONNX Runtime's BERT optimizer
    (one Attention, SkipLayerNormalization and BiasGelu op per layer), which scores about a
    fifth faster on a CPU than the unfused export of the SDPA graph
    (docs/decisions/2026-12-02-onnx-runtime.md)."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.transformers import optimizer

    directory.mkdir(parents=True, exist_ok=True)
    paths = {"onnx": directory / ONNX_FILES["onnx"]}
    # A copy: the attention switch must not touch the model that keeps training or scoring, and
    # ONNX Runtime scores on the CPU whatever device the model lives on.
    exported: PreTrainedModel = copy.deepcopy(model).cpu().eval()
    exported.set_attn_implementation("eager")
    unfused = directory / "unfused.onnx"
    example = torch.ones(2, 8, dtype=torch.long)
    axes = {name: {0: "batch", 1: "sequence"} for name in INPUTS}
    with warnings.catch_warnings(), torch.no_grad():
        # The TorchScript exporter (dynamo=False) needs only the onnx package; its deprecation
        # warning is torch's, not the user's to act on.
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _MarginHead(exported),
            (example, example),
            str(unfused),
            input_names=list(INPUTS),
            output_names=list(OUTPUTS),
            dynamic_axes={**axes, **{name: {0: "batch"} for name in OUTPUTS}},
            opset_version=ONNX_OPSET,
            dynamo=False,
        )
    config = exported.config
    fused = optimizer.optimize_model(
        str(unfused),
        model_type="bert",
        num_heads=config.num_attention_heads,
        hidden_size=config.hidden_size,
    )
    fused.save_model_to_file(str(paths["onnx"]))
    unfused.unlink()
    if quantize:
        paths["onnx-int8"] = directory / ONNX_FILES["onnx-int8"]
        root = logging.getLogger()
        level = root.level
        # quantize_dynamic advises (on the root logger) shape-inference pre-processing, which
        # serves static quantization; dynamic quantization of a BERT needs none.
        root.setLevel(logging.ERROR)
        try:
            quantize_dynamic(
                paths["onnx"],
                paths["onnx-int8"],
                weight_type=QuantType.QInt8,
                # The fused ops are ONNX Runtime's own (com.microsoft), which shape inference
                # cannot type: their outputs are fp32.
                extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            )
        finally:
            root.setLevel(level)
    return paths


def session_options(threads: int | None = None) -> Any:
    """ONNX Runtime options that share the cores with torch, LightGBM and numba in one process:
    intra-op threads = usable cores, no inter-op pool, and no spinning (a spinning pool keeps
    cores busy after each call, starving whichever library runs next)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads or usable_cores()
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.log_severity_level = 3  # errors only: ORT warns about every unused initializer
    return options


class OnnxEncoder:
    """The encoder's margins (and embeddings) from an exported graph, batched like
    :func:`predict_margins` (the scorer adds the prior)."""

    def __init__(self, path: Path, threads: int | None = None) -> None:
        import onnxruntime as ort

        self.path = path
        self.session = ort.InferenceSession(
            str(path), session_options(threads), providers=["CPUExecutionProvider"]
        )
        # Graphs exported before the embedding output give margins only.
        self.embeds = OUTPUTS[1] in {output.name for output in self.session.get_outputs()}

    def margins(self, data: EncodedSet, batch_size: int, pad_id: int) -> np.ndarray:
        return self.run(data, batch_size, pad_id, embed=False)[0]

    def run(
        self, data: EncodedSet, batch_size: int, pad_id: int, embed: bool
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Margins and, with ``embed``, the teacher's embedding per text (rows in the data's
        order; None for no text)."""
        if embed and not self.embeds:
            raise ValueError(
                f"{self.path} has no {OUTPUTS[1]} output (exported by an older alertlens): "
                "re-run the harden stage"
            )
        margins = np.zeros(len(data), dtype=np.float64)
        embeddings: np.ndarray | None = None
        names = list(OUTPUTS) if embed else [OUTPUTS[0]]
        cpu = torch.device("cpu")
        for indices in bucketed_batches([len(ids) for ids in data.input_ids], batch_size):
            batch = collate(data, indices, pad_id, cpu)
            feed = {name: batch[name].numpy() for name in INPUTS}
            outputs = self.session.run(names, feed)
            margins[indices] = outputs[0]
            if embed:
                if embeddings is None:
                    embeddings = np.zeros((len(data), outputs[1].shape[1]), dtype=np.float32)
                embeddings[indices] = outputs[1]
        return margins, embeddings


@dataclass
class RuntimeCheck:
    """One runtime measured against PyTorch fp32 on the same alerts."""

    alerts_per_second: float
    max_abs_diff: float
    p99_abs_diff: float
    threshold: float  # chosen on this runtime's own validation margins
    agreement: float  # verdicts equal to PyTorch's, each at its own threshold
    passed: bool


@dataclass
class RuntimeChoice:
    """The runtime the teacher scores with, why, and what each candidate measured."""

    runtime: str
    reason: str
    checks: dict[str, RuntimeCheck] = field(default_factory=dict)

    def metrics(self) -> dict[str, Any]:
        return {
            "chosen": self.runtime,
            "reason": self.reason,
            "checks": {name: asdict(check) for name, check in self.checks.items()},
        }


def check_runtimes(
    margins: dict[str, np.ndarray],
    thresholds: dict[str, float],
    seconds: dict[str, float],
    scored: int,
    agreement_floor: float,
) -> dict[str, RuntimeCheck]:
    """Each runtime's speed (``scored`` texts in ``seconds``), margin difference and verdict
    agreement against ``torch``.

    Each runtime's verdicts are taken at its own threshold, chosen by the same rule on its own
    validation margins, as it would be deployed: a threshold sits on one alert's margin, so at
    PyTorch's threshold a difference of 1e-8 on that alert alone would count as a flip."""
    reference = margins[TORCH] >= thresholds[TORCH]
    checks = {}
    for name, values in margins.items():
        difference = np.abs(values - margins[TORCH])
        agreement = float(np.mean((values >= thresholds[name]) == reference))
        checks[name] = RuntimeCheck(
            alerts_per_second=round(scored / max(seconds[name], 1e-9), 2),
            max_abs_diff=float(difference.max(initial=0.0)),
            p99_abs_diff=float(np.quantile(difference, 0.99)) if len(values) else 0.0,
            threshold=float(thresholds[name]),
            agreement=round(agreement, 5),
            passed=agreement >= agreement_floor,
        )
    return checks


def pick_runtime(
    requested: str, checks: dict[str, RuntimeCheck], agreement_floor: float
) -> RuntimeChoice:
    """``auto``: the fastest runtime whose agreement holds; a named one if its agreement holds,
    else PyTorch, saying why."""
    if requested != "auto" and requested not in RUNTIMES:
        raise ValueError(f"teacher.runtime must be 'auto' or one of {RUNTIMES}, got {requested!r}")
    if requested == "auto":
        passing = [name for name, check in checks.items() if check.passed]
        fastest = max(passing, key=lambda name: checks[name].alerts_per_second)
        reason = (
            f"fastest here with verdict agreement >= {agreement_floor} "
            f"({checks[fastest].alerts_per_second:.1f} alerts/s; "
            + ", ".join(
                f"{name} {check.alerts_per_second:.1f}"
                + ("" if check.passed else f" refused at agreement {check.agreement:.4f}")
                for name, check in checks.items()
                if name != fastest
            )
            + ")"
        )
        return RuntimeChoice(fastest, reason, checks)
    if requested not in checks:
        return RuntimeChoice(TORCH, f"{requested} was not exported", checks)
    check = checks[requested]
    if not check.passed:
        reason = (
            f"{requested} refused: verdict agreement with PyTorch {check.agreement:.4f} is below "
            f"the floor {agreement_floor} (max margin difference {check.max_abs_diff:.3f})"
        )
        log.warning("teacher runtime: %s; scoring with torch", reason)
        return RuntimeChoice(TORCH, reason, checks)
    return RuntimeChoice(requested, "configured", checks)


def timed_margins(
    runners: dict[str, Any], texts: Sequence[str]
) -> tuple[dict[str, np.ndarray], dict[str, float]]:
    """Each runner's margins for ``texts`` and its wall time, one runner after another."""
    margins, seconds = {}, {}
    for name, run in runners.items():
        started = time.perf_counter()
        margins[name] = np.asarray(run(texts), dtype=np.float64)
        seconds[name] = time.perf_counter() - started
    return margins, seconds
