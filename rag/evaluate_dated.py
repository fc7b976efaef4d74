"""``rag eval dated FILE.jsonl``: questions with dates in them (去年5月, 上周, 最新),
asked on a fixed reference day, scored on whether the answer's sources are of the dates
asked about.

Each line: ``{"id", "question", "as_of": "YYYY-MM-DD", "range": ["start", "end"]}``
(``--as-of`` replaces every line's ``as_of``). Each question is asked once per date mode
(``off``: no time handling, the baseline; ``filter``; ``boost``; see rag/when.py), and
scored:

- top-1 in range: the first source's article date overlaps ``range`` (an undated
  source is a miss);
- top-3 in range: any of the first three sources' does;
- resolved: the question's resolved range (``Answer.time_range``) equals ``range`` (for
  最新/最近 questions, ``kind`` ``recent``, which resolve to none, when it is none);
- answered: not a refusal (by ``kind`` too: for ``no-article`` questions, whose range
  holds nothing on the subject, a refusal is right).

Does not: judge the answer text, or change any setting but the date mode.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

from .config import DATE_MODES
from .errors import InputError
from .evaluate import question_records
from .types import TimeRange
from .when import in_range, parse_day


@dataclass(frozen=True)
class DatedQuestion:
    id: str
    question: str
    as_of: str
    start: str
    end: str
    kind: str = ""


def load_dated(path: str | Path, as_of: str | None = None) -> list[DatedQuestion]:
    """The questions of a dated-eval file; a bad line is an ``InputError`` naming it."""
    out = []
    for n, where, rec in question_records(path):
        rng = rec.get("range")
        if not (isinstance(rng, list) and len(rng) == 2):
            raise InputError(f"{where}: 'range' must be [start, end], not {rng!r}")
        start, end = (parse_day(x, f"{where}: range") for x in rng)
        if start > end:
            raise InputError(f"{where}: range starts after it ends: {rng!r}")
        day = as_of or rec.get("as_of")
        if not day:
            raise InputError(f"{where}: no 'as_of' (give one, or --as-of)")
        parse_day(day, f"{where}: as_of")
        out.append(
            DatedQuestion(
                str(rec.get("id", n)),
                rec["question"],
                day,
                start.isoformat(),
                end.isoformat(),
                str(rec.get("kind", "")),
            )
        )
    return out


def score_dated(pipe, questions: list[DatedQuestion], modes=DATE_MODES, k: int = 5) -> dict:
    """Scores per date mode (see the module's docstring), and each question's sources'
    dates under each mode in ``details``."""
    base = pipe.settings
    report: dict = {"questions": len(questions), "modes": {}, "details": []}
    rows: dict[str, dict] = {q.id: {"id": q.id, "question": q.question} for q in questions}
    try:
        for mode in modes:
            pipe.settings = replace(base, date_mode=mode)
            top1 = top3 = resolved = answered = 0
            by_kind: dict[str, list[int]] = {}
            for q in questions:
                a = pipe.ask(q.question, k=k, as_of=q.as_of)
                want = TimeRange(q.start, q.end)
                dates = [s.article.date for s in a.sources]
                hits = [bool(in_range(d, want)) for d in dates[:3]]
                first = bool(hits and hits[0])
                top1 += first
                top3 += any(hits)
                answered += not a.refused
                got = a.time_range
                resolved += (got is None and q.kind == "recent") or (
                    got is not None and (got.start, got.end) == (q.start, q.end)
                )
                tally = by_kind.setdefault(q.kind or "-", [0, 0, 0])
                tally[0] += first
                tally[1] += not a.refused
                tally[2] += 1
                rows[q.id][mode] = {
                    "top1": first,
                    "refused": a.refused,
                    "short_answer": a.short_answer,
                    "dates": dates[:3],
                    "time_range": got.to_dict() if got else None,
                }
            n = len(questions)
            report["modes"][mode] = {
                "top1_in_range": round(top1 / n, 3),
                "top3_in_range": round(top3 / n, 3),
                "resolved": round(resolved / n, 3) if mode != "off" else None,
                "answered": round(answered / n, 3),
                "top1_by_kind": {kd: f"{a}/{n}" for kd, (a, _, n) in sorted(by_kind.items())},
                "answered_by_kind": {kd: f"{b}/{n}" for kd, (_, b, n) in sorted(by_kind.items())},
            }
    finally:
        pipe.settings = base
    report["details"] = list(rows.values())
    return report


def cmd_dated(args) -> int:
    from .config import Settings
    from .pipeline import Pipeline

    if args.as_of:
        parse_day(args.as_of, "--as-of")
    questions = load_dated(args.file, args.as_of)
    modes = tuple(m.strip() for m in args.modes.split(",") if m.strip())
    for m in modes:
        if m not in DATE_MODES:
            raise InputError(f"--modes: {m!r} is not one of {', '.join(DATE_MODES)}")
    settings = Settings.from_env(index_dir=args.index, mode=args.mode)
    pipe = Pipeline.load(settings=settings)
    report = score_dated(pipe, questions, modes or DATE_MODES, k=args.k)
    if not args.details:
        report.pop("details")
    print(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


def add_cli(sub) -> None:
    """``rag eval dated`` under the ``rag eval`` group."""
    d = sub.add_parser("dated", help="questions with dates: are the sources of those dates?")
    d.add_argument("file", metavar="FILE.jsonl", help='{"id", "question", "as_of", "range"} lines')
    d.add_argument("--as-of", metavar="YYYY-MM-DD", help="ask every question on this day")
    d.add_argument("--index", metavar="DIR", help="index to ask (default: index/)")
    d.add_argument(
        "--modes",
        default=",".join(DATE_MODES),
        metavar="M,M",
        help=f"date modes to compare (default {','.join(DATE_MODES)})",
    )
    d.add_argument("-k", type=int, default=5, metavar="N", help="sources per answer (default 5)")
    d.add_argument("--mode", choices=("hybrid", "dense", "bm25"), help="retrieval mode")
    d.add_argument("--details", action="store_true", help="also each question's source dates")
    d.set_defaults(func=cmd_dated)
