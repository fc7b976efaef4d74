"""News question sets: factoid questions over a news JSONL file, naming items by id.

A set is JSONL, one question a line::

    {"id": "news-001", "article": "xwlb_sample.jsonl#229", "question": "...",
     "answers": ["1例", "1"], "kind": "number", "lang": "zh"}

``article`` is ``<news file name>#<line>`` (1-based), the id ``rag build`` gives a record
without one; ``answers`` are gold spans copied verbatim from that item's text (the first
is the minimal one); ``kind`` and ``lang`` (``zh``, ``zh-Hant``, ``en``) describe the
question. The set holds no article text: ``load_news_qa`` reads the items from the news
file at run time (by default the shared sample beside the repository,
``../shared/data/news/xwlb_sample.jsonl``), through ``rag.ingest`` so that ids, text and
dates are exactly what ``rag build`` of that file makes, and returns the ``SquadSet``
that ``rag eval squad`` and ``rag eval reader`` take: every item of the file is an
article (the open-domain corpus), each question points at its item.

Where a position is needed, an answer's start is its first occurrence in the item's
text; the evaluators score by text, so none is stored.

Does not: copy article text anywhere, or check answers beyond "occurs in the text".
"""

from __future__ import annotations

from pathlib import Path

from .errors import InputError
from .evaluate import SquadQuestion, SquadSet, question_records
from .ingest import load_file
from .types import Article

# the shared news sample, located like the tests do: <repo>/../shared/data/news/
DEFAULT_NEWS = (
    Path(__file__).resolve().parents[2] / "shared" / "data" / "news" / "xwlb_sample.jsonl"
)
LANGS = ("zh", "zh-Hant", "en")


def is_news_set(path: str | Path) -> bool:
    """A question file in this format (by suffix) rather than SQuAD JSON.

    >>> is_news_set("tests/data/news_qa.jsonl"), is_news_set("cmrc2018_trial.json")
    (True, False)
    """
    return Path(path).suffix.lower() == ".jsonl"


def parse_ref(ref: str) -> tuple[str, int]:
    """``"<file>#<line>"`` -> (file name, line); ``InputError`` for anything else.

    >>> parse_ref("xwlb_sample.jsonl#229")
    ('xwlb_sample.jsonl', 229)
    """
    name, sep, line = ref.rpartition("#")
    if not sep or not name or not line.isdigit() or int(line) < 1:
        raise InputError(f"article {ref!r} is not <file name>#<line>")
    return name, int(line)


def read_questions(path: str | Path) -> list[dict]:
    """The records of a news question file, checked field by field; ``InputError``
    names the file, line and field."""
    rows: list[dict] = []
    seen: dict[str, int] = {}
    for lineno, where, rec in question_records(path):
        for key in ("id", "article", "question"):
            if not isinstance(rec.get(key), str) or not rec[key].strip():
                raise InputError(f"{where}: field {key!r} must be a non-empty string")
        answers = rec.get("answers")
        if (
            not isinstance(answers, list)
            or not answers
            or not all(isinstance(a, str) and a.strip() for a in answers)
        ):
            raise InputError(f"{where}: 'answers' must be a non-empty list of non-empty strings")
        if rec.get("lang", "zh") not in LANGS:
            raise InputError(f"{where}: 'lang' must be one of {', '.join(LANGS)}")
        if rec["id"] in seen:
            raise InputError(
                f"{where}: duplicate id {rec['id']!r} (first on line {seen[rec['id']]})"
            )
        seen[rec["id"]] = lineno
        try:
            parse_ref(rec["article"])
        except InputError as e:
            raise InputError(f"{where}: {e}") from None
        rows.append({**rec, "line": lineno})
    return rows


def load_news(news: str | Path | None = None) -> list[Article]:
    """The items of the news file as ``rag build`` reads them (default: the shared
    sample); ``InputError`` naming the path when it is not there."""
    news = Path(news) if news is not None else DEFAULT_NEWS
    if not news.is_file():
        raise InputError(f"the news file is not at {news} (give its path with --news)")
    articles, _ = load_file(news)
    return articles


def load_news_qa(path: str | Path, news: str | Path | None = None) -> SquadSet:
    """A news question set with its items read from ``news``: every item is an
    article, every question points at its item's id. ``InputError`` when a question
    names another file, a line the file lacks, or an answer its item's text does not
    contain.

    Dates are kept (they matter to news retrieval); ``skipped``/``empty`` are 0."""
    rows = read_questions(path)
    news = Path(news) if news is not None else DEFAULT_NEWS
    articles = load_news(news)
    by_line = {a.position + 1: a for a in articles}
    questions = []
    for rec in rows:
        where = f"{path}:{rec['line']}"
        name, line = parse_ref(rec["article"])
        if name != news.name:
            raise InputError(f"{where}: article {rec['article']!r} is not in {news.name}")
        article = by_line.get(line)
        if article is None:
            raise InputError(f"{where}: {news} has no item on line {line}")
        for a in rec["answers"]:
            if a not in article.text:
                raise InputError(f"{where}: answer {a!r} is not in the text of {rec['article']}")
        answers = tuple(dict.fromkeys(rec["answers"]))
        questions.append(SquadQuestion(rec["id"], rec["question"], article.id, answers))
    return SquadSet(Path(path).stem, tuple(articles), tuple(questions))
