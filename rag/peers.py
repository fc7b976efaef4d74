"""Peers: two plain baselines that answer the same questions from the same articles.

- ``BM25Peer``: bm25s over jieba words of whole articles (title + text); the answer is
  the sentence of the top article sharing the most distinct words with the question.
- ``DensePeer``: FAISS inner product over an index's own chunk vectors (same chunks,
  same encoder as ours), the top chunk returned as the answer, the way a default
  LangChain-style "embed, similarity_search, return the best chunk" pipeline does.

Each ``ask`` returns a ``PeerAnswer`` (answer text, articles best first) that
``rag.evaluate.score`` scores like ours. Peers have no short answer: the whole answer
is what EM/F1 score. Does not: refuse (a baseline always answers), or rerank.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .types import Article

_SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]*")
_WORDLIKE = re.compile(r"\w", re.UNICODE)


@dataclass(frozen=True)
class PeerAnswer:
    text: str
    ranked: tuple[str, ...]  # article ids, best first


def jieba_words(text: str) -> list[str]:
    """Lower-cased jieba words that hold a letter or digit (punctuation dropped).

    >>> jieba_words("珠海高新区，落地16个项目。")[-1]
    '项目'
    """
    import jieba

    return [w for w in jieba.lcut(text.lower()) if _WORDLIKE.search(w)]


class BM25Peer:
    """Article-level BM25 (bm25s, jieba words) + best-overlapping sentence."""

    name = "BM25 only (bm25s + jieba)"

    def __init__(self, articles: list[Article]) -> None:
        import bm25s

        self.articles = list(articles)
        docs = [jieba_words(f"{a.title}\n{a.text}") for a in self.articles]
        self._bm25 = bm25s.BM25()
        self._bm25.index([d or [""] for d in docs], show_progress=False)
        self._vocab = self._bm25.vocab_dict

    def ask(self, question: str, k: int = 20) -> PeerAnswer:
        import numpy as np

        q = [w for w in jieba_words(question) if w in self._vocab]
        if not q:
            return PeerAnswer("", ())
        scores = self._bm25.get_scores(q)
        top = np.argsort(-scores, kind="stable")[:k]
        ranked = tuple(self.articles[i].id for i in top if scores[i] > 0)
        if not ranked:
            return PeerAnswer("", ())
        best = self.articles[int(top[0])]
        return PeerAnswer(best_sentence(best.text, set(q)), ranked)


def best_sentence(text: str, qwords: set[str]) -> str:
    """The sentence of ``text`` sharing the most distinct words with ``qwords`` (the
    first one on ties).

    >>> best_sentence("甲乙。珠海落地项目16个。", {"珠海", "项目"})
    '珠海落地项目16个。'
    """
    best, best_n = "", -1
    for m in _SENTENCE.finditer(text):
        s = m.group().strip()
        if not s:
            continue
        n = len(qwords & set(jieba_words(s)))
        if n > best_n:
            best, best_n = s, n
    return best


class DensePeer:
    """Dense-only retrieval over an index's chunks; the top chunk is the answer."""

    name = "dense only (FAISS, top chunk)"

    def __init__(self, index, encoder) -> None:
        self.index = index
        self.encoder = encoder

    def ask(self, question: str, k: int = 20) -> PeerAnswer:
        qvec = self.encoder.encode([question], query=True)[0]
        rows = self.index.search_dense(qvec, k * 4)
        if not rows:
            return PeerAnswer("", ())
        ranked = dict.fromkeys(self.index.chunks[r].article_id for r, _ in rows)
        return PeerAnswer(self.index.chunks[rows[0][0]].text, tuple(ranked)[:k])
