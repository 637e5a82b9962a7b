import copy
from types import SimpleNamespace
from typing import cast

import numpy as np
import pytest
import torch
from transformers import PreTrainedModel

from alertlens.alerts.render import render_spans
from alertlens.teacher.artifact import Teacher, TeacherMeta
from alertlens.teacher.interpret import (
    TokenAttribution,
    attention_rollout,
    baseline_ids,
    encode_alert,
    field_at,
    field_ranking,
    field_scores,
    integrated_gradients,
    render_tokens,
    rollout,
)

from .conftest import RENDER, toy_alerts

ALERT = toy_alerts(1)[0]  # real: "powershell.exe -nop -w hidden -enc ..."


def _teacher(model, tokenizer) -> Teacher:  # noqa: ANN001
    meta = TeacherMeta("tiny", 0.0, 64, "fp32", 0.99, RENDER.to_dict())
    return Teacher(cast(PreTrainedModel, model), tokenizer, meta, torch.device("cpu"))


@pytest.fixture(scope="module")
def teacher(tiny) -> Teacher:  # noqa: ANN001
    """The tiny BERT with a 10x louder pooler and head: a fresh head's margins differ by ~1e-4."""
    model, tokenizer = tiny
    model = copy.deepcopy(model)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if name.startswith(("bert.pooler", "classifier")) and param.dim() == 2:
                param.mul_(10)
    return _teacher(model, tokenizer)


def _margin(model, ids: torch.Tensor, mask: torch.Tensor) -> float:  # noqa: ANN001
    with torch.no_grad():
        logits = model(input_ids=ids, attention_mask=mask).logits
    return float(logits[0, 1] - logits[0, 0])


def test_ig_attributions_add_up_to_the_margin_gap_from_the_padding_baseline(
    teacher: Teacher,
) -> None:
    tokens, delta = integrated_gradients(teacher, ALERT, steps=32)
    encoded = encode_alert(teacher, ALERT)
    teacher.model.eval()
    gap = _margin(teacher.model, encoded.input_ids, encoded.attention_mask) - _margin(
        teacher.model, baseline_ids(encoded, teacher.tokenizer.pad_token_id), encoded.attention_mask
    )
    teacher.model.train()
    total = sum(token.attribution for token in tokens)
    assert abs(gap) > 5e-3  # the check below means something only if there is a gap to explain
    assert total == pytest.approx(gap, abs=abs(delta) + 1e-5)
    assert abs(delta) < 0.05 * abs(gap)


def test_baseline_keeps_cls_and_sep_and_pads_everything_else(teacher: Teacher) -> None:
    encoded = encode_alert(teacher, ALERT)
    tok = teacher.tokenizer
    ids = baseline_ids(encoded, tok.pad_token_id)[0].tolist()
    n = encoded.input_ids.shape[1]
    assert ids == [tok.cls_token_id] + [tok.pad_token_id] * (n - 2) + [tok.sep_token_id]


def test_tokens_sit_inside_their_fields_value_and_specials_are_dropped(teacher: Teacher) -> None:
    tokens, _ = integrated_gradients(teacher, ALERT, steps=4, internal_batch_size=4)
    text, spans = render_spans(ALERT, RENDER)
    bounds = {name: (start, end) for name, start, end in spans}
    assert len(tokens) == encode_alert(teacher, ALERT).input_ids.shape[1] - 2
    assert all(token.end > token.start for token in tokens)  # specials have empty offsets
    for token in tokens:
        assert token.token == text[token.start : token.end]
        if token.field is not None:
            start, end = bounds[token.field]
            assert start <= token.start and token.end <= end
    by_field: dict[str | None, list[str]] = {}
    for token in tokens:
        by_field.setdefault(token.field, []).append(token.token)
    assert "".join(by_field["source"]) == "edr"  # word pieces, shown as the alert's own text
    assert "".join(by_field["process_name"]) == "powershell.exe"
    assert "".join(by_field["command_line"]) == str(ALERT.fields["command_line"]).replace(" ", "")
    assert by_field[None][:2] == ["source", ":"] and "|" in by_field[None]  # labels, separators


def test_field_at_needs_the_whole_token_inside_a_value_span() -> None:
    spans = [("source", 8, 11), ("process_name", 28, 42)]
    assert field_at(8, 11, spans) == "source"
    assert field_at(29, 33, spans) == "process_name"
    assert field_at(11, 12, spans) is None  # the separator right after a value
    assert field_at(7, 9, spans) is None  # straddles the label and the value


class OneTokenModel(torch.nn.Module):
    """Margin = 3 * (count of one token id)^2: only that token's embedding is non-zero."""

    def __init__(self, vocab_size: int, token_id: int) -> None:
        super().__init__()
        self.embeddings = torch.nn.Embedding(vocab_size, 4)
        with torch.no_grad():
            self.embeddings.weight.zero_()
            self.embeddings.weight[token_id, 0] = 1.0

    def get_input_embeddings(self) -> torch.nn.Module:
        return self.embeddings

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> SimpleNamespace:
        margin = 3 * self.embeddings(input_ids)[..., 0].sum(dim=-1) ** 2
        return SimpleNamespace(logits=torch.stack([torch.zeros_like(margin), margin], dim=-1))


def test_ig_puts_the_one_token_the_margin_depends_on_on_top(tiny) -> None:  # noqa: ANN001
    _, tokenizer = tiny
    hidden = tokenizer.convert_tokens_to_ids("hidden")
    teacher = _teacher(OneTokenModel(tokenizer.vocab_size, hidden), tokenizer)
    tokens, delta = integrated_gradients(teacher, ALERT, steps=8, internal_batch_size=8)
    top = max(tokens, key=lambda t: abs(t.attribution))
    assert (top.token, top.field) == ("hidden", "command_line")
    assert top.attribution == pytest.approx(3.0, abs=1e-5)  # margin 3 vs 0 at the baseline
    assert all(t.attribution == 0.0 for t in tokens if t is not top)
    assert abs(delta) < 1e-5
    assert field_ranking(tokens)[0] == "command_line"


def test_rollout_on_a_hand_made_two_layer_example() -> None:
    layer1 = np.array([[[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]]])  # mean: all 0.5
    layer2 = np.array([[[0.0, 1.0], [0.0, 1.0]]] * 2)  # everyone attends to token 1
    # layer 1 + I, normalized: [[.75, .25], [.25, .75]]; layer 2: [[.5, .5], [0, 1]];
    # rollout = layer2 @ layer1 (the reverse order would give [[.375, .625], [.125, .875]])
    np.testing.assert_allclose(rollout([layer1, layer2]), [[0.5, 0.5], [0.25, 0.75]])


def test_rollout_rows_are_non_negative_shares_summing_to_one() -> None:
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(3, 4, 5, 5))
    attentions = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    for fusion in ("mean", "max", "min"):
        joint = rollout(list(attentions), fusion)
        assert (joint >= 0).all()
        np.testing.assert_allclose(joint.sum(axis=-1), 1.0)
    with pytest.raises(ValueError, match="head_fusion"):
        rollout(list(attentions), "median")


def test_attention_rollout_on_the_tiny_teacher_restores_its_attention_and_mode(
    teacher: Teacher,
) -> None:
    before = teacher.model.config._attn_implementation
    teacher.model.train()
    tokens = attention_rollout(teacher, ALERT)
    assert teacher.model.config._attn_implementation == before
    assert teacher.model.training
    shares = [t.attribution for t in tokens]
    assert len(tokens) == encode_alert(teacher, ALERT).input_ids.shape[1] - 2
    assert min(shares) > 0  # the residual identity keeps every token in the rollout
    assert 0.5 < sum(shares) < 1.0  # the rest went to [CLS] and [SEP], which are dropped
    assert attention_rollout(teacher, ALERT) == tokens  # dropout off: deterministic
    eager = copy.deepcopy(teacher.model).eval()
    eager.set_attn_implementation("eager")
    encoded = encode_alert(teacher, ALERT)
    with torch.no_grad():
        attentions = eager(input_ids=encoded.input_ids, output_attentions=True).attentions
    cls_row = rollout([layer[0].numpy() for layer in attentions])[0]
    np.testing.assert_allclose(shares, cls_row[1:-1], rtol=1e-5)  # [CLS]'s row, specials cut


HAND = [
    TokenAttribution("edr", 8, 11, "source", 0.1),
    TokenAttribution("|", 12, 13, None, 5.0),
    TokenAttribution("power", 28, 33, "process_name", 0.4),
    TokenAttribution("hidden", 60, 66, "command_line", -0.5),
    TokenAttribution("enc", 68, 71, "command_line", -0.25),
]


def test_field_scores_sum_signed_attributions_and_skip_tokens_outside_fields() -> None:
    assert field_scores(HAND) == pytest.approx(
        {"source": 0.1, "process_name": 0.4, "command_line": -0.75}
    )
    assert list(field_scores(HAND)) == ["source", "process_name", "command_line"]
    assert field_scores([]) == {}


def test_field_ranking_orders_by_magnitude() -> None:
    assert field_ranking(HAND) == ["command_line", "process_name", "source"]


def test_render_tokens_lists_the_top_tokens_by_magnitude() -> None:
    assert render_tokens(HAND, top=3) == (
        "| (no field) +5.00\nhidden (command_line) -0.50\npower (process_name) +0.40"
    )
