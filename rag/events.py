"""Events: reports of the same event (follow-ups on later days, the same announcement
seen from different places) grouped by their lead vectors within a time window.

An article's lead vector is the vector of its first chunk (its title and first
sentences: the lead names the event; the rest of a programme's item is background that
makes unrelated items alike). Two dated articles are linked when their dates are at
most ``WINDOW_DAYS`` apart, their cosine similarity is at least ``THRESHOLD``, and it
beats by ``CONTRAST`` the closest either of them comes to any article dated outside
that window: a series (a daily bulletin, numbered editorials, a leader meeting one
visitor after another) recurs over months and looks alike every time, an event is a
burst. An event is a connected group of links (single linkage). Settings chosen on the
``tune`` half of ``tests/data/news_event_pairs.jsonl`` and reported on its ``test`` half
(docs/BENCHMARKS.md, "Wire copies and events").

Its id is the id of its earliest report. Undated articles are never grouped (no window
to hold them to), and wire copies (``rag/dedup.py``) are not clustered: they take their
canonical article's event. Incremental: a new article needs only its own chunks'
vectors; grouping is redone over the stored vectors at every build (no model runs).
This module does not read or write the index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from .types import Article, Chunk

# cosine of lead vectors, its margin over the nearest article outside the window, and
# the window (docs/BENCHMARKS.md, "Wire copies and events")
THRESHOLD = 0.95
CONTRAST = 0.005
WINDOW_DAYS = 7


def params() -> dict:
    """What the events depend on, as the index manifest records it.

    >>> sorted(params())
    ['contrast', 'method', 'threshold', 'vector', 'window_days']
    """
    return {
        "threshold": THRESHOLD,
        "contrast": CONTRAST,
        "window_days": WINDOW_DAYS,
        "method": "single-link",
        "vector": "lead",
    }


def article_vectors(ids: Sequence[str], chunks: Sequence[Chunk], vecs: np.ndarray) -> np.ndarray:
    """The normalised mean of each article's chunk vectors (row i for ``ids[i]``; zeros
    for an article without chunks).

    >>> cs = [Chunk("a:0", "a", 0, 0, 1, "x"), Chunk("b:0", "b", 0, 0, 1, "y"), Chunk("a:1", "a", 1, 1, 2, "z")]
    >>> article_vectors(["a", "b"], cs, np.array([[1.0, 0], [0, 2.0], [0, 1.0]])).astype(float).round(3).tolist()
    [[0.707, 0.707], [0.0, 1.0]]
    """
    row = {a: i for i, a in enumerate(ids)}
    out = np.zeros((len(ids), vecs.shape[1] if vecs.ndim == 2 else 0), dtype=np.float64)
    which = np.array([row[c.article_id] for c in chunks], dtype=np.int64)
    if len(which):
        np.add.at(out, which, np.asarray(vecs, dtype=np.float64))
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def lead_vectors(ids: Sequence[str], chunks: Sequence[Chunk], vecs: np.ndarray) -> np.ndarray:
    """The normalised vector of each article's first chunk (row i for ``ids[i]``; zeros
    for an article without chunks).

    >>> cs = [Chunk("a:1", "a", 1, 1, 2, "z"), Chunk("b:0", "b", 0, 0, 1, "y"), Chunk("a:0", "a", 0, 0, 1, "x")]
    >>> lead_vectors(["a", "b"], cs, np.array([[0, 1.0], [0, 2.0], [3.0, 4.0]])).astype(float).round(3).tolist()
    [[0.6, 0.8], [0.0, 1.0]]
    """
    row = {a: i for i, a in enumerate(ids)}
    out = np.zeros((len(ids), vecs.shape[1] if vecs.ndim == 2 else 0), dtype=np.float64)
    first: dict[str, tuple[int, int]] = {}  # article -> (chunk number, row in vecs)
    for k, c in enumerate(chunks):
        if c.article_id in row and (c.article_id not in first or c.n < first[c.article_id][0]):
            first[c.article_id] = (c.n, k)
    for a, (_, k) in first.items():
        out[row[a]] = vecs[k]
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return (out / np.where(norms > 0, norms, 1.0)).astype(np.float32)


def _ordinal(iso: str) -> int | None:
    """The day number of a full ISO date; None for a month, a year or nothing.

    >>> _ordinal("2023-05-02") - _ordinal("2023-04-30"), _ordinal("2023-05")
    (2, None)
    """
    if len(iso) != 10:
        return None
    try:
        return dt.date.fromisoformat(iso).toordinal()
    except ValueError:
        return None


def cluster(
    articles: Sequence[Article],
    vectors: np.ndarray,
    threshold: float = THRESHOLD,
    window_days: int = WINDOW_DAYS,
    contrast: float | None = CONTRAST,
) -> dict[str, str]:
    """``{article id: event id}`` for every article in an event of two or more; the
    event id is the id of the event's earliest report (then the first in order).
    Only articles dated to the day take part; ``contrast`` None links on the cosine
    alone.

    >>> arts = [Article("a", "", "", date="2023-05-01"), Article("b", "", "", date="2023-05-03"),
    ...         Article("c", "", "", date="2023-05-20"), Article("d", "", "", date="2023-05-02")]
    >>> v = np.array([[1.0, 0], [0.99, 0.14], [0.96, 0.28], [0, 1.0]])
    >>> cluster(arts, v, 0.9, 3, contrast=None), cluster(arts, v, 0.9, 3, contrast=0.01)
    ({'a': 'a', 'b': 'a'}, {})

    (``c``, weeks later, is as close to ``a`` as ``b`` is: the pair is a series.)
    """
    days = [_ordinal(a.date) for a in articles]
    dated = np.array([i for i, d in enumerate(days) if d is not None], dtype=np.int64)
    if len(dated) < 2:
        return {}
    order = dated[np.argsort([days[i] for i in dated], kind="stable")]
    day = np.array([days[i] for i in order], dtype=np.int64)
    vec = np.asarray(vectors, dtype=np.float32)[order]
    parent = list(range(len(order)))
    outside = _nearest_outside(vec, day, window_days) if contrast is not None else None

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # each article against the later ones within the window, a block of days at a time
    i = 0
    while i < len(order):
        j = int(np.searchsorted(day, day[i], side="right"))  # same-day block [i, j)
        end = int(np.searchsorted(day, day[i] + window_days, side="right"))
        sims = vec[i:j] @ vec[i:end].T
        linked = sims >= threshold
        if outside is not None:
            near = np.maximum.outer(outside[i:j], outside[i:end])
            linked &= sims - near >= contrast
        for a, b in zip(*np.nonzero(linked), strict=True):
            x, y = root(i + int(a)), root(i + int(b))
            if x != y:
                parent[max(x, y)] = min(x, y)
        i = j
    members: dict[int, list[int]] = {}
    for k in range(len(order)):
        members.setdefault(root(k), []).append(k)
    out: dict[str, str] = {}
    for group in members.values():
        if len(group) < 2:
            continue
        first = min(group, key=lambda k: (day[k], int(order[k])))
        for k in group:
            out[articles[int(order[k])].id] = articles[int(order[first])].id
    return dict(sorted(out.items()))


def _nearest_outside(vec: np.ndarray, day: np.ndarray, window_days: int, k: int = 64) -> np.ndarray:
    """Each article's highest cosine to an article dated more than ``window_days`` away,
    among its ``k`` nearest (0 when none of those is); ``day`` sorted as ``vec`` is.

    >>> v = np.array([[1.0, 0], [0.8, 0.6], [0, 1.0]], dtype=np.float32)
    >>> _nearest_outside(v, np.array([1, 2, 30]), 3).astype(float).round(2).tolist()
    [0.0, 0.6, 0.6]
    """
    import faiss

    x = np.ascontiguousarray(vec, dtype=np.float32)
    index = faiss.IndexFlatIP(x.shape[1])
    index.add(x)
    sims, rows = index.search(x, min(k, len(x)))
    far = (rows >= 0) & (np.abs(day[np.clip(rows, 0, None)] - day[:, None]) > window_days)
    return np.where(far, sims, -np.inf).max(axis=1, initial=-np.inf).clip(0, None)
