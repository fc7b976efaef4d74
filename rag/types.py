"""The frozen dataclasses that travel between stages.

Article (ingest) -> Chunk (chunk) -> Hit (retrieve) -> Quote/Source/Answer (answer).
Offsets are Python string indices (code points) into ``Article.text``, so for any
chunk ``article.text[chunk.start:chunk.end] == chunk.text`` and likewise for quotes.
Nothing here does I/O; ``to_dict`` methods give the JSON shapes used at the edges.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Article:
    """One news article (or an untitled photo caption) and where it came from.

    ``text`` is the body as a reader sees it: paragraphs joined by ``\\n``, lines the
    page layout broke rejoined, bylines kept as their own paragraph (so "who wrote"
    stays answerable from the text). ``start``/``end`` locate the article's block in
    the source file; ``position`` is its 0-based order on the page (line number for
    JSONL).
    """

    id: str
    title: str
    text: str
    author: str = ""
    column: str = ""
    date: str = ""
    source: str = ""
    url: str = ""
    path: str = ""
    position: int = 0
    start: int = 0
    end: int = 0
    kind: str = "article"  # "article" or "caption"

    def fingerprint(self) -> str:
        """A stable hash of everything that changes what gets indexed.

        >>> Article(id="a", title="t", text="x").fingerprint()[:8]
        'c3cf407f'
        """
        payload = json.dumps(
            [
                self.id,
                self.title,
                self.text,
                self.author,
                self.column,
                self.date,
                self.source,
                self.url,
                self.kind,
            ],
            ensure_ascii=False,
        )
        return hashlib.sha1(payload.encode("utf-8")).hexdigest()

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Chunk:
    """A run of whole sentences of one article; ``text == article.text[start:end]``."""

    id: str
    article_id: str
    n: int
    start: int
    end: int
    text: str
    title: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk. ``score`` is the retriever's own (RRF for hybrid);
    ``dense``/``bm25`` keep the component scores when known."""

    chunk: Chunk
    score: float
    rank: int
    dense: float | None = None
    bm25: float | None = None


@dataclass(frozen=True)
class Quote:
    """A verbatim span of a source article: ``article.text[start:end] == text``.

    ``source`` is the 1-based number of the source in ``Answer.sources`` (the ``[n]``
    marker)."""

    text: str
    source: int
    start: int
    end: int

    def to_dict(self) -> dict:
        return {"text": self.text, "source": self.source, "start": self.start, "end": self.end}


@dataclass(frozen=True)
class Source:
    """An article offered as evidence: the passage shown to the reader
    (``article.text[start:end]``) and the spans quoted from it."""

    n: int
    article: Article
    passage: str
    start: int
    end: int
    score: float
    highlights: tuple[tuple[int, int], ...] = ()  # quote spans, relative to the passage
    # wire copies of this article that the answer does not cite (rag/groups.py), the id
    # of its event ("" when alone) and the event's other reports
    duplicates: tuple[Article, ...] = ()
    event: str = ""
    event_reports: tuple[Article, ...] = ()

    def to_dict(self) -> dict:
        """The JSON shape of a source. ``file`` names the article's file relative to
        where it was read from (the folder given, as in a page's ``doc_id``; else the
        file's own name), never a full path: no client takes a source for a file.

        >>> a = Article(id="sub/p.txt#2", title="t", text="x", path="/data/news/sub/p.txt")
        >>> Source(1, a, "x", 0, 1, 0.5).to_dict()["file"]
        'sub/p.txt'
        """
        a = self.article
        where = a.path.replace("\\", "/")
        rel = a.id.rpartition("#")[0]
        if not (rel and (where == rel or where.endswith("/" + rel))):
            rel = where.rpartition("/")[2]
        return {
            "n": self.n,
            "doc_id": a.id,
            "title": a.title,
            "author": a.author,
            "column": a.column,
            "date": a.date,
            "url": a.url,
            "file": rel,
            "kind": a.kind,
            "text": self.passage,
            "start": self.start,
            "end": self.end,
            "score": round(float(self.score), 6),
            "highlights": [list(h) for h in self.highlights],
            "duplicates": [_brief(d) for d in self.duplicates],
            "event": self.event,
            "event_reports": [_brief(r) for r in self.event_reports],
        }


def _brief(a: Article) -> dict:
    """An article as a source's ``duplicates``/``event_reports`` list it."""
    return {"doc_id": a.id, "title": a.title, "date": a.date}


@dataclass(frozen=True)
class TimeRange:
    """A date range a question asks about (rag/when.py): inclusive ISO bounds and the
    words they came from."""

    start: str
    end: str
    text: str = ""

    def to_dict(self) -> dict:
        return {"start": self.start, "end": self.end, "text": self.text}


@dataclass(frozen=True)
class Answer:
    """What ``Pipeline.ask`` returns. ``text`` carries ``[n]`` markers; a refusal is a
    normal answer with ``refused=True`` whose sources are the closest ones found."""

    question: str
    text: str
    short_answer: str | None
    refused: bool
    sources: tuple[Source, ...] = ()
    quotes: tuple[Quote, ...] = ()
    confidence: float = 0.0
    query: str = ""  # the question as searched (after follow-up rewriting)
    qtype: str = ""
    short_span: tuple[int, int, int] | None = None  # (source n, start, end) in the article
    timings: dict = field(default_factory=dict, compare=False)
    as_of: str = ""  # the reference day relative dates were counted from (ISO)
    time_range: TimeRange | None = None  # the dates retrieval was limited to, if any

    def to_dict(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "short_answer": self.short_answer,
            "refused": self.refused,
            "confidence": round(float(self.confidence), 4),
            "query": self.query,
            "qtype": self.qtype,
            "sources": [s.to_dict() for s in self.sources],
            "quotes": [q.to_dict() for q in self.quotes],
            "as_of": self.as_of,
            "time_range": self.time_range.to_dict() if self.time_range else None,
        }
