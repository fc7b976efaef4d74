from __future__ import annotations

import pytest

from rag.question import analyze, resolve_followup, split_on_wh, subject_of


@pytest.mark.parametrize(
    "q,qtype",
    [
        ("咸阳高新区签约了多少个项目？", "number"),
        ("合作协议是哪天签的？", "date"),
        ("成都高新体育中心的设备什么时候开放？", "date"),
        ("总经理是谁？", "person"),
        ("公司总部在哪里？", "place"),
        ("与哪所大学签署了协议？", "org"),
        ("涵盖哪些领域？", "list"),
        ("优化了哪五大服务内容？", "list"),
        ("生命数耗完即算为什么？", "what"),
        ("为什么2008年总决赛被誉为梦幻对决？", "why"),
        ("珠海高新区那篇报道的作者是谁？", "author"),
        ("How many projects were signed?", "number"),
        ("Who wrote the article?", "author"),
        ("林晓是谁的女儿？", "person"),
        ("林晓的父亲是谁？", "person"),
        ("林晓的同事是谁？", "person"),
        ("电影《雾港》的导演是谁？", "person"),
        ("企业的算力成本平均能省下多少？", "number"),
        ("紫唇石豆兰的花是什么样的？", "what"),
        ("他本科在哪所大学就读？", "org"),  # 在哪所: an organisation, not a place
        ("天门冬的根有什么特点？", "what"),
        ("出口额同比增长了多少？", "number"),
        ("锐航科技的创始人是谁？", "person"),
        ("云溪湖也叫什么？", "what"),
        ("金银花又被称之为什么？", "what"),
        ("云溪湖的名字是怎么来的？", "how"),
        ("他叫什么名字？", "person"),
        ("云溪湖因何得名？", "why"),
        ("明湖公园是怎么得名的？", "how"),
        ("这种鱼的外形是怎样的？", "how"),
        ("展会举办的时间是？", "date"),
    ],
)
def test_question_types(q, qtype):
    assert analyze(q).qtype == qtype


def test_split_on_the_question_word():
    assert split_on_wh("蓝线裸顶鲷的身体是什么颜色的") == ("蓝线裸顶鲷的身体是", "什么", "颜色")
    q = analyze("中关村发展集团与哪所大学签署了战略合作协议？")
    assert (q.before, q.wh, q.after) == ("中关村发展集团与", "哪所", "大学签署了战略合作协议")
    assert analyze("火炬开发区优化了哪五大服务内容？").after == "五大服务内容"


def test_traditional_questions_are_folded_for_matching():
    q = analyze("咸陽高新區簽約項目涵蓋哪些領域？")
    assert q.query == "咸陽高新區簽約項目涵蓋哪些領域？"  # searched as asked, folded when matched
    assert (q.before, q.after) == ("咸阳高新区签约项目涵盖", "领域")


@pytest.mark.parametrize(
    "question,history,expected",
    [
        (
            "那咸阳高新区呢？",
            ["珠海高新区签约的重点项目涵盖哪些领域？"],
            "咸阳高新区签约的重点项目涵盖哪些领域？",
        ),
        (
            "它的总投资额是多少？",
            ["咸阳高新区二季度签约了多少个项目？"],
            "咸阳高新区的总投资额是多少？",
        ),
        (
            "那中关村的合作协议是哪天签的？",
            ["咸阳高新区的集中签约活动是哪天举行的？"],
            "中关村的合作协议是哪天签的？",
        ),
        # a chain of follow-ups keeps its subject
        (
            "那珠海高新区呢？",
            ["咸阳高新区二季度签约了多少个项目？", "它的总投资额是多少？"],
            "珠海高新区的总投资额是多少？",
        ),
        # history as chat messages; assistant turns are ignored
        (
            "那咸阳高新区呢？",
            [
                {"role": "user", "content": "珠海高新区落地了多少个项目？"},
                {"role": "assistant", "content": "16个[1]"},
            ],
            "咸阳高新区落地了多少个项目？",
        ),
        # a whole question is left alone
        (
            "西部科学城将新增多少个岗位？",
            ["珠海高新区落地了多少个项目？"],
            "西部科学城将新增多少个岗位？",
        ),
        # a thing about the same subject, not a new subject
        (
            "那它的产值呢？",
            ["广州开发区目前拥有多少家生物制造相关企业？"],
            "广州开发区的产值是多少？",
        ),
        (
            "那面积呢？",
            ["青岛高新区海洋科技成果转化中心是哪天揭牌的？"],
            "青岛高新区海洋科技成果转化中心的面积是多少？",
        ),
        ("那它的主题呢？", ["生物制造大会是哪天开幕的？"], "生物制造大会的主题是什么？"),
        # a new subject
        ("那长沙呢？", ["青岛高新区的中心是哪天揭牌的？"], "长沙的中心是哪天揭牌的？"),
        # demonstratives
        ("谁拍的这张照片？", ["无锡高新区的传感器出口到多少个国家？"], "谁拍的无锡高新区照片？"),
        (
            "这篇报道的作者是谁？",
            ["郑州超算中心服务了多少家用户？"],
            "郑州超算中心报道的作者是谁？",
        ),
        # a new subject with a thing of its own replaces the old subject's thing too
        (
            "那昆明的生物医药产业园二期呢？",
            ["苏州工业园区的纳米产业数据是哪天发布的？"],
            "昆明的生物医药产业园二期是哪天发布的？",
        ),
        # 其中: among what the earlier question counted
        (
            "其中做芯片设计的有多少家？",
            ["南京江北新区现在有多少家集成电路企业？"],
            "南京江北新区集成电路企业中做芯片设计的有多少家？",
        ),
        # a question that goes on (还有, 另外, 那) and names nothing keeps the subject
        (
            "还有多少家签了意向协议？",
            ["昆明高新区生物医药产业园二期首批入驻了多少家企业？"],
            "昆明高新区生物医药产业园还有多少家签了意向协议？",
        ),
        ("那有多少家企业？", ["珠海高新区是哪天签约的？"], "珠海高新区有多少家企业？"),
        ("那么，有多少家企业？", ["珠海高新区是哪天签约的？"], "珠海高新区有多少家企业？"),
        # Traditional follow-ups: read folded, kept as written
        ("它的面積是多少？", ["青島高新區的中心是哪天揭牌的？"], "青島高新區的面積是多少？"),
        (
            "還有多少家簽了意向協議？",
            ["昆明高新區生物醫藥產業園首批入駐了多少家企業？"],
            "昆明高新區生物醫藥產業園還有多少家簽了意向協議？",
        ),
        # the asked measure stays with the new subject's thing
        (
            "那港深創新及科技園的首座大樓呢？",
            ["香港科學園第三期擴建大樓的投資額是多少？"],
            "港深創新及科技園的首座大樓的投資額是多少？",
        ),
        # English
        (
            "What about Xianyang?",
            ["How many projects did Zhuhai High-tech Zone sign?"],
            "How many projects did Xianyang sign?",
        ),
    ],
)
def test_followups(question, history, expected):
    assert resolve_followup(question, history) == expected


def test_subject_of():
    assert subject_of("珠海高新区签约的重点项目涵盖哪些领域？") == "珠海高新区"
    assert subject_of("中关村发展集团与北航签约") == "中关村发展集团"


@pytest.mark.parametrize(
    "question, history, names",
    [
        ("合肥高新区今年的GDP增长了多少？", None, ("合肥",)),  # the word before 高新区
        ("苹果公司2023年第二季度的营收是多少？", None, ("苹果",)),  # one word holding both
        ("苏州工业园区对创新药项目最高给予多少资金支持？", None, ("苏州工业园区",)),
        ("特斯拉2023年在中国卖了多少辆车？", None, ("特斯拉", "中国")),
        ("中关村发展集团与哪所大学签署了战略合作协议？", None, ("中关村", "中关村发展")),
        ("西部(重庆)科学城将投入多少资金促进青年就业？", None, ("重庆",)),
        ("光谷企业今年上半年的研发经费增长了多少？", None, ()),  # no name: nothing required
        ("元皇后是哪位帝王的皇后？", None, ()),  # jieba's nr guesses are not names
        ("非洲的猴面包树果实的长度约是多少厘米？", None, ("非洲",)),  # 长度 is tagged ns
        (
            "那南京江北新区呢？",
            ["西安高新区孵化器首批入驻了多少家企业？"],
            ("南京", "江北", "南京江北"),
        ),
        ("What was Huawei's revenue?", None, ()),  # English: the pipeline's bridge decides
    ],
)
def test_proper_names(question, history, names):
    assert analyze(question, history).names == names


def test_descriptions_of_a_company_are_not_its_name():
    from rag.question import analyze

    assert analyze("内湖那家做ERP软件的初创公司现在有多少客户？").names == ("内湖",)
    assert analyze("联盟成立的新闻是誰報導的？").qtype == "author"
