from unittest.mock import patch

import numpy as np
import torch

from alertlens.alerts.render import render_text
from alertlens.baselines import TfidfConfig, TfidfLogreg
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


def test_a_memoizing_scorer_runs_each_distinct_text_once(tiny) -> None:  # noqa: ANN001
    model, tokenizer = tiny
    alerts = toy_alerts(6, seed=4)
    plain = TeacherScorer(model, tokenizer, RENDER, 64, pick_device("cpu"), "fp32")
    memo = TeacherScorer(model, tokenizer, RENDER, 64, pick_device("cpu"), "fp32", memoize=True)
    rows_seen = []
    hook = model.register_forward_hook(
        lambda _m, _args, kwargs, _out: rows_seen.append(len(kwargs["input_ids"])),
        with_kwargs=True,
    )
    try:
        first = memo(alerts + alerts[:2])  # 2 repeated on top of the toy set's own repeats
        again = memo(alerts[::-1])  # all known already
    finally:
        hook.remove()
    distinct = {render_text(a, RENDER) for a in alerts}
    assert 1 < len(distinct) < len(alerts)  # the toy set draws from a few commands
    assert sum(rows_seen) == len(distinct)
    np.testing.assert_allclose(first, plain(alerts + alerts[:2]), atol=1e-6)
    np.testing.assert_allclose(again, first[:6][::-1])
    assert memo.queries == 14  # queries count requests, repeats included


def test_a_memoizing_scorer_scores_each_text_of_a_tfidf_prior_once(tiny) -> None:  # noqa: ANN001
    model, tokenizer = tiny
    alerts = toy_alerts(40, seed=5)
    prior = TfidfLogreg.fit(alerts, RENDER, TfidfConfig())
    plain = TeacherScorer(model, tokenizer, RENDER, 64, pick_device("cpu"), "fp32", prior=prior)
    memo = TeacherScorer(
        model, tokenizer, RENDER, 64, pick_device("cpu"), "fp32", memoize=True, prior=prior
    )
    scored: list[int] = []
    score_texts = prior.text_model.score_texts
    with patch.object(
        prior.text_model,
        "score_texts",
        side_effect=lambda texts: scored.append(len(texts)) or score_texts(texts),
    ):
        first = memo(alerts)
        again = memo(alerts[::-1] + alerts[:3])  # every text known already
    distinct = {render_text(a, RENDER) for a in alerts}
    assert scored == [len(distinct)] and len(distinct) < len(alerts)
    np.testing.assert_allclose(first, plain(alerts), atol=1e-6)  # the prior's logits included
    np.testing.assert_allclose(again, np.concatenate([first[::-1], first[:3]]))
    assert not np.allclose(first, memo.encoder_margins([render_text(a, RENDER) for a in alerts]))
