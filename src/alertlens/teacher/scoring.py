"""Score alerts with a teacher: logit margins (real minus false positive), batched."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np
import torch
from tqdm.auto import tqdm
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from alertlens.alerts.render import RenderConfig, render_text
from alertlens.alerts.schema import Alert
from alertlens.baselines import TfidfLogreg
from alertlens.operating_point import Scorer
from alertlens.teacher.batching import EncodedSet, bucketed_batches, collate, encode, with_prior
from alertlens.teacher.encoder import autocast

if TYPE_CHECKING:
    from alertlens.teacher.runtime import OnnxEncoder


@contextmanager
def fp32_head(model: PreTrainedModel) -> Iterator[None]:
    """Run the classification head in fp32 while the encoder runs under bf16 autocast.

    Under autocast the head's output is rounded to bf16: near the SOC threshold (around -4.6
    logits) margins then move in 1/32 steps and many alerts tie exactly at the threshold, so
    the operating point and the surrogate's labels hinge on rounding. The head is a few
    thousand multiply-adds, so recomputing it in fp32 costs nothing measurable.
    """
    head = getattr(model, "classifier", None)
    if not isinstance(head, torch.nn.Module):
        yield
        return

    def recompute_in_fp32(module, inputs, _output):
        with torch.autocast(inputs[0].device.type, enabled=False):
            # forward(), not module(): calling the module would re-enter this hook.
            return module.forward(inputs[0].float())

    handle = head.register_forward_hook(recompute_in_fp32)
    try:
        yield
    finally:
        handle.remove()


def predict_margins(
    model: PreTrainedModel,
    data: EncodedSet,
    batch_size: int,
    device: torch.device,
    precision: str,
    pad_id: int,
    dropout: bool = False,
) -> np.ndarray:
    """Logit margin per example (the prior's logit included, where ``data`` has one), in the
    data's order (batches are length-sorted inside). ``dropout`` keeps the dropout layers
    active (Monte Carlo dropout: each call draws another of the model's plausible margins)."""
    return _forward(model, data, batch_size, device, precision, pad_id, dropout, embed=False)[0]


@torch.no_grad()
def _forward(
    model: PreTrainedModel,
    data: EncodedSet,
    batch_size: int,
    device: torch.device,
    precision: str,
    pad_id: int,
    dropout: bool,
    embed: bool,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Margins and, with ``embed``, the last layer's first-token state per example (fp32;
    None for no example)."""
    was_training = model.training
    model.eval()
    if dropout:
        for module in model.modules():
            if isinstance(module, torch.nn.Dropout):
                module.train()
    margins = np.zeros(len(data), dtype=np.float64)
    embeddings: np.ndarray | None = None
    batches = bucketed_batches([len(ids) for ids in data.input_ids], batch_size)
    # A bar only for long scoring jobs (transfer sets, attack suites), not per-alert calls.
    for indices in tqdm(
        batches,
        desc="teacher scoring",
        unit="batch",
        leave=False,
        mininterval=2.0,
        disable=len(data) < 2000,
    ):
        batch = collate(data, indices, pad_id, device)
        with autocast(device, precision), fp32_head(model):
            output = model(
                input_ids=batch["input_ids"],
                attention_mask=batch["attention_mask"],
                output_hidden_states=embed,
            )
        logits = with_prior(output.logits.float(), batch.get("prior"))
        margins[indices] = (logits[:, 1] - logits[:, 0]).float().cpu().numpy()
        if embed:
            first_token = output.hidden_states[-1][:, 0].float().cpu().numpy()
            if embeddings is None:
                embeddings = np.zeros((len(data), first_token.shape[1]), dtype=np.float32)
            embeddings[indices] = first_token
    model.train(was_training)
    return margins, embeddings


class TeacherScorer:
    """Alerts -> margins through render, tokenize and the model; counts its queries.

    A wide-and-deep teacher's ``prior`` scores the same alerts and its logit adds to the
    encoder's margin. With ``memoize`` each distinct text is run through the encoder once per
    scorer: attack suites at two operating points, and the clean scores of the alerts they
    attack, repeat most texts; a TF-IDF prior's logit is memoized by its text the same way.
    With ``onnx`` the encoder runs in ONNX Runtime
    (``alertlens.teacher.runtime``) instead of the PyTorch ``model``.
    """

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        render: RenderConfig,
        max_length: int,
        device: torch.device,
        precision: str = "bf16",
        batch_size: int = 64,
        memoize: bool = False,
        prior: Scorer | None = None,
        onnx: OnnxEncoder | None = None,
    ) -> None:
        self.model, self.tokenizer, self.render = model, tokenizer, render
        self.max_length, self.device, self.precision, self.batch_size = (
            max_length,
            device,
            precision,
            batch_size,
        )
        self.prior, self.onnx = prior, onnx
        self.queries = 0
        self._memo: dict[str, float] | None = {} if memoize else None
        # A text prior's logit depends on its rendered text alone, so it is memoized too.
        self._prior_memo: dict[str, float] | None = (
            {} if memoize and isinstance(prior, TfidfLogreg) else None
        )

    def encoder_margins(self, texts: Sequence[str]) -> np.ndarray:
        """The encoder's margins alone (no prior) for rendered texts."""
        if not texts:
            return np.zeros(0)
        self.queries += len(texts)
        if self._memo is None:
            return self._run_model(texts)[0]
        memo = self._memo
        new = list(dict.fromkeys(text for text in texts if text not in memo))
        if new:
            memo.update(zip(new, self._run_model(new)[0].tolist(), strict=True))
        return np.array([memo[text] for text in texts])

    def margins_and_embeddings(self, alerts: Sequence[Alert]) -> tuple[np.ndarray, np.ndarray]:
        """Margins (as :meth:`__call__`) and the teacher's embedding of each alert (the last
        layer's first-token state, which the classification head pools), from one pass of the
        encoder (never memoized: the memo keeps margins only)."""
        if not alerts:
            return np.zeros(0), np.zeros((0, 0), np.float32)
        texts = [render_text(alert, self.render) for alert in alerts]
        self.queries += len(texts)
        margins, embeddings = self._run_model(texts, embed=True)
        assert embeddings is not None  # alerts is not empty
        return self._with_prior(alerts, margins), embeddings

    def remember(self, texts: Sequence[str], margins: Sequence[float] | np.ndarray) -> None:
        """Seed a memoizing scorer with encoder margins already computed for ``texts``."""
        if self._memo is None:
            raise ValueError("remember() needs a scorer made with memoize=True")
        self._memo.update(zip(texts, (float(m) for m in margins), strict=True))

    def _run_model(
        self, texts: Sequence[str], embed: bool = False
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """The encoder's margins for ``texts`` and, with ``embed``, its embeddings."""
        data = encode(self.tokenizer, texts, [0] * len(texts), self.max_length)
        pad_id = self.tokenizer.pad_token_id or 0
        if self.onnx is not None:
            return self.onnx.run(data, self.batch_size, pad_id, embed)
        return _forward(
            self.model, data, self.batch_size, self.device, self.precision, pad_id, False, embed
        )

    def __call__(self, alerts: Sequence[Alert]) -> np.ndarray:
        margins = self.encoder_margins([render_text(alert, self.render) for alert in alerts])
        return self._with_prior(alerts, margins)

    def _with_prior(self, alerts: Sequence[Alert], margins: np.ndarray) -> np.ndarray:
        if self.prior is None or not len(alerts):
            return margins
        memo = self._prior_memo
        if memo is None or not isinstance(self.prior, TfidfLogreg):
            return margins + np.asarray(self.prior(alerts), dtype=np.float64)
        texts = [render_text(alert, self.prior.render) for alert in alerts]
        new = list(dict.fromkeys(text for text in texts if text not in memo))
        if new:
            memo.update(zip(new, self.prior.text_model.score_texts(new).tolist(), strict=True))
        return margins + np.array([memo[text] for text in texts])
