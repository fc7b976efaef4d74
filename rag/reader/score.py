"""Score the reader alone: each question read against its own (gold) paragraph.

``score(reader, spec)`` gives CMRC-style EM and F1 (``rag.metrics``) of the best span
over a SQuAD-format file (``path@A-B`` for articles A..B, end excluded) or a news
question set (``.jsonl``, rag/newsqa.py), the share of
questions whose span margin is negative (the reader would refuse them), and the speed.
``record(weights_path, name, scores)`` writes scores into a weights file's header.
What it does not do: retrieve (``rag eval squad --reader`` scores the whole pipeline).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from ..errors import InputError
from ..metrics import cmrc_em, cmrc_f1


def questions(
    spec: str, limit: int | None = None, news: str | Path | None = None
) -> list[tuple[str, str, list[str]]]:
    """(question, paragraph, gold answers) of a SQuAD file or article range, or of a
    news question set (``.jsonl``, rag/newsqa.py: the paragraph is the item's text,
    read from ``news``)."""
    from ..newsqa import is_news_set, load_news_qa
    from .train import parse_spec

    path, articles = parse_spec(spec)
    if is_news_set(path):
        if articles:
            raise InputError(f"{spec}: a news set takes no @A-B range (use --limit)")
        data = load_news_qa(path, news)
        text = {a.id: a.text for a in data.articles}
        out = [(q.question, text[q.article_id], list(q.answers)) for q in data.questions]
        return out[:limit] if limit else out
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))["data"]
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise InputError(f"{path}: not a readable SQuAD-format file ({e})") from None
    if articles:
        data = data[articles[0] : articles[1]]
    out = []
    for art in data:
        for p in art["paragraphs"]:
            for qa in p["qas"]:
                golds = [a["text"] for a in qa.get("answers", []) if a.get("text")]
                if golds:
                    out.append((qa["question"], p["context"], golds))
    return out[:limit] if limit else out


def score(reader, spec: str, limit: int | None = None, news: str | Path | None = None) -> dict:
    rows = questions(spec, limit, news)
    if not rows:
        raise InputError(f"{spec}: no answerable questions")
    em = f1 = refused = 0.0
    t0 = time.perf_counter()
    for question, context, golds in rows:
        spans = reader.read(question, [context])
        best = spans[0] if spans else None
        text = best.text if best else ""
        em += cmrc_em(text, golds)
        f1 += cmrc_f1(text, golds)
        refused += best is None or best.score < best.no_answer
    n = len(rows)
    return {
        "questions": n,
        "em": round(100 * em / n, 1),
        "f1": round(100 * f1 / n, 1),
        "negative_margin": round(refused / n, 3),
        "ms_per_question": round(1000 * (time.perf_counter() - t0) / n, 1),
    }


def record(weights_path: str | Path, name: str, scores: dict) -> None:
    """Add ``scores`` under ``name`` to the header of a weights file (rewritten whole,
    atomically)."""
    from . import weights

    got = weights.read_header(weights_path).get("scores", {})
    weights.set_entry(weights_path, "scores", {**got, name: scores})
