"""Wire copies: near-duplicate articles (the same story under another title, with a
prefix or suffix, a sentence dropped, a few characters changed), found with MinHash LSH
(``datasketch``) over character shingles of the folded body text.

Each group of copies has one canonical article, its earliest copy (earliest date, an
undated copy after every dated one, then the first in index order); the others are its
copies. ``signatures`` hashes articles (kept in the index so an incremental build only
hashes new or changed ones); ``find_copies`` groups them. This module does not decide
which copy an answer cites (``rag/groups.py``) and never looks at titles: a rewritten
headline on the same text is still a copy.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from .text import fold
from .types import Article

SHINGLE = 7  # characters per shingle (docs/BENCHMARKS.md, "Wire copies")
NUM_PERM = 128  # MinHash permutations
THRESHOLD = 0.3  # estimated Jaccard similarity at which two articles are copies
WINDOW_DAYS = 7  # dated copies are at most this many days apart (None: any)
SEED = 1
_SKIP = re.compile(r"[\s\W_]+", re.UNICODE)  # spaces and punctuation are not compared


def params() -> dict:
    """What the groups depend on, as the index manifest records it.

    >>> sorted(params())
    ['num_perm', 'seed', 'shingle', 'threshold', 'window_days']
    """
    return {
        "threshold": THRESHOLD,
        "shingle": SHINGLE,
        "num_perm": NUM_PERM,
        "seed": SEED,
        "window_days": WINDOW_DAYS,
    }


def days_apart(a: str, b: str) -> int | None:
    """Days between two ISO dates (a month or a year counts as its first day); None
    when either is missing.

    >>> days_apart("2023-05-01", "2023-05-08"), days_apart("2023-05", "2023-05-03"), days_apart("", "2023")
    (7, 2, None)
    """
    if not a or not b:
        return None
    da, db = (_day(x) for x in (a, b))
    return abs((da - db).days)


def _day(iso: str):
    import datetime as dt

    parts = [int(p) for p in iso.split("-")] + [1, 1]
    return dt.date(parts[0], parts[1], parts[2])


def shingles(text: str, k: int = SHINGLE) -> set[str]:
    """The ``k``-character shingles of ``text`` folded (Traditional as Simplified,
    full-width as half-width, case ignored), spaces and punctuation removed.

    >>> sorted(shingles("新华社：北京电", 3))
    ['北京电', '华社北', '新华社', '社北京']
    >>> shingles("短", 3)
    {'短'}
    """
    t = _SKIP.sub("", fold(text))
    if len(t) <= k:
        return {t} if t else set()
    return {t[i : i + k] for i in range(len(t) - k + 1)}


def signatures(
    texts: Sequence[str], shingle: int = SHINGLE, num_perm: int = NUM_PERM
) -> np.ndarray:
    """One MinHash signature per text, as a ``(len(texts), num_perm)`` uint32 array.

    >>> s = signatures(["今天北京下了一场大雪", "今天北京下了一场大雪", "明天上海天晴"], 3, 16)
    >>> s.shape, s.dtype.name, bool((s[0] == s[1]).all()), bool((s[0] == s[2]).all())
    ((3, 16), 'uint32', True, False)
    """
    from datasketch import MinHash

    if not texts:
        return np.zeros((0, num_perm), dtype=np.uint32)
    sets = [[s.encode("utf-8") for s in shingles(t, shingle)] for t in texts]
    hashes = MinHash.bulk(sets, num_perm=num_perm, seed=SEED)
    return np.stack([h.hashvalues for h in hashes]).astype(np.uint32)


def jaccard(a: np.ndarray, b: np.ndarray) -> float:
    """The Jaccard similarity two signatures estimate: the share of equal slots.

    >>> jaccard(np.array([1, 2, 3, 4]), np.array([1, 2, 0, 4]))
    0.75
    """
    return float(np.mean(a == b))


def earliest(articles: Sequence[Article], members: Sequence[int]) -> int:
    """The canonical member: earliest date, undated last, then first in order.

    >>> arts = [Article("a", "", "x", date=""), Article("b", "", "x", date="2023-05-02"),
    ...         Article("c", "", "x", date="2023-05-01"), Article("d", "", "x", date="2023-05-01")]
    >>> arts[earliest(arts, [0, 1, 2, 3])].id
    'c'
    """
    return min(members, key=lambda i: (not articles[i].date, articles[i].date, i))


def find_copies(
    articles: Sequence[Article],
    threshold: float = THRESHOLD,
    *,
    shingle: int = SHINGLE,
    num_perm: int = NUM_PERM,
    window_days: int | None = WINDOW_DAYS,
    sigs: np.ndarray | None = None,
) -> dict[str, str]:
    """``{copy id: canonical id}`` for every article that is a copy of another (its
    estimated Jaccard similarity to some member of the group is at least
    ``threshold``, and when both are dated they are at most ``window_days`` apart;
    groups are closed under that link). Canonical articles and articles
    with no copy are not keys. ``sigs``: their signatures when already computed.

    >>> arts = [Article("late", "A", "国务院常务会议今天在北京召开，研究部署稳就业工作。", date="2023-05-02"),
    ...         Article("early", "B", "新华社电 国务院常务会议今天在北京召开，研究部署稳就业工作。", date="2023-05-01"),
    ...         Article("other", "C", "上海今天天气晴朗，最高气温二十五度。", date="2023-05-01")]
    >>> find_copies(arts, 0.5, shingle=3)
    {'late': 'early'}
    """
    from datasketch import MinHashLSH

    n = len(articles)
    if sigs is None:
        sigs = signatures([a.text for a in articles], shingle, num_perm)
    if n < 2:
        return {}
    lsh = MinHashLSH(threshold=threshold, num_perm=sigs.shape[1])
    hashed = [_lean(s) for s in sigs]
    parent = list(range(n))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, h in enumerate(hashed):
        for j in lsh.query(h):
            if jaccard(sigs[i], sigs[j]) < threshold:
                continue
            apart = days_apart(articles[i].date, articles[j].date)
            if window_days is None or apart is None or apart <= window_days:
                a, b = root(i), root(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)
        lsh.insert(i, h, check_duplication=False)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(root(i), []).append(i)
    out: dict[str, str] = {}
    for members in groups.values():
        if len(members) < 2:
            continue
        canon = earliest(articles, members)
        for i in members:
            if i != canon:
                out[articles[i].id] = articles[canon].id
    return dict(sorted(out.items()))


def _lean(sig: np.ndarray):
    from datasketch import LeanMinHash, MinHash

    return LeanMinHash(
        MinHash(num_perm=len(sig), seed=SEED, hashvalues=sig.astype(np.uint32), scheme="affine32")
    )
