"""Build the same corpus into the file store and into milvus-lite, and time both.

    python scripts/bench_store.py [CORPUS] [--queries N]

Default corpus: ../shared/data/news/xwlb_sample.jsonl, with the fake encoder
(``tests.fake_encoder:hash256``), so the figures are the stores' own cost, not the
model's. Prints build seconds and the median milliseconds per query of dense, BM25 and
hybrid retrieval (each article's title is a query), and how often both stores put the
same chunk first.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rag.index import Index, build  # noqa: E402
from rag.ingest import load  # noqa: E402
from rag.retrieve import QueryEncoder, make_retriever  # noqa: E402
from rag.store import StoreSpec  # noqa: E402
from tests.fake_encoder import HashEncoder  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "corpus", nargs="?", default=str(ROOT.parent / "shared/data/news/xwlb_sample.jsonl")
    )
    ap.add_argument("--queries", type=int, default=200)
    args = ap.parse_args()
    articles = load([args.corpus]).articles
    enc = HashEncoder(256)
    tmp = Path(tempfile.mkdtemp())
    stores = {
        "files": StoreSpec(),
        "milvus-lite": StoreSpec("milvus", str(tmp / "bench.db"), "bench"),
    }
    opened = {}
    for name, spec in stores.items():
        t0 = time.perf_counter()
        report = build(articles, tmp / name, enc, store=spec)
        print(f"{name}: build {time.perf_counter() - t0:.1f}s ({report.chunks} chunks)")
        opened[name] = Index.open(tmp / name)
    qenc = QueryEncoder(enc)
    questions = [a.title for a in articles if a.title][: args.queries]
    for q in questions[:3]:
        qenc(q)
    first: dict[tuple[str, str], list[str]] = {}
    for mode in ("dense", "bm25", "hybrid"):
        for name, idx in opened.items():
            r = make_retriever(mode, idx, qenc)
            times, tops = [], []
            for q in questions:
                qenc(q)  # cached: time the store, not the encoder
                t0 = time.perf_counter()
                hits = r.retrieve(q, 10)
                times.append((time.perf_counter() - t0) * 1000)
                tops.append(hits[0].chunk.id if hits else "")
            first[(mode, name)] = tops
            print(f"{mode:6} {name:11}: median {statistics.median(times):.1f} ms/query")
        a, b = first[(mode, "files")], first[(mode, "milvus-lite")]
        same = sum(x == y for x, y in zip(a, b, strict=True))
        print(f"{mode:6} same first chunk in both stores: {same}/{len(a)}")


if __name__ == "__main__":
    main()
