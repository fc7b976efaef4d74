"""Retrieve: a question in, the best chunks out (``Hit``s), three ways.

- ``DenseRetriever``: FAISS inner product between the query vector and chunk vectors.
- ``BM25Retriever``: bm25s over jieba tokens (Traditional folded to Simplified).
- ``HybridRetriever``: reciprocal-rank fusion of both. The keyword side is weighted by
  the share of the question's tokens the corpus knows, so an English question over
  Chinese articles (no shared words) is answered by the dense side alone.

Every ``Hit`` of the hybrid carries both component scores, so later stages can judge
how well the question is matched.

On the milvus store (``rag.milvus_store``) the hybrid runs inside Milvus instead
(``StoreHybridRetriever``: one ``hybrid_search``, Milvus's RRF ranker, no keyword
weighting); its hits carry the dense score, not the BM25 one.
"""

from __future__ import annotations

import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import numpy as np

from .embed import Encoder
from .store import Store as Index
from .text import to_simplified
from .text import tokens as keyword_tokens
from .types import Hit


class Retriever(Protocol):
    def retrieve(self, query: str, k: int, keywords: str | None = None) -> list[Hit]:
        """Best ``k`` chunks for ``query``; ``keywords`` (when given) is what the keyword
        side searches for instead of the query (e.g. Chinese words for an English one)."""
        ...


class QueryEncoder:
    """Encodes queries once: the retriever and the answerer ask for the same vector.
    With ``simplify`` (a corpus in Simplified Chinese) a Traditional question is
    encoded in Simplified: the embedding model scores same-script text higher, which
    cost Traditional questions 1.3 points of false refusals on CMRC."""

    def __init__(self, encoder: Encoder, simplify: bool = False) -> None:
        self.encoder = encoder
        self.simplify = simplify
        self._cached = functools.lru_cache(maxsize=256)(self._encode)

    def _encode(self, text: str) -> np.ndarray:
        if self.simplify:
            text = to_simplified(text)
        return self.encoder.encode([text], query=True)[0]

    def __call__(self, text: str) -> np.ndarray:
        return self._cached(text)


class DenseRetriever:
    def __init__(self, index: Index, query_encoder: QueryEncoder) -> None:
        self.index = index
        self.qenc = query_encoder

    def retrieve(self, query: str, k: int, keywords: str | None = None) -> list[Hit]:
        res = self.index.search_dense(self.qenc(query), k)
        return [Hit(self.index.chunks[r], s, i, dense=s) for i, (r, s) in enumerate(res)]


class BM25Retriever:
    def __init__(self, index: Index) -> None:
        self.index = index

    def retrieve(self, query: str, k: int, keywords: str | None = None) -> list[Hit]:
        res = self.index.search_bm25(keyword_tokens(keywords or query), k)
        return [Hit(self.index.chunks[r], s, i, bm25=s) for i, (r, s) in enumerate(res)]


_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rag-keywords")


class HybridRetriever:
    def __init__(
        self, index: Index, query_encoder: QueryEncoder, rrf_k: int = 60, depth: int = 50
    ) -> None:
        self.index = index
        self.qenc = query_encoder
        self.rrf_k = rrf_k
        self.depth = depth

    def retrieve(self, query: str, k: int, keywords: str | None = None) -> list[Hit]:
        idx = self.index
        depth = max(k, self.depth)
        text = keywords if keywords is not None else query

        def keyword_side():
            qtok = keyword_tokens(text)
            return qtok, idx.search_bm25(qtok, depth)

        # the encoder releases the GIL while it runs, so the keyword side runs meanwhile
        pending = _POOL.submit(keyword_side)
        qvec = self.qenc(query)
        dense = idx.search_dense(qvec, depth)
        qtok, bm25 = pending.result()
        known = idx.known(qtok)
        # the keyword side counts as much as the share of the question it understood
        w_kw = len(set(known)) / len(set(qtok)) if qtok else 0.0
        fused: dict[int, float] = {}
        for rank, (r, _) in enumerate(dense):
            fused[r] = fused.get(r, 0.0) + 1.0 / (self.rrf_k + rank + 1)
        for rank, (r, _) in enumerate(bm25):
            fused[r] = fused.get(r, 0.0) + w_kw / (self.rrf_k + rank + 1)
        dscore = dict(dense)
        # exact RRF ties (rank 1 + rank 2 either way) go to the denser match
        order = sorted(fused, key=lambda r: (-fused[r], -dscore.get(r, -1.0), r))[:k]
        bscore = dict(bm25)
        missing = [r for r in order if r not in dscore]
        if missing:
            vecs = idx.vectors(missing)
            dscore.update(zip(missing, (vecs @ qvec).tolist(), strict=True))
        return [
            Hit(idx.chunks[r], fused[r], i, dense=float(dscore[r]), bm25=float(bscore.get(r, 0.0)))
            for i, r in enumerate(order)
        ]


class StoreHybridRetriever(HybridRetriever):
    """Hybrid retrieval done by the store itself (``index.search_hybrid``)."""

    def retrieve(self, query: str, k: int, keywords: str | None = None) -> list[Hit]:
        qtok = keyword_tokens(keywords if keywords is not None else query)
        res = self.index.search_hybrid(self.qenc(query), qtok, k, self.rrf_k, self.depth)
        return [Hit(self.index.chunks[r], s, i, dense=d) for i, (r, s, d) in enumerate(res)]


def make_retriever(
    mode: str, index: Index, query_encoder: QueryEncoder, rrf_k: int = 60
) -> Retriever:
    if mode == "dense":
        return DenseRetriever(index, query_encoder)
    if mode == "bm25":
        return BM25Retriever(index)
    if hasattr(index, "search_hybrid"):
        return StoreHybridRetriever(index, query_encoder, rrf_k=rrf_k)
    return HybridRetriever(index, query_encoder, rrf_k=rrf_k)
