"""Would the refusal model help as a veto behind the rule gate? For each question of a
set, asked open-domain as it is and with its gold paragraph removed (the gold-removed
folds of ``rag eval squad``): the refusal model's probability for the reader's answer
(reader alone, ``RAG_READER_GATE=0``) and whether the rule answerer refuses it
(``RAG_READER=none``, which is what the default gate decides). Prints false refusals
and refusals with the gold removed for the gate alone, the gate with the model's veto
below ``t``, and the model alone (English questions stay with the gate in both).

    python scripts/veto_sweep.py ../shared/data/cmrc2018/cmrc2018_trial.json --limit 300
    RAG_AS_OF=2026-12-06 python scripts/veto_sweep.py tests/data/news_qa.jsonl

Measured, not shipped (docs/BENCHMARKS.md, "The refusal model as a veto").
"""

from __future__ import annotations

import argparse

from rag.config import Settings
from rag.embed import load_encoder
from rag.evaluate import DEFAULT_CACHE, _load_set, cached_index, removed_folds
from rag.pipeline import Pipeline
from rag.reader.refusal import FEATURES

THRESHOLDS = (0.02, 0.05, 0.1, 0.2, 0.3)
ENGLISH = FEATURES.index("english")


def readings(reader_pipe, rules_pipe, questions) -> list[tuple[list | None, float, bool]]:
    """(features or None, model probability, rule answerer refused) per question."""
    ans = reader_pipe.answerer
    ans.trace = []
    out = []
    for q in questions:
        n = len(ans.trace)
        reader_pipe.ask(q.question, k=5)
        x, p = (ans.trace[-1][1], ans.trace[-1][2]) if len(ans.trace) > n else (None, 0.0)
        out.append((x, p, rules_pipe.ask(q.question, k=5).refused))
    return out


def refused(row, t: float | None, gate: bool) -> bool:
    """Refused under the gate (with a veto below ``t``; None: no veto), or under the
    model alone (``gate`` False: the gate decides English questions only)."""
    x, p, gate_refused = row
    english = bool(x and x[ENGLISH])
    if english:
        return gate_refused
    if gate and gate_refused:
        return True
    return t is not None and (x is None or p < t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", help="SQuAD-format file (FILE.json[@A-B]) or a news set (.jsonl)")
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--folds", type=int, default=8)
    args = ap.parse_args()

    settings = Settings.from_env().with_(reader_gate=0)
    encoder = load_encoder(settings.encoder)
    data = _load_set(args.file, None)
    questions = list(data.questions[: args.limit] if args.limit else data.questions)
    full = cached_index(data.articles, encoder, settings, DEFAULT_CACHE, progress=False)

    def rules(path):
        return Pipeline.load(
            path, settings.with_(index_dir=str(path), reader="none"), encoder=encoder
        )

    reader_pipe = Pipeline.load(full, settings.with_(index_dir=str(full)), encoder=encoder)
    normal = readings(reader_pipe, rules(full), questions)
    removed = []
    for f, asked, pipe in removed_folds(data, questions, full, encoder, settings, args.folds):
        pipe.answerer.reader = reader_pipe.answerer.reader
        removed += readings(pipe, rules(full.parent / f"without-fold-{f}-of-{args.folds}"), asked)

    def rate(rows, t, gate):
        return sum(refused(r, t, gate) for r in rows) / len(rows)

    print(f"{args.file}: {len(normal)} questions, {len(removed)} gold removed")
    print(
        "| t | gate + veto: false refusals | refused, gold removed | model alone: false refusals | refused, gold removed |"
    )
    print("|---|---|---|---|---|")
    print(f"| gate alone | {rate(normal, None, True):.3f} | {rate(removed, None, True):.3f} | | |")
    for t in THRESHOLDS:
        print(f"| {t:g} | {rate(normal, t, True):.3f} | {rate(removed, t, True):.3f} | "
              f"{rate(normal, t, False):.3f} | {rate(removed, t, False):.3f} |")  # fmt: skip


if __name__ == "__main__":
    main()
