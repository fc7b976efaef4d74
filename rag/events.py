"""Events: reports of the same event (follow-ups on later days, the same announcement
seen from different places) grouped by their article vectors within a time window.

An article's vector is the normalised mean of its chunks' vectors. Two dated articles
are linked when their cosine similarity is at least ``THRESHOLD`` and their dates are at
most ``WINDOW_DAYS`` apart; an event is a connected group of links (single linkage).
Its id is the id of its earliest report. Undated articles are never grouped (no window
to hold them to), and wire copies (``rag/dedup.py``) are not clustered: they take their
canonical article's event. This module does not read or write the index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np

from .types import Article, Chunk

THRESHOLD = 0.95  # cosine of article vectors (docs/BENCHMARKS.md, "Wire copies and events")
WINDOW_DAYS = 3


def params() -> dict:
    """What the events depend on, as the index manifest records it.

    >>> sorted(params())
    ['method', 'threshold', 'window_days']
    """
    return {"threshold": THRESHOLD, "window_days": WINDOW_DAYS, "method": "single-link"}


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
) -> dict[str, str]:
    """``{article id: event id}`` for every article in an event of two or more; the
    event id is the id of the event's earliest report (then the first in order).
    Only articles dated to the day take part.

    >>> arts = [Article("a", "", "", date="2023-05-01"), Article("b", "", "", date="2023-05-03"),
    ...         Article("c", "", "", date="2023-05-20"), Article("d", "", "", date="2023-05-02")]
    >>> v = np.array([[1.0, 0], [0.99, 0.14], [1.0, 0], [0, 1.0]])
    >>> cluster(arts, v, 0.9, 3)
    {'a': 'a', 'b': 'a'}
    """
    days = [_ordinal(a.date) for a in articles]
    dated = np.array([i for i, d in enumerate(days) if d is not None], dtype=np.int64)
    if len(dated) < 2:
        return {}
    order = dated[np.argsort([days[i] for i in dated], kind="stable")]
    day = np.array([days[i] for i in order], dtype=np.int64)
    vec = np.asarray(vectors, dtype=np.float32)[order]
    parent = list(range(len(order)))

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
        for a, b in zip(*np.nonzero(sims >= threshold), strict=True):
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
