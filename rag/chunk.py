"""Chunk: an article in, runs of whole sentences out, each with its offsets.

``chunk_article`` packs consecutive sentences up to ``size`` characters; the next chunk
starts with the trailing sentences of the previous one, up to ``overlap`` characters.
A single sentence longer than ``size`` is cut at clause marks (，、：) or, failing
that, hard. Every chunk satisfies ``article.text[c.start:c.end] == c.text``.

Does not: embed or tokenize (``embed_text``/``keyword_text`` say what those stages see).
"""

from __future__ import annotations

import re

from .text import sentence_spans
from .types import Article, Chunk

_CLAUSE = re.compile(r"[，,、：:]")

# Bump when the same text and settings come out in other chunks (this module or
# ``text.sentence_spans`` changed): an index records it, and one built by another version
# is re-chunked and embedded again rather than reused with stale chunks.
VERSION = 2


def chunk_article(article: Article, size: int = 240, overlap: int = 60) -> list[Chunk]:
    """Sentence-aware chunks of ``article.text``.

    >>> a = Article(id="a", title="T", text="一二三。四五六。七八九。")
    >>> [(c.text, c.start, c.end) for c in chunk_article(a, size=8, overlap=4)]
    [('一二三。四五六。', 0, 8), ('四五六。七八九。', 4, 12)]
    """
    pieces = [p for s in sentence_spans(article.text) for p in _split_long(article.text, s, size)]
    chunks: list[Chunk] = []
    i = 0
    while i < len(pieces):
        j = i
        while j + 1 < len(pieces) and pieces[j + 1][1] - pieces[i][0] <= size:
            j += 1
        start, end = pieces[i][0], pieces[j][1]
        chunks.append(
            Chunk(
                id=f"{article.id}:{len(chunks)}",
                article_id=article.id,
                n=len(chunks),
                start=start,
                end=end,
                text=article.text[start:end],
                title=article.title,
            )
        )
        if j + 1 >= len(pieces):
            break
        # step back over trailing sentences that fit in the overlap, but always advance
        nxt = j + 1
        while nxt - 1 > i and end - pieces[nxt - 1][0] <= overlap:
            nxt -= 1
        i = nxt
    return chunks


def _split_long(text: str, span: tuple[int, int], size: int) -> list[tuple[int, int]]:
    a, b = span
    if b - a <= size:
        return [span]
    out = []
    while b - a > size:
        cut = None
        for m in _CLAUSE.finditer(text, a, a + size):
            cut = m.end()
        if cut is None or cut - a < size // 3:
            cut = a + size
        out.append((a, cut))
        a = cut
    out.append((a, b))
    return out


def embed_text(chunk: Chunk) -> str:
    """What the dense encoder sees: the article title travels with the chunk.

    >>> embed_text(Chunk(id="a:0", article_id="a", n=0, start=0, end=2, text="正文", title="标题"))
    '标题\\n正文'
    """
    return f"{chunk.title}\n{chunk.text}" if chunk.title else chunk.text


def keyword_text(chunk: Chunk, author: str = "") -> str:
    """What the keyword index sees: title, author and the chunk's text."""
    return "\n".join(p for p in (chunk.title, author, chunk.text) if p)
