"""Dates of articles: read, checked and written as ISO ``YYYY-MM-DD`` (or ``YYYY-MM``,
``YYYY`` when that is all there is). Pure functions, no I/O.

- ``normalize``: a declared date (a JSONL ``date``) in any common form.
- ``masthead``: the issue date printed near the top of a page (``2023年6月2日 星期五``,
  ``中国高新技术产业导报 2023-06-05``).
- ``filename_date``: a date in a file's name or its folder's (``2023-05-30_page3.txt``,
  ``20230530.md``).
- ``dateline`` and ``article_date``: an article's own dateline (``本报讯 5月30日，…``,
  ``新华社北京5月27日电``) and the date it gives once combined with the page's: a month
  and day take the page's year, and nothing is dated when no year is known.

Nothing is guessed: an unreadable or impossible date (``last Tuesday``, ``2023-13-45``)
gives ``None``, and a year is never taken from today.

Why a table of regexes and not a library: these are fixed, printed forms, and ``FORMS``
lists each with an example that ``tests/test_dates.py`` runs. dateparser 1.5 (tried, not
a dependency) reads most of them but misses ``20230527`` and ``二〇二三年五月二十七日``,
turns ``last Tuesday`` into a concrete day counted from today (a guess, where a record's
date must be given, not inferred), and cannot say where in running text a dateline is;
it would add four packages for that. Relative dates in questions (去年, 上周) are another
matter, for a real parser.
"""

from __future__ import annotations

import calendar
import datetime as _dt
import re
import unicodedata
from pathlib import PurePath

MIN_YEAR, MAX_YEAR = 1800, 2100  # outside: not a news date (a page number, an id)

_CN = "〇零一二三四五六七八九十"
# (pattern, example, what it gives): each pattern matches a whole date, groups y, m, d
FORMS: list[tuple[str, str, str]] = [
    (r"(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})", "2023-05-27", "2023-05-27"),
    (r"(?P<y>\d{4})/(?P<m>\d{1,2})/(?P<d>\d{1,2})", "2023/5/27", "2023-05-27"),
    (r"(?P<y>\d{4})\.(?P<m>\d{1,2})\.(?P<d>\d{1,2})", "2023.5.27", "2023-05-27"),
    (r"(?P<y>\d{4})_(?P<m>\d{2})_(?P<d>\d{2})", "2023_05_27", "2023-05-27"),
    (
        r"(?P<y>\d{4}) ?年 ?(?P<m>\d{1,2}) ?月 ?(?P<d>\d{1,2}) ?[日号]",
        "2023年5月27日",
        "2023-05-27",
    ),
    (
        rf"(?P<y>[〇零一二三四五六七八九]{{4}})年(?P<m>[{_CN}]{{1,2}})月(?P<d>[{_CN}]{{1,3}})[日号]",
        "二〇二三年五月二十七日",
        "2023-05-27",
    ),
    (r"(?P<y>\d{4})(?P<m>\d{2})(?P<d>\d{2})", "20230527", "2023-05-27"),
    (r"(?P<y>\d{4})[-/.](?P<m>\d{1,2})", "2023-05", "2023-05"),
    (r"(?P<y>\d{4}) ?年 ?(?P<m>\d{1,2}) ?月", "2023年5月", "2023-05"),
    (r"(?P<y>\d{4}) ?年?", "2023", "2023"),
]
_WHOLE = [re.compile(p) for p, _, _ in FORMS]
# a full date inside a longer text (a masthead line, a file name): the day forms only,
# each one's groups renamed (y0, m0, d0, y1, …) as one pattern may not repeat a name
_DAY_FORMS = "|".join(
    "(?:" + re.sub(r"\?P<([ymd])>", rf"?P<\g<1>{i}>", p) + ")"
    for i, (p, _, iso) in enumerate(FORMS)
    if len(iso) == 10
)
# the time or weekday that may follow a declared date: 2023-05-27T08:00:00+08:00, 星期五
_TAIL = re.compile(
    r"(?:[T ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?"
    r"\s*(?:[（(]?(?:星期|周|礼拜)[一二三四五六日天][)）]?)?$"
)


def normalize(value: str) -> str | None:
    """The ISO form of a declared date, ``""`` for an empty one, ``None`` for one that
    is not a date (then keep it missing: never guess).

    >>> [normalize(v) for v in ("2023/5/27", "2023年5月", "20230527", " 2023 ", "")]
    ['2023-05-27', '2023-05', '2023-05-27', '2023', '']
    >>> normalize("2023-05-27T08:30:00+08:00"), normalize("2023年6月2日 星期五")
    ('2023-05-27', '2023-06-02')
    >>> normalize("last Tuesday"), normalize("2023-13-45"), normalize("2023-02-29")
    (None, None, None)
    """
    text = unicodedata.normalize("NFKC", value).strip()
    if not text:
        return ""
    text = _TAIL.sub("", text).strip()
    for rx in _WHOLE:
        m = rx.fullmatch(text)
        if m:
            return _iso(m.group("y"), m.groupdict().get("m"), m.groupdict().get("d"))
    return None


def _number(s: str) -> int | None:
    """``2023``, ``二〇二三`` (digit by digit), ``十二``, ``二十七``, ``三十一`` as ints.

    >>> [_number(s) for s in ("07", "二〇二三", "十", "十二", "二十", "三十一", "十十")]
    [7, 2023, 10, 12, 20, 31, None]
    """
    if s.isdigit():
        return int(s)
    digits = {c: i for i, c in enumerate("〇一二三四五六七八九")} | {"零": 0}
    if "十" not in s:
        return int("".join(str(digits[c]) for c in s)) if all(c in digits for c in s) else None
    tens, _, ones = s.partition("十")
    if "十" in ones or len(tens) > 1 or len(ones) > 1:
        return None
    if (tens and tens not in digits) or (ones and ones not in digits):
        return None
    return (digits[tens] if tens else 1) * 10 + (digits[ones] if ones else 0)


def _iso(y: str, m: str | None = None, d: str | None = None) -> str | None:
    """``YYYY[-MM[-DD]]`` when every part given is a real calendar value, else None."""
    year, month, day = _number(y), _number(m) if m else None, _number(d) if d else None
    if year is None or not MIN_YEAR <= year <= MAX_YEAR:
        return None
    if m is None:
        return f"{year:04d}"
    if month is None or not 1 <= month <= 12:
        return None
    if d is None:
        return f"{year:04d}-{month:02d}"
    if day is None or not 1 <= day <= calendar.monthrange(year, month)[1]:
        return None
    return f"{year:04d}-{month:02d}-{day:02d}"


# ---------------------------------------------------------------- pages

# a masthead's date stands alone: line edge, space or 日期： before it; line edge,
# space, the weekday, the lunar date or the issue number after it
_STANDALONE = re.compile(
    rf"(?:^|(?<=[\s:：|｜/]))(?:{_DAY_FORMS})"
    r"(?=$|\s|[（(|｜/]|星期|周[一二三四五六日天]|农历|第)"
)
_SENTENCE = re.compile(r"[。！？!?，,；;]")


def masthead(text: str, top: int = 5) -> tuple[str, int, int] | None:
    """The issue date printed near the top of a page: ``(iso, start, end)`` of the first
    of the first ``top`` non-blank lines that is short (at most 50 characters), no
    sentence (no ``。，；``) and holds a full date standing on its own; else None.

    >>> masthead("中国高新技术产业导报 2023-06-05\\n\\n# 标题\\n\\n正文。")
    ('2023-06-05', 0, 21)
    >>> masthead("第3版\\n2023年6月2日 星期五\\n")
    ('2023-06-02', 4, 17)
    >>> masthead("# 标题\\n\\n2023年5月30日咸阳签约21个项目。"), masthead("# 5月30日签约")
    (None, None)
    """
    pos, seen = 0, 0
    for raw in text.split("\n"):
        start, pos = pos, pos + len(raw) + 1
        line = raw.strip()
        if not line:
            continue
        seen += 1
        if seen > top:
            break
        if len(line) > 50 or _SENTENCE.search(line):
            continue
        m = _STANDALONE.search(unicodedata.normalize("NFKC", line.lstrip("#").strip()))
        if m:
            iso = _day(m)
            if iso:
                lead = len(raw) - len(raw.lstrip())
                return iso, start + lead, start + lead + len(line)
    return None


def _day(m: re.Match) -> str | None:
    """The ISO day of a match of ``_DAY_FORMS`` (groups ``y0``, ``m0``, ``d0``, …)."""
    g = {k[0]: v for k, v in m.groupdict().items() if v and k[0] in "ymd" and k[1:].isdigit()}
    return _iso(g["y"], g["m"], g["d"]) if len(g) == 3 else None


_NAME_DAY = re.compile(rf"(?<![0-9A-Za-z])(?:{_DAY_FORMS})(?![0-9A-Za-z])")
_NAME_MONTH = re.compile(r"(?<![0-9A-Za-z])(?P<y>\d{4})[-_.](?P<m>\d{2})(?![0-9A-Za-z])")


def filename_date(path: str | PurePath) -> str | None:
    """A date in a file's name, else in its folder's name: a full date, or a year and
    month (``2023-05``); a bare number is not taken for a year (it may be a page).
    Digits inside a longer run of letters and digits (a hash) do not count.

    >>> filename_date("2023-05-30_page3.txt"), filename_date("news/20230530.md")
    ('2023-05-30', '2023-05-30')
    >>> filename_date("2023-05-30/page3.txt"), filename_date("issue_2023-05.txt")
    ('2023-05-30', '2023-05')
    >>> filename_date("000_d81e7fddda0856ce.txt"), filename_date("a20230530b.txt")
    (None, None)
    """
    p = PurePath(path)
    for part in (p.stem, p.parent.name):
        part = unicodedata.normalize("NFKC", part)
        for m in _NAME_DAY.finditer(part):
            iso = _day(m)
            if iso:
                return iso
        for m in _NAME_MONTH.finditer(part):
            iso = _iso(m.group("y"), m.group("m"))
            if iso:
                return iso
    return None


# ---------------------------------------------------------------- datelines

_MD = r"(?:(?P<y>\d{4}) ?年 ?)?(?P<m>\d{1,2}) ?月 ?(?P<d>\d{1,2}) ?[日号]"
# 新华社北京5月27日电, 本报北京2023年5月27日电, 中新社香港 5月27日電
_WIRE = re.compile(rf"^[^。！？!?，,；;：:\s（(]{{1,16}}? ?{_MD}(?:电|電)")
# 本报讯 5月30日，  本报讯（记者 张伟）5月30日，  （记者 张伟）5月30日上午，  5月30日，
_LEAD = re.compile(
    r"^(?:[^。！？!?，,；;\s]{0,12}?(?:讯|訊|消息)\s*[：:]?\s*)?"
    r"(?:[（(【〔][^）)】〕\n]{0,40}[）)】〕]\s*[：:]?\s*)?"
    rf"{_MD}(?=[,，、\s]|上午|下午|晚|早|凌晨|中午|夜|傍晚)"
)


def dateline(text: str) -> tuple[int | None, int, int] | None:
    """``(year or None, month, day)`` of the dateline an article opens with, read from
    its first paragraph (and any byline before it); else None.

    >>> dateline("新华社北京5月27日电（记者 王五）国务院…"), dateline("本报讯 5月30日，咸阳…")
    ((None, 5, 27), (None, 5, 30))
    >>> dateline("记者 张伟\\n本报北京2023年5月27日电 今天…")
    (2023, 5, 27)
    >>> dateline("近日，珠海高新区举行5月30日签约仪式。"), dateline("5月30日前完成。")
    (None, None)
    """
    for line in text.split("\n")[:3]:
        line = unicodedata.normalize("NFKC", line.strip())
        for rx in (_WIRE, _LEAD):
            m = rx.match(line)
            if m:
                year = int(m.group("y")) if m.group("y") else None
                return year, int(m.group("m")), int(m.group("d"))
        if len(line) > 40 or _SENTENCE.search(line):
            break  # the first real paragraph (not a byline) had none
    return None


def _span(iso: str) -> tuple[_dt.date, _dt.date]:
    """The first and last day an ISO day, month or year covers."""
    parts = [int(x) for x in iso.split("-")]
    if len(parts) == 3:
        day = _dt.date(*parts)
        return day, day
    if len(parts) == 2:
        y, m = parts
        return _dt.date(y, m, 1), _dt.date(y, m, calendar.monthrange(y, m)[1])
    return _dt.date(parts[0], 1, 1), _dt.date(parts[0], 12, 31)


def article_date(line: tuple[int | None, int, int] | None, page: str = "") -> str:
    """The best date for an article: its dateline's day when its year is known (its own,
    or the page's) and it is consistent with the page (not after it, at most a year
    before), else the page's date (``""`` when there is none). A dateline after the
    page's day is from the year before (12月30日 in a 2 January issue).

    >>> article_date((None, 5, 30), "2023-06-02"), article_date((None, 5, 30), "2023")
    ('2023-05-30', '2023-05-30')
    >>> article_date((None, 12, 30), "2024-01-02"), article_date((2023, 5, 27), "")
    ('2023-12-30', '2023-05-27')
    >>> article_date((None, 5, 30), ""), article_date((2019, 5, 30), "2023-06-02")
    ('', '2023-06-02')
    """
    if line is None:
        return page
    year, month, day = line
    if year is None and not page:
        return ""  # no year anywhere: never guess one
    if not page:
        return _iso(str(year), str(month), str(day)) or ""
    first, last = _span(page)
    years = [year] if year is not None else [last.year, last.year - 1]
    for y in years:
        iso = _iso(str(y), str(month), str(day))
        if iso and first - _dt.timedelta(days=366) <= _dt.date.fromisoformat(iso) <= last:
            return iso
    return page
