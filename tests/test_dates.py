"""rag.dates: every form in its table, mastheads, file names, datelines, and how an
article's date is chosen. Exact values; nothing is ever guessed."""

from __future__ import annotations

import pytest

from rag import dates


@pytest.mark.parametrize(("pattern", "example", "iso"), dates.FORMS, ids=lambda x: str(x))
def test_every_form_in_the_table_reads_its_example(pattern, example, iso):
    assert dates.normalize(example) == iso


@pytest.mark.parametrize(
    ("value", "iso"),
    [
        ("2023-05-27", "2023-05-27"),
        ("2023/5/27", "2023-05-27"),
        ("2023年5月27日", "2023-05-27"),
        ("2023 年 5 月 27 日", "2023-05-27"),
        ("2023年5月27号", "2023-05-27"),
        ("20230527", "2023-05-27"),
        ("2023-05", "2023-05"),
        ("2023/5", "2023-05"),
        ("2023年5月", "2023-05"),
        ("2023", "2023"),
        ("2023年", "2023"),
        ("２０２３－０５－２７", "2023-05-27"),  # full-width
        ("2023-05-27T08:30:00+08:00", "2023-05-27"),
        ("2023-05-27 08:30", "2023-05-27"),
        ("2023年6月2日 星期五", "2023-06-02"),
        ("二〇二三年五月二十七日", "2023-05-27"),
        ("2024-02-29", "2024-02-29"),
        ("  ", ""),
    ],
)
def test_normalize(value, iso):
    assert dates.normalize(value) == iso


@pytest.mark.parametrize(
    "value",
    [
        "last Tuesday",
        "2023-13-45",
        "2023-02-29",  # not a leap year
        "2023-00",
        "5月30日",  # no year: never guessed
        "昨天",
        "0001-01-01",
        "99999999",
        "2023-05-27-01",
        "2023年13月",
    ],
)
def test_what_is_not_a_date_is_none(value):
    assert dates.normalize(value) is None


def test_masthead():
    page = "中国高新技术产业导报 2023-06-05\n\n# 标题\n\n正文。\n"
    assert dates.masthead(page) == ("2023-06-05", 0, len("中国高新技术产业导报 2023-06-05"))
    assert dates.masthead("\n  2023年6月2日 星期五\n# 标题\n")[0] == "2023-06-02"
    assert dates.masthead("人民日报 2023年6月2日（星期五）第3版\n")[0] == "2023-06-02"
    assert dates.masthead("出版日期：2023年6月2日\n")[0] == "2023-06-02"
    # a date inside a sentence or a headline, too far down, or impossible: no masthead
    assert dates.masthead("2023年5月30日，咸阳高新区签约。\n") is None
    assert dates.masthead("# 2023年5月30日咸阳签约\n") is None
    assert dates.masthead("1\n2\n3\n4\n5\n2023年6月2日\n") is None
    assert dates.masthead("2023年2月30日 星期五\n") is None


def test_filename_date():
    assert dates.filename_date("2023-05-30_page3.txt") == "2023-05-30"
    assert dates.filename_date("/data/20230530.md") == "2023-05-30"
    assert dates.filename_date("page3_2023.05.30.txt") == "2023-05-30"
    assert dates.filename_date("2023年5月30日第3版.txt") == "2023-05-30"
    assert dates.filename_date("2023-05-30/page3.txt") == "2023-05-30"
    assert dates.filename_date("issue_2023-05.txt") == "2023-05"
    # a hash, a bare number (a page?) or an impossible day is no date
    assert dates.filename_date("000_d81e7fddda0856ce.txt") is None
    assert dates.filename_date("x20230530y.txt") is None
    assert dates.filename_date("2023.txt") is None
    assert dates.filename_date("20231345.txt") is None


@pytest.mark.parametrize(
    ("text", "found"),
    [
        ("新华社北京5月27日电（记者 王五）国务院常务会议…", (None, 5, 27)),
        ("中新社香港 5月27日電 香港特区政府…", (None, 5, 27)),
        ("本报北京2023年5月27日电 今天…", (2023, 5, 27)),
        ("本报讯 5月30日,咸阳高新区举行签约活动。", (None, 5, 30)),
        ("本报讯（记者 张伟）5月30日上午，会议召开。", (None, 5, 30)),
        ("（记者 张伟）5月30日，会议召开。", (None, 5, 30)),
        ("5月30日,咸阳高新区举行2023年二季度签约活动。", (None, 5, 30)),
        ("记者 张伟\n本报讯 6月1日，会议召开。", (None, 6, 1)),
        ("近日,珠海高新区举行5月重点项目签约仪式。", None),
        ("5月30日前完成全部工作。", None),
        ("会议指出，5月30日,全区签约。", None),
        (
            "近日,珠海高新区举行签约仪式,共落地重点项目16个,涵盖集成电路等领域。\n5月31日,又签约。",
            None,
        ),
    ],
)
def test_dateline(text, found):
    assert dates.dateline(text) == found


@pytest.mark.parametrize(
    ("line", "page", "iso"),
    [
        ((None, 5, 30), "2023-06-02", "2023-05-30"),  # the page's year
        ((None, 5, 30), "2023-05", "2023-05-30"),
        ((None, 5, 30), "2023", "2023-05-30"),
        ((None, 12, 30), "2024-01-02", "2023-12-30"),  # across new year
        ((None, 6, 3), "2023-06-02", "2022-06-03"),  # after the page: last year's
        ((2023, 5, 27), "2023-06-02", "2023-05-27"),
        ((2023, 5, 27), "", "2023-05-27"),
        ((2019, 5, 30), "2023-06-02", "2023-06-02"),  # inconsistent: the page's
        ((2023, 6, 9), "2023-06-02", "2023-06-02"),
        ((None, 2, 30), "2023-06-02", "2023-06-02"),  # no such day
        ((None, 5, 30), "", ""),  # no year anywhere: no date
        (None, "2023-06-02", "2023-06-02"),
        (None, "", ""),
    ],
)
def test_article_date(line, page, iso):
    assert dates.article_date(line, page) == iso
