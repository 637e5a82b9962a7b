import numpy as np
import torch

from alertlens.alerts.render import render_text
from alertlens.teacher.batching import collate, encode
from alertlens.teacher.encoder import autocast, pick_device
from alertlens.teacher.scoring import TeacherScorer, fp32_head

from .conftest import RENDER, toy_alerts


def _bf16_pooled_and_fp32_margins(model, tokenizer, alerts) -> np.ndarray:  # noqa: ANN001
    """What the scorer should return: the encoder in bf16, the head in plain fp32."""
    texts = [render_text(a, RENDER) for a in alerts]
    data = encode(tokenizer, texts, [0] * len(texts), 64)
    batch = collate(data, list(range(len(texts))), tokenizer.pad_token_id, pick_device("cpu"))
    model.eval()
    with torch.no_grad():
        with autocast(pick_device("cpu"), "bf16"):
            pooled = model.bert(
                input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]
            ).pooler_output
        logits = model.classifier(pooled.float())
    return (logits[:, 1] - logits[:, 0]).numpy()


def test_bf16_scoring_computes_the_head_in_fp32(tiny) -> None:  # noqa: ANN001
    model, tokenizer = tiny
    alerts = toy_alerts(12, seed=3)
    scorer = TeacherScorer(model, tokenizer, RENDER, 64, pick_device("cpu"), "bf16")
    margins = scorer(alerts)
    np.testing.assert_allclose(
        margins, _bf16_pooled_and_fp32_margins(model, tokenizer, alerts), atol=1e-5
    )
    # Not rounded to bf16 logits: a bf16 margin keeps 8 significant bits, these keep more.
    as_bf16 = torch.tensor(margins).to(torch.bfloat16).double().numpy()
    assert np.any(np.abs(margins - as_bf16) > 1e-6)


def test_the_fp32_head_hook_is_removed_after_scoring(tiny) -> None:  # noqa: ANN001
    model, _ = tiny
    with fp32_head(model):
        assert len(model.classifier._forward_hooks) == 1
    assert len(model.classifier._forward_hooks) == 0


def test_a_model_without_a_classifier_attribute_is_scored_as_is() -> None:
    model = torch.nn.Linear(2, 2)
    with fp32_head(model):
        assert len(model._forward_hooks) == 0
