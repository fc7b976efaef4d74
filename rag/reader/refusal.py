"""Refusal: does the reader's best span answer the question, or is the answer not in
the passages read?

A logistic model over what reading and retrieval already computed for the chosen span
(``FEATURES``): the reader's span and no-answer scores and their margin, the chunk's
dense cosine and rank, and how much of the question's weight (IDF of its search
tokens) the chunk holds. Fitted by ``rag train refusal`` (``rag/calibrate.py``) on
held-apart questions asked open-domain twice, once as they are (answer) and once with
their gold paragraph removed from the index (refuse), and kept in the reader weights'
header (``refusal``) with the threshold that keeps false refusals within the target.
The reader's own no-answer score alone refuses about half of the gold-removed questions
at that rate (docs/BENCHMARKS.md); the extra features are what retrieval knows.

Does not: read, retrieve, or choose the span (``compose.py``); numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ..text import fold, tokens

FEATURES = ("margin", "span", "no_answer", "dense", "rank", "coverage", "missing", "english")
# an English question's model (header entry ``refusal_en``) also knows the rule gate's
# verdict: whether it refused, and its confidence (compose.py asks it first)
ENGLISH_FEATURES = (*FEATURES, "gate_refused", "gate_confidence")
FORMAT = "rag-refusal/1"


def coverage(question_tokens: Sequence[str], text: str, idf: Callable[[str], float]):
    """(share of the question's IDF weight found in ``text``, the largest share missing).

    >>> idf = {"珠海": 3.0, "项目": 1.0}.get
    >>> coverage(["珠海", "项目"], "咸阳高新区签约项目", idf)
    (0.25, 0.75)
    """
    distinct = list(dict.fromkeys(question_tokens))
    weights = [idf(t) or 0.0 for t in distinct]
    total = sum(weights)
    if not distinct or total <= 0:
        return 1.0, 0.0
    hay = fold(text)
    found = [w for t, w in zip(distinct, weights, strict=True) if t in hay]
    missing = [w for t, w in zip(distinct, weights, strict=True) if t not in hay]
    return sum(found) / total, max(missing, default=0.0) / total


def features(
    question: str,
    text: str,
    *,
    span: float,
    no_answer: float,
    dense: float,
    rank: int,
    english: bool,
    idf: Callable[[str], float],
) -> list[float]:
    """The ``FEATURES`` of a span read in ``text`` (the chunk, with its title) for
    ``question`` (as searched: an English question's Chinese words)."""
    cov, missing = coverage(tokens(question), text, idf)
    return [span - no_answer, span, no_answer, dense, float(rank), cov, missing, float(english)]


@dataclass(frozen=True)
class Refusal:
    """Standardised logistic regression; ``threshold`` is the least probability
    answered."""

    mean: tuple[float, ...]
    scale: tuple[float, ...]
    weights: tuple[float, ...]
    bias: float
    threshold: float
    meta: dict

    def probability(self, x: Sequence[float]) -> float:
        z = (np.asarray(x, dtype=float) - self.mean) / self.scale
        return float(1.0 / (1.0 + math.exp(-(float(z @ np.asarray(self.weights)) + self.bias))))

    def to_header(self, names: Sequence[str] = FEATURES) -> dict:
        return {
            "format": FORMAT,
            "features": list(names),
            "mean": list(self.mean),
            "scale": list(self.scale),
            "weights": list(self.weights),
            "bias": self.bias,
            "threshold": self.threshold,
            **self.meta,
        }

    @classmethod
    def from_header(cls, header: dict | None, names: Sequence[str] = FEATURES) -> Refusal | None:
        """The model in a reader header's ``refusal`` (or ``refusal_en``, with
        ``ENGLISH_FEATURES``) entry; None when there is none or it was fitted on other
        features (refit with ``rag train refusal``)."""
        if not header or header.get("format") != FORMAT:
            return None
        if tuple(header.get("features", ())) != tuple(names):
            return None
        keys = ("format", "features", "mean", "scale", "weights", "bias", "threshold")
        return cls(
            tuple(header["mean"]),
            tuple(header["scale"]),
            tuple(header["weights"]),
            float(header["bias"]),
            float(header["threshold"]),
            {k: v for k, v in header.items() if k not in keys},
        )


def fit(x: np.ndarray, y: np.ndarray, *, l2: float = 1e-2, steps: int = 50) -> Refusal:
    """Logistic regression by Newton's method (deterministic), threshold 0.5.

    >>> r = fit(np.array([[0.0], [1.0], [2.0], [3.0]] * 2), np.array([0, 0, 1, 1] * 2))
    >>> r.probability([0.0]) < 0.5 < r.probability([3.0])
    True
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    w = np.zeros(z.shape[1])
    reg = l2 * np.eye(z.shape[1])
    reg[-1, -1] = 0.0  # the bias is not shrunk
    for _ in range(steps):
        p = 1.0 / (1.0 + np.exp(-(z @ w)))
        grad = z.T @ (p - y) + reg @ w
        hess = (z * (p * (1 - p))[:, None]).T @ z + reg
        step = np.linalg.solve(hess, grad)
        w -= step
        if np.abs(step).max() < 1e-8:
            break
    return Refusal(
        tuple(mean.tolist()), tuple(scale.tolist()), tuple(w[:-1].tolist()), float(w[-1]), 0.5, {}
    )


def threshold_for(answerable: Sequence[float], most_refused: float) -> float:
    """The highest threshold that refuses at most ``most_refused`` of the answerable
    questions' probabilities.

    >>> threshold_for([0.1, 0.5, 0.7, 0.9], 0.25)
    0.5
    """
    ps = sorted(answerable)
    allowed = int(math.floor(most_refused * len(ps) + 1e-9))
    return float(ps[allowed]) if allowed < len(ps) else 1.0
