"""Compare time parsers on the question time expressions of tests/data/time_expressions.jsonl.

    nice -n 19 python scripts/time_parsers.py [FILE]

Each line: a whole question, the reference day ``as_of`` and the expected inclusive range
(null: the question names no range). A parser is right when it finds the same range
(both clipped to ``as_of``) or, for null, finds none. Candidates: dateparser 1.5
(``search_dates`` with languages zh+en; the range is the found day widened to its
``period`` from ``DateDataParser.get_date_data``), jionlp 1.5 as it is
(``jio.ner.extract_time``) and ``rag.when.resolve`` (jionlp after folding Traditional to
Simplified; dateparser for English and for the words jionlp rejects).
Then, on the seed question sets (written without dates in mind), how many questions
each parser finds a date in. Prints one JSON line per
candidate, then the misses.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rag import when  # noqa: E402


def clip(r, as_of):
    if r is None:
        return None
    s, e = r
    e = min(e, as_of)
    return None if s > e else (s.isoformat(), e.isoformat())


def dateparser_range(question, as_of):
    from dateparser.date import DateDataParser
    from dateparser.search import search_dates

    base = dt.datetime(as_of.year, as_of.month, as_of.day)
    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past"}
    found = search_dates(question, languages=["zh", "en"], settings=settings)
    if not found:
        return None
    words, day = found[0]
    period = DateDataParser(languages=["zh", "en"], settings=settings).get_date_data(words).period
    d = day.date()
    if d.year < 1800:
        return None
    if period == "year":
        return clip((dt.date(d.year, 1, 1), dt.date(d.year, 12, 31)), as_of)
    if period == "month":
        last = calendar.monthrange(d.year, d.month)[1]
        return clip((d.replace(day=1), d.replace(day=last)), as_of)
    if period == "week":
        monday = d - dt.timedelta(days=d.weekday())
        return clip((monday, monday + dt.timedelta(days=6)), as_of)
    return clip((d, d), as_of)


def jionlp_range(question, as_of):
    extract = when._extractor()
    base = {"year": as_of.year, "month": as_of.month, "day": as_of.day}
    try:
        found = extract(question, time_base=base)
    except Exception:
        return None
    for ent in found:
        if ent["type"] in ("time_point", "time_span"):
            s, e = (when._day(t, as_of) for t in ent["detail"]["time"])
            if s and e:
                return clip((s, e), as_of)
    return None


def rag_range(question, as_of):
    r = when.resolve(question, as_of)
    return (r.start, r.end) if r else None


def main(path="tests/data/time_expressions.jsonl"):
    rows = [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines() if x]
    cands = {"dateparser": dateparser_range, "jionlp": jionlp_range, "rag.when": rag_range}
    misses = []
    for name, fn in cands.items():
        t0 = time.perf_counter()
        fn("预热", dt.date(2024, 1, 1))  # load the parser before timing
        t1 = time.perf_counter()
        right = {"zh": [0, 0], "zh-Hant": [0, 0], "en": [0, 0], "none": [0, 0]}
        for r in rows:
            got = fn(r["question"], dt.date.fromisoformat(r["as_of"]))
            want = tuple(r["range"]) if r["range"] else None
            q = r["question"]
            kind = (
                "none"
                if want is None
                else "en"
                if q.isascii()
                else "zh-Hant"
                if any(c in q for c in "週個們會麼糧產貿數據國內簽約項")
                else "zh"
            )
            right[kind][1] += 1
            right[kind][0] += got == want
            if got != want:
                misses.append(f"{name}: {q} -> {got} (want {want})")
        t2 = time.perf_counter()
        total = sum(v[0] for v in right.values())
        print(
            json.dumps(
                {
                    "parser": name,
                    "right": f"{total}/{len(rows)}",
                    **{k: f"{a}/{b}" for k, (a, b) in right.items()},
                    "load_s": round(t1 - t0, 2),
                    "ms_per_question": round((t2 - t1) * 1000 / len(rows), 1),
                },
                ensure_ascii=False,
            )
        )
    print("\n".join(misses))
    # questions written without dates in mind: what each parser reads as a date there
    seeds = []
    for f in sorted(Path("tests/data").glob("seed_qa*.jsonl")):
        seeds += [
            json.loads(x)["question"] for x in f.read_text(encoding="utf-8").splitlines() if x
        ]
    for name, fn in cands.items():
        found = [(q, fn(q, dt.date(2024, 6, 15))) for q in seeds]
        found = [(q, r) for q, r in found if r]
        print(
            json.dumps({"parser": name, "seed_questions": len(seeds), "with_a_range": len(found)})
        )
        for q, r in found:
            print(f"  {q} -> {r}")


if __name__ == "__main__":
    main(*sys.argv[1:])
