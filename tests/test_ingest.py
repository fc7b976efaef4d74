from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag.errors import InputError
from rag.ingest import decode, load, load_file, parse_jsonl, parse_page


def test_seed_page_splits_into_its_seven_articles(seed_articles):
    assert [(a.id, a.kind, a.title, a.column, a.author) for a in seed_articles] == [
        (
            "000_d81e7fddda0856ce.txt#0",
            "article",
            "中山火炬开发区打造特色党群服务圈",
            "党建在高新",
            "李嘉浩",
        ),
        (
            "000_d81e7fddda0856ce.txt#1",
            "caption",
            "成都高新体育中心迎来了两台“成都造”智能运动设备——乒乓球…",
            "",
            "梁磊",
        ),
        (
            "000_d81e7fddda0856ce.txt#2",
            "article",
            "珠海高新区：5月签约落地重点项目16个",
            "",
            "朱高新",
        ),
        ("000_d81e7fddda0856ce.txt#3", "article", "咸阳高新区：双招双引项目集中签约21个", "", ""),
        (
            "000_d81e7fddda0856ce.txt#4",
            "article",
            "中关村发展集团：携手北航共建未来产业科技园",
            "",
            "张伟",
        ),
        (
            "000_d81e7fddda0856ce.txt#5",
            "caption",
            "烟台高新区马山街道海天社区联合祥瑞理想城物业、“双报到”单…",
            "",
            "",
        ),
        (
            "000_d81e7fddda0856ce.txt#6",
            "article",
            "西部科学城重庆高新区“两城汇”“双创季”活动启动 让更多青年才俊逐梦科学城",
            "",
            "赵丁硕、叶伟",
        ),
    ]


def test_seed_articles_keep_source_and_position(seed_articles):
    assert [a.position for a in seed_articles] == list(range(7))
    assert all(a.path.endswith("seeds/000_d81e7fddda0856ce.txt") for a in seed_articles)
    raw = decode(Path(seed_articles[0].path).read_bytes())
    # each article's block in the file starts with its heading or first line
    assert raw[seed_articles[0].start :].startswith("# 中山火炬开发区打造特色党群服务圈")
    assert raw[seed_articles[2].start :].startswith("## 珠海高新区")
    assert raw[seed_articles[5].start :].startswith("图片来源:烟台高新区")
    assert raw[: seed_articles[6].end].endswith("打造‘科学家的家、创业者的城’。”")


def test_broken_lines_are_rejoined_without_space(seed_articles):
    text = "\n".join(a.text for a in seed_articles)
    for joined in (
        "商圈市场、商住小区党群阵地",
        "在构建科技成果转化服务平台",
        "务实功、出实招",
        "创业项目将给予全周期扶持服务",
        "实现人才供给与产业需求",
        "等11项支持高校毕业生",
    ):
        assert joined in text
    assert "商\n住" not in text


def test_bylines_stay_in_text_and_captions_are_separate(seed_articles):
    first, caption = seed_articles[0], seed_articles[1]
    assert first.text.endswith("提高基层党群阵地服务效能。\n李嘉浩")
    assert caption.text.startswith("近日,作为成都大运会的重要比赛场馆之一")
    assert caption.text.endswith("\n梁磊/摄")
    yantai = seed_articles[5]
    assert yantai.source == "烟台高新区"
    assert yantai.text.startswith("图片来源:烟台高新区\n近日,烟台高新区马山街道")
    # the Zhongguancun article ends before the caption that follows it
    assert seed_articles[4].text.endswith("技术转移提供助力。")


def test_sections_stay_inside_their_article(seed_articles):
    cq = seed_articles[6]
    assert "\n多措并举 促大学生就业\n" in cq.text
    assert "\n五大行动 厚植就业热土\n" in cq.text
    assert cq.text.startswith("赵丁硕 本报记者 叶伟\n5月30日,西部科学城重庆高新区")


def test_markdown_emphasis_is_dropped(seed_articles):
    assert seed_articles[2].text.startswith("本报讯 近日,珠海高新区举行")
    assert "**" not in "".join(a.text for a in seed_articles)


def test_photographer_caption_after_untitled_article_and_leading_byline():
    page = "## 标题一\n\n记者 王五\n\n正文一。\n\n正文二。\n\n图说一张照片。\n\n赵六/摄\n"
    arts = parse_page(page, id_prefix="p")
    assert [(a.title, a.author, a.kind, a.text) for a in arts] == [
        ("标题一", "王五", "article", "记者 王五\n正文一。\n正文二。"),
        ("图说一张照片", "赵六", "caption", "图说一张照片。\n赵六/摄"),
    ]


def test_inline_byline_after_benbaoxun():
    arts = parse_page("# 标题\n\n本报讯（记者 李四 通讯员 王五） 今天开会。\n", id_prefix="p")
    assert arts[0].author == "李四、王五"


def test_jsonl_records_and_their_problems():
    text = "\n".join(
        [
            json.dumps(
                {
                    "id": "a1",
                    "title": "标题",
                    "text": "正文。",
                    "author": "张三",
                    "date": "2023-05-30",
                }
            ),
            "",
            "{not json",
            json.dumps({"id": "a2", "title": "无正文"}),
            json.dumps({"id": "a3", "title": 5, "text": "x"}),
            json.dumps({"id": "a1", "title": "重复", "text": "y"}),
            json.dumps([1, 2]),
            json.dumps({"id": 7, "text": "没有标题的正文。第二句。"}),
        ]
    )
    arts, problems = parse_jsonl(text, path="x.jsonl")
    assert [(a.id, a.title, a.author, a.date, a.position) for a in arts] == [
        ("a1", "标题", "张三", "2023-05-30", 0),
        ("7", "没有标题的正文", "", "", 7),
    ]
    assert [(p.line, p.message) for p in problems] == [
        (3, "invalid JSON: Expecting property name enclosed in double quotes"),
        (4, "field 'text' is missing or empty"),
        (5, "field 'title' must be a string, got int"),
        (6, "duplicate id 'a1'; skipped"),
        (7, "expected a JSON object, got list"),
    ]


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030", "gbk", "big5"])
def test_decode_detects_chinese_encodings(encoding):
    text = (
        "# 標題\r\n\r\n中關村發展集團與北京航空航天大學簽署合作協議。\r\n"
        if encoding == "big5"
        else "# 标题\r\n\r\n中关村发展集团与北京航空航天大学签署合作协议。\r\n"
    )
    assert decode(text.encode(encoding)) == text.replace("\r\n", "\n")


def test_bad_files_are_reported_and_good_ones_kept(tmp_path):
    (tmp_path / "good.txt").write_text("# 标题\n\n正文。\n", encoding="utf-8")
    (tmp_path / "empty.txt").write_text("  \n", encoding="utf-8")
    (tmp_path / "fake.txt").write_bytes(b"%PDF-1.7 binary")
    (tmp_path / "skip.pdf").write_bytes(b"%PDF")
    corpus = load([tmp_path, tmp_path / "missing.md"])
    assert [a.id for a in corpus.articles] == ["good.txt#0"]
    assert sorted(str(p).split("/")[-1] for p in corpus.problems) == [
        "empty.txt: file is empty",
        "fake.txt: this is a PDF, not text",
        "missing.md: no such file or directory",
    ]


def test_load_file_rejects_unknown_suffix(tmp_path):
    p = tmp_path / "a.docx"
    p.write_bytes(b"x")
    with pytest.raises(InputError, match="unsupported file type '.docx'"):
        load_file(p)


def test_a_page_without_markdown_headings_splits_on_headlines():
    page = (
        "宁波高新区新材料产业园开工\n\n"
        "本报讯 8月1日,宁波高新区新材料产业园项目正式开工。项目总投资35亿元。\n\n"
        "记者 陈冬\n\n"
        "厦门火炬高新区举办集成电路人才招聘会\n\n"
        "本报讯 7月28日,厦门火炬高新区举办人才招聘会,共有86家企业参加。\n\n"
        "通讯员 郑洁\n"
    )
    arts = parse_page(page, "plain.txt")
    assert [(a.title, a.author) for a in arts] == [
        ("宁波高新区新材料产业园开工", "陈冬"),
        ("厦门火炬高新区举办集成电路人才招聘会", "郑洁"),
    ]
    assert arts[0].text.startswith("本报讯 8月1日")
    # a line broken by the layout is still joined, not taken for a headline
    arts = parse_page("共落地重点项目16个,涵盖集成电路、新\n\n能源等领域。\n")
    assert [a.text for a in arts] == ["共落地重点项目16个,涵盖集成电路、新能源等领域。"]


def test_an_editor_line_names_no_author():
    page = "# 标题\n\n本报讯 今天开会。\n\n记者 张伟\n\n责任编辑：王五\n"
    arts = parse_page(page)
    assert [(a.title, a.author, a.text) for a in arts] == [
        ("标题", "张伟", "本报讯 今天开会。\n记者 张伟")  # the credit is no article either
    ]
    arts = parse_page("# 标题\n\n本报讯 今天开会。\n\n责任编辑：王五\n")
    assert [(a.author, a.text) for a in arts] == [("", "本报讯 今天开会。\n责任编辑：王五")]


# ---------------------------------------------------------------- dates

NEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "news" / "xwlb_sample.jsonl"


def test_seed_page_has_no_year_so_its_articles_have_no_date(seed_articles):
    # 本报讯 5月30日 and no year on the page or in its name: nothing is guessed
    assert [a.date for a in seed_articles] == [""] * len(seed_articles)


def test_a_masthead_dates_the_page_and_is_no_article():
    page = (
        "中国高新技术产业导报 2023年6月5日 星期一\n\n"
        "# 咸阳高新区签约21个项目\n\n本报讯 5月30日,咸阳高新区举行签约活动。\n\n"
        "# 珠海高新区签约16个项目\n\n本报讯 近日,珠海高新区举行签约仪式。\n\n"
        "# 新项目开工\n\n新华社北京2019年5月27日电 项目开工。\n"
    )
    arts = parse_page(page, "page.txt")
    assert [(a.title, a.date) for a in arts] == [
        ("咸阳高新区签约21个项目", "2023-05-30"),  # its dateline, the page's year
        ("珠海高新区签约16个项目", "2023-06-05"),  # no dateline: the page's date
        ("新项目开工", "2023-06-05"),  # a dateline years before the issue: the page's
    ]
    assert arts[0].start == page.index("# 咸阳")


def test_a_file_name_dates_the_page_and_datelines_take_its_year(tmp_path):
    page = "# 标题一\n\n本报讯 12月30日,会议召开。\n\n# 标题二\n\n新华社北京1月1日电 新年。\n"
    (tmp_path / "2024-01-02_page3.txt").write_text(page, encoding="utf-8")
    (tmp_path / "20240102.md").write_text(page, encoding="utf-8")
    (tmp_path / "undated.txt").write_text(page, encoding="utf-8")
    corpus = load([tmp_path])
    assert corpus.problems == []
    assert [(a.id, a.date) for a in corpus.articles] == [
        ("2024-01-02_page3.txt#0", "2023-12-30"),  # after 1月2日: last year's
        ("2024-01-02_page3.txt#1", "2024-01-01"),
        ("20240102.md#0", "2023-12-30"),
        ("20240102.md#1", "2024-01-01"),
        ("undated.txt#0", ""),  # no year known: no date
        ("undated.txt#1", ""),
    ]


def test_a_masthead_outranks_the_file_name():
    arts = parse_page("2023年6月2日 星期五\n\n# 标题\n\n正文。\n", path="2020-01-01.txt")
    assert [(a.title, a.date) for a in arts] == [("标题", "2023-06-02")]


def test_jsonl_dates_are_normalised():
    forms = ["2023-05-27", "2023/5/27", "2023年5月27日", "20230527", 20230527, "2023-05", "2023"]
    text = "\n".join(
        json.dumps({"id": i, "text": "正文。", "date": d}) for i, d in enumerate(forms)
    )
    arts, problems = parse_jsonl(text, path="d.jsonl")
    assert problems == []
    assert [a.date for a in arts] == ["2023-05-27"] * 5 + ["2023-05", "2023"]
    # no date field: a dateline with its own year dates the record; one without does not
    arts, _ = parse_jsonl(
        json.dumps({"id": "w", "text": "新华社北京2023年5月27日电 国务院…"})
        + "\n"
        + json.dumps({"id": "v", "text": "新华社北京5月27日电 国务院…"})
    )
    assert [a.date for a in arts] == ["2023-05-27", ""]


def test_unreadable_jsonl_dates_are_missing_and_reported_once_per_file(tmp_path):
    lines = [
        {"id": "a", "text": "一。", "date": "last Tuesday"},
        {"id": "b", "text": "二。", "date": "2023-05-27"},
        {"id": "c", "text": "三。", "date": "2023-13-45"},
        {"id": "d", "text": "四。", "date": ["2023"]},
    ]
    (tmp_path / "bad.jsonl").write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in lines), encoding="utf-8"
    )
    (tmp_path / "one.jsonl").write_text(
        json.dumps({"id": "e", "text": "五。", "date": "2023-13-45"}), encoding="utf-8"
    )
    corpus = load([tmp_path])
    assert [(a.id, a.date) for a in corpus.articles] == [
        ("a", ""),
        ("b", "2023-05-27"),
        ("c", ""),
        ("d", ""),
        ("e", ""),
    ]  # every article is kept
    assert [str(p).split("/")[-1] for p in corpus.problems] == [
        "bad.jsonl:1: date 'last Tuesday' is not a date (and 2 more lines); "
        "the articles are kept, undated",
        "one.jsonl:1: date '2023-13-45' is not a date; the article is kept, undated",
    ]
    assert all(p.warning for p in corpus.problems)


def test_the_real_news_sample_keeps_every_date_iso(tmp_path):
    if not NEWS.exists():
        pytest.skip(f"{NEWS} is absent (the shared news sample)")
    records = [json.loads(line) for line in NEWS.read_text(encoding="utf-8").splitlines()]
    # its records carry no id: number them, as a user would before building
    copy = tmp_path / "xwlb.jsonl"
    copy.write_text(
        "\n".join(json.dumps({"id": i, **r}, ensure_ascii=False) for i, r in enumerate(records)),
        encoding="utf-8",
    )
    corpus = load([copy])
    assert corpus.problems == []
    assert len(corpus.articles) == len(records) == 2000
    assert [a.date for a in corpus.articles] == [r["date"] for r in records]
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}", a.date) for a in corpus.articles)
