"""Cite: the numbered sources an answer lists, and the refusal every answer stage gives.

A source is an article, numbered from 1 in the order given, with the passage shown for
it: its best-ranked retrieved chunk, widened to hold what the answer quotes from it, or
whole sentences around the quote when the quote lies elsewhere in the article.

    >>> window("甲。乙乙。丙丙丙。丁。", 3, 4)  # the sentence around 乙
    (2, 5)

Does not: choose what to quote (``answer``, ``rag/reader``, ``overview``).
"""

from __future__ import annotations

from .index import Index
from .question import Question
from .text import sentence_spans
from .types import Answer, Hit, Source

NO_ANSWER = "资料中没有找到相关答案。"
NO_ANSWER_EN = "资料中没有找到相关答案。(No answer was found in the articles.)"
PASSAGE = 240  # characters of an article shown when no chunk of it was retrieved


def first_hits(hits: list[Hit]) -> dict[str, Hit]:
    """Each article's best-ranked hit, by article id, best article first."""
    out: dict[str, Hit] = {}
    for h in sorted(hits, key=lambda h: h.rank):
        out.setdefault(h.chunk.article_id, h)
    return out


def sources(
    index: Index,
    ids: list[str],
    first_hit: dict[str, Hit],
    quoted: dict[str, list[tuple[int, int]]] | None = None,
) -> tuple[Source, ...]:
    """Sources ``1..len(ids)``; ``quoted``: article id -> the spans quoted from it,
    highlighted in its passage."""
    out = []
    for n, aid in enumerate(ids, start=1):
        art, hit = index.articles[aid], first_hit.get(aid)
        a, b = (hit.chunk.start, hit.chunk.end) if hit else (0, min(len(art.text), PASSAGE))
        spans = (quoted or {}).get(aid, [])
        if spans:
            qa, qb = min(s for s, _ in spans), max(e for _, e in spans)
            if qb <= a or qa >= b:  # the quote is elsewhere in the article: centre on it
                a, b = window(art.text, qa, qb)
            a, b = min(a, qa), max(b, qb)
        highlights = tuple(sorted({(s - a, e - a) for s, e in spans}))
        out.append(Source(n, art, art.text[a:b], a, b, hit.score if hit else 0.0, highlights))
    return tuple(out)


def refusal(
    q: Question, cited: tuple[Source, ...], confidence: float = 0.0, qtype: str | None = None
) -> Answer:
    """ "No answer found" (in English too for an English question), with the closest
    sources still listed."""
    return Answer(
        question=q.text,
        text=NO_ANSWER_EN if q.english else NO_ANSWER,
        short_answer=None,
        refused=True,
        sources=cited,
        confidence=confidence,
        query=q.query,
        qtype=qtype or q.qtype,
    )


def window(text: str, a: int, b: int, pad: int = 80) -> tuple[int, int]:
    """``text[a:b]`` widened to whole sentences, when a sentence boundary lies within
    ``pad`` characters."""
    spans = sentence_spans(text)
    lo = max([s for s, e in spans if s <= a and a - s <= pad] or [a])
    hi = min([e for s, e in spans if e >= b and e - b <= pad] or [b])
    return lo, hi
