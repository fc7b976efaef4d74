"""The typed-span feature of the rule gate's choice of sentence, on hand-made sentences:
the figures and dates a number or date question asks for."""

from __future__ import annotations

import pytest

from rag.extract import typed_spans
from rag.question import analyze
from rag.sentences import type_match


@pytest.mark.parametrize(
    "sentence,question,expected",
    [
        # a count in the unit asked; the month of 5月 and the money are not it
        (
            "近日,珠海高新区举行5月重点项目入驻签约仪式,共落地重点项目16个,项目计划总投资额超22亿元。",
            "珠海高新区5月落地了多少个重点项目？",
            ["16个"],
        ),
        # an amount asked (总投资): money, not the count
        (
            "此次集中签约项目共有21个,总投资42.93亿元,涵盖电子信息等多个领域。",
            "咸阳高新区签约项目的总投资是多少？",
            ["42.93亿元"],
        ),
        # a date is not a quantity; a measure the question implies (体重 → 公斤)
        ("5月30日,咸阳高新区集中签约项目21个。", "咸阳高新区签约了几个项目？", ["21个"]),
        (
            "成年的尤金袋鼠有三个亚种,体型很小,约只有8公斤重。",
            "尤金袋鼠的体重大约是多少？",
            ["8公斤"],
        ),
        # a Traditional question on Simplified text
        ("此次集中签约项目共有21个。", "咸陽高新區簽約了多少個項目？", ["21个"]),
        # the figure now, not the one it changed from
        ("企业数量由过去的6家增至28家。", "企业增至多少家？", ["28家"]),
        ("5月27日,中关村发展集团与北京航空航天大学签署协议。", "协议是哪天签署的？", ["5月27日"]),
        # a range of months, and a time said by an event when there is no date
        ("展览2月至4月开放。", "展览什么时候开放？", ["2月至4月"]),
        ("大运会结束后,场馆向市民开放。", "场馆什么时候向市民开放？", ["大运会结束后"]),
        # a name is not a figure or a date: the reader finds names
        ("该片由陈立川执导,梁朔主演。", "电影的导演是谁？", []),
        # what the question already says is not its answer
        ("项目于2023年签约。", "项目于2023年签约了吗？", []),
    ],
)
def test_typed_spans(sentence, question, expected):
    assert [sentence[a:b] for a, b in typed_spans(sentence, analyze(question))] == expected


def test_type_match_scores_the_best_figure_of_the_kind_asked():
    q = analyze("珠海高新区落地了多少个重点项目？")
    assert type_match(q, "共落地重点项目16个,总投资超22亿元。") == 1.0
    assert type_match(q, "项目总投资超22亿元。") == 0.0  # a count asked, only money given
    assert type_match(analyze("项目总投资是多少？"), "项目总投资超22亿元。") == 1.0
    assert (
        type_match(analyze("谁执导了这部电影？"), "该片由陈立川执导。") == 0.0
    )  # not a number or date
