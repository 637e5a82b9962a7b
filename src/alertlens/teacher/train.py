"""The fine-tuning loop, in one place: AdamW, warmup + linear decay, clipping, class weights,
early stopping on validation PR-AUC, best-model checkpoints, optional embedding adversary.

Under torchrun it trains with DDP (``alertlens.teacher.distributed``): each rank takes its rows
of every global batch, validation is scored in shares and gathered so every rank decides alike,
and rank 0 alone writes checkpoints.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from sklearn.metrics import average_precision_score
from torch.nn.parallel import DistributedDataParallel
from tqdm.auto import tqdm
from transformers import PreTrainedModel, get_linear_schedule_with_warmup

from alertlens.teacher.adversarial import (
    EmbeddingAttackConfig,
    LossFn,
    embedding_loss,
    find_perturbation,
)
from alertlens.teacher.batching import EncodedSet, bucketed_batches, collate
from alertlens.teacher.distributed import (
    World,
    current_world,
    from_main,
    gathered_margins,
    local_gradients,
    mean_over_ranks,
    replicate,
    require_same_data,
    shard_batch,
)
from alertlens.teacher.encoder import autocast
from alertlens.teacher.precision import PRECISIONS, choose_precision
from alertlens.teacher.scoring import predict_margins

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainConfig:
    """Optimization settings (the ``teacher`` / ``harden`` config sections)."""

    # The config sections holding it: alertlens.config.section checks their keys.
    config_sections = ("teacher", "harden")
    epochs: int = 1
    batch_size: int = 32
    eval_batch_size: int = 128
    learning_rate: float = 2e-4
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_grad_norm: float = 1.0
    eval_every: int = 100  # steps between validations; 0 = once per epoch
    patience: int = 3  # validations without improvement before stopping
    # Restore the best validation state at the end. Hardening turns this off: clean PR-AUC
    # would otherwise pick the least-hardened checkpoint.
    keep_best: bool = True
    class_weight: str = "balanced"  # balanced | none
    precision: str = "auto"  # auto | bf16 | fp32 (teacher.precision.choose_precision)
    seed: int = 17

    def __post_init__(self) -> None:
        if self.class_weight not in ("balanced", "none"):
            raise ValueError(
                f"class_weight must be 'balanced' or 'none', got '{self.class_weight}'"
            )
        if self.precision not in ("auto", *PRECISIONS):
            raise ValueError(f"precision must be 'auto', 'bf16' or 'fp32', got '{self.precision}'")
        if self.epochs < 1 or self.batch_size < 1 or self.learning_rate <= 0:
            raise ValueError("epochs and batch_size must be >= 1 and learning_rate > 0")


@dataclass
class TrainResult:
    """What happened in training, for metrics and the benchmark."""

    best_val_pr_auc: float
    best_step: int
    steps: int
    stopped_early: bool
    seconds: float
    examples_seen: int
    tokens_seen: int
    history: list[dict[str, float]] = field(default_factory=list)  # at each validation
    step_losses: list[float] = field(default_factory=list)  # the training loss of every step

    def curves(self) -> dict[str, list[dict[str, float]]]:
        """Data series for plots: the loss per step, validation PR-AUC per validation."""
        return {
            "loss": [{"step": i, "loss": loss} for i, loss in enumerate(self.step_losses, 1)],
            "validation": [
                {"step": point["step"], "val_pr_auc": point["val_pr_auc"]} for point in self.history
            ],
        }

    @property
    def alerts_per_second(self) -> float:
        return self.examples_seen / self.seconds if self.seconds else 0.0

    @property
    def tokens_per_second(self) -> float:
        return self.tokens_seen / self.seconds if self.seconds else 0.0

    def metrics(self) -> dict[str, Any]:
        return {
            "best_val_pr_auc": self.best_val_pr_auc,
            "best_step": self.best_step,
            "steps": self.steps,
            "stopped_early": int(self.stopped_early),
            "train_seconds": round(self.seconds, 2),
            "train_alerts_per_s": round(self.alerts_per_second, 2),
            "train_tokens_per_s": round(self.tokens_per_second, 1),
        }


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def class_weights(labels: list[int], mode: str) -> torch.Tensor | None:
    """Balanced weights n / (2 * count): real alerts are rare, so they weigh more."""
    if mode == "none":
        return None
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=2).astype(float)
    return torch.tensor(len(labels) / (2 * np.maximum(counts, 1)), dtype=torch.float32)


def _optimizer(model: PreTrainedModel, config: TrainConfig) -> torch.optim.Optimizer:
    """AdamW without weight decay on biases and LayerNorm weights (the usual BERT recipe)."""
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    for param in model.parameters():
        if param.requires_grad:
            (no_decay if param.ndim < 2 else decay).append(param)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]
    return torch.optim.AdamW(groups, lr=config.learning_rate)


def validation_pr_auc(
    model: PreTrainedModel,
    val: EncodedSet,
    config: TrainConfig,
    device: torch.device,
    pad_id: int,
    world: World,
) -> float:
    """PR-AUC of the margins on ``val``; with several processes each scores its share."""

    def margins(data: EncodedSet) -> np.ndarray:
        size = config.eval_batch_size
        return predict_margins(model, data, size, device, config.precision, pad_id)

    return float(average_precision_score(val.labels, gathered_margins(margins, val, world)))


class Trainer:
    """Fine-tunes a sequence classifier; the best validation state is kept and restored.

    ``auto`` precision is resolved here, once, to the concrete one (``self.config.precision``).
    """

    def __init__(
        self,
        model: PreTrainedModel,
        config: TrainConfig,
        device: torch.device,
        pad_id: int,
        adversary: EmbeddingAttackConfig | None = None,
        checkpoint_dir: Path | None = None,
    ) -> None:
        self.model = model.to(device)  # type: ignore[arg-type]  # transformers types .to() oddly
        # Every rank must train at one precision: rank 0's choice (``auto`` may time a matmul).
        self.precision = from_main(
            lambda: choose_precision(config.precision, device), current_world()
        )
        self.config = dataclasses.replace(config, precision=self.precision.precision)
        self.device, self.pad_id = device, pad_id
        self.adversary = adversary if adversary is not None and adversary.method != "none" else None
        self.checkpoint_dir = checkpoint_dir

    def _step_loss(
        self,
        model: PreTrainedModel | DistributedDataParallel,
        batch: dict[str, torch.Tensor],
        loss_fn: LossFn,
    ) -> float:
        """Forward + backward of one batch (clean, then adversarial if configured).

        ``model`` is ``self.model`` or, under DDP, its wrapper. The adversarial step's clean
        backward runs under ``no_sync``: its gradients are all-reduced once, summed with the
        adversarial backward's. The perturbation search runs on ``self.model`` itself: it takes
        gradients with respect to the perturbation only, nothing to all-reduce.
        """
        ids, mask, labels = batch["input_ids"], batch["attention_mask"], batch["labels"]
        prior = batch.get("prior")
        with autocast(self.device, self.config.precision):
            if self.adversary is None:
                loss, _ = embedding_loss(model, ids, mask, labels, loss_fn, prior=prior)
                loss.backward()
                return float(loss.detach())
            with local_gradients(model):
                loss, embeds = embedding_loss(model, ids, mask, labels, loss_fn, prior=prior)
                embeds.retain_grad()  # the clean backward also yields d(loss)/d(embeddings)
                loss.backward()
            assert embeds.grad is not None
            delta = find_perturbation(
                self.model, ids, mask, labels, loss_fn, self.adversary, embeds.grad, prior
            )
            adv_loss, _ = embedding_loss(model, ids, mask, labels, loss_fn, delta, prior)
            (self.adversary.weight * adv_loss).backward()
        return float(loss.detach()) + self.adversary.weight * float(adv_loss.detach())

    def _save_checkpoint(self, world: World) -> None:
        if self.checkpoint_dir is not None and world.is_main:
            self.model.save_pretrained(self.checkpoint_dir)

    def fit(
        self,
        train: EncodedSet,
        val: EncodedSet,
        on_validation: Callable[[int, float], None] | None = None,
    ) -> TrainResult:
        """Train for up to ``epochs``, validating every ``eval_every`` steps.

        ``on_validation(step, val_pr_auc)`` is called after each validation; the tuner uses it
        to report intermediate values, and its pruner stops a trial by raising from it.
        """
        config, world = self.config, current_world()
        seed_everything(config.seed)
        if world.size > 1:
            require_same_data([train, val], world)
            # One dropout stream per rank: ranks whose shards have one shape would otherwise
            # draw the same masks. Rank 0 keeps the single-process stream.
            torch.manual_seed(config.seed + world.rank)
        model = replicate(self.model, self.device, world)
        rng = random.Random(config.seed)  # the same global batches on every rank
        weights = class_weights(train.labels, config.class_weight)
        weight = None if weights is None else weights.to(self.device)
        loss_fn = torch.nn.CrossEntropyLoss(weight=weight)
        steps_per_epoch = -(-len(train) // config.batch_size)
        total = steps_per_epoch * config.epochs
        optimizer = _optimizer(self.model, config)
        schedule = get_linear_schedule_with_warmup(
            optimizer, int(config.warmup_ratio * total), total
        )
        eval_every = config.eval_every or steps_per_epoch
        best, best_step, best_state, waited = -1.0, 0, None, 0
        history: list[dict[str, float]] = []
        step_losses: list[float] = []
        step = seen = tokens = 0
        training_seconds = 0.0  # optimizer steps only, validation excluded (for throughput)
        if config.keep_best:
            # The starting point is a candidate too: a wide-and-deep teacher starts at its prior,
            # and training that does not beat it on validation is not kept.
            best = validation_pr_auc(self.model, val, config, self.device, self.pad_id, world)
            best_state = copy.deepcopy(self.model.state_dict())
            history.append({"step": 0, "loss": math.nan, "val_pr_auc": best})
            log.info("step 0: validation PR-AUC %.4f", best)
        progress = tqdm(
            total=total,
            desc="fine-tune",
            unit="step",
            leave=False,
            mininterval=2.0,
            disable=not world.is_main,
        )
        self.model.train()
        stopped = False
        for _ in range(config.epochs):
            for indices in bucketed_batches(
                [len(x) for x in train.input_ids], config.batch_size, rng
            ):
                step_started = time.perf_counter()
                batch = collate(train, indices, self.pad_id, self.device)
                shard, shard_loss = (
                    (batch, loss_fn) if world.size == 1 else shard_batch(batch, world, weight)
                )
                loss = self._step_loss(model, shard, shard_loss)
                loss = mean_over_ranks(loss, world, self.device)
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), config.max_grad_norm)
                optimizer.step()
                schedule.step()
                optimizer.zero_grad(set_to_none=True)
                training_seconds += time.perf_counter() - step_started
                step, seen = step + 1, seen + len(indices)
                step_losses.append(loss)
                tokens += int(batch["attention_mask"].sum())
                progress.update(1)
                progress.set_postfix(loss=f"{loss:.3f}")
                if step % eval_every and step != total:
                    continue
                score = validation_pr_auc(self.model, val, config, self.device, self.pad_id, world)
                history.append({"step": step, "loss": loss, "val_pr_auc": score})
                log.info("step %d: loss %.4f, validation PR-AUC %.4f", step, loss, score)
                if on_validation is not None:
                    on_validation(step, score)
                if score > best or not config.keep_best:
                    best, best_step, waited = score, step, 0
                    best_state = copy.deepcopy(self.model.state_dict())
                    self._save_checkpoint(world)
                else:
                    waited += 1
                    if waited >= config.patience:
                        stopped = True
                        break
            if stopped:
                break
        progress.close()
        if best_state is not None:
            self.model.load_state_dict(best_state)
        return TrainResult(
            best, best_step, step, stopped, training_seconds, seen, tokens, history, step_losses
        )
