"""Sweep how the reader combines with retrieval and the gate: chunks read (``read_k``),
the weight of the chunk's retrieval score in a span's margin (``read_score_weight``) and
what the gate's sentences add to their spans' margins (``read_gate_bonus``,
``--bonuses``), open-domain on a SQuAD-format file.

Every question is asked through the real pipeline (default answer stage: the shipped
reader, the rules as gate) once per setting. The reader reads each passage on its own,
so its output per (question, passage) is cached and the sweep costs one reading of the
largest ``k`` plus retrieval per setting. Latency per ``k`` is timed separately, without
the cache, on the first ``--time`` questions.

    python scripts/sweep_reader.py ../shared/data/cmrc2018/cmrc2018_train.json@2200-2403 --limit 300
    python scripts/sweep_reader.py ../shared/data/cmrc2018/cmrc2018_trial.json --limit 300 \\
        --ks 3 --weights=30,60
"""

from __future__ import annotations

import argparse
import statistics
import time

from rag.config import Settings
from rag.embed import load_encoder
from rag.evaluate import (
    DEFAULT_CACHE,
    DEFAULT_EVAL_K,
    ask_squad,
    cached_index,
    load_spec,
    summarize,
)
from rag.pipeline import Pipeline


class CachedReader:
    """The reader, remembering each (question, passage)'s best span."""

    def __init__(self, reader) -> None:
        self.reader, self.header, self.memo = reader, reader.header, {}

    def read(self, question, passages, **kw):
        todo = [i for i, p in enumerate(passages) if (question, p) not in self.memo]
        if todo:
            got = {
                sp.passage: sp
                for sp in self.reader.read(question, [passages[i] for i in todo], **kw)
            }
            for j, i in enumerate(todo):
                self.memo[(question, passages[i])] = got.get(j)
        out = []
        for i, p in enumerate(passages):
            sp = self.memo[(question, p)]
            if sp is not None:
                out.append(type(sp)(i, sp.start, sp.end, sp.text, sp.score, sp.no_answer))
        return sorted(out, key=lambda sp: -sp.score)


def floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", help="SQuAD-format file (FILE.json[@A-B])")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--ks", default="1,2,3,5", help="chunks read, e.g. 1,2,3,5")
    ap.add_argument("--weights", default="0,15,30,60,120", help="retrieval score weights")
    ap.add_argument("--bonuses", default="", help="gate bonuses (default: the setting's)")
    ap.add_argument("--time", type=int, default=50, help="questions timed per k (0: none)")
    args = ap.parse_args()

    settings = Settings.from_env()
    data = load_spec(args.file)
    encoder = load_encoder(settings.encoder)
    full = cached_index(data.articles, encoder, settings, DEFAULT_CACHE, progress=False)
    pipe = Pipeline.load(full, settings.with_(index_dir=str(full)), encoder=encoder)
    questions = list(data.questions[: args.limit])
    ks = sorted((int(k) for k in args.ks.split(",")), reverse=True)
    reader = pipe.answerer.reader

    print(f"{args.file}: {len(questions)} questions, reader {settings.reader}, "
          f"gate {settings.reader_gate}")  # fmt: skip
    print("\n| read_k | score weight | gate bonus | hit | EM | F1 | refused | median |")
    print("|---|---|---|---|---|---|---|---|")
    pipe.answerer.reader = CachedReader(reader)
    bonuses = floats(args.bonuses) if args.bonuses else [pipe.answerer.gate_bonus]
    for k in ks:
        for w in floats(args.weights):
            for b in bonuses:
                pipe.answerer.read_k, pipe.answerer.w_score = k, w
                pipe.answerer.gate_bonus = b
                s = summarize([ask_squad(pipe, q, k=DEFAULT_EVAL_K, mode=None) for q in questions])
                print(f"| {k} | {w:g} | {b:g} | {s.hit:.3f} | {s.em:.1f} | {s.f1:.1f} "
                      f"| {s.refused:.3f} | {s.length_median:g} |", flush=True)  # fmt: skip
    if args.time:
        pipe.answerer.reader = reader
        print("\n| read_k | ask p50 ms | ask p95 ms |")
        print("|---|---|---|")
        for k in sorted(ks):
            pipe.answerer.read_k = k
            ms = []
            for q in questions[: args.time]:
                t0 = time.perf_counter()
                pipe.ask(q.question)
                ms.append(1000 * (time.perf_counter() - t0))
            ms.sort()
            p95 = ms[min(len(ms) - 1, int(0.95 * len(ms)))]
            print(f"| {k} | {statistics.median(ms):.0f} | {p95:.0f} |", flush=True)


if __name__ == "__main__":
    main()
