"""Precision and recall of wire-copy folding (rag/dedup.py) on real news with injected
edited copies, by Jaccard threshold and shingle size.

    python scripts/bench_dedup.py [NEWS.jsonl] [--copies 300] [--seed 0]

Each of ``--copies`` random items gets an edited copy: a new title, a dateline prefix
(新华社北京X月X日电), one sentence dropped, 3 % of its characters changed, a suffix;
dated up to three days later. The sample's own items (several a day, many on the same
topic, daily templated reports) are the hard non-duplicates. A predicted pair counts
when it involves an injected copy; pairs among the sample's own items are listed apart
(real near-duplicates, or false merges: read them).
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import random
import sys
from pathlib import Path

from rag.dedup import find_copies, signatures
from rag.text import sentence_spans
from rag.types import Article

NEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "news" / "xwlb_sample.jsonl"
PREFIXES = ("新华社北京{m}月{d}日电 ", "本台消息 ", "据央视新闻报道，", "（{m}月{d}日）")
SUFFIXES = ("（完）", "\n责任编辑：王五", "（记者 张伟 李明）", "")
FILLER = "的了在是和有为对与及"


def edited(a: Article, rng: random.Random, n: int) -> Article:
    """A wire copy of ``a``: another title, prefix, one sentence dropped, 3 % of its
    characters changed, a suffix; dated 0-3 days later."""
    spans = sentence_spans(a.text)
    if len(spans) > 1:
        x, y = spans[rng.randrange(len(spans))]
        text = a.text[:x] + a.text[y:]
    else:
        text = a.text
    chars = list(text)
    for i in rng.sample(range(len(chars)), k=max(1, len(chars) * 3 // 100)):
        chars[i] = rng.choice(FILLER)
    day = dt.date.fromisoformat(a.date) + dt.timedelta(days=rng.randrange(4))
    pre = rng.choice(PREFIXES).format(m=day.month, d=day.day)
    text = pre + "".join(chars) + rng.choice(SUFFIXES)
    return Article(f"copy{n}", "快讯：" + a.title[::-1], text, date=day.isoformat())


def pairs(groups: dict[str, str]) -> set[frozenset]:
    members: dict[str, set[str]] = {}
    for c, canon in groups.items():
        members.setdefault(canon, {canon}).add(c)
    return {frozenset(p) for m in members.values() for p in itertools.combinations(sorted(m), 2)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("news", nargs="?", default=str(NEWS))
    ap.add_argument("--copies", type=int, default=300)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--shingles", default="3,4,5,7")
    ap.add_argument("--thresholds", default="0.3,0.4,0.5,0.6,0.7")
    ap.add_argument("--windows", default="none,30,7", help="days; none: any")
    ap.add_argument("--show", default="5,0.5,7", help="list the sample's own pairs at K,T,W")
    args = ap.parse_args(argv)
    with open(args.news, encoding="utf-8") as f:
        rows = [json.loads(line) for line in f if line.strip()]
    base = [Article(f"n{i}", r["title"], r["text"], date=r["date"]) for i, r in enumerate(rows)]
    rng = random.Random(args.seed)
    picked = rng.sample(range(len(base)), args.copies)
    copies = [edited(base[i], rng, j) for j, i in enumerate(picked)]
    truth = {frozenset((base[i].id, c.id)) for i, c in zip(picked, copies, strict=True)}
    arts = base + copies
    print("| shingle | threshold | window | precision | recall | F1 | sample pairs |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    show = args.show.split(",")
    shown: set[frozenset] = set()
    for k in map(int, args.shingles.split(",")):
        sigs = signatures([a.text for a in arts], k)
        for t in map(float, args.thresholds.split(",")):
            for w in args.windows.split(","):
                window = None if w == "none" else int(w)
                got = pairs(find_copies(arts, t, shingle=k, window_days=window, sigs=sigs))
                inj = {p for p in got if any(x.startswith("copy") for x in p)}
                own = got - inj
                tp = len(inj & truth)
                prec = tp / len(inj) if inj else 1.0
                rec = tp / len(truth)
                f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
                print(f"| {k} | {t:g} | {w} | {prec:.3f} | {rec:.3f} | {f1:.3f} | {len(own)} |")
                if [str(k), f"{t:g}", w] == show:
                    shown = own | (inj - truth)
    by_id = {a.id: a for a in arts}
    print(f"\n{len(shown)} wrong or unplanned pairs at {args.show} (copyN: an injected copy):")
    for p in sorted(shown, key=sorted):
        x, y = (by_id[i] for i in sorted(p))
        print(f"  {x.id} {x.date} {x.title[:28]} | {y.id} {y.date} {y.title[:28]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
