"""Extract: the spans of the kind a number or date question asks for, as a sentence feature.

The rule gate (``answer``) scores its sentences with these: ``typed_spans`` finds the
figures (with their units: 16个, 22亿元, 100米至2,800米) and dates (2023年5月, 2月至4月,
大运会结束后) of a sentence other than what the question already says; ``asked_unit``
reads the unit a 多少个/几家 question asks in. Spans are ``(start, end)`` into the
sentence given.

Does not: cut the short answer (the reader does, ``rag/reader``), pick the sentence
(``answer``) or find names (the reader learned that; the rules that did are deleted).
"""

from __future__ import annotations

import re

from .question import Question
from .text import fold, fold_aligned

_NUM = r"(?:\d{1,3}(?:,\d{3})+(?!\d)|\d+(?:\.\d+)?|[零〇一二两三四五六七八九十百千万亿]+(?:点[零〇一二三四五六七八九]+)?)"
_CURRENCY = (
    r"亿元|万元|千元|元|美元|欧元|日元|日圆|港元|港币|澳元|加元|英镑|法郎|马克|卢布|比索|披索|韩元|"
    r"新台币|台币|越南盾|里拉|美金|人民币"
)
_UNIT = (
    rf"(?:{_CURRENCY}|平方公里|平方千米|平方米|立方米|公里|千米|厘米|毫米|公分|公尺|英尺|英寸|英里|米|"
    r"公顷|亩|吨|公斤|千克|克|斤|磅|个月|小时|分钟|秒钟|秒|周年|星期|礼拜|年|天|日|月|周|岁|倍|%|％|‰|度|"
    r"百万瓦|兆瓦|千瓦|瓦|"
    r"个|家|项|名|人|位|次|场|所|台|件|种|条|篇|部|架|辆|艘|届|座|层|户|套|株|只|头|匹|本|册|页|张|"
    r"处|支|批|期|轮|分|票|枚|块|门|集|站|款|类|间|栋|幢|级|发|首|章|卷|辑|号|路|段|组|对|双|颗|粒|棵|例|份|盏|石|股|"
    r"\s?(?i:ghz|mhz|khz|hz|km/h|(?:km|cm|m)[23](?!\d)|km|cm|mm|kg|mg|ml|kb|mb|gb|tb|kw|mw|w|v|m|g|t)(?![A-Za-z])|亿|万|千|百)"
)
# classifiers that count things (多少个项目, 几家企业)
COUNT_UNIT = re.compile(
    r"个|家|项|名|人|位|次|场|所|台|件|种|条|篇|部|架|辆|艘|届|座|层|户|套|株|只|头|匹|本|册|"
    r"页|张|处|支|批|轮|票|枚|块|门|集|站|款|类|间|栋|幢|首|章|卷|辑|组|对|双|颗|粒|棵|例|份|盏"
)
# … and what a count is not: money, measures, shares, durations, 亿亿-sized magnitudes
_MEASURED = re.compile(
    rf"(?:{_CURRENCY}|平方|立方|米|公里|公顷|亩|吨|克|斤|磅|%|％|‰|度|倍|个月|小时|分钟|秒|岁|"
    r"年|月|天|周|亿亿)$"
)
# what joins the two ends of a range (100米至2,800米, 2月至4月, 1-3月)
_RANGE_SEP = r"至|到|~|～|－|—|-"
_ONE_NUMBER = rf"{_NUM}(?:余|多)?(?:万|亿|千|百)?(?:余|多)?{_UNIT}?"
_ABOUT = r"(?:约|近|超过|超|逾|达到|达|仅|不足|将近|大约|约为)"
NUMBER = re.compile(
    rf"{_ABOUT}?\d+\s?[:：比]\s?\d+"  # a ratio (1：7) before its first number alone
    # a time as sports records give it (3分33秒62, 1小时02分), before its minutes alone
    rf"|{_ABOUT}?(?:\d+小时)?\d+分\d+(?:\.\d+)?秒\d*|{_ABOUT}?\d+小时\d+分(?:钟)?|\d+秒\d+"
    rf"|{_ABOUT}?±?{_ONE_NUMBER}"
    rf"(?:\s?(?:{_RANGE_SEP})\s?{_ONE_NUMBER})?(?:以上|左右|余|多)?"
)
# which units a quantity question wants, from its own words
_MEASURES = [
    # 规模有多大 asks for money (or a count), not an area
    (r"(?:规模|产值|总值|营业额|销售额|交易额|市值)[^，,]{0,4}多大", _CURRENCY),
    (r"面积|占地|多大", r"亩|平方|公顷"),
    (r"体重|重量|多重|有多重", r"公斤|千克|克|吨|斤|磅|kg|g\b"),
    (r"长度|多长|全长|身长|体长|长约|跑道", r"米|公里|公分|公尺|英尺|英里|km|cm|mm|m\b"),
    (r"高度|多高|身高|海拔|树高|高约", r"米|公尺|英尺|m\b"),
    (r"多远|距离", r"米|公里|千米|英里|km|m\b"),
    (r"人口|人数|多少人", r"人"),
    (
        r"资本|资金|投资|收入|营收|价格|票房|成本|造价|市值|金额|花费|售价|工资|薪|奖金|预算|经费",
        _CURRENCY,
    ),
    (r"速度|频率|主频", r"GHz|MHz|Hz|km/h|公里|米每秒|马赫"),
    (r"比例|比率|之比", r"[:：比]"),
    (r"多少岁|年龄|几岁|享年", r"岁"),
    (r"多久|多长时间|几年|多少年", r"年|月|天|小时|分钟|秒|周|星期"),
]
_MEASURES_RE = [(re.compile(q), re.compile(u)) for q, u in _MEASURES]
# units of one kind: a question asking in one (多少百万瓦) is answered in any of them
UNIT_KINDS = [
    re.compile(r"^(?:百万瓦|兆瓦|千瓦|瓦|gw|mw|kw|w)$"),
    re.compile(r"^(?:平方公里|平方千米|平方米|公顷|亩|km2|m2)$"),
    re.compile(r"^(?:公里|千米|米|厘米|毫米|公分|公尺|英尺|英寸|英里|km|cm|mm|m)$"),
    re.compile(r"^(?:吨|公斤|千克|克|斤|磅|kg|g|t)$"),
    re.compile(r"^(?:立方米|升|毫升|ml)$"),
]
DATE = re.compile(
    r"(?:公元前?)?(?:\d{2,4}|[零〇一二三四五六七八九]{2,4})年(?:\d{1,2}|[一二三四五六七八九十]{1,3})月"
    r"(?:\d{1,2}|[一二三四五六七八九十]{1,3})[日号]"
    r"|(?:公元前?)?(?:\d{2,4}|[零〇一二三四五六七八九]{2,4})年(?:\d{1,2}|[一二三四五六七八九十]{1,3})月"
    r"|(?:\d{1,2}|[一二三四五六七八九十]{1,3})月(?:\d{1,2}|[一二三四五六七八九十]{1,3})[日号]"
    r"|(?:\d{1,2}|[一二三四五六七八九十]{1,3})月(?:份|初|中旬|下旬|上旬|底|末)?"
    r"|(?:公元前?)?(?:\d{1,4}|[零〇一二三四五六七八九]{2,4})年(?:代|初|底|末)?"
    r"|\d{1,2}世纪(?:\d{1,2}年代)?|[上下]午\d{1,2}[时点]|\d{1,2}[时点](?:\d{1,2}分)?"
)
# relative times: 大运会结束后, 活动期间, 开幕之前
TIME_PHRASE = re.compile(
    r"(?<![\u4e00-\u9fff\d])[\u4e00-\u9fff\d]{1,12}?(?:结束后|开始后|之后|以后|之前|以前|期间|之际|当天|前夕|后|前)(?=[,，。对向将在再]|$)"
    r"|(?<=[在于])[^,，。将在于对向]{1,12}?(?:结束后|开始后|之后|以后|之前|以前|期间|之际|当天|前夕|后|前)(?=[,，。对向将在再]|$)"
)


def typed_spans(sentence: str, q: Question) -> list[tuple[int, int]]:
    """The spans of ``sentence`` of the kind the number or date question ``q`` asks for
    (a figure in the asked unit for 多少个, a date for 哪天), other than what ``q`` says.

    >>> from rag.question import analyze
    >>> s = "共落地重点项目16个,总投资超22亿元"
    >>> [s[a:b] for a, b in typed_spans(s, analyze("珠海高新区落地了多少个重点项目？"))]
    ['16个']
    >>> typed_spans("项目于2023年签约", analyze("项目于2023年签约了吗？"))
    []
    """
    folded = fold_aligned(sentence)
    asked = "".join(ch for ch in fold(q.query) if ch.isalnum())
    out = []
    for a, b in _typed_candidates(folded, q):
        # the answer is never something the question already says
        text = "".join(ch for ch in folded[a:b] if ch.isalnum())
        if text and text not in asked:
            out.append((a, b))
    return out


def _typed_candidates(folded: str, q: Question) -> list[tuple[int, int]]:
    t = q.qtype
    if t == "number":
        unit = asked_unit(q)
        time_unit = unit in ("年", "月", "天", "日") or re.search(r"多久|几年|多少年", q.query)
        # a duration (多久, 几年) may read like a date (3年, 6月), but not 7月9日 or 2025年
        dates = [
            d.span()
            for d in DATE.finditer(folded)
            if not time_unit or re.search(r"\d{4}|[日号]", d.group())
        ]
        cands = []
        for m in NUMBER.finditer(folded):
            a, b = m.span()
            if any(da < b and a < db for da, db in dates):
                continue  # part of a date (5月30日), not a quantity
            if not re.search(r"\d|[一二两三四五六七八九十百千万亿]", m.group()):
                continue
            if not re.search(r"\d", m.group()) and not re.search(_UNIT + "$", m.group()):
                continue  # a bare Chinese numeral (二季度, 一体式) is rarely the quantity asked
            cands.append((a, b))
        if not _BEFORE_ASKED.search(q.query):
            # 由过去的6个月缩短至45天: the figure now, not the one it changed from
            later = [c for c in cands if not _CHANGED_FROM.search(folded[max(c[0] - 6, 0) : c[0]])]
            cands = later if len(later) < len(cands) and later else cands
        preferred = _preferred_units(q, unit)
        if preferred is not None:
            best = [c for c in cands if preferred.search(folded[c[0] : c[1]])]
            if not best and unit:
                # none in the unit asked for (多少个): only a figure in digits may still be
                # it, and for a count (个/家/项) not an amount of money or a measure
                best = [c for c in cands if re.search(r"\d", folded[c[0] : c[1]])]
                if COUNT_UNIT.fullmatch(unit):
                    best = [c for c in best if not _MEASURED.search(folded[c[0] : c[1]])]
                return best
            cands = best or cands
        return cands
    if t == "date":
        spans = []
        for m in DATE.finditer(folded):
            a = m.start()
            lead = _RANGE_HEAD.search(folded, max(a - 5, 0), a)
            if lead and lead.end() == a and not (spans and spans[-1][1] > lead.start()):
                a = lead.start()  # 2至4月, 1-3月: the range's first number has no 月
            spans.append((a, m.end()))
        return _ranges(spans, folded) or [m.span() for m in TIME_PHRASE.finditer(folded)]
    return []


_CHANGED_FROM = re.compile(r"(?:由|从)(?:过去|原来|原先|以前|此前|之前|以往)?的?$")
_BEFORE_ASKED = re.compile(r"过去|原来|原先|以前|此前|之前|以往|起初|最初|当初")


def _preferred_units(q: Question, unit: str) -> re.Pattern | None:
    """The units a quantity question wants: the one it names (多少个), else the kind its
    words imply (面积 → 亩/平方…, 体重 → 公斤/克…)."""
    if unit:
        return re.compile(re.escape(unit))
    for qrx, urx in _MEASURES_RE:
        if qrx.search(q.query):
            return urx
    return None


def asked_unit(q: Question) -> str:
    """The unit the question asks in: 多少个 -> 个, 多少亿元 -> 亿元, 几年 -> 年."""
    tail = re.sub(r"^(多少|几|第几|多)", "", q.wh)
    m = re.match(_UNIT, tail + q.after)
    return m.group() if m else ""


_TO_OR_AND = re.compile(rf"\s?(?:{_RANGE_SEP}|和|与|及|、)\s?")
_RANGE_HEAD = re.compile(rf"(?<!\d)\d{{1,2}}\s?(?:{_RANGE_SEP})\s?")


def _ranges(spans: list[tuple[int, int]], folded: str) -> list:
    """Spans that only a range sign or an "and" separates, as one: 2月|至|4月 -> 2月至4月,
    5月|和|7月 -> both.

    >>> _ranges([(0, 2), (3, 5), (9, 11)], "2月至4月，又在7月")
    [(0, 5), (9, 11)]
    """
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and _TO_OR_AND.fullmatch(folded, out[-1][1], a):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out
