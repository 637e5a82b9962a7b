"""A look inside the teacher for one alert: integrated gradients and attention rollout per token.

Both explainers return one :class:`TokenAttribution` per word piece (special tokens dropped),
each mapped back to the alert field whose rendered value holds it, so per-field scores can be
compared with the surrogate's TreeSHAP ranking.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch
from captum.attr import LayerIntegratedGradients
from transformers import PreTrainedModel

from alertlens.alerts.render import render_spans
from alertlens.alerts.schema import Alert
from alertlens.teacher.artifact import Teacher
from alertlens.teacher.encoder import autocast

log = logging.getLogger(__name__)

HEAD_FUSIONS: dict[str, Callable[..., np.ndarray]] = {"mean": np.mean, "max": np.max, "min": np.min}


@dataclass
class TokenAttribution:
    """One word piece: its text and character span in the rendered alert, field and score."""

    token: str
    start: int
    end: int
    field: str | None  # None: field labels and separators, not any field's value
    attribution: float


@dataclass
class EncodedAlert:
    """A rendered, tokenized alert and where each token sits in the rendered text."""

    text: str
    spans: list[tuple[str, int, int]]
    input_ids: torch.Tensor  # (1, n)
    attention_mask: torch.Tensor  # (1, n)
    offsets: list[tuple[int, int]]
    special: list[bool]


def encode_alert(teacher: Teacher, alert: Alert) -> EncodedAlert:
    """Render and tokenize one alert exactly as the teacher scores it, keeping offsets."""
    text, spans = render_spans(alert, teacher.render)
    encoding = teacher.tokenizer(
        text,
        truncation=True,
        max_length=teacher.meta.max_length,
        return_offsets_mapping=True,
        return_special_tokens_mask=True,
        return_tensors="pt",
    )
    return EncodedAlert(
        text=text,
        spans=spans,
        input_ids=encoding["input_ids"].to(teacher.device),
        attention_mask=encoding["attention_mask"].to(teacher.device),
        offsets=[(int(s), int(e)) for s, e in encoding["offset_mapping"][0].tolist()],
        special=[bool(flag) for flag in encoding["special_tokens_mask"][0].tolist()],
    )


def field_at(start: int, end: int, spans: Sequence[tuple[str, int, int]]) -> str | None:
    """The field whose value span contains the characters ``[start, end)``, if any."""
    for name, span_start, span_end in spans:
        if span_start <= start and end <= span_end:
            return name
    return None


def token_attributions(encoded: EncodedAlert, scores: Sequence[float]) -> list[TokenAttribution]:
    """Pair each non-special token with its score and its field."""
    return [
        TokenAttribution(
            encoded.text[start:end], start, end, field_at(start, end, encoded.spans), float(score)
        )
        for (start, end), special, score in zip(
            encoded.offsets, encoded.special, scores, strict=True
        )
        if not special
    ]


def baseline_ids(encoded: EncodedAlert, pad_id: int) -> torch.Tensor:
    """``[CLS] [PAD] ... [PAD] [SEP]``: the special tokens stay, every other token is padding."""
    special = torch.tensor(encoded.special, device=encoded.input_ids.device).unsqueeze(0)
    return torch.where(special, encoded.input_ids, torch.full_like(encoded.input_ids, pad_id))


def _margin_of(model: PreTrainedModel) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    """The model as a function of token ids returning the logit margin (real minus FP)."""

    def margin(input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
        return logits[:, 1] - logits[:, 0]

    return margin


@contextmanager
def _eval_mode(model: PreTrainedModel) -> Iterator[None]:
    """Dropout off while explaining; the caller's train/eval state comes back afterwards."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def integrated_gradients(
    teacher: Teacher, alert: Alert, steps: int = 32, internal_batch_size: int = 16
) -> tuple[list[TokenAttribution], float]:
    """Layer IG on the word embeddings of the logit margin; returns tokens and captum's delta.

    Runs in fp32 whatever the teacher's precision: bf16 gradients break completeness
    (attributions summing to margin(input) - margin(baseline)) by more than the signal.
    """
    encoded = encode_alert(teacher, alert)
    pad_id = teacher.tokenizer.pad_token_id or 0
    explainer = LayerIntegratedGradients(
        _margin_of(teacher.model), teacher.model.get_input_embeddings()
    )
    with _eval_mode(teacher.model), autocast(teacher.device, "fp32"):
        attributions, delta = explainer.attribute(
            encoded.input_ids,
            baselines=baseline_ids(encoded, pad_id),
            additional_forward_args=(encoded.attention_mask,),
            n_steps=steps,
            internal_batch_size=internal_batch_size,
            return_convergence_delta=True,
        )
    per_token = attributions.sum(dim=-1)[0].detach().cpu().tolist()
    log.debug("IG over %d tokens, convergence delta %.4g", len(per_token), float(delta))
    return token_attributions(encoded, per_token), float(delta)


def rollout(attentions: Sequence[np.ndarray], head_fusion: str = "mean") -> np.ndarray:
    """Abnar & Zuidema attention rollout: the (n, n) attention from each token to each input.

    ``attentions`` holds one (heads, n, n) array per layer, bottom layer first. Each layer's
    fused heads get the identity added, because the residual connection carries every token
    through unchanged, and rows are renormalized; the product runs top layer to bottom.
    """
    if head_fusion not in HEAD_FUSIONS:
        raise ValueError(f"head_fusion must be one of {sorted(HEAD_FUSIONS)}, got '{head_fusion}'")
    n = attentions[0].shape[-1]
    joint = np.eye(n)
    for layer in attentions:
        fused = HEAD_FUSIONS[head_fusion](np.asarray(layer, dtype=np.float64), axis=0) + np.eye(n)
        joint = (fused / fused.sum(axis=-1, keepdims=True)) @ joint
    return joint


def _set_attention(model: PreTrainedModel, implementation: str) -> None:
    """Switch the attention kernel in place (no reload); older transformers only have the config."""
    if hasattr(model, "set_attn_implementation"):
        model.set_attn_implementation(implementation)
    else:
        model.config._attn_implementation = implementation


@contextmanager
def _eager_attention(model: PreTrainedModel) -> Iterator[None]:
    """SDPA and flash kernels never materialize attention weights; eager does, with the same math."""
    previous = model.config._attn_implementation
    if previous != "eager":
        _set_attention(model, "eager")
    try:
        yield
    finally:
        if previous != "eager":
            _set_attention(model, previous)


def attention_rollout(
    teacher: Teacher, alert: Alert, head_fusion: str = "mean"
) -> list[TokenAttribution]:
    """Each token's share of the [CLS] representation after attention rollout."""
    encoded = encode_alert(teacher, alert)
    with _eval_mode(teacher.model), _eager_attention(teacher.model), torch.no_grad():
        output = teacher.model(
            input_ids=encoded.input_ids,
            attention_mask=encoded.attention_mask,
            output_attentions=True,
        )
    if not output.attentions or output.attentions[0] is None:
        raise RuntimeError(f"{type(teacher.model).__name__} returned no attention weights")
    layers = [layer[0].float().cpu().numpy() for layer in output.attentions]
    return token_attributions(encoded, rollout(layers, head_fusion)[0].tolist())


def field_scores(tokens: Sequence[TokenAttribution]) -> dict[str, float]:
    """Signed attribution summed per field, fields in the order they appear in the text."""
    scores: dict[str, float] = {}
    for token in tokens:
        if token.field is not None:
            scores[token.field] = scores.get(token.field, 0.0) + token.attribution
    return scores


def field_ranking(tokens: Sequence[TokenAttribution]) -> list[str]:
    """Fields by the magnitude of their summed attribution, largest first."""
    scores = field_scores(tokens)
    return sorted(scores, key=lambda name: abs(scores[name]), reverse=True)


def render_tokens(tokens: Sequence[TokenAttribution], top: int = 10) -> str:
    """The ``top`` tokens by magnitude, one a line: ``enc (command_line) +0.82``."""
    ranked = sorted(tokens, key=lambda token: abs(token.attribution), reverse=True)[:top]
    return "\n".join(
        f"{token.token} ({token.field or 'no field'}) {token.attribution:+.2f}" for token in ranked
    )
