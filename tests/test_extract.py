"""Sentence features for the rule answerer's choice of sentence, on hand-made sentences:
the spans of the kind a question asks for, focus, definitions and anchors."""

from __future__ import annotations

import pytest

from rag.answer import type_match
from rag.extract import anchor_strength, defines, focus_match, typed_spans
from rag.question import analyze


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
        ("该片由陈立川执导,梁朔主演。", "电影的导演是谁？", ["陈立川", "梁朔"]),
        ("他的第一部诗集《在路上》于1998年出版。", "他的第一部诗集叫什么？", ["《在路上》"]),
        # a common word jieba's dictionary tags as a place is no place's name
        ("他出生于一座沿海城市。", "他在哪里出生？", []),
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


def test_focus_and_anchor_features():
    q = analyze("蓝线裸顶鲷的身体是什么颜色的？")
    assert (focus_match("本鱼体呈银灰色。", q), focus_match("属肉食性。", q)) == (1.0, 0.0)
    assert focus_match("任何句子", analyze("他为什么离开？")) == 0.5
    # a role is said by its verb (执导), a former name by 最初名为
    q = analyze("电影《雾港》的导演是谁？")
    assert (focus_match("该片由陈立川执导。", q), focus_match("梁朔凭借片中的表演获提名。", q)) == (
        1.0,
        0.0,
    )
    q = analyze("企业花在算力上的钱平均能省下多少？")
    assert focus_match("企业的算力成本平均可下降约40%。", q) == 1.0
    assert focus_match("向213家中小企业发放算力券。", q) == 0.0
    q = analyze("天门冬的根有什么特点？")  # a sentence that opens with the part described
    assert (focus_match("根稍肉质，分枝具棱。", q), focus_match("天门冬又称大当门根。", q)) == (
        1.0,
        0.5,
    )
    q = analyze("车站最初叫什么名字？")
    assert (focus_match("车站最初名为“上川站”。", q), focus_match("车站位于上川町。", q)) == (
        1.0,
        0.0,
    )
    assert anchor_strength("生命数耗完即算为踢爆。", analyze("生命数耗完即算为什么？")) == 1.0
    assert anchor_strength("毫不相干。", analyze("生命数耗完即算为什么？")) == 0.0


@pytest.mark.parametrize(
    "question,sentence,expected",
    [
        ("什么是内台航路？", "内台航路，或称内台航线，是台湾日治时期的海运航线。", 1.0),
        ("什么是内台航路？", "内台联络船即航行于内台航路的船舶。", 0.0),  # shares only 内台
        ("什么是“乡里制”？", "乡里制，是中国古代农村社会基层组织体系。", 1.0),
        ("什么是“乡里制”？", "乡里制作为基层组织体系，其职能有四个方面。", 0.0),
        ("什么是三鹰球？", "所谓三鹰就是单一洞低于标准杆4杆。", 1.0),
        ("乙酰胺是什么？", "乙酰胺（）是由乙酸衍生出的酰胺。", 1.0),
        ("乙酰胺是什么？", "乙酰胺的衍生物是常用溶剂。", 0.0),
        ("乙酰胺的用途是什么？", "乙酰胺是由乙酸衍生出的酰胺。", 0.0),  # not a definition question
    ],
)
def test_defines(question, sentence, expected):
    assert defines(sentence, analyze(question)) == expected


def test_focus_before_shi_shenme():
    q = analyze("盾柱木的别名是什么？")
    assert q.focus == "别名"
    assert focus_match("别称双翼豆、闭䇲木。", q) == 1.0
    assert focus_match("盾柱木是豆科的植物。", q) == 0.0
