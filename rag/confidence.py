"""Confidence: how sure the rule gate is that its best sentence answers the question.

``confidence`` is a logistic model over how much of the question the article and the
sentence cover, the weightiest and the rarest question words the article lacks, the
retrieval's dense score and whether a number or date question's figure is there
(fitted on CMRC 2018 trial, answers against the same questions with the gold paragraph
removed, plus the seed question sets). ``doubtful`` names the quantity questions the
corpus cannot answer whatever the score: the sentence counts nothing for 多少个, a
follow-up's count is of something else, or the article never says what is measured.

Does not: choose the sentence (``sentences``) or refuse (``answer`` compares the
confidence with its ``min_confidence``).
"""

from __future__ import annotations

import functools
import math
import re

import numpy as np

from .extract import COUNT_UNIT, NUMBER, UNIT_KINDS, asked_unit, typed_spans
from .question import Question
from .sentences import match, type_match
from .text import STOPWORDS, fold, words
from .types import Hit

# Confidence: a logistic model over these features (fitted on CMRC 2018 trial, answers
# vs the same questions with the gold paragraph removed, plus the seed question sets).
CONF_FEATURES = (
    "cov_article",
    "cov_sent",
    "dense",
    "missing_max",
    "missing_rare",
    "typed",
    "english",
    "no_terms",
)


CONF_WEIGHTS = np.array([1.94, 2.33, 2.11, -0.46, -1.43, 0.18, 0.39, 0.0])


CONF_BIAS = -3.82


def confidence(q: Question, terms, whole: str, title: str, sentence: str, hit: Hit | None) -> float:
    """Probability-like confidence that ``sentence`` of the article whose folded text is
    ``whole`` answers ``q``: the logistic model over ``features``."""
    f = features(q, terms, whole, title, sentence, hit)
    return float(1.0 / (1.0 + np.exp(-(f @ CONF_WEIGHTS + CONF_BIAS))))


def features(q: Question, terms, whole: str, title: str, sentence: str, hit: Hit | None):
    """The row ``confidence`` weighs (columns as in ``CONF_FEATURES``)."""
    total = sum(w for _, w in terms) or 1.0
    hay_sent = fold(title + "\n" + sentence)
    found = [(t, w, match(t, whole)) for t, w in terms]
    cov_article = sum(w * m for _, w, m in found) / total
    cov_sent = sum(w * match(t, hay_sent) for t, w in terms) / total
    # the weightiest question word the article lacks: a missing subject (深圳, 苹果公司)
    # says more than a missing verb
    missing_max = max((w * (1 - m) / total for _, w, m in found), default=0.0)
    missing_rare = (
        sum(w * (1 - m) for t, w, m in found if _rarity(t) >= 12.0 and not t.startswith(" "))
        / total
    )
    dense = hit.dense if hit is not None and hit.dense is not None else 0.78
    if q.english:
        dense += 0.1  # English↔Chinese cosines sit about 0.1 lower than same-language ones
    dn = min(max((dense - 0.78) / 0.12, 0.0), 1.0)
    if q.qtype in ("number", "date"):
        typed = 1.0 if type_match(q, sentence) >= 0.7 else 0.0
    else:
        typed = 0.5
    return np.array(
        [
            cov_article,
            cov_sent,
            dn,
            missing_max,
            missing_rare,
            typed,
            1.0 if q.english else 0.0,
            1.0 if not terms else 0.0,
        ]
    )


def doubtful(q: Question, sentence: str, whole: str) -> bool:
    """Whether the quantity question ``q`` cannot be answered by ``sentence`` of the
    article whose folded text is ``whole``, however well they match.

    >>> from rag.question import analyze
    >>> doubtful(analyze("园区新引进了多少个项目？"), "对企业最高给予2000万元补助。", "")
    True
    """
    if _uncounted(q, sentence):
        # 多少家/几个 and the best sentence has no count at all (only money, a share
        # or a measure): the corpus does not say how many
        return True
    if q.query != q.text.strip() and _count_of_something_else(q, sentence):
        # 那广州开发区呢？ after 长沙…引进了多少个项目: the new subject's article counts
        # 企业, not 项目. A follow-up's words were written for another article, so
        # its count must be of the same thing
        return True
    measured = _measured_word(q)
    if measured and not any(len(m) >= 2 and m in whole for m in _stems(measured)):
        # 数据中心用电量是多少 and the article never says 用电量 (nor 电量): whatever
        # figure it has measures something else
        return True
    if q.measure and not any(m in whole for m in q.measure):
        # What is the population of Qingdao? and Qingdao's article has no 人口
        return True
    whose = _measured_of(q)
    # 人工智能产业去年产值是多少 and the article's 产值 is of 纳米新材料
    return bool(whose) and not all(w in whole for w in whose)


@functools.lru_cache(maxsize=65536)
def _rarity(word: str) -> float:
    """How rare a word is in general Chinese (jieba's dictionary counts): ln(total/freq).
    常见词 like 增加 score about 8, names like 深圳 about 10, 独角兽 16; unknown words 18."""
    from .text import _jieba

    dt = _jieba().dt
    return math.log(dt.total / (dt.FREQ.get(word, 0) + 1))


_MEASURE_NOUN = re.compile(r"[\u4e00-\u9fff]{1,4}[量额值率积价费]$")


def _quantity_words(q: Question, tail: str) -> str | None:
    """A Chinese 多少/几 question's words before its question word, ``tail`` (是, 约…)
    cut off; None for any other question."""
    if q.qtype != "number" or q.english or not q.wh.startswith(("多少", "几")):
        return None
    return re.sub(tail, "", q.before)


def _measured_word(q: Question) -> str:
    """The quantity a 多少 question measures, when it names one right before its
    question word: ``数据中心用电量是多少`` -> ``用电量``; else "".

    >>> from rag.question import analyze
    >>> _measured_word(analyze("贵阳高新区的数据中心用电量是多少？"))
    '用电量'
    >>> _measured_word(analyze("园区有多少家企业？")), _measured_word(analyze("企业的数量是多少？"))
    ('', '')
    """
    before = _quantity_words(q, r"(?:是|为|有|约|大约|达到?|共)+$")
    if before is None:
        return ""
    # 进口额同比增长了多少: what grew is what is measured
    before = re.sub(r"(?:同比|环比)?(?:增长|下降|增加|减少|提高|上升|降低)了?$", "", before)
    ws = words(before)
    w = ws[-1] if ws else ""
    # only a specific quantity (用电量, 藏书量): 数量, 面积, 产值 are said in many ways
    return w if len(w.lstrip("总")) >= 3 and _MEASURE_NOUN.fullmatch(w) else ""


def _measured_of(q: Question) -> list[str]:
    """What a quantity question's figure is of: the words right before its measure
    (产值, 营收, 面积…), back to a 的, a name or the start, time words skipped; else [].

    >>> from rag.question import analyze
    >>> _measured_of(analyze("苏州工业园区的人工智能产业去年产值是多少？"))
    ['人工智能', '产业']
    >>> _measured_of(analyze("园区的产值是多少？")), _measured_of(analyze("园区有多少家企业？"))
    ([], [])
    """
    before = _quantity_words(q, r"(?:是|为|约|大约|达到?|共)+$")
    if before is None:
        return []
    import jieba.posseg as pseg

    tagged = [(w.word, w.flag) for w in pseg.cut(before)]
    if not tagged or not _QUANTITY_WORD.search(tagged[-1][0]):
        return []
    out: list[str] = []
    for w, flag in reversed(tagged[:-1]):
        if _TIME_WORD.fullmatch(w) or flag == "t":
            continue
        if not flag.startswith("n") or w in q.names or _ENTITY_END.search(w):
            break  # 的, a verb, the subject's name: what is measured has ended
        if len(w) >= 2 and not any(w in n for n in q.names):
            out.insert(0, w)
    return out


_QUANTITY_WORD = re.compile(
    r"(?:产值|规模|营收|收入|投资额|金额|销量|产量|营业额|销售额|交易额|利润|税收|出口额|进口额)$"
)


_TIME_WORD = re.compile(r"(?:今|去|明|前|上半|下半|全|当|每)年|目前|现在|当前|此前|近年|\d+年")


_ENTITY_END = re.compile(r"(?:高新区|开发区|新区|园区|公司|集团|市|省|县|区)$")


def _stems(word: str) -> list[str]:
    """A measured word and the forms an article may use instead: 人口数量 -> 人口,
    藏书量 -> 藏书, 总面积 -> 面积.

    >>> _stems("人口数量"), _stems("总面积")
    (['人口数量', '人口'], ['总面积', '面积'])
    """
    out = [word]
    for rx in (r"(?:数量|总量|量|额|值)$", r"^总"):
        for w in list(out):
            stem = re.sub(rx, "", w)
            if stem != w and stem not in out:
                out.append(stem)
    return out


def _counts_things(q: Question) -> bool:
    """A number question asking how many things (多少个, 几家), not how much."""
    return q.qtype == "number" and bool(COUNT_UNIT.fullmatch(asked_unit(q) or "-"))


def _count_of_something_else(q: Question, sentence: str) -> bool:
    """A question counting things (多少个项目, 企业有多少家) and a sentence that never
    names what is counted.

    >>> from rag.question import analyze
    >>> q = analyze("广州开发区今年新引进了多少个项目？")
    >>> _count_of_something_else(q, "广州开发区目前拥有生物制造相关企业160余家。")
    True
    >>> _count_of_something_else(q, "今年新引进项目32个。")
    False
    """
    if not _counts_things(q):
        return False
    if q.after:  # 多少个重点项目: any of 重点, 项目 will do
        ws = [w for w in words(q.after) if len(w) > 1 and w not in STOPWORDS]
    elif re.search(r"(?:有|共有|一共有?|共计)$", q.before):  # 企业有多少家
        ws = [w for w in words(re.sub(r"(?:有|共|共有|一共|共计)+$", "", q.before)) if len(w) > 1]
        ws = ws[-1:]
    else:  # 签了多少个: nothing named
        return False
    folded = fold(sentence)
    return bool(ws) and all(match(w, folded) == 0.0 for w in ws)


def _uncounted(q: Question, sentence: str) -> bool:
    """A question counting things (多少个, 几家) and a sentence with no count to give.

    >>> from rag.question import analyze
    >>> q = analyze("广州开发区今年新引进了多少个项目？")
    >>> _uncounted(q, "对企业最高给予2000万元补助。"), _uncounted(q, "新引进项目32个。")
    (True, False)
    >>> q = analyze("数据中心的供电容量是多少百万瓦？")  # a measure: any unit of its kind
    >>> _uncounted(q, "数据中心投资92亿元。"), _uncounted(q, "供电容量为120兆瓦。")
    (True, False)
    """
    if _counts_things(q):
        return not typed_spans(sentence, q)
    kind = _unit_kind(asked_unit(q)) if q.qtype == "number" else None
    if kind is None:
        return False
    # 多少百万瓦 and the sentence's figures are money: no figure in that kind of unit
    units = [
        u
        for m in NUMBER.finditer(fold(sentence))
        for u in re.findall(r"[^\d\s,.至到~～\-－—]+", m.group())
    ]
    return not any(kind.match(u) for u in units)


def _unit_kind(unit: str) -> re.Pattern | None:
    return next((k for k in UNIT_KINDS if unit and k.match(unit)), None)
