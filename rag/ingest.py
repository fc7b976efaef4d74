"""Ingest: files in, ``Article`` objects out.

Reads ``.txt``/``.md`` newspaper pages, ``.jsonl`` records (``{"id", "title", "text"}``
plus optional ``date``, ``source``, ``url``, ``author``; a record without ``id`` is
``file#line``) and directories of those.

A page is split into articles the way a reader sees them:

- ``#``/``##`` headings start articles; a heading followed at once by another heading
  is a title plus a column label; ``###`` headings inside an article are its sections.
- Untitled blocks (photo captions: ``XX/摄`` at the end or ``图片来源:…`` at the start)
  become articles of their own, titled from their first sentence.
- Bylines (``李嘉浩``, ``记者 张伟``, ``梁磊/摄``, ``赵丁硕 本报记者 叶伟``, or
  ``本报讯（记者 张伟）`` inline) fill ``author``; a closing byline ends its article.
  The byline line stays in the text, so "who wrote…" can be answered from it.
- A paragraph that does not end in sentence-final punctuation was broken by the
  layout: it is rejoined with the next one, with no space.
- Dates (``dates``): a page's masthead or file name dates the page, an article's
  dateline dates the article within it; a JSONL ``date`` is normalised to ISO, and one
  that is not a date is kept missing with one warning ``Problem`` for its file.

Does not: chunk, embed, or decide what is stored (see ``index``). Bad files and bad
JSONL lines are reported as ``Problem`` entries; the good ones are still returned.
"""

from __future__ import annotations

import codecs
import contextlib
import functools
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from . import dates
from .errors import InputError
from .text import fold_aligned
from .types import Article

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
JSONL_SUFFIXES = (".jsonl",)
SUFFIXES = TEXT_SUFFIXES + JSONL_SUFFIXES

_HEADING = re.compile(r"^(#{1,6})\s*(.+?)\s*#*\s*$")
_PHOTO_CREDIT = re.compile(r"^(?:图片来源|图片提供|图源)\s*[:：]\s*(.+)$")
# 梁磊/摄, 许杰 摄, （许杰 摄）, 记者 许杰摄, 摄影：何咏诗
_PHOTOGRAPHER = re.compile(
    r"^(.{1,20}?)\s*(?:[/／]\s*)?摄(?:影)?$|^(?:摄影|摄)\s*[:：/／]?\s*(.{1,20})$"
)
# what may wrap a byline line: ■ 本报记者 周静, （本报记者 林晓 通讯员 黄华）
_BYLINE_WRAP = re.compile(r"^[■□●○◎▲△★☆◆◇▪•·\-—\s]+|^[（(【\[]\s*|\s*[）)】\]]$")
_ROLES = (
    "本报记者|本报通讯员|特约记者|见习记者|实习记者|记者|通讯员|实习生|特约撰稿|撰稿|编辑|"
    "责任编辑|校对|美编|审核|终审|版式|排版|本报评论员|评论员|文|图|摄影|摄"
)
_ROLE = re.compile(rf"^(?:{_ROLES})$")
# …／台中报导, X 供稿: where a report was filed, an organisation's credit: no one's name
_DATELINE = re.compile(r"^[\u4e00-\u9fff]{2,4}(?:报导|报道|电)$")
_SUPPLIED = re.compile(r"^(?:供稿|供图|提供)$")
_NAME = re.compile(r"^[\u4e00-\u9fff·]{2,5}$")
_INLINE_BYLINE = re.compile(rf"(?:本报讯|讯|电)\s*[（(]\s*((?:{_ROLES})[^（()）]{{1,40}})[）)]")
_FINAL_END = re.compile(r"[。！？!?…；;][”’」』）)】》\"']*$|[”」』]$")
_CAPTION_LEAD = re.compile(r"^(?:图为|[上下左右中]图(?:为)?)\s*[:：,，]?\s*")
_EDITORIAL = re.compile(r"^(?:责任编辑|编辑|校对|美编|审核|终审|版式|排版)\s")
_PLAIN_TITLE = re.compile(r"^[^，,。！？!?；;：:、“”\"《》]{4,40}$")
_NEWS_LEAD = re.compile(
    r"^(?:本报讯|本报记者|本报通讯员|本报[^\s]{0,6}电|新华社|中新社|■|□|●|[（(【]\s*(?:记者|本报)|"
    r"记者\s|通讯员\s|\d{1,2}月\d{1,2}日[,，]|近日[,，]|日前[,，])"
)
_EMPHASIS = re.compile(r"(\*\*|__)(.+?)\1")
_LEAD_TIME = re.compile(r"^(?:近日|日前|近期|目前|今年以来|\d{1,2}月\d{1,2}日)[,，、]\s*")


@dataclass(frozen=True)
class Problem:
    """A file or line that could not be ingested, and why. A ``warning`` is a problem
    whose articles were still ingested (an unreadable date: kept undated)."""

    path: str
    message: str
    line: int | None = None
    warning: bool = False

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line else self.path
        return f"{where}: {self.message}"


@dataclass
class Corpus:
    articles: list[Article] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)


# ---------------------------------------------------------------- files and folders


def load(paths: list[str | Path], max_file_mb: float = 50.0) -> Corpus:
    """Read every supported file under ``paths``. Unreadable files become problems.

    Article ids: ``<file>#<n>`` for pages (``<file>`` relative to the folder given),
    the record's own ``id`` for JSONL. A repeated id is a problem, the first one wins.
    """
    corpus = Corpus()
    seen: dict[str, str] = {}  # article id -> where it was first seen (file or file:line)
    for root in paths:
        root = Path(root)
        if not root.exists():
            corpus.problems.append(Problem(shown(root), "no such file or directory"))
            continue
        if root.is_dir():
            files = corpus_files(root)
            if not files:
                corpus.problems.append(
                    Problem(shown(root), f"no {'/'.join(SUFFIXES)} files in this directory")
                )
        else:
            files = [root]
        for f in files:
            name = f.relative_to(root).as_posix() if root.is_dir() else f.name
            try:
                articles, problems = load_file(f, name=name, max_file_mb=max_file_mb)
            except InputError as e:
                corpus.problems.append(Problem(shown(f), str(e)))
                continue
            corpus.problems.extend(problems)
            for a in articles:
                if a.id in seen:
                    corpus.problems.append(
                        Problem(
                            shown(f),
                            f"duplicate article id {a.id!r} (first in {seen[a.id]}); skipped",
                            line=a.position + 1 if f.suffix.lower() in JSONL_SUFFIXES else None,
                        )
                    )
                    continue
                is_jsonl = f.suffix.lower() in JSONL_SUFFIXES
                seen[a.id] = f"{shown(f)}:{a.position + 1}" if is_jsonl else shown(f)
                corpus.articles.append(a)
    return corpus


def corpus_files(root: Path) -> list[Path]:
    """The corpus files under the folder ``root``, sorted: supported suffixes, no hidden
    files or folders, nothing inside an index folder (one holding ``CURRENT`` or
    ``.build.lock``), so ``rag build .`` does not index its own index."""
    indexes = {p.parent for name in ("CURRENT", ".build.lock") for p in root.rglob(name)}
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
        and not any(parent in indexes for parent in p.parents)
    )


def load_file(
    path: str | Path, name: str | None = None, max_file_mb: float = 50.0
) -> tuple[list[Article], list[Problem]]:
    """Articles of one file and the problems of its lines. Raises ``InputError`` for a
    file that cannot be used at all (missing, binary, undecodable, too large, empty)."""
    path = Path(path)
    name = name or path.name
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise InputError(f"unsupported file type {suffix or '(none)'!r}; use {', '.join(SUFFIXES)}")
    try:
        size = path.stat().st_size
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}") from None
    if size > max_file_mb * 1024 * 1024:
        raise InputError(
            f"file is {size:,} bytes, over the {max_file_mb:g} MB limit "
            "(set RAG_MAX_FILE_MB to change it)"
        )
    try:
        data = path.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read: {e.strerror or e}") from None
    # JSONL: control characters inside JSON strings are data; each line's JSON is
    # checked on its own, so garbage is reported line by line instead
    text = decode(data, check_controls=suffix not in JSONL_SUFFIXES)
    if not text.strip():
        raise InputError("file is empty")
    if suffix in JSONL_SUFFIXES:
        return parse_jsonl(text, path=shown(path))
    articles = parse_page(text, path=shown(path), id_prefix=shown(name))
    if not articles:
        raise InputError("no article text found")
    return articles, []


def shown(path: str | Path) -> str:
    """A path as text that can be printed and stored: bytes of a file name that are not
    UTF-8 (which Python keeps as lone surrogates) become ``\\xNN``."""
    return str(path).encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


_MAGIC = {
    b"%PDF": "a PDF",
    b"PK\x03\x04": "a zip archive (docx/xlsx?)",
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\x1f\x8b": "a gzip archive",
    b"\xd0\xcf\x11\xe0": "an old Office document",
}


def decode(data: bytes, *, check_controls: bool = True) -> str:
    """Bytes of a text file to ``str`` with ``\\n`` line ends.

    UTF-8 (with or without BOM) first, then UTF-16 with a BOM; otherwise GB18030 (a
    superset of GBK/GB2312), Big5 and Big5-HKSCS are tried, then charset-normalizer's
    guess. A legacy decoding is only accepted when the result reads as Chinese
    (``_plausible``): random bytes decode "successfully" as GB18030 more often than not,
    and ingesting that mojibake would be worse than refusing the file. Binary data
    (known magic numbers, NUL bytes, or with ``check_controls`` more than 1% control,
    private-use or U+FFFD characters) raises ``InputError``.

    >>> decode("中文\\r\\n".encode("gb18030"))
    '中文\\n'
    """
    for magic, what in _MAGIC.items():
        if data.startswith(magic):
            raise InputError(f"this is {what}, not text")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise InputError("starts with a UTF-16 byte-order mark but is not UTF-16") from None
    elif b"\x00" in data[:8192]:
        raise InputError("binary data (NUL bytes), not text")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = _detect(data)
        else:
            if not _HAN.search(text) and any(
                ch.isalpha() and not _expected_letter(ch) for ch in text[:_SAMPLE]
            ):
                # a few GBK/Big5 bytes can also be valid UTF-8 ("一" is "һ"): if the
                # UTF-8 reading has no Han but odd letters, a Chinese reading wins
                text = _legacy(data) or text
    if _SURROGATE.search(text):
        raise InputError("cannot decode: the text holds lone UTF-16 surrogates; save it as UTF-8")
    bad = _unreadable(text) if check_controls else 0
    if bad > max(2, 0.01 * len(text)):
        raise InputError(
            f"binary data ({bad} control or unassigned characters in {len(text)}), not text"
        )
    return text.replace("\r\n", "\n").replace("\r", "\n")


_LEGACY = ("gb18030", "big5", "big5hkscs")
_HAN = re.compile("[\u4e00-\u9fff]")


def _legacy(data: bytes) -> str | None:
    """The most plausible Chinese reading of ``data`` in a legacy encoding, if any."""
    best: tuple[float, str] | None = None
    for enc in _LEGACY:
        try:
            text = data.decode(enc)
        except UnicodeDecodeError:
            continue
        score = _plausible(text)
        if score is not None and (best is None or score > best[0]):
            best = (score, text)
    return best[1] if best is not None else None


def _detect(data: bytes) -> str:
    text = _legacy(data)
    if text is not None:
        return text
    from charset_normalizer import from_bytes

    guess = from_bytes(data).best()
    if guess is not None:
        text = str(guess)
        if _plausible(text) is not None:
            return text
    raise InputError(
        "cannot decode: not UTF-8, and as GB18030/GBK or Big5 it would be garbled; "
        "save the file as UTF-8"
    )


# C0/C1 controls other than layout whitespace, surrogates, private use, U+FFFD
_UNREADABLE = re.compile(
    "[\x00-\x08\x0e-\x19\x1b-\x1f\x7f-\x9f\ud800-\udfff\ue000-\uf8ff\ufffd\U000f0000-\U0010ffff]"
)


def _unreadable(text: str) -> int:
    """How many characters of ``text`` no reader could use."""
    return sum(1 for _ in _UNREADABLE.finditer(text))


_SAMPLE = 50_000


def _plausible(text: str) -> float | None:
    """How much ``text`` reads as Chinese: the share of its Han characters that are
    common Simplified ones (GB2312 level 1) or, if more, common Traditional ones (Big5
    frequent), or None when it does not read as Chinese at all. Real news text scores above 0.95; GB18030-decoded random bytes
    score about 0.4, and below 0.9 for all but the shortest inputs."""
    if len(text) > 3 * _SAMPLE:  # three samples tell as well as the whole, and faster
        mid = len(text) // 2
        text = text[:_SAMPLE] + text[mid : mid + _SAMPLE] + text[-_SAMPLE:]
    han = [ch for ch in text if "\u4e00" <= ch <= "\u9fff"]
    visible = sum(1 for ch in text if not ch.isspace())
    if not han or len(han) < 0.2 * visible or _unreadable(text) > 0.01 * len(text):
        return None
    # letters of other scripts (Hangul, kana, …): what Korean/Japanese guesses make of bytes
    foreign = sum(1 for ch in text if ch.isalpha() and not _expected_letter(ch))
    if foreign > 0.05 * len(han):
        return None
    simplified, traditional = _common_han()
    share = max(
        sum(1 for ch in han if ch in simplified), sum(1 for ch in han if ch in traditional)
    ) / len(han)
    return share if share >= 0.9 else None


def _expected_letter(ch: str) -> bool:
    """Han, Latin (ASCII, accented, full-width) and Greek letters: what Chinese news holds."""
    o = ord(ch)
    return (
        0x4E00 <= o <= 0x9FFF
        or 0x3400 <= o <= 0x4DBF
        or o < 0x250
        or 0x370 <= o <= 0x3FF
        or 0xFF21 <= o <= 0xFF5A
    )


@functools.lru_cache(maxsize=1)
def _common_han() -> tuple[frozenset[str], frozenset[str]]:
    """The 3,755 GB2312 level-1 (common Simplified) and the 5,401 Big5 frequent (common
    Traditional) characters. Mojibake mixes the two sets; real text keeps to one."""
    simplified: set[str] = set()
    traditional: set[str] = set()
    for lead in range(0xB0, 0xD8):
        for trail in range(0xA1, 0xFF):
            with contextlib.suppress(UnicodeDecodeError):
                simplified.add(bytes((lead, trail)).decode("gb2312"))
    for lead in range(0xA4, 0xC7):
        for trail in (*range(0x40, 0x7F), *range(0xA1, 0xFF)):
            with contextlib.suppress(UnicodeDecodeError):
                traditional.add(bytes((lead, trail)).decode("big5"))
    return frozenset(simplified), frozenset(traditional)


# ---------------------------------------------------------------- JSONL records

_JSONL_OPTIONAL = ("source", "url", "author")
_SURROGATE = re.compile("[\ud800-\udfff]")  # from a JSON escape like "\\ud800"


def parse_jsonl(text: str, path: str = "") -> tuple[list[Article], list[Problem]]:
    """One article per line; blank lines are skipped; bad lines become problems
    that name the line number and the field. A ``date`` is stored ISO
    (``dates.normalize``); one that is not a date is kept missing, and the file gets one
    warning for all of them, at the first such line.

    >>> arts, probs = parse_jsonl('{"id": 1, "text": "x。", "date": "2023年5月27日"}\\n'
    ...     '{"id": 2, "text": "y。", "date": "last Tuesday"}', path="a.jsonl")
    >>> [a.date for a in arts], [str(p) for p in probs]
    (['2023-05-27', ''], ["a.jsonl:2: date 'last Tuesday' is not a date; the article is kept, undated"])
    """
    articles: list[Article] = []
    problems: list[Problem] = []
    bad_dates: list[tuple[int, object]] = []  # (line, value) of dates that are not dates
    seen: set[str] = set()
    offset = 0
    for lineno, line in enumerate(text.split("\n"), start=1):
        start, offset = offset, offset + len(line) + 1
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as e:
            problems.append(Problem(path, f"invalid JSON: {e.msg}", line=lineno))
            continue
        except (ValueError, RecursionError) as e:  # a 5,000-digit number, 10,000 '['s
            problems.append(Problem(path, f"invalid JSON: {e}", line=lineno))
            continue
        try:
            a, bad = _record_to_article(rec, path=path, lineno=lineno, start=start)
        except InputError as e:
            problems.append(Problem(path, str(e), line=lineno))
            continue
        if a.id in seen:
            problems.append(Problem(path, f"duplicate id {a.id!r}; skipped", line=lineno))
            continue
        seen.add(a.id)
        articles.append(a)
        if bad is not None:
            bad_dates.append((lineno, bad))
    if bad_dates:
        (first, value), more = bad_dates[0], len(bad_dates) - 1
        shown_value = repr(value)[:80]
        also = f" (and {more} more line{'s' if more > 1 else ''})" if more else ""
        kept = "the articles are" if more else "the article is"
        problems.append(
            Problem(
                path,
                f"date {shown_value} is not a date{also}; {kept} kept, undated",
                line=first,
                warning=True,
            )
        )
    return articles, problems


def _record_to_article(
    rec: object, path: str, lineno: int, start: int
) -> tuple[Article, object | None]:
    """The record's article, and its ``date`` value when that is not a date (else None)."""
    if not isinstance(rec, dict):
        raise InputError(f"expected a JSON object, got {type(rec).__name__}")
    # a record without an id is named by its place, like a page's articles (a.jsonl#12):
    # stable while a file only grows, which is how news archives are kept
    rid = rec.get("id", f"{path}#{lineno}")
    if isinstance(rid, bool) or not isinstance(rid, (str, int)) or str(rid).strip() == "":
        raise InputError(f"field 'id' must be a non-empty string or integer, got {rid!r}")
    if isinstance(rid, str) and _SURROGATE.search(rid):
        raise InputError(f"field 'id' holds half of a UTF-16 pair: {rid!a}")
    fields: dict[str, str] = {}
    for key in ("title", "text", *_JSONL_OPTIONAL):
        val = rec.get(key)
        if val is None:
            continue
        if not isinstance(val, str):
            raise InputError(f"field {key!r} must be a string, got {type(val).__name__}")
        if bad := _SURROGATE.search(val):
            raise InputError(
                f"field {key!r} holds {bad.group()!a} at position {bad.start()}, half of a "
                "UTF-16 pair and not a character"
            )
        fields[key] = val.replace("\r\n", "\n").replace("\r", "\n").strip()
    if not fields.get("text"):
        raise InputError("field 'text' is missing or empty")
    date, bad = _record_date(rec.get("date"), fields["text"])
    article = Article(
        id=str(rid).strip(),
        title=fields.get("title", "") or _derive_title(fields["text"]),
        text=fields["text"],
        author=fields.get("author", ""),
        date=date,
        source=fields.get("source", ""),
        url=fields.get("url", ""),
        path=path,
        position=lineno - 1,
        start=start,
        end=start + len(json.dumps(rec, ensure_ascii=False)),
    )
    return article, bad


def _record_date(value: object, text: str) -> tuple[str, object | None]:
    """A record's ISO date and, when its ``date`` is not one, that value. A string or an
    integer (``20230527``) is read; without a ``date``, a dateline that gives its own
    year (``新华社北京2023年5月27日电``) dates the record.

    >>> _record_date(20230527, ""), _record_date("2023-13-45", ""), _record_date(None, "")
    (('2023-05-27', None), ('', '2023-13-45'), ('', None))
    """
    if value is None or value == "":
        return dates.article_date(dates.dateline(text)), None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or _SURROGATE.search(value):
        return "", value
    iso = dates.normalize(value)
    return (iso, None) if iso else ("", value)


# ---------------------------------------------------------------- newspaper pages


@dataclass
class _Para:
    text: str
    start: int
    end: int
    kind: str = "body"  # body | section | byline | credit


@dataclass
class _Block:
    title: str = ""
    column: str = ""
    paras: list[_Para] = field(default_factory=list)
    authors: list[str] = field(default_factory=list)
    source: str = ""
    start: int = -1
    end: int = -1
    caption: bool = False

    def has_body(self) -> bool:
        return any(p.kind in ("body", "section") for p in self.paras)


def parse_page(text: str, path: str = "", id_prefix: str = "page") -> list[Article]:
    """Split one newspaper page into articles (see the module docstring).

    Dates: the page's is its masthead's (a short line near the top holding only the
    paper, the date, the weekday: that line is not an article), else the one in its
    file name (``path``, else ``id_prefix``); each article gets ``dates.article_date`` of
    its own dateline and the page's date.

    >>> arts = parse_page("# 标题\\n\\n## 专栏\\n\\n正文第一句，断\\n\\n开了。\\n\\n李四\\n")
    >>> [(a.title, a.column, a.text, a.author) for a in arts]
    [('标题', '专栏', '正文第一句，断开了。\\n李四', '李四')]
    """
    blocks: list[_Block] = []
    cur: _Block | None = None

    def finish() -> None:
        nonlocal cur
        if cur is not None and (cur.paras or cur.title):
            blocks.append(cur)
        cur = None

    mast = dates.masthead(text)
    page_date = mast[0] if mast else dates.filename_date(path or id_prefix) or ""
    prev_body_final = True  # did the last body paragraph end a sentence?
    lines = list(_lines(text))
    for i, (line, start, end) in enumerate(lines):
        if mast and start == mast[1] and cur is None and not blocks:
            continue  # the masthead: the paper and its date, no article
        heading = _HEADING.match(line)
        if heading:
            level, title = len(heading.group(1)), _clean(heading.group(2))
            if cur is not None and cur.title and not cur.paras and not cur.column:
                # two headings in a row: a title and its column label
                if len(title) > len(cur.title):
                    cur.title, cur.column = title, cur.title
                else:
                    cur.column = title
                cur.end = end
            elif level >= 3 and cur is not None and cur.title:
                cur.paras.append(_Para(title, start, end, "section"))
                cur.end = end
            else:
                finish()
                cur = _Block(title=title, start=start, end=end)
            prev_body_final = True
            continue

        line = _clean(line)
        # a Traditional page says 本報記者, 攝影: every rule reads the line folded to
        # Simplified (same length), and what is kept is cut from the original
        fl = fold_aligned(line)
        credit = _PHOTO_CREDIT.match(fl)
        if credit:
            finish()
            source = line[credit.start(1) : credit.end(1)].strip()
            cur = _Block(source=source, start=start, end=end, caption=True)
            cur.paras.append(_Para(line, start, end, "credit"))
            prev_body_final = True
            continue

        photographer = _PHOTOGRAPHER.match(_unwrap(fl))
        credited = photographer and (photographer.group(1) or photographer.group(2))
        if credited and _byline_names(credited) is not None:
            names = _originals(_byline_names(credited) or [], line)
            if (
                cur is not None
                and cur.title
                and len([p for p in cur.paras if p.kind == "body"]) >= 2
            ):
                # a photo caption closing a titled article: split it off
                last = cur.paras.pop()
                cur.end = cur.paras[-1].end if cur.paras else cur.end
                finish()
                cur = _Block(start=last.start, end=last.end, caption=True)
                cur.paras.append(last)
            if cur is None:
                cur = _Block(start=start, end=end, caption=True)
            if not cur.title:
                cur.caption = True
            cur.authors.extend(n for n in names if n not in cur.authors)
            cur.paras.append(_Para(line, start, end, "byline"))
            cur.end = end
            finish()
            prev_body_final = True
            continue

        names = _byline_names(fl)
        if names is not None:
            names = _originals(names, line)
        if names is not None and _EDITORIAL.match(_unwrap(fl)):
            # 责任编辑：王五 credits the page's editor, not an author: keep the line
            # where it is, name nobody
            names = []
        if names is not None and (prev_body_final or _has_role(fl)):
            if cur is None or not cur.has_body():
                if cur is None:
                    cur = _Block(start=start, end=end)
                cur.authors.extend(n for n in names if n not in cur.authors)
                cur.paras.append(_Para(line, start, end, "byline"))
                cur.end = end
            else:
                cur.authors.extend(n for n in names if n not in cur.authors)
                cur.paras.append(_Para(line, start, end, "byline"))
                cur.end = end
                finish()
            prev_body_final = True
            continue

        # a page without markdown: a short line with no punctuation, after a finished
        # sentence, and followed by a news lead (本报讯, 记者…, 8月1日) is a headline
        nxt = _clean(lines[i + 1][0]) if i + 1 < len(lines) else ""
        if prev_body_final and _PLAIN_TITLE.match(line) and _NEWS_LEAD.match(fold_aligned(nxt)):
            finish()
            cur = _Block(title=line, start=start, end=end)
            continue

        # body paragraph
        if cur is None:
            cur = _Block(start=start, end=end)
        last = cur.paras[-1] if cur.paras else None
        if last is not None and last.kind == "body" and not prev_body_final:
            last.text += line  # a sentence broken by the layout
            last.end = end
        else:
            cur.paras.append(_Para(line, start, end, "body"))
        for m in _INLINE_BYLINE.finditer(fl):
            for n in _originals(_byline_names(m.group(1)) or [], line):
                if n not in cur.authors:
                    cur.authors.append(n)
        cur.end = end
        prev_body_final = bool(_FINAL_END.search(line))
    finish()

    articles = []
    for pos, b in enumerate(blocks):
        body = "\n".join(p.text for p in b.paras)
        if not body.strip():
            continue  # a heading with nothing under it
        if not b.title and not b.authors and all(p.kind == "byline" for p in b.paras):
            continue  # only an editor's credit (责任编辑：王五) at the foot of the page
        title = b.title or _derive_title(
            "\n".join(p.text for p in b.paras if p.kind == "body") or body
        )
        articles.append(
            Article(
                id=f"{id_prefix}#{len(articles)}",
                title=title,
                text=body,
                author="、".join(b.authors),
                column=b.column,
                date=dates.article_date(dates.dateline(body), page_date),
                source=b.source,
                path=path,
                position=pos,
                start=b.start,
                end=b.end,
                kind="caption" if (b.caption and not b.title) else "article",
            )
        )
    return articles


def _lines(text: str):
    """Non-blank lines with their offsets in ``text``."""
    pos = 0
    for raw in text.split("\n"):
        start, pos = pos, pos + len(raw) + 1
        stripped = raw.strip()
        if stripped:
            lead = len(raw) - len(raw.lstrip())
            yield stripped, start + lead, start + lead + len(stripped)


def _clean(line: str) -> str:
    """Drop markdown emphasis markers; the words stay.

    >>> _clean("**本报讯** 近日")
    '本报讯 近日'
    """
    return _EMPHASIS.sub(r"\2", line).strip()


def _has_role(line: str) -> bool:
    return any(_ROLE.match(t) for t in re.split(r"[\s/／]+", line) if t)


def _unwrap(line: str) -> str:
    """A byline line without the marks and brackets around it; a colon after a role
    becomes a space.

    >>> _unwrap("■ 本报记者 周静"), _unwrap("（许杰 摄）"), _unwrap("记者：韩雪")
    ('本报记者 周静', '许杰 摄', '记者 韩雪')
    """
    prev = None
    while prev != line:
        prev, line = line, _BYLINE_WRAP.sub("", line).strip()
    return re.sub(rf"({_ROLES})\s*[:：]\s*", r"\1 ", line)


def _byline_names(line: str) -> list[str] | None:
    """The names in a byline, or None when the line is not one.

    >>> _byline_names("赵丁硕 本报记者 叶伟"), _byline_names("记者 张伟"), _byline_names("聚焦全龄段。")
    (['赵丁硕', '叶伟'], ['张伟'], None)
    >>> _byline_names("（本报记者 林晓 通讯员 黄华）"), _byline_names("■ 本报记者 周静")
    (['林晓', '黄华'], ['周静'])
    """
    line = _unwrap(line.strip())
    if not line or len(line) > 40 or re.search(r"[。！？!?，,；;：:、“”\"]", line):
        return None
    names: list[str] = []
    toks = [t for t in re.split(r"[\s/／]+", line) if t]
    if toks and _SUPPLIED.match(toks[-1]) and len(toks) == 2:
        return []  # 数码港 供稿: an organisation's credit
    for tok in toks:
        if _DATELINE.match(tok) and names:
            continue  # 记者张雅婷／台中报导
        role = re.match(rf"^({_ROLES})(.*)$", tok)
        if _ROLE.match(tok):
            continue
        if role and _NAME.match(role.group(2)):
            names.append(role.group(2))  # 记者张伟 written without a space
            continue
        if _NAME.match(tok) and len(tok) <= 4:
            names.append(tok)
            continue
        return None
    return names or None


def _originals(names: list[str], line: str) -> list[str]:
    """Names found in the folded ``line``, as ``line`` itself writes them.

    >>> _originals(["陈冠宇"], "■ 本報記者 陳冠宇")
    ['陳冠宇']
    """
    folded, out, pos = fold_aligned(line), [], 0
    for n in names:
        i = folded.find(n, pos)
        if i < 0:
            i = folded.find(n)
        out.append(line[i : i + len(n)] if i >= 0 else n)
        pos = i + len(n) if i >= 0 else pos
    return out


def _derive_title(text: str, limit: int = 30) -> str:
    """A title for an untitled block: its first sentence, without a leading time phrase,
    cut to ``limit`` characters.

    >>> _derive_title("近日,烟台高新区开展公益便民集市活动。以小集市迸发大能量。")
    '烟台高新区开展公益便民集市活动'
    >>> _derive_title("图为无锡高新区工人正在组装智能传感器。")
    '无锡高新区工人正在组装智能传感器'
    """
    text = text.strip()
    folded = fold_aligned(text)  # the rules read Simplified; the title keeps the script
    first = re.split(r"(?<=[。！？!?])|\n", folded, maxsplit=1)[0]
    a, b = 0, len(first)
    for rx in (_CAPTION_LEAD, _LEAD_TIME):
        m = rx.match(folded[a:b])
        a += m.end() if m else 0
    while b > a and folded[b - 1] in "。！？!? ":
        b -= 1
    # drop leading adverbial clauses (作为…之一, 在…上): the subject comes after them
    while True:
        m = re.match(r"(?:作为|在|据|随着|为了|为|经过|当)[^,，]*[,，]", folded[a:b])
        if not m or m.end() >= b - a:
            break
        a += m.end()
    first = text[a:b].strip()
    if not first:  # only punctuation: the text as it is, so no article goes untitled
        first = " ".join(text.split())
    return first if len(first) <= limit else first[: limit - 1] + "…"
