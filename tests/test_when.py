"""Time in questions (rag/when.py), dates in retrieval (Pipeline.ask) and ``rag eval dated``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from rag import when
from rag.cli import main
from rag.config import Settings
from rag.errors import InputError
from rag.types import TimeRange

from .conftest import ROOT

AS_OF = dt.date(2024, 6, 15)  # a Saturday
NEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "news" / "xwlb_sample.jsonl"
DATED = ROOT / "tests" / "data" / "dated_news.jsonl"


@pytest.mark.parametrize(
    ("question", "start", "end", "text"),
    [
        ("去年5月珠海签约了多少个项目？", "2023-05-01", "2023-05-31", "去年5月"),
        ("2023年5月国务院常务会议讨论了什么？", "2023-05-01", "2023-05-31", "2023年5月"),
        ("去年有哪些重大工程开工？", "2023-01-01", "2023-12-31", "去年"),
        ("上周国务院召开了什么会议？", "2024-06-03", "2024-06-09", "上周"),
        ("近三个月有哪些关于粮食生产的新闻？", "2024-03-15", "2024-06-15", "近三个月"),
        ("上个月的外贸数据怎么样？", "2024-05-01", "2024-05-31", "上个月"),
        ("本月有哪些航天新闻？", "2024-06-01", "2024-06-15", "本月"),  # clipped to as_of
        ("今年一季度国内生产总值增长多少？", "2024-01-01", "2024-03-31", "今年一季度"),
        ("前天哪里发生了地震？", "2024-06-13", "2024-06-13", "前天"),
        ("5月20日国务院开了什么会？", "2024-05-20", "2024-05-20", "5月20日"),
        ("上週國務院召開了什麼會議？", "2024-06-03", "2024-06-09", "上週"),
        ("上個月的外貿數據怎麼樣？", "2024-05-01", "2024-05-31", "上個月"),
        ("What happened last week?", "2024-06-03", "2024-06-09", "last week"),
        ("How did exports do last month?", "2024-05-01", "2024-05-31", "last month"),
        # jionlp rejects 上个月; dateparser's reading comes first in the question
        ("上个月国新办发布会说今年秋粮面积多少？", "2024-05-01", "2024-05-31", "上个月"),
    ],
)
def test_resolve_gives_exact_ranges(question, start, end, text):
    assert when.resolve(question, AS_OF) == TimeRange(start, end, text)


@pytest.mark.parametrize(
    "question",
    [
        "珠海高新区签约了16个项目吗？",
        "十四五规划有哪些目标？",
        "最近有什么新闻？",
        "神舟十九号乘组出舱多久？",
    ],
)
def test_questions_without_a_date_resolve_to_none(question):
    assert when.resolve(question, AS_OF) is None


def test_recency_words():
    assert [when.wants_recent(q) for q in ("最新的通报", "最近有什么新闻", "the latest news")] == [
        True,
        True,
        True,
    ]
    assert not when.wants_recent("去年的粮食产量")


def test_explicit_range_and_its_errors():
    assert when.explicit("2024-01-01", "2024-03-31") == TimeRange(
        "2024-01-01", "2024-03-31", "since 2024-01-01 until 2024-03-31"
    )
    assert when.explicit(None, "2024-03-31").start == when.OPEN_START
    with pytest.raises(InputError, match=r"^--since 2024-05-01 is after --until 2024-01-01$"):
        when.explicit("2024-05-01", "2024-01-01")
    with pytest.raises(InputError, match=r"^--until must be a date YYYY-MM-DD, not '2024/01/01'$"):
        when.explicit(None, "2024/01/01")
    with pytest.raises(InputError, match="real date"):
        Settings(as_of="2024-02-30")
    with pytest.raises(InputError, match="date_mode must be one of filter, boost, off, auto"):
        Settings(date_mode="sometimes")
    assert Settings.from_env({"RAG_AS_OF": "2024-06-15"}).as_of == "2024-06-15"


def test_combine_intersects_and_the_explicit_range_wins_when_apart():
    asked = TimeRange("2023-05-01", "2023-05-31", "去年5月")
    assert when.combine(asked, TimeRange("2023-05-20", "9999-12-31", "since")) == TimeRange(
        "2023-05-20", "2023-05-31", "去年5月"
    )
    apart = TimeRange("2024-01-01", "2024-12-31", "since 2024-01-01 until 2024-12-31")
    assert when.combine(asked, apart) == apart
    assert when.combine(None, None) is None


@pytest.mark.parametrize(
    "argv",
    [
        ["--since", "2024-05-01", "--until", "2024-01-01"],
        ["--as-of", "2024-13-01"],
        ["--since", "yesterday"],
    ],
)
def test_cli_date_flags_are_one_line_errors(argv, capsys, tmp_path):
    for cmd in (["ask", "问题"], ["batch", str(tmp_path / "q.jsonl")]):
        assert main([*cmd, *argv, "--index", str(tmp_path / "none")]) == 1
        err = capsys.readouterr().err
        assert err.startswith("rag: error: --") and err.count("\n") == 1, err


# ---------------------------------------------------------------- dated corpus

ARTICLES = [
    ("n1", "2023-05-20", 12, "项目以集成电路和软件为主，三家龙头企业带来了上下游配套厂商，"
     "预计明年年底前全部建成投产，届时将新增就业岗位两千余个。"),
    ("n2", "2024-05-18", 16, "新能源汽车零部件企业占了一半，其中动力电池回收利用项目"
     "填补了本地产业链空白，另有两个储能电站项目同步启动前期工作。"),
    ("n3", "2024-06-10", 20, "生物医药与医疗器械成为新亮点，一批来自香港和澳门的科研团队"
     "带着专利成果落户园区，孵化器面积也将在下半年扩大一倍。"),
    ("n4", "", 9, "仪式由管委会主持，各园区负责人出席并介绍了营商环境，"
     "会后企业代表实地参观了标准厂房和人才公寓，对配套服务表示满意。"),
    ("n5", "2022-06-12", 7, ""),
]  # fmt: skip


@pytest.fixture(scope="module")
def dated_pipeline(tmp_path_factory):
    from rag.index import build
    from rag.pipeline import Pipeline
    from rag.types import Article

    from .fake_encoder import HashEncoder

    arts = [
        Article(
            id=i,
            title="珠海高新区重点项目签约",
            # a sentence of its own each, so that they are not wire copies (rag/dedup.py)
            text=f"珠海高新区举行重点项目签约仪式，共签约落地重点项目{n}个。{own}",
            date=d,
        )
        for i, d, n, own in ARTICLES
    ]
    arts[-1] = Article(
        id="n5", title="咸阳高新区招商", text="咸阳高新区引进企业7家。", date="2022-06-12"
    )
    path = tmp_path_factory.mktemp("dated-index")
    build(arts, path, HashEncoder(64))
    return Pipeline.load(path, Settings.from_env(index_dir=str(path)))


def ids(answer):
    return [s.article.id for s in answer.sources]


def test_a_question_range_filters_sources_undated_kept_after(dated_pipeline):
    a = dated_pipeline.ask("去年5月珠海高新区签约了多少个重点项目？", as_of="2024-06-15")
    assert ids(a) == ["n1", "n4"]
    assert a.short_answer == "12个"  # 去年5月 left out of the words to match
    d = a.to_dict()
    assert d["as_of"] == "2024-06-15"
    assert d["time_range"] == {"start": "2023-05-01", "end": "2023-05-31", "text": "去年5月"}


def test_boost_keeps_every_source_in_range_first(dated_pipeline, monkeypatch):
    from dataclasses import replace

    monkeypatch.setattr(
        dated_pipeline, "settings", replace(dated_pipeline.settings, date_mode="boost")
    )
    a = dated_pipeline.ask("去年5月珠海高新区签约了多少个重点项目？", as_of="2024-06-15")
    assert ids(a)[0] == "n1" and set(ids(a)) >= {"n1", "n2", "n3", "n4"}


def test_auto_filters_a_relative_range_and_boosts_one_naming_its_year(dated_pipeline):
    assert dated_pipeline.settings.date_mode == "auto"
    # 去年5月: the news of May 2023 only (as the filter test above)
    assert ids(
        dated_pipeline.ask("去年5月珠海高新区签约了多少个重点项目？", as_of="2024-06-15")
    ) == [
        "n1",
        "n4",
    ]
    # 2023年5月: the same range, but the articles of other dates stay, behind it
    a = dated_pipeline.ask("2023年5月珠海高新区签约了多少个重点项目？", as_of="2024-06-15")
    assert ids(a)[0] == "n1" and set(ids(a)) >= {"n1", "n2", "n3", "n4"}


def test_recency_moves_newer_articles_up_to_as_of(dated_pipeline, monkeypatch):
    from dataclasses import replace

    q = "最新的珠海高新区签约了多少个重点项目？"
    off = replace(dated_pipeline.settings, date_mode="off")
    with monkeypatch.context() as m:
        m.setattr(dated_pipeline, "settings", off)
        assert ids(dated_pipeline.ask(q, as_of="2024-06-15")) == ["n2", "n4", "n1", "n3", "n5"]
    # the newest (n3, 10 June) fused in: from 4th to 2nd
    assert ids(dated_pipeline.ask(q, as_of="2024-06-15")) == ["n2", "n3", "n1", "n5", "n4"]
    # on 1 June the 10 June article is not news yet: it gets no lift and falls last
    a = dated_pipeline.ask(q, as_of="2024-06-01")
    assert ids(a) == ["n2", "n1", "n5", "n4", "n3"] and a.time_range is None


def test_since_until_filter_explicitly(dated_pipeline):
    a = dated_pipeline.ask(
        "珠海高新区签约了多少个重点项目？", since="2024-05-01", until="2024-05-31"
    )
    assert ids(a) == ["n2", "n4"]
    assert a.time_range == TimeRange(
        "2024-05-01", "2024-05-31", "since 2024-05-01 until 2024-05-31"
    )
    a = dated_pipeline.ask("珠海高新区签约了多少个重点项目？")
    assert a.time_range is None and a.as_of == dt.date.today().isoformat()


def test_eval_dated_scores_with_and_without_time_handling(dated_pipeline, tmp_path, capsys):
    f = tmp_path / "dated.jsonl"
    rows = [
        {
            "id": "a",
            "question": "去年5月珠海高新区签约了多少个重点项目？",
            "range": ["2023-05-01", "2023-05-31"],
        },
        {
            "id": "b",
            "question": "最新的珠海高新区签约了多少个重点项目？",
            "range": ["2024-05-01", "2024-06-15"],
            "kind": "recent",
        },
    ]
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    idx = str(dated_pipeline.settings.index_dir)
    assert main(["eval", "dated", str(f), "--as-of", "2024-06-15", "--index", idx]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["questions"] == 2
    assert report["modes"]["off"]["top1_in_range"] == 0.5  # without time handling
    assert report["modes"]["filter"]["top1_in_range"] == 1.0
    assert report["modes"]["filter"]["resolved"] == 1.0
    assert set(report["modes"]) == {"off", "filter", "boost", "auto"}
    assert report["modes"]["auto"]["top1_in_range"] == 1.0
    # a line without as_of, and no --as-of: one line naming it
    assert main(["eval", "dated", str(f), "--index", idx]) == 1
    assert capsys.readouterr().err == f"rag: error: {f}:1: no 'as_of' (give one, or --as-of)\n"


@pytest.mark.skipif(not NEWS.is_file(), reason=f"shared news sample not found at {NEWS}")
def test_every_dated_question_has_an_article_in_its_range():
    dates = [json.loads(x)["date"] for x in NEWS.read_text(encoding="utf-8").splitlines()]
    qs = when_questions()
    assert len(qs) == 70
    for q in qs:
        s, e = q["range"]
        assert s <= e <= q["as_of"]
        assert any(s <= d <= e for d in dates), q["id"]


def when_questions():
    return [json.loads(x) for x in DATED.read_text(encoding="utf-8").splitlines() if x.strip()]


def test_the_text_answer_names_its_dates():
    from rag.cli import format_text
    from rag.types import Answer

    a = Answer(
        "q", "答[1]", None, False, time_range=TimeRange("2023-05-01", "2023-05-31", "去年5月")
    )
    assert format_text(a).split("\n")[2] == "Dates: 2023-05-01 to 2023-05-31 (去年5月)"
    open_end = TimeRange("2024-01-01", when.OPEN_END, "since 2024-01-01")
    assert "Dates: 2024-01-01 to … (since 2024-01-01)" in format_text(
        Answer("q", "答", None, False, time_range=open_end)
    )


def test_a_range_no_article_is_in_is_not_applied(dated_pipeline):
    # 今年 asked in 2026 of articles from 2022-2024: the words are about something else
    a = dated_pipeline.ask("今年珠海高新区签约了多少个重点项目？", as_of="2026-12-06")
    assert a.time_range is None and len(a.sources) == 5
    # an explicit filter stands even then
    a = dated_pipeline.ask("珠海高新区签约了多少个重点项目？", since="2026-01-01")
    assert ids(a) == ["n4"]  # only the undated article is left


def test_jionlp_tracebacks_stay_off_the_users_screen(caplog):
    import logging

    when._extractor()  # installs the filter
    rec = logging.LogRecord(
        "root", logging.ERROR, "/x/jionlp/gadget/time_parser.py", 1, "tb", (), None
    )
    mine = logging.LogRecord("root", logging.ERROR, "/x/rag/cli.py", 1, "mine", (), None)
    root = logging.getLogger()
    assert not root.filter(rec) and root.filter(mine)
