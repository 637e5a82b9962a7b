import pytest
import torch

from alertlens.teacher.adversarial import (
    EmbeddingAttackConfig,
    embedding_loss,
    find_perturbation,
    project,
)


def _batch(tokenizer):  # noqa: ANN001, ANN202
    enc = tokenizer(
        ["powershell -enc SQBFAFgA", "backup job ok"], padding=True, return_tensors="pt"
    )
    return enc["input_ids"], enc["attention_mask"], torch.tensor([1, 0])


@pytest.mark.parametrize("method", ["fgm", "pgd"])
def test_perturbation_respects_epsilon_changes_the_loss_and_spares_padding(
    tiny, method: str
) -> None:
    model, tokenizer = tiny
    ids, mask, labels = _batch(tokenizer)
    loss_fn = torch.nn.CrossEntropyLoss()
    config = EmbeddingAttackConfig(method=method, epsilon=0.3, steps=3)
    clean, embeds = embedding_loss(model, ids, mask, labels, loss_fn)
    embeds.retain_grad()
    clean.backward()
    delta = find_perturbation(model, ids, mask, labels, loss_fn, config, embeds.grad)
    norms = delta.norm(dim=-1)
    assert float(norms.max()) <= 0.3 + 1e-5
    assert float(norms[mask.bool()].min()) == pytest.approx(
        0.3, rel=1e-3
    )  # every real token is pushed
    assert float(norms[~mask.bool()].max()) == 0.0  # padding is never perturbed
    model.eval()  # no dropout, so the loss difference is the perturbation's alone
    with torch.no_grad():
        before, _ = embedding_loss(model, ids, mask, labels, loss_fn)
        after, _ = embedding_loss(model, ids, mask, labels, loss_fn, delta)
    model.train()
    assert float(after) > float(before)  # the adversarial direction increases the loss


def test_pgd_reaches_a_higher_loss_than_fgm(tiny) -> None:
    model, tokenizer = tiny
    ids, mask, labels = _batch(tokenizer)
    loss_fn = torch.nn.CrossEntropyLoss()
    model.eval()
    clean, embeds = embedding_loss(model, ids, mask, labels, loss_fn)
    (grad,) = torch.autograd.grad(clean, embeds)
    losses = {}
    for method in ("fgm", "pgd"):
        delta = find_perturbation(
            model, ids, mask, labels, loss_fn, EmbeddingAttackConfig(method, 1.0, 5), grad
        )
        with torch.no_grad():
            losses[method] = float(embedding_loss(model, ids, mask, labels, loss_fn, delta)[0])
    model.train()
    assert losses["pgd"] >= losses["fgm"] - 1e-6


def test_project_shrinks_only_long_vectors() -> None:
    delta = torch.tensor([[[3.0, 4.0], [0.3, 0.4]]])
    assert project(delta, 1.0).flatten().tolist() == pytest.approx([0.6, 0.8, 0.3, 0.4])


def test_config_validation() -> None:
    with pytest.raises(ValueError, match="must be one of"):
        EmbeddingAttackConfig(method="freelb2")
