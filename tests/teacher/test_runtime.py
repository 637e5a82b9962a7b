"""The teacher's inference runtimes: ONNX export, int8, the checks that choose one, threads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from alertlens.alerts.dataset import HeldOut
from alertlens.alerts.render import render_text
from alertlens.machine import usable_cores
from alertlens.teacher.artifact import Teacher, TeacherMeta, load_teacher, save_teacher
from alertlens.teacher.batching import EncodedSet
from alertlens.teacher.encoder import pick_device
from alertlens.teacher.harden import choose_runtime
from alertlens.teacher.runtime import (
    ONNX_DIR,
    OnnxEncoder,
    check_runtimes,
    export_onnx,
    pick_runtime,
    session_options,
)

from .conftest import RENDER, toy_alerts

TEACHER_CFG = {
    "runtime": "auto",
    "runtime_agreement_floor": 0.995,
    "eval_batch_size": 8,
    "recall_target": 0.99,
    "threshold_rule": "pooled",
}


def tiny_teacher(tiny) -> Teacher:  # noqa: ANN001
    model, tokenizer = tiny
    meta = TeacherMeta("tiny", 0.0, 64, "fp32", 0.99, RENDER.to_dict())
    return Teacher(model.eval(), tokenizer, meta, pick_device("cpu"))


def test_the_onnx_encoder_gives_pytorchs_margins_and_int8_stays_close(tiny, tmp_path) -> None:  # noqa: ANN001
    teacher = tiny_teacher(tiny)
    files = export_onnx(teacher.model, tmp_path)
    assert sorted(files) == ["onnx", "onnx-int8"]
    assert files["onnx-int8"].stat().st_size < files["onnx"].stat().st_size / 2
    teacher.onnx_files = files
    alerts = toy_alerts(40)
    reference = teacher.scorer(batch_size=7)(alerts)  # uneven batches: padding differs per batch
    fp32 = teacher.scorer(batch_size=7, runtime="onnx")(alerts)
    int8 = teacher.scorer(batch_size=7, runtime="onnx-int8")(alerts)
    assert np.abs(fp32 - reference).max() < 1e-4
    assert 0 < np.abs(int8 - reference).max() < 0.5
    assert not np.array_equal(int8, fp32)


def test_the_exported_graph_gives_pytorchs_embeddings_in_the_same_pass(tiny, tmp_path) -> None:  # noqa: ANN001
    teacher = tiny_teacher(tiny)
    teacher.prior = lambda alerts: np.full(len(alerts), 1.5)
    teacher.onnx_files = export_onnx(teacher.model, tmp_path)
    alerts = toy_alerts(30)
    margins, embeddings = teacher.scorer(batch_size=7).margins_and_embeddings(alerts)
    hidden = teacher.model.config.hidden_size
    assert embeddings.shape == (30, hidden) and embeddings.dtype == np.float32
    assert np.array_equal(margins, teacher.scorer(batch_size=7)(alerts))  # the prior included
    for runtime, tolerance in (("onnx", 1e-4), ("onnx-int8", 0.5)):
        scorer = teacher.scorer(batch_size=7, runtime=runtime)
        assert scorer.onnx is not None and scorer.onnx.embeds
        onnx_margins, onnx_embeddings = scorer.margins_and_embeddings(alerts)
        assert np.array_equal(onnx_margins, scorer(alerts))
        assert np.abs(onnx_embeddings - embeddings).max() < tolerance
    # The first-token state of the last layer, row for row in the alerts' order.
    single = teacher.scorer().margins_and_embeddings(alerts[3:4])[1]
    assert np.allclose(single[0], embeddings[3], atol=1e-4)
    empty = teacher.scorer(runtime="onnx").margins_and_embeddings([])
    assert empty[0].shape == (0,) and len(empty[1]) == 0


def test_a_graph_without_the_embedding_output_says_to_rerun_harden(tmp_path) -> None:  # noqa: ANN001
    class MarginOnly(torch.nn.Module):
        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            return (input_ids * attention_mask).float().sum(dim=1)

    path = tmp_path / "old.onnx"
    example = torch.ones(2, 4, dtype=torch.long)
    torch.onnx.export(
        MarginOnly(),
        (example, example),
        str(path),
        input_names=["input_ids", "attention_mask"],
        output_names=["margin"],
        dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}},
        dynamo=False,
    )
    encoder = OnnxEncoder(path)
    data = EncodedSet([[1, 2, 3], [4, 5]], [0, 0])
    assert not encoder.embeds
    assert encoder.margins(data, 8, 0).tolist() == [6.0, 9.0]
    with pytest.raises(ValueError, match="has no embedding output .* re-run the harden stage"):
        encoder.run(data, 8, 0, embed=True)


def test_onnx_margins_add_the_prior_like_pytorch(tiny, tmp_path) -> None:  # noqa: ANN001
    teacher = tiny_teacher(tiny)
    teacher.prior = lambda alerts: np.full(len(alerts), 2.5)
    teacher.onnx_files = export_onnx(teacher.model, tmp_path, quantize=False)
    alerts = toy_alerts(9)
    torch_margins = teacher.scorer()(alerts)
    onnx_margins = teacher.scorer(runtime="onnx")(alerts)
    assert np.allclose(onnx_margins, torch_margins, atol=1e-4)
    assert np.allclose(
        onnx_margins
        - teacher.scorer(runtime="onnx").encoder_margins(
            [render_text(alert, RENDER) for alert in alerts]
        ),
        2.5,
        atol=1e-6,
    )


def test_checks_measure_difference_and_agreement_at_the_threshold() -> None:
    margins = {
        "torch": np.array([-2.0, -0.05, 0.05, 3.0]),
        "onnx": np.array([-2.0, -0.05, 0.05, 3.0]),
        "onnx-int8": np.array([-1.9, 0.02, 0.05, 3.0]),  # the second alert crosses 0
    }
    seconds = {"torch": 4.0, "onnx": 2.0, "onnx-int8": 1.0}
    thresholds = {"torch": 0.0, "onnx": 0.0, "onnx-int8": 0.0}
    checks = check_runtimes(margins, thresholds, seconds, 4, agreement_floor=0.9)
    assert checks["torch"].agreement == 1.0 and checks["torch"].max_abs_diff == 0.0
    assert checks["onnx-int8"].agreement == 0.75
    assert checks["onnx-int8"].max_abs_diff == pytest.approx(0.1)
    assert not checks["onnx-int8"].passed and checks["onnx"].passed
    assert checks["onnx-int8"].alerts_per_second == 4.0 and checks["torch"].alerts_per_second == 1.0
    auto = pick_runtime("auto", checks, 0.9)
    assert auto.runtime == "onnx"  # int8 is faster but changes a verdict
    assert "onnx-int8 4.0 refused at agreement 0.7500" in auto.reason
    named = pick_runtime("onnx-int8", checks, 0.9)
    assert named.runtime == "torch"
    assert "below the floor 0.9" in named.reason
    assert pick_runtime("onnx", checks, 0.9).runtime == "onnx"
    with pytest.raises(ValueError, match="teacher.runtime must be"):
        pick_runtime("tensorrt", checks, 0.9)


def test_each_runtime_is_judged_at_its_own_threshold() -> None:
    # int8 moves every margin down by 0.01; its own threshold (chosen on its own margins) moves
    # with them, so no verdict changes, while at PyTorch's threshold one would.
    torch_margins = np.array([-1.0, 0.5, 0.5, 2.0])
    margins = {"torch": torch_margins, "onnx-int8": torch_margins - 0.01}
    thresholds = {"torch": 0.5, "onnx-int8": 0.49}
    checks = check_runtimes(margins, thresholds, {"torch": 1.0, "onnx-int8": 1.0}, 4, 0.995)
    assert checks["onnx-int8"].agreement == 1.0 and checks["onnx-int8"].threshold == 0.49
    assert checks["onnx-int8"].max_abs_diff == pytest.approx(0.01)


def test_choose_runtime_sets_the_runtime_and_a_scorer_that_knows_the_alerts(
    tiny,
    tmp_path,  # noqa: ANN001
) -> None:
    teacher = tiny_teacher(tiny)
    validation, test = toy_alerts(30), toy_alerts(30, seed=1)
    held_out = HeldOut(validation=validation, threshold_set=validation, test=test)
    choice, scorer = choose_runtime(teacher, TEACHER_CFG, held_out, tmp_path / "export")
    assert set(choice.checks) == {"torch", "onnx", "onnx-int8"}
    assert choice.checks["onnx"].agreement == 1.0
    assert teacher.meta.runtime == choice.runtime
    assert choice.checks[choice.runtime].passed
    queries = scorer.queries
    margins = scorer(test)  # remembered: no new model runs, the chosen runtime's margins
    assert np.allclose(margins, teacher.scorer(runtime=choice.runtime)(test))
    assert scorer.queries == queries + len(test)
    metrics = choice.metrics()
    assert metrics["chosen"] == choice.runtime
    assert set(metrics["checks"]["onnx-int8"]) == {
        "alerts_per_second",
        "max_abs_diff",
        "p99_abs_diff",
        "threshold",
        "agreement",
        "passed",
    }


def test_a_saved_teacher_keeps_its_runtime_and_onnx_files(tiny, tmp_path) -> None:  # noqa: ANN001
    teacher = tiny_teacher(tiny)
    teacher.onnx_files = export_onnx(teacher.model, tmp_path / "export")
    teacher.meta.runtime = "onnx-int8"
    save_teacher(tmp_path / "saved", teacher)
    assert sorted(p.name for p in (tmp_path / "saved" / ONNX_DIR).iterdir()) == [
        "encoder-int8.onnx",
        "encoder.onnx",
    ]
    loaded = load_teacher(tmp_path / "saved", "cpu")
    assert loaded.meta.runtime == "onnx-int8"
    scorer = loaded.scorer()
    assert isinstance(scorer.onnx, OnnxEncoder)
    assert scorer.onnx.path == tmp_path / "saved" / ONNX_DIR / "encoder-int8.onnx"
    alerts = toy_alerts(6)
    assert np.allclose(scorer(alerts), teacher.scorer()(alerts), atol=1e-9)
    assert loaded.scorer(runtime="torch").onnx is None


def test_a_teacher_without_its_runtimes_files_fails_at_load(tiny, tmp_path) -> None:  # noqa: ANN001
    teacher = tiny_teacher(tiny)
    teacher.meta.runtime = "onnx"
    save_teacher(tmp_path, teacher)
    with pytest.raises(ValueError, match="no onnx/encoder.onnx: re-run the harden stage"):
        load_teacher(tmp_path, "cpu")


def test_onnx_runtime_threads_fit_the_usable_cores_without_spinning(tiny, tmp_path) -> None:  # noqa: ANN001
    options = session_options()
    assert options.intra_op_num_threads == usable_cores()
    assert options.inter_op_num_threads == 1
    assert options.get_session_config_entry("session.intra_op.allow_spinning") == "0"
    files = export_onnx(tiny_teacher(tiny).model, tmp_path, quantize=False)
    session = OnnxEncoder(Path(files["onnx"])).session
    assert session.get_session_options().intra_op_num_threads == usable_cores()
