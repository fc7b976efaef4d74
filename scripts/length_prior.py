"""Would a length prior help the reader's span choice? Reads each question against its
own (gold) paragraph, keeps the best 60 candidate spans over its windows (start + end
logits, band of 30 pieces, as ``Reader.read``), then re-scores them with
``score + a * characters`` (``lin``) or ``score + a * ln(1 + characters)`` (``log``)
for each ``a`` and prints EM / F1 per setting (a = 0 is the reader as shipped).

    python scripts/length_prior.py ../shared/data/cmrc2018/cmrc2018_train.json@2200-2403 \\
        ../shared/data/drcd/drcd_test.json@190-377 ../shared/data/cmrc2018/cmrc2018_trial.json

Measured, not shipped (docs/BENCHMARKS.md, "A length prior"): the slices disagree on
the sign that helps, so the reader decodes without one.
"""

from __future__ import annotations

import argparse
import math

from rag.metrics import cmrc_em, cmrc_f1
from rag.reader.data import collate, make_windows
from rag.reader.infer import Reader
from rag.reader.score import questions
from rag.reader.weights import resolve

PRIORS = {
    "lin": (-0.1, -0.05, -0.03, -0.02, -0.01, 0.0, 0.02),
    "log": (-1.5, -1.0, -0.5, -0.25, 0.0, 0.25),
}


def candidates(reader: Reader, question: str, context: str, keep: int = 60):
    """The best ``keep`` (start, end, score) character spans of ``context`` over its
    windows, each span at its best window's score."""
    import torch

    qids = reader.tok.encode(question).ids
    enc = reader.tok.encode(context)
    ws = make_windows(
        qids,
        list(zip(enc.ids, enc.offsets, strict=True)),
        max_len=reader.max_len,
        stride=reader.stride,
        max_question=reader.max_question,
        passage=0,
    )
    ids, attn, ans, _, _ = collate(ws)
    with torch.inference_mode():
        lg = reader.model(ids, attn, ans)
    best: dict[tuple[int, int], float] = {}
    for k, w in enumerate(ws):
        n = len(w.offsets)
        s = lg.start[k, w.context_start : w.context_start + n]
        e = lg.end[k, w.context_start : w.context_start + n]
        band = torch.ones(n, n, dtype=torch.bool).triu().tril(29)
        pair = (s[:, None] + e[None, :]).masked_fill(~band, float("-inf")).flatten()
        top = torch.topk(pair, min(40, pair.numel()))
        for v, f in zip(top.values.tolist(), top.indices.tolist(), strict=True):
            i, j = divmod(f, n)
            a, b = w.offsets[i][0], w.offsets[j][1]
            while a < b and context[a].isspace():
                a += 1
            while b > a and context[b - 1].isspace():
                b -= 1
            if v > best.get((a, b), -1e9):
                best[(a, b)] = v
    ranked = sorted(best.items(), key=lambda kv: -kv[1])[:keep]
    return [(a, b, v) for (a, b), v in ranked]


def rescored(rows, a: float, mode: str) -> tuple[float, float]:
    em = f1 = 0.0
    for context, golds, cands in rows:

        def prior(length: int) -> float:
            return a * length if mode == "lin" else a * math.log(length + 1)

        s, e = max(cands, key=lambda c: c[2] + prior(c[1] - c[0]))[:2] if cands else (0, 0)
        em += cmrc_em(context[s:e], golds)
        f1 += cmrc_f1(context[s:e], golds)
    return round(100 * em / len(rows), 1), round(100 * f1 / len(rows), 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("specs", nargs="+", help="SQuAD-format files (FILE.json[@A-B])")
    ap.add_argument("--limit", type=int, default=300)
    ap.add_argument("--reader", default="shipped")
    args = ap.parse_args()
    reader = Reader.load(resolve(args.reader))
    sets = []
    for spec in args.specs:
        rows = questions(spec, args.limit)
        sets.append([(c, g, candidates(reader, q, c)) for q, c, g in rows])
    print("| prior | a | " + " | ".join(args.specs) + " |")
    print("|---|---|" + "---|" * len(args.specs))
    for mode, values in PRIORS.items():
        for a in values:
            got = [rescored(rows, a, mode) for rows in sets]
            print(f"| {mode} | {a:g} | " + " | ".join(f"{x} / {y}" for x, y in got) + " |")


if __name__ == "__main__":
    main()
