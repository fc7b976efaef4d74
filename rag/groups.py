"""An index's groups: wire copies (``rag/dedup.py``) and events (``rag/events.py``),
computed at build time, stored in the generation, and applied at answer time.

Files of a generation (the manifest's ``groups`` entry records the version and the
parameters they were made with)::

    minhash.npy    uint32 MinHash signatures, row i = line i of articles.jsonl
    groups.json    {"copies": {copy id: canonical id}, "events": {id: event id}}

An index built before groups existed has neither: it opens with every article alone
(``Groups.computed`` is False, ``rag info`` says so) until the next ``rag build``, which
adds them without embedding anything again. An incremental build hashes only new or
changed articles and regroups everything (cheap: no model runs).

At answer time ``fold`` keeps one article of each group among the retrieved chunks
before anything reads them (the earliest copy when it holds the retrieved passages,
else the copy that was retrieved), so an answer never cites two copies of one story and
its quotes are offsets into the article it cites; ``annotate`` then fills each source's
``duplicates`` (the group's other copies), ``event`` and ``event_reports``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from . import dedup, events
from .types import Answer, Article, Chunk, Hit

VERSION = 1
MAX_REPORTS = 10  # other reports of an event listed under a source, nearest in date first


def params() -> dict:
    """The manifest's ``groups`` entry: version and parameters.

    >>> sorted(params())
    ['copies', 'events', 'version']
    """
    return {"version": VERSION, "copies": dedup.params(), "events": events.params()}


@dataclass(frozen=True)
class Groups:
    """Copies (``{copy id: canonical id}``) and events (``{id: event id}``, members of
    events of two or more only). ``computed`` is False for an index made before groups
    existed: everything is then alone."""

    copies: dict[str, str] = field(default_factory=dict)
    events: dict[str, str] = field(default_factory=dict)
    computed: bool = True

    def canonical(self, article_id: str) -> str:
        """The id of the copy an answer cites for ``article_id``.

        >>> Groups({"b": "a"}).canonical("b"), Groups({"b": "a"}).canonical("c")
        ('a', 'c')
        """
        return self.copies.get(article_id, article_id)

    def copies_of(self, article_id: str) -> list[str]:
        """The other copies of a canonical article, in index order.

        >>> Groups({"b": "a", "c": "a"}).copies_of("a")
        ['b', 'c']
        """
        return self._members().get(article_id, [])

    def event_members(self, event_id: str) -> list[str]:
        """Every article of an event (copies included).

        >>> Groups(events={"a": "a", "b": "a"}).event_members("a")
        ['a', 'b']
        """
        return self._event_members().get(event_id, [])

    def _members(self) -> dict[str, list[str]]:
        cache = self.__dict__.get("_members_cache")
        if cache is None:
            cache = {}
            for c, canon in self.copies.items():
                cache.setdefault(canon, []).append(c)
            object.__setattr__(self, "_members_cache", cache)
        return cache

    def _event_members(self) -> dict[str, list[str]]:
        cache = self.__dict__.get("_events_cache")
        if cache is None:
            cache = {}
            for a, e in self.events.items():
                cache.setdefault(e, []).append(a)
            object.__setattr__(self, "_events_cache", cache)
        return cache

    def summary(self) -> str:
        """One line for a build report.

        >>> Groups({"b": "a", "c": "a"}, {"a": "a", "b": "a", "c": "a", "d": "a"}).summary()
        'wire copies: 2 of 1 stories folded; events: 1 (4 articles)'
        """
        if not self.computed:
            return "wire copies and events: not computed (index made by an older rag)"
        stories = len(set(self.copies.values()))
        n_events = len(set(self.events.values()))
        return (
            f"wire copies: {len(self.copies)} of {stories} stories folded; "
            f"events: {n_events} ({len(self.events)} articles)"
        )


# ---------------------------------------------------------------------- building


def compute(
    articles: Sequence[Article],
    chunks: Sequence[Chunk],
    vecs: np.ndarray,
    old_signatures: dict[str, np.ndarray] | None = None,
    old_fingerprints: dict[str, str] | None = None,
) -> tuple[Groups, np.ndarray, int]:
    """Groups of ``articles`` (in index order), their signatures (reusing those of
    articles whose fingerprint is unchanged) and how many articles were hashed.
    ``vecs`` are the chunks' vectors (row i for ``chunks[i]``)."""
    old_signatures = old_signatures or {}
    old_fingerprints = old_fingerprints or {}
    sigs = np.zeros((len(articles), dedup.NUM_PERM), dtype=np.uint32)
    todo = []
    for i, a in enumerate(articles):
        old = old_signatures.get(a.id)
        if old is not None and old_fingerprints.get(a.id) == a.fingerprint():
            sigs[i] = old
        else:
            todo.append(i)
    if todo:
        sigs[todo] = dedup.signatures([articles[i].text for i in todo], dedup.SHINGLE)
    copies = dedup.find_copies(
        articles,
        dedup.THRESHOLD,
        shingle=dedup.SHINGLE,
        num_perm=dedup.NUM_PERM,
        window_days=dedup.WINDOW_DAYS,
        sigs=sigs,
    )
    # events among the stories (canonical articles); copies join their original's event
    ids = [a.id for a in articles]
    # the vectors as the index stores them (float16), so an incremental build links
    # exactly what a fresh one would
    stored = np.asarray(vecs, dtype=np.float16).astype(np.float32)
    avecs = events.lead_vectors(ids, chunks, stored)
    keep = [i for i, a in enumerate(articles) if a.id not in copies]
    ev = events.cluster(
        [articles[i] for i in keep], avecs[keep], events.THRESHOLD, events.WINDOW_DAYS
    )
    for c, canon in copies.items():
        if canon in ev:
            ev[c] = ev[canon]
    return Groups(copies, dict(sorted(ev.items()))), sigs, len(todo)


def save(gen: Path, groups: Groups, sigs: np.ndarray) -> None:
    """Write ``minhash.npy`` and ``groups.json`` into a generation being built."""
    with open(gen / "minhash.npy", "wb") as f:
        np.save(f, sigs.astype(np.uint32))
    (gen / "groups.json").write_text(
        json.dumps({"copies": groups.copies, "events": groups.events}, ensure_ascii=False),
        encoding="utf-8",
    )


def load(gen: Path, manifest: dict, ids: Sequence[str]) -> Groups:
    """The groups stored in a generation; ``computed=False`` (everything alone) when it
    has none (made by an older rag) or they do not match its articles."""
    if not isinstance(manifest.get("groups"), dict):
        return Groups(computed=False)
    try:
        raw = json.loads((gen / "groups.json").read_text(encoding="utf-8"))
        copies, evs = dict(raw["copies"]), dict(raw["events"])
    except (OSError, ValueError, KeyError, TypeError):
        return Groups(computed=False)
    known = set(ids)
    if not (set(copies) | set(copies.values()) | set(evs)) <= known:
        return Groups(computed=False)
    return Groups(copies, evs)


def load_signatures(gen: Path, manifest: dict, ids: Sequence[str]) -> dict[str, np.ndarray]:
    """``{id: signature}`` from a generation whose signatures were made the way this rag
    makes them; empty otherwise (they are then computed again)."""
    stored = manifest.get("groups")
    if not isinstance(stored, dict) or stored.get("version") != VERSION:
        return {}
    same = {k: stored.get("copies", {}).get(k) for k in ("shingle", "num_perm", "seed")}
    if same != {k: dedup.params()[k] for k in same}:
        return {}
    try:
        sigs = np.load(gen / "minhash.npy", allow_pickle=False)
    except (OSError, ValueError):
        return {}
    if sigs.shape != (len(ids), dedup.NUM_PERM):
        return {}
    return dict(zip(ids, sigs, strict=True))


# ---------------------------------------------------------------------- answering


CONTAINED = 0.9  # share of a passage's shingles another copy must hold to stand in for it


def fold(hits: list[Hit], groups: Groups, index, articles: dict[str, Article]) -> list[Hit]:
    """The hits with at most one article of each group of copies, order and scores
    kept. That article is the group's earliest copy when its text holds every retrieved
    passage of the group nearly verbatim (``CONTAINED`` of its 7-character shingles),
    else the copy whose passage ranks best (a copy that differs where the question
    looked, e.g. in a name, is cited as it is). Passages of the other copies become the
    matching passage of that article when it holds them, else they are dropped."""
    if not groups.copies or not any(h.chunk.article_id in groups.copies for h in hits):
        return hits
    by_article = _chunks_by_article(index)
    chosen: dict[str, str] = {}  # group (canonical id) -> the article cited for it
    for h in hits:
        aid = h.chunk.article_id
        canon = groups.canonical(aid)
        if canon in chosen or not groups.copies_of(canon):
            continue
        passages = [x.chunk.text for x in hits if groups.canonical(x.chunk.article_id) == canon]
        text = articles[canon].text if canon in articles else ""
        chosen[canon] = canon if all(_holds(text, p) for p in passages) else aid
    out: list[Hit] = []
    seen: set[str] = set()
    for h in hits:
        aid = h.chunk.article_id
        cited = chosen.get(groups.canonical(aid), aid)
        chunk = h.chunk
        if cited != aid:
            if cited not in articles or not _holds(articles[cited].text, chunk.text):
                continue
            chunk = _matching(chunk.text, by_article.get(cited, []))
            if chunk is None:
                continue
        if chunk.id in seen:
            continue
        seen.add(chunk.id)
        out.append(replace(h, chunk=chunk, rank=len(out)) if chunk is not h.chunk else h)
    return out


def _holds(text: str, passage: str) -> bool:
    """Whether ``text`` holds ``passage`` nearly verbatim.

    >>> _holds("新华社电 今天北京下了一场大雪，路上很滑。", "今天北京下了一场大雪，路上很滑。")
    True
    >>> _holds("今天中山下了一场大雪。", "今天咸阳下了一场大雪。")
    False
    """
    want = dedup.shingles(passage)
    return not want or len(want & dedup.shingles(text)) >= CONTAINED * len(want)


def _chunks_by_article(index) -> dict[str, list[Chunk]]:
    cache = getattr(index, "_chunks_by_article", None)
    if cache is None:
        cache = {}
        for c in index.chunks:
            cache.setdefault(c.article_id, []).append(c)
        index._chunks_by_article = cache
    return cache


def _matching(text: str, candidates: list[Chunk]) -> Chunk | None:
    """The candidate sharing the most 3-character shingles with ``text``.

    >>> cs = [Chunk("a:0", "a", 0, 0, 4, "今天下雪"), Chunk("a:1", "a", 1, 4, 8, "明天天晴")]
    >>> _matching("据报道，明天天晴。", cs).id
    'a:1'
    """
    if not candidates:
        return None
    want = dedup.shingles(text, 3)
    return max(candidates, key=lambda c: (len(want & dedup.shingles(c.text, 3)), -c.n))


def annotate(answer: Answer, groups: Groups, articles: dict[str, Article]) -> Answer:
    """Each source with its article's other copies (``duplicates``), its event id and
    the event's other reports (up to ``MAX_REPORTS``, nearest in date first)."""
    if not answer.sources or not (groups.copies or groups.events):
        return answer
    sources = []
    for s in answer.sources:
        aid = s.article.id
        canon = groups.canonical(aid)
        group = [canon, *groups.copies_of(canon)] if canon != aid or groups.copies_of(aid) else []
        dups = tuple(articles[c] for c in group if c != aid and c in articles)
        event = groups.events.get(aid, "")
        others: list[Article] = []
        if event:
            skip = {aid, *group}
            others = [
                articles[m]
                for m in groups.event_members(event)
                if m not in skip and m in articles and m not in groups.copies
            ]
            others.sort(key=lambda a: (_gap(a.date, s.article.date), a.date, a.id))
        sources.append(
            replace(s, duplicates=dups, event=event, event_reports=tuple(others[:MAX_REPORTS]))
        )
    return replace(answer, sources=tuple(sources))


def _gap(a: str, b: str) -> int:
    d = dedup.days_apart(a, b)
    return d if d is not None else 10**6


def listing(groups: Groups, articles: dict[str, Article]) -> list[dict]:
    """The events as rows for ``rag events``: id, first and last date, size (articles,
    copies included), copies, and the earliest report's title; newest first.

    >>> arts = {i: Article(i, "T" + i, "", date=d) for i, d in
    ...         [("a", "2023-05-01"), ("b", "2023-05-03"), ("c", "2023-05-02")]}
    >>> listing(Groups({"c": "a"}, {"a": "a", "b": "a", "c": "a"}), arts)
    [{'event': 'a', 'first': '2023-05-01', 'last': '2023-05-03', 'size': 3, 'copies': 1, 'title': 'Ta', 'ids': ['a', 'c', 'b']}]
    """
    rows = []
    for event in dict.fromkeys(groups.events.values()):
        members = [articles[m] for m in groups.event_members(event) if m in articles]
        members.sort(key=lambda a: (a.date, a.id))
        dates = [a.date for a in members if a.date]
        rows.append(
            {
                "event": event,
                "first": min(dates, default=""),
                "last": max(dates, default=""),
                "size": len(members),
                "copies": sum(1 for a in members if a.id in groups.copies),
                "title": articles[event].title if event in articles else "",
                "ids": [a.id for a in members],
            }
        )
    rows.sort(key=lambda r: (r["last"], r["event"]), reverse=True)
    return rows
