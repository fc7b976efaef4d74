"""The rule answerer (the reader's gate) on hand-made articles (fake encoder): which
sentences it quotes, and when it refuses."""

from __future__ import annotations

import pytest

from rag.question import analyze
from rag.sentences import FEATURES
from rag.types import Article

ARTICLES = [
    Article(
        "golf",
        "标准杆",
        "标准杆是一个高尔夫球运动术语。球场通常有18个洞。标准杆数是指在单一球洞预先估计的完成杆数。"
        "总杆数等于标准杆数，称为平标准杆。",
    ),
    Article(
        "grid",
        "滨江园区新建变电站",
        "2019年夏天，滨江园区的电力供应十分紧张，多家企业被迫错峰生产。"
        "园区因此新建了一座220千伏变电站。园区还建成了一所国际学校。",
    ),
    Article(
        "park",
        "云溪科技园",
        "云溪科技园具有三个突出特点。一是交通便利，二是人才集聚，三是配套完善。"
        "科技园今年新增企业120家；其中高新技术企业45家。",
    ),
    Article(
        "singer",
        "歌手李梅",
        "李梅是一名女高音歌手，生于杭州。1995年参与北京话剧节的演出活动。"
        "2003年李梅参与了上海的巡回音乐会。李梅为作曲家林海之女。",
    ),
    Article(
        "port",
        "海港新区",
        "海港新区的生物医药产业去年产值达到86亿元。新区上半年出口额同比增长12%。",
    ),
    Article(
        "lake",
        "明湖公园",
        "明湖公园位于城市北部，是市民休闲的好去处。它的湖面开阔，四周种满了垂柳。",
    ),
]


@pytest.fixture(scope="module")
def pipe(tmp_path_factory):
    from rag.config import Settings
    from rag.index import build
    from rag.pipeline import Pipeline

    from .fake_encoder import HashEncoder

    path = tmp_path_factory.mktemp("answer-index")
    build(ARTICLES, path, HashEncoder(256))
    # the rule answerer alone: which sentence it quotes, and when it refuses
    return Pipeline.load(path, Settings.from_env(index_dir=str(path), reader="none"))


def _quoted(answer) -> list[str]:
    return [q.text for q in answer.quotes]


def _says(answer, text: str) -> bool:
    """Answered, with ``text`` in what it quotes (the rule answerer quotes sentences;
    the short answer is the reader's)."""
    return not answer.refused and text in answer.text


def test_definition_question_quotes_the_defining_sentence(pipe):
    a = pipe.ask("什么是标准杆数？")
    assert _quoted(a)[0] == "标准杆数是指在单一球洞预先估计的完成杆数。"


def test_why_question_quotes_the_cause_before_the_effect(pipe):
    a = pipe.ask("滨江园区为什么新建了一座220千伏变电站？")
    # quotes best first; the answer text in reading order
    assert _quoted(a) == [
        "园区因此新建了一座220千伏变电站。",
        "2019年夏天，滨江园区的电力供应十分紧张，多家企业被迫错峰生产。",
    ]
    assert a.text == (
        "2019年夏天，滨江园区的电力供应十分紧张，多家企业被迫错峰生产。"
        "园区因此新建了一座220千伏变电站。[1]"
    )


def test_a_sentence_announcing_a_list_is_continued(pipe):
    a = pipe.ask("云溪科技园有哪些突出特点？")
    assert _quoted(a) == [
        "云溪科技园具有三个突出特点。",
        "一是交通便利，二是人才集聚，三是配套完善。",
    ]


def test_a_clause_ending_in_a_semicolon_is_continued(pipe):
    a = pipe.ask("云溪科技园今年新增企业多少家？")
    assert _quoted(a) == ["科技园今年新增企业120家；", "其中高新技术企业45家。"]


def test_a_sentence_opening_with_a_pronoun_refers_to_the_title(pipe):
    ans = pipe.answerer
    q = analyze("明湖公园的湖面怎么样？")
    terms = ans.sentences.terms(q)
    hits = pipe.retriever("hybrid").retrieve(q.query, 5, keywords=q.keywords)
    cands, feats = ans.sentences.features(q, terms, ["lake"], hits)
    col = FEATURES.index("refers")
    assert [c[3] for c in cands] == [
        "明湖公园位于城市北部，是市民休闲的好去处。",
        "它的湖面开阔，四周种满了垂柳。",
    ]
    assert feats[0, col] == 0.0  # the lead sentence names the park itself
    assert feats[1, col] == 1.0  # 它 stands for 明湖公园: every question word is there


def test_the_sentence_with_the_year_the_question_names_wins(pipe):
    a = pipe.ask("2003年，李梅参与了什么活动？")
    assert _quoted(a) == ["2003年李梅参与了上海的巡回音乐会。"]


def test_date_features_mark_the_named_year_and_other_years(pipe):
    ans = pipe.answerer
    q = analyze("2003年，李梅参与了什么活动？")
    hits = pipe.retriever("hybrid").retrieve(q.query, 5, keywords=q.keywords)
    cands, feats = ans.sentences.features(q, ans.sentences.terms(q), ["singer"], hits)
    when, other = FEATURES.index("when"), FEATURES.index("not_when")
    got = {c[3]: (feats[i, when], feats[i, other]) for i, c in enumerate(cands)}
    assert got["2003年李梅参与了上海的巡回音乐会。"] == (1.0, 0.0)
    assert got["1995年参与北京话剧节的演出活动。"] == (0.0, 1.0)
    assert got["李梅为作曲家林海之女。"] == (0.0, 0.0)


def test_function_characters_jieba_glues_on_are_dropped_from_terms(pipe):
    ans = pipe.answerer
    context = "\n".join(ans.folded(a) for a in ("lake", "park"))
    # jieba cuts 以明湖|公园 and 垂柳|根有: 以 and 有 belong to the neighbours
    terms = dict(ans.sentences.terms(analyze("以明湖公园为起点的路线有哪些？"), context))
    assert "明湖" in terms and "以明湖" not in terms
    terms = dict(ans.sentences.terms(analyze("明湖公园垂柳的根有什么特点？"), context + "根"))
    assert "根" in terms and "根有" not in terms


def _sent(art, i: int, score: float):
    from rag.sentences import Sent
    from rag.text import sentence_spans

    a, b = sentence_spans(art.text)[i]
    return Sent(art.id, a, b, art.text[a:b], score, 0.0)


def test_a_neighbour_is_quoted_when_it_scores_within_the_margin(pipe):
    from rag.answer import PAIR_MARGIN

    ans, art = pipe.answerer, pipe.index.articles["grid"]
    best = _sent(art, 1, 10.0)
    assert best.text == "园区因此新建了一座220千伏变电站。"
    school = (art.text.index("园区还建成"), len(art.text))
    close = _sent(art, 2, 10.0 - PAIR_MARGIN)
    assert ans.neighbour(art, best, [best, close]) == school
    far = _sent(art, 2, 10.0 - PAIR_MARGIN - 0.1)
    assert ans.neighbour(art, best, [best, far]) is None
    # a close sentence that is not adjacent is not quoted
    first = _sent(art, 0, 10.0)
    assert ans.neighbour(art, _sent(art, 2, 10.0), [_sent(art, 2, 10.0), first]) is None


def test_a_quantity_the_article_never_names_is_refused(pipe):
    # the park article has figures (120家, 45家), none of them 用电量
    assert pipe.ask("云溪科技园的用电量是多少？").refused
    assert _says(pipe.ask("云溪科技园今年新增企业的数量是多少？"), "120家")


def test_a_figure_of_something_else_is_refused(pipe):
    # the article's 产值 is of 生物医药, its growth of 出口额
    assert pipe.ask("海港新区的人工智能产业去年产值是多少？").refused
    assert _says(pipe.ask("海港新区的生物医药产业去年产值是多少？"), "达到86亿元")
    assert pipe.ask("海港新区上半年进口额同比增长了多少？").refused
    assert _says(pipe.ask("海港新区上半年出口额同比增长了多少？"), "12%")


def test_a_follow_up_counting_something_the_new_article_never_names_is_refused(pipe):
    history = ["云溪科技园今年新增企业多少家？"]
    a = pipe.ask("那明湖公园呢？", history=history)
    assert a.query == "明湖公园今年新增企业多少家？"
    assert a.refused  # the park's article counts no 企业
    # the same question asked of the article that has it is answered
    assert _says(pipe.ask("那云溪科技园呢？", history=history), "120家")


def test_a_traditional_sentence_holds_the_asked_type():
    from rag.question import analyze
    from rag.sentences import type_match

    q = analyze("剛起步的科技公司最快多久就能搬進去？")
    assert type_match(q, "讓初創企業最快兩星期即可遷入。") == 0.7  # 兩星期: a duration
    assert type_match(q, "大樓於7月8日落成。") == 0.0  # a date is not one
