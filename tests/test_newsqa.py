"""News question sets (rag/newsqa.py): the shipped set's format, its gold spans against
the shared news sample, and the loader on a tiny fixture."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from rag.cli import main
from rag.config import Settings
from rag.errors import InputError
from rag.evaluate import eval_squad
from rag.newsqa import LANGS, load_news_qa, parse_ref, read_questions
from rag.reader.score import questions

DATA = Path(__file__).parent / "data"
NEWS_QA = DATA / "news_qa.jsonl"
CALIB_QA = DATA / "news_calib_qa.jsonl"  # rag train refusal's paraphrase questions
TINY_NEWS = DATA / "news_tiny.jsonl"
TINY_QA = DATA / "news_tiny_qa.jsonl"
NEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "news" / "xwlb_sample.jsonl"
FAKE = "tests.fake_encoder:hash64"
KINDS = {"number", "date", "person", "place", "org", "phrase", "reason", "method"}


# ---------------------------------------------------------------- the shipped set


def test_the_news_set_is_well_formed_and_holds_no_article_text():
    rows = read_questions(NEWS_QA)
    assert len(rows) == 154
    assert [r["id"] for r in rows] == [f"news-{i:03d}" for i in range(1, 155)]
    assert Counter(r["lang"] for r in rows) == {"zh": 129, "zh-Hant": 15, "en": 10}
    assert {r["kind"] for r in rows} == KINDS
    refs = [parse_ref(r["article"]) for r in rows]
    assert {name for name, _ in refs} == {"xwlb_sample.jsonl"}
    assert len({line for _, line in refs}) == 76
    assert all(1 <= line <= 2000 for _, line in refs)
    assert all(
        set(r) == {"id", "article", "question", "answers", "kind", "lang", "line"} for r in rows
    )
    # short answers, no copied paragraphs: the longest line is a question plus its spans
    assert max(len(line) for line in NEWS_QA.read_text(encoding="utf-8").splitlines()) < 400
    assert all(len(a) <= 80 for r in rows for a in r["answers"])


@pytest.mark.skipif(not NEWS.is_file(), reason=f"the shared news sample is not at {NEWS}")
def test_every_gold_answer_occurs_verbatim_in_its_item():
    items = {i: json.loads(x) for i, x in enumerate(NEWS.read_text("utf-8").split("\n"), 1) if x}
    for r in read_questions(NEWS_QA):
        _, line = parse_ref(r["article"])
        for a in r["answers"]:
            assert a in items[line]["text"], (r["id"], a)
    data = load_news_qa(NEWS_QA, NEWS)  # the loader checks the same, through rag.ingest
    assert len(data.articles) == 2000 and len(data.questions) == 154
    assert data.questions[0].article_id == f"{NEWS}#229"


def test_the_calibration_set_is_paraphrases_on_other_items_than_the_test_set():
    rows = read_questions(CALIB_QA)
    assert len(rows) == 160
    assert [r["id"] for r in rows] == [f"calib-{i:03d}" for i in range(1, 161)]
    assert Counter(r["style"] for r in rows) == {"paraphrase": 142, "close": 18}
    assert Counter(r["lang"] for r in rows) == {"zh": 148, "zh-Hant": 12}
    items = Counter(r["article"] for r in rows)
    assert len(items) == 80 and set(items.values()) == {2}
    assert not set(items) & {r["article"] for r in read_questions(NEWS_QA)}
    assert max(len(line) for line in CALIB_QA.read_text(encoding="utf-8").splitlines()) < 400


@pytest.mark.skipif(not NEWS.is_file(), reason=f"the shared news sample is not at {NEWS}")
def test_every_calibration_answer_occurs_in_its_item():
    data = load_news_qa(CALIB_QA, NEWS)
    assert len(data.questions) == 160
    assert data.questions[0].article_id == f"{NEWS}#1270"


# ---------------------------------------------------------------- the loader


def test_loader_reads_items_from_the_news_file_by_line():
    data = load_news_qa(TINY_QA, TINY_NEWS)
    assert data.name == "news_tiny_qa"
    ids = [f"{TINY_NEWS}#1", f"{TINY_NEWS}#2", f"{TINY_NEWS}#4"]  # ids as `rag build` gives
    assert [a.id for a in data.articles] == ids
    assert [a.date for a in data.articles] == ["2024-03-05", "2024-03-06", "2024-10-10"]
    assert data.articles[2].title == "秋粮收获过半"
    assert [(q.id, q.article_id, q.answers) for q in data.questions] == [
        ("t-1", ids[0], ("1200万吨", "1200")),  # repeats dropped, order kept
        ("t-2", ids[1], ("当地天文台的研究员",)),
        ("t-3", ids[2], ("3个百分点",)),
    ]
    assert (data.skipped, data.empty) == (0, 0)


def test_reader_scoring_takes_a_news_set_with_the_item_text_as_paragraph():
    rows = questions(str(TINY_QA), news=TINY_NEWS)
    assert len(rows) == 3
    assert rows[1] == (
        "Who teaches the astronomy classes?",
        "本台消息：青禾县的五所山区小学本学期开设天文课，每周两节。\n"
        "县教育局表示，课程由当地天文台的研究员授课，已有800多名学生参加。",
        ["当地天文台的研究员"],
    )
    assert questions(str(TINY_QA), limit=1, news=TINY_NEWS)[0][2] == ["1200万吨", "1200"]
    with pytest.raises(InputError, match="no @A-B range"):
        questions(f"{TINY_QA}@0-1", news=TINY_NEWS)


def _qa(tmp_path, **changes) -> Path:
    rec = {"id": "x", "article": "news_tiny.jsonl#1", "question": "q?", "answers": ["三座泊位"]}
    rec.update(changes)
    p = tmp_path / "qa.jsonl"
    p.write_text(json.dumps(rec, ensure_ascii=False) + "\n", encoding="utf-8")
    return p


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"answers": ["四座泊位"]}, "answer '四座泊位' is not in the text of news_tiny.jsonl#1"),
        ({"article": "news_tiny.jsonl#3"}, "has no item on line 3"),
        ({"article": "other.jsonl#1"}, "'other.jsonl#1' is not in news_tiny.jsonl"),
        ({"article": "news_tiny.jsonl"}, "is not <file name>#<line>"),
        ({"answers": []}, "'answers' must be a non-empty list"),
        ({"lang": "fr"}, "'lang' must be one of zh, zh-Hant, en"),
        ({"question": ""}, "field 'question' must be a non-empty string"),
    ],
)
def test_a_bad_question_is_an_input_error_naming_the_line(tmp_path, changes, message):
    with pytest.raises(InputError, match="qa.jsonl:1: ") as e:
        load_news_qa(_qa(tmp_path, **changes), TINY_NEWS)
    assert message in str(e.value)


def test_a_missing_news_file_is_named(tmp_path):
    missing = tmp_path / "nowhere" / "xwlb_sample.jsonl"
    with pytest.raises(InputError, match=f"the news file is not at {missing}"):
        load_news_qa(NEWS_QA, missing)
    assert set(LANGS) == {"zh", "zh-Hant", "en"}


def test_open_domain_eval_of_a_news_set_with_the_fake_encoder(tmp_path):
    settings = Settings.from_env(encoder=FAKE)
    report = eval_squad(
        TINY_QA, settings, removed=False, cache=tmp_path / "c", progress=False, news=TINY_NEWS
    )
    assert report.summary.n == 3 and report.meta["articles"] == 3
    assert [o.gold_article for o in report.outcomes] == [
        f"{TINY_NEWS}#1",
        f"{TINY_NEWS}#2",
        f"{TINY_NEWS}#4",
    ]


def test_cli_names_a_missing_news_file_in_one_line(tmp_path, capsys):
    missing = tmp_path / "xwlb_sample.jsonl"
    rc = main(["eval", "squad", str(NEWS_QA), "--news", str(missing), "-q", "--out", str(tmp_path)])
    assert rc == 1
    err = capsys.readouterr().err.strip()
    assert err == f"rag: error: the news file is not at {missing} (give its path with --news)"
