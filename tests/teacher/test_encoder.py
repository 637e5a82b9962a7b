import logging

import pytest
import torch

from alertlens.teacher.encoder import load_encoder, load_tokenizer, pick_device, unknown_token_rate
from alertlens.teacher.fit import check_vocabulary

from .conftest import RENDER, toy_alerts


def test_tiny_encoder_is_a_small_random_bert_with_two_labels(tiny) -> None:
    model, tokenizer = tiny
    assert model.config.num_labels == 2 and model.config.num_hidden_layers == 2
    assert sum(p.numel() for p in model.parameters()) < 3_000_000
    assert tokenizer.vocab_size == 30522  # MiniLM's WordPiece vocabulary, loaded offline


def test_bundled_minilm_loads_offline() -> None:
    tokenizer = load_tokenizer("minilm")
    assert tokenizer("powershell -enc")["input_ids"][0] == tokenizer.cls_token_id


def test_unknown_encoder_is_a_clear_error_not_a_download() -> None:
    with pytest.raises(ValueError, match="not available offline"):
        load_encoder("no-such-org/no-such-model", 32, 0)


def test_unknown_token_rate_warns_for_text_the_vocabulary_lacks(
    tiny, caplog: pytest.LogCaptureFixture
) -> None:
    _, tokenizer = tiny
    assert unknown_token_rate(tokenizer, ["powershell -enc abc"]) == 0.0
    alerts = toy_alerts(3)
    for alert in alerts:
        alert.fields["command_line"] = "检测到可疑的 PowerShell 编码命令 ☃☃☃ 🐍🐍🐍"
    with caplog.at_level(logging.WARNING):
        rate = check_vocabulary(tokenizer, alerts, RENDER, warn_above=0.05)
    assert rate > 0.05
    assert "teacher.encoder" in caplog.text and f"{100 * rate:.1f}%" in caplog.text


def test_pick_device_defaults_to_cpu_without_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto") == torch.device("cpu")
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="no CUDA device is available"):
        pick_device("cuda")


def test_pick_device_takes_cuda_when_present(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto") == torch.device("cuda")
    assert pick_device("cpu") == torch.device("cpu")
