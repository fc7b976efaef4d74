"""Time in questions: the date range a question asks about, and whether it wants the
latest news.

- ``resolve(question, as_of)``: the first time expression in a question (``2023年5月``,
  ``去年``, ``上周``, ``近三个月``, ``上個月``, ``last week``) as a ``TimeRange`` of ISO
  dates, counted from ``as_of`` (the reference day: today unless the caller says
  otherwise). The parser is jionlp's time extractor (``jio.ner.extract_time``), which
  finds the expression inside the whole question; Traditional Chinese is folded to
  Simplified first. dateparser reads English and the words jionlp rejects (上个月,
  本月). docs/BENCHMARKS.md ("Time expressions in questions") compares the two on the
  project's list of expressions.
- ``wants_recent(question)``: 最新 / 最近 / 近期 / latest / recent with no range of their
  own (``最近三个月`` is a range).
- ``explicit(since, until)``: the range of ``--since``/``--until`` (either may be open).
- ``combine``: the question's range and the explicit one intersected; when they do not
  overlap the explicit one stands (it is the user's filter).
- ``in_range``: whether an article's date (``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY``)
  overlaps a range; ``None`` for an undated article.
- ``rerank``: retrieved hits filtered or boosted by their articles' dates, or newest
  first for 最新 (the pipeline calls it; ``names_year`` decides whether the date words
  stay among the words to match and, in the default ``auto`` mode, whether the range
  filters (上个月: the news of those days) or boosts (2023年5月: most often the event's
  date, reported later or announced before)).

Ranges are clipped to ``as_of``: news after the reference day is not there yet, so
``本月`` asked on 15 June is 1–15 June. Does not: read an index (``rerank`` is given
each hit's date), or guess a range from words it cannot parse.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import functools
import logging
import re
from collections.abc import Callable
from dataclasses import replace

from .errors import InputError
from .types import Hit, TimeRange

__all__ = [
    "TimeRange",
    "combine",
    "explicit",
    "in_range",
    "names_year",
    "parse_day",
    "rerank",
    "resolve",
    "wants_recent",
]

OPEN_START, OPEN_END = "0001-01-01", "9999-12-31"
_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
# recency without a span of its own (最近三个月 is a span: the parser finds it first)
_RECENT = re.compile(
    r"最新|最近|近期|近来|近日|日前|目前|眼下|latest|most recent|recent(?:ly)?|newest",
    re.IGNORECASE,
)
_CJK = re.compile(r"[\u3400-\u9fff]")
_YEAR = re.compile(r"\d{4}|[〇零一二三四五六七八九]{4}")
# a bare number with 号 and no month: after a name it is part of the name (神舟十九号)
_NAMED_NUMBER = re.compile(r"[0-9〇零一二三四五六七八九十两]+号")


def parse_day(value: str, what: str = "date") -> _dt.date:
    """A ``YYYY-MM-DD`` day; anything else is a one-line ``InputError``.

    >>> parse_day("2024-06-15")
    datetime.date(2024, 6, 15)
    """
    v = value.strip() if isinstance(value, str) else value
    if not isinstance(v, str) or not _ISO_DAY.fullmatch(v):
        raise InputError(f"{what} must be a date YYYY-MM-DD, not {value!r}")
    try:
        return _dt.date.fromisoformat(v)
    except ValueError:
        raise InputError(f"{what} must be a real date YYYY-MM-DD, not {value!r}") from None


def explicit(since: str | None, until: str | None) -> TimeRange | None:
    """The range of ``--since``/``--until`` (either may be missing: an open end).

    >>> explicit("2023-01-01", None)
    TimeRange(start='2023-01-01', end='9999-12-31', text='since 2023-01-01')
    >>> explicit(None, None) is None
    True
    """
    if not since and not until:
        return None
    s = parse_day(since, "--since").isoformat() if since else OPEN_START
    u = parse_day(until, "--until").isoformat() if until else OPEN_END
    if s > u:
        raise InputError(f"--since {since} is after --until {until}")
    text = " ".join(x for x in (since and f"since {s}", until and f"until {u}") if x)
    return TimeRange(s, u, text)


def combine(asked: TimeRange | None, given: TimeRange | None) -> TimeRange | None:
    """The question's range within the explicit one; the explicit one when they do
    not overlap (a filter the user set is not overridden by words).

    >>> combine(TimeRange("2023-05-01", "2023-05-31", "去年5月"),
    ...         TimeRange("2023-05-10", "9999-12-31", "since 2023-05-10"))
    TimeRange(start='2023-05-10', end='2023-05-31', text='去年5月')
    """
    if asked is None or given is None:
        return asked or given
    s, e = max(asked.start, given.start), min(asked.end, given.end)
    return TimeRange(s, e, asked.text) if s <= e else given


def span_of(date: str) -> tuple[str, str] | None:
    """First and last day of an article date (``YYYY-MM-DD``, ``YYYY-MM``, ``YYYY``).

    >>> span_of("2024-02"), span_of("2023"), span_of("")
    (('2024-02-01', '2024-02-29'), ('2023-01-01', '2023-12-31'), None)
    """
    if len(date) == 10:
        return date, date
    if len(date) == 7:
        y, m = int(date[:4]), int(date[5:7])
        return f"{date}-01", f"{date}-{calendar.monthrange(y, m)[1]:02d}"
    if len(date) == 4:
        return f"{date}-01-01", f"{date}-12-31"
    return None


def in_range(date: str, r: TimeRange) -> bool | None:
    """Whether an article dated ``date`` overlaps ``r``; None when it has no date.

    >>> r = TimeRange("2023-05-01", "2023-05-31")
    >>> in_range("2023-05-27", r), in_range("2023", r), in_range("2024-01-02", r), in_range("", r)
    (True, True, False, None)
    """
    span = span_of(date)
    if span is None:
        return None
    return span[0] <= r.end and span[1] >= r.start


def names_year(words: str) -> bool:
    """Whether a time expression names its year (``2023年5月``, ``二〇二三年``, ``May
    2023``): such words may well be in an article's text, unlike ``去年`` or ``上周``.

    >>> names_year("2003年"), names_year("二〇二三年五月"), names_year("去年5月"), names_year("上周")
    (True, True, False, False)
    """
    return bool(_YEAR.search(words))


def wants_recent(question: str) -> bool:
    """Whether the question asks for the latest news (最新, 最近, latest…).

    >>> wants_recent("最新的疫情通报怎么说？"), wants_recent("What is the latest on grain?")
    (True, True)
    >>> wants_recent("去年粮食产量是多少？")
    False
    """
    return bool(_RECENT.search(question))


@functools.lru_cache(maxsize=1)
def _extractor():
    import io
    from contextlib import redirect_stdout

    with redirect_stdout(io.StringIO()):  # jionlp prints a banner on import
        import jionlp

    # its time parser logs a whole traceback on the root logger for text it cannot read
    # (then gives up on that expression): not the user's error, so not on their screen
    logging.getLogger().addFilter(_NotFromJionlp())
    return jionlp.ner.extract_time


class _NotFromJionlp(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        return "jionlp" not in record.pathname


def resolve(question: str, as_of: _dt.date) -> TimeRange | None:
    """The first time expression in ``question`` as a range counted from ``as_of``
    (clipped to it), or None when there is none.

    >>> d = _dt.date(2024, 6, 15)
    >>> resolve("去年5月珠海签约了多少个项目？", d)
    TimeRange(start='2023-05-01', end='2023-05-31', text='去年5月')
    >>> resolve("上週國務院召開了什麼會議？", d)
    TimeRange(start='2024-06-03', end='2024-06-09', text='上週')
    >>> resolve("珠海高新区签约了多少个项目？", d) is None
    True
    """
    from .text import to_simplified

    if not _CJK.search(question):  # English: dateparser reads it, jionlp does not
        return _fallback(question, as_of)
    simple = to_simplified(question)
    if len(simple) != len(question):  # the fold must keep offsets, to quote the words
        simple = question
    base = {"year": as_of.year, "month": as_of.month, "day": as_of.day}
    try:
        found = _extractor()(simple, time_base=base, with_parsing=True)
    except Exception:  # the parser's own failure on odd text: read as no range
        found = []
    first: tuple[int, TimeRange] | None = None
    for entity in found:
        detail = entity.get("detail") or {}
        if entity.get("type") not in ("time_point", "time_span"):
            continue  # durations (三天) and repetitions (每周) are not a date range
        a, b = entity["offset"]
        if _NAMED_NUMBER.fullmatch(simple[a:b]) and a and _CJK.match(simple[a - 1]):
            continue  # 神舟十九号, 长征五号: a name, not the 19th
        times = detail.get("time") or []
        if len(times) != 2:
            continue
        start, end = (_day(t, as_of) for t in times)
        if start is None or end is None:
            continue
        end = min(end, as_of)
        if start > end:
            continue  # wholly after the reference day: no news there yet
        first = (a, TimeRange(start.isoformat(), end.isoformat(), question[a:b]))
        break
    if first is not None and first[0] == 0:
        return first[1]
    # an expression jionlp rejects (上个月) may come before the one it read; dateparser
    # misreads Chinese numbers (5月 as five months ago), so only its words without one
    other = _fallback(simple, as_of)
    if other is not None and not re.search(r"[0-9〇零一二三四五六七八九十两]", other.text):
        at = simple.find(other.text)
        if first is None or at >= 0 and at + len(other.text) <= first[0]:
            if at >= 0:
                other = TimeRange(other.start, other.end, question[at : at + len(other.text)])
            return other
    return first[1] if first else None


def _fallback(question: str, as_of: _dt.date) -> TimeRange | None:
    """dateparser, for English (``last week``, ``May 2023``) and what jionlp 1.5 does
    not read (上个月, 本月: it rejects them). The day it finds is widened to the
    period it names (week: Monday to Sunday)."""
    import warnings

    from dateparser.date import DateDataParser
    from dateparser.search import search_dates

    base = _dt.datetime(as_of.year, as_of.month, as_of.day)
    settings = {"RELATIVE_BASE": base, "PREFER_DATES_FROM": "past"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            found = search_dates(question, languages=["zh", "en"], settings=settings)
        except Exception:
            return None
        for words, when in found or []:
            day = when.date()
            if day.year < 1800:
                continue  # 2023年5月 read as year 1: not a date it understood
            period = DateDataParser(languages=["zh", "en"], settings=settings)
            kind = period.get_date_data(words).period
            if kind == "year":
                start, end = day.replace(month=1, day=1), day.replace(month=12, day=31)
            elif kind == "month":
                last = calendar.monthrange(day.year, day.month)[1]
                start, end = day.replace(day=1), day.replace(day=last)
            elif kind == "week":
                start = day - _dt.timedelta(days=day.weekday())
                end = start + _dt.timedelta(days=6)
            else:
                start = end = day
            end = min(end, as_of)
            if start <= end:
                return TimeRange(start.isoformat(), end.isoformat(), words)
    return None


def _day(value: str, as_of: _dt.date) -> _dt.date | None:
    if value == "inf":
        return as_of
    if value == "-inf":
        return _dt.date.min
    try:
        return _dt.date.fromisoformat(value[:10])
    except ValueError:
        return None


BOOST = 0.25  # weight of "in range" in the boost variant (see rerank)


def rerank(
    hits: list[Hit],
    date_of: Callable[[Hit], str],
    time_range: TimeRange | None,
    recent: bool,
    as_of: _dt.date,
    mode: str = "filter",
    rrf_k: int = 60,
) -> list[Hit]:
    """Hits (best first) reordered by their articles' dates; ``rank`` renumbered.

    With a range: ``filter`` keeps the hits in range, then the undated ones (their
    date is unknown, not wrong), and drops the rest; ``boost`` keeps every hit and adds
    to each in range ``BOOST`` times what a first place in one more ranked list adds in
    reciprocal-rank fusion (``BOOST/(rrf_k+1)``; half of it for an undated one): with
    0.25 an in-range hit goes ahead of any out-of-range one up to about 15 places above
    it (a weight of 1 would put every in-range hit first: a filter that keeps the rest). Recency (最新, no range):
    a second list, the hits dated up to ``as_of`` newest first, fused with retrieval's.
    Filtered, boosted or fused, a hit's ``score`` is the fused one.

    >>> from rag.types import Chunk
    >>> hs = [Hit(Chunk(a, a, 0, 0, 1, "x"), 1.0, i) for i, a in enumerate("abc")]
    >>> dates = {"a": "2023-01-05", "b": "2024-05-02", "c": ""}
    >>> r = TimeRange("2024-05-01", "2024-05-31")
    >>> d = _dt.date(2024, 6, 15)
    >>> [h.chunk.id for h in rerank(hs, lambda h: dates[h.chunk.id], r, False, d)]
    ['b', 'c']
    >>> [h.chunk.id for h in rerank(hs, lambda h: dates[h.chunk.id], None, True, d)]
    ['b', 'a', 'c']
    """
    if mode == "off" or (time_range is None and not recent):
        return hits
    w = BOOST / (rrf_k + 1)
    score = {id(h): 1.0 / (rrf_k + i + 1) for i, h in enumerate(hits)}
    newer: dict[int, int] = {}  # recency: place among the dated hits, newest first
    if time_range is not None:
        inside = {id(h): in_range(date_of(h), time_range) for h in hits}
        credit = {True: w, None: w / 2, False: 0.0}  # an undated hit: half the date's share
        if mode == "filter":
            kept = [h for h in hits if inside[id(h)]] + [h for h in hits if inside[id(h)] is None]
            # scored as a boost would score them, so that the reader, weighing chunks by
            # score, prefers those in range
            return [
                replace(h, score=score[id(h)] + credit[inside[id(h)]], rank=n)
                for n, h in enumerate(kept)
            ]
        for h in hits:
            score[id(h)] += credit[inside[id(h)]]
    else:
        day = as_of.isoformat()
        spans = [(span_of(date_of(h)), i, h) for i, h in enumerate(hits)]
        past = sorted(((s[1], -i, h) for s, i, h in spans if s and s[0] <= day), reverse=True)
        for place, (_, _, h) in enumerate(past):
            newer[id(h)] = place
            score[id(h)] += 1.0 / (rrf_k + place + 1)
    far = len(hits)
    order = sorted(
        range(len(hits)), key=lambda i: (-score[id(hits[i])], newer.get(id(hits[i]), far), i)
    )
    # the fused score replaces retrieval's, so that the reader, which weighs the chunks
    # it reads by their scores, weighs the dates too
    return [replace(hits[i], score=score[id(hits[i])], rank=n) for n, i in enumerate(order)]
