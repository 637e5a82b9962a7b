"""Embedding-space adversarial training: FGM and PGD on the word embeddings.

The perturbation is added to the word embeddings of the real (unpadded) tokens and bounded per
token: ``||delta_t||_2 <= epsilon``. The clean loss's backward pass also yields the gradient
with respect to the embeddings, so FGM costs one extra forward/backward and PGD K more.

Under DDP (``alertlens.teacher.distributed``) the trainer passes the DistributedDataParallel
wrapper for the clean and adversarial losses, whose parameter gradients are all-reduced, and
the classifier itself to :func:`find_perturbation`, whose passes need no parameter gradients.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch.nn.parallel import DistributedDataParallel
from transformers import PreTrainedModel

from alertlens.teacher.batching import with_prior

METHODS = ("none", "fgm", "pgd")
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class EmbeddingAttackConfig:
    """Which embedding attack hardens training, and how strong it is."""

    # The config sections holding it: alertlens.config.section checks their keys.
    config_sections = ("harden.embedding",)
    method: str = "fgm"
    epsilon: float = 0.01
    steps: int = 3
    step_size: float | None = None  # PGD step; defaults to 2.5 * epsilon / steps
    weight: float = 1.0  # adversarial loss weight relative to the clean loss

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(
                f"harden.embedding.method must be one of {METHODS}, got '{self.method}'"
            )
        if self.epsilon <= 0 or self.steps < 1:
            raise ValueError("harden.embedding.epsilon must be > 0 and steps >= 1")

    @property
    def pgd_step(self) -> float:
        return self.step_size if self.step_size is not None else 2.5 * self.epsilon / self.steps


def _per_token_unit(grad: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Each token's gradient scaled to unit L2 norm; padding positions set to zero."""
    norms = grad.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return grad / norms * mask


def project(delta: torch.Tensor, epsilon: float) -> torch.Tensor:
    """Shrink each token's perturbation back into the epsilon ball."""
    norms = delta.norm(dim=-1, keepdim=True).clamp_min(1e-12)
    return delta * torch.clamp(epsilon / norms, max=1.0)


def embedding_loss(
    model: PreTrainedModel | DistributedDataParallel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    labels: torch.Tensor,
    loss_fn: LossFn,
    delta: torch.Tensor | None = None,
    prior: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Loss with ``delta`` added to the word embeddings and the wide part's ``prior`` logit to
    the margin; returns (loss, embeddings used). ``model`` may be the DDP wrapper: the forward
    then goes through it, the embedding lookup through the classifier it wraps."""
    classifier = model.module if isinstance(model, DistributedDataParallel) else model
    embeds = classifier.get_input_embeddings()(input_ids)
    if delta is not None:
        embeds = embeds + delta
    logits = model(inputs_embeds=embeds, attention_mask=attention_mask).logits
    return loss_fn(with_prior(logits.float(), prior), labels), embeds


def find_perturbation(
    model: PreTrainedModel,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor,
    labels: torch.Tensor,
    loss_fn: LossFn,
    config: EmbeddingAttackConfig,
    first_grad: torch.Tensor,
    prior: torch.Tensor | None = None,
) -> torch.Tensor:
    """FGM: one step along the clean gradient. PGD: K projected steps from there.

    ``first_grad`` is d(clean loss)/d(embeddings), already computed by the clean backward.
    The inner PGD steps take gradients with respect to ``delta`` only, so the model's own
    gradients are untouched until the adversarial loss is backpropagated.
    """
    mask = attention_mask.unsqueeze(-1).to(first_grad.dtype)
    delta = project(config.epsilon * _per_token_unit(first_grad, mask), config.epsilon)
    if config.method == "fgm":
        return delta.detach()
    for _ in range(config.steps - 1):
        delta = delta.detach().requires_grad_(True)
        loss, _ = embedding_loss(model, input_ids, attention_mask, labels, loss_fn, delta, prior)
        (grad,) = torch.autograd.grad(loss, delta)
        delta = project(delta + config.pgd_step * _per_token_unit(grad, mask), config.epsilon)
    return delta.detach()
