"""Overview: answers about the collection itself, and about a topic.

Does: answer a ``collection`` question (这一版有哪些文章, what is this page about, how
many articles) with each article's title and lead sentence, and a ``topic`` question
(X有什么新闻, 介绍一下X) with the lead sentences of the retrieved articles about X.
Still extractive: every lead is a verbatim ``Quote`` of its article with its ``[n]``
source; only the count line (共 7 篇文章：) is ours. Articles go in page order, or
newest first when every listed one is dated. Does not: tell which kind a question
is (``rag/intents.py`` does), nor pick a fact out of a sentence (``rag/answer.py``).
"""

from __future__ import annotations

from .cite import first_hits, refusal, sources
from .index import Index
from .intents import intent, topic_words
from .question import Question
from .text import fold, sentence_spans
from .types import Answer, Article, Hit, Quote, Source

MAX_LISTED = 20  # a collection larger than this gets its articles nearest the question
PASSAGE = 200  # characters of an article shown as its source (more when the lead is longer)
_FINAL = "。！？!?；;…"


def lead_span(text: str) -> tuple[int, int] | None:
    """The article's first real sentence: a short line with no final punctuation
    before it (a byline, 图片来源:…) is skipped.

    >>> t = "赵丁硕 本报记者 叶伟\\n5月30日,活动正式启动。吸引了学生。"
    >>> a, b = lead_span(t); t[a:b]
    '5月30日,活动正式启动。'
    >>> lead_span("")
    """
    spans = sentence_spans(text)
    for a, b in spans:
        s = text[a:b]
        if len(s) >= 20 or s.rstrip("”’」』）)】》\"'")[-1:] in _FINAL:
            return a, b
    return spans[0] if spans else None


def page_order(articles: list[Article]) -> list[Article]:
    """Newest first when every article has a date, else in the order they were read
    (file, then place in the file).

    >>> arts = [Article("b", "B", "x", path="p", position=1), Article("a", "A", "y", path="p", position=0)]
    >>> [a.id for a in page_order(arts)]
    ['a', 'b']
    """
    by_place = sorted(articles, key=lambda a: (a.path, a.position, a.id))
    if by_place and all(a.date for a in by_place):
        return sorted(by_place, key=lambda a: a.date, reverse=True)  # stable: ties keep place
    return by_place


class Overview:
    """Builds collection and topic answers from an index."""

    def __init__(self, index: Index, max_listed: int = MAX_LISTED) -> None:
        self.index = index
        self.max_listed = max_listed

    def collection(
        self,
        q: Question,
        hits: list[Hit],
        probability: float = 1.0,
        articles: list[Article] | None = None,
    ) -> Answer:
        """Every article (up to ``max_listed``; past that, those nearest the question's
        own words, or the first/newest when it has none), with the total count.
        ``articles``: the collection to list instead of the whole index (those of the
        dates a question asks about)."""
        everything = list(self.index.articles.values()) if articles is None else articles
        copies = self.index.groups.copies  # a story is listed once, by its earliest copy
        everything = [a for a in everything if a.id not in copies]
        total = len(everything)
        if total <= self.max_listed:
            picked = page_order(everything)
        else:
            own = topic_words(q.query, intent("collection").frame())
            ranked = list(first_hits(hits)) if own else []
            ids = {a.id for a in everything}
            ranked = [i for i in ranked if i in ids]
            chosen = [self.index.articles[i] for i in ranked[: self.max_listed]]
            picked = page_order(chosen or everything)[: self.max_listed]
        if q.english:
            head = f"{total} articles" + (
                ":" if len(picked) == total else f"; the {len(picked)} nearest the question:"
            )
        else:
            head = f"共 {total} 篇文章" + (
                "：" if len(picked) == total else f"，以下是与问题最相关的 {len(picked)} 篇："
            )
        return self._listing(q, picked, head, probability, "collection")

    def topic(self, q: Question, hits: list[Hit], k: int = 5, probability: float = 1.0) -> Answer:
        """The leads of the retrieved articles that name the question's subject: all its
        proper names, and at least half of its own words (by length). None of them: a
        refusal, with the closest articles as sources."""
        words = topic_words(q.query, intent("topic").frame()) if not q.english else []
        ranked = list(first_hits(hits))
        about = [
            self.index.articles[aid]
            for aid in ranked
            if _names_in(q, self._folded(aid)) and _covers(words, self._folded(aid))
        ][:k]
        if q.english and not q.names:
            about = about[:1]  # no name to hold it to: only the article retrieval puts first
        if not about or (q.english and not q.names and not q.groups):
            return refusal(q, sources(self.index, ranked[:k], first_hits(hits)), qtype="topic")
        return self._listing(q, about, "", probability, "topic")

    # ---------------------------------------------------------------- parts

    def _listing(
        self, q: Question, articles: list[Article], head: str, probability: float, kind: str
    ) -> Answer:
        lines = [head] if head else []
        sources, quotes = [], []
        photo, colon = ("Photo", ": ") if q.english else ("图片", "：")
        for n, art in enumerate(articles, start=1):
            span = lead_span(art.text)
            if span is None:
                lines.append(f"{art.title}[{n}]")
                sources.append(
                    Source(n, art, art.text[:PASSAGE], 0, min(len(art.text), PASSAGE), 0.0)
                )
                continue
            a, b = span
            quotes.append(Quote(art.text[a:b], n, a, b))
            label = photo if art.kind == "caption" else art.title
            lines.append(
                f"{label}{colon}{art.text[a:b]}[{n}]" if label else f"{art.text[a:b]}[{n}]"
            )
            end = max(b, min(len(art.text), PASSAGE))
            sources.append(Source(n, art, art.text[:end], 0, end, 0.0, ((a, b),)))
        return Answer(
            question=q.text,
            text="\n".join(lines),
            short_answer=None,
            refused=False,
            sources=tuple(sources),
            quotes=tuple(quotes),
            confidence=probability,
            query=q.query,
            qtype=kind,
        )

    def _folded(self, article_id: str) -> str:
        art = self.index.articles[article_id]
        return fold(art.title + "\n" + art.text)


def _names_in(q: Question, folded: str) -> bool:
    """Every proper name of the question is in the article (``郑州|正州``: either)."""
    return all(any(alt and alt in folded for alt in name.split("|")) for name in q.names)


def _covers(words: list[str], folded: str) -> bool:
    """At least half of the question's own words, by length, are in the article."""
    total = sum(len(w) for w in words)
    return not total or sum(len(w) for w in words if w in folded) * 2 >= total
