"""Extract: what kind of answer a sentence holds for a question, as sentence features.

The rule answerer (``answer``) picks the sentence it quotes with these: the spans of the
kind asked (``typed_spans``: a number with its unit, a date, a person/place/organisation
name by jieba's part-of-speech tags, a title in 《》), whether the sentence names the
question's focus (``focus_match``: a colour for 什么颜色), defines the term a 什么是X
question asks about (``defines``), puts a figure or date right next to the question's
own words (``fills_slot``), and repeats the wording around the question word
(``anchor_strength``). Spans are
``(start, end)`` into the sentence given.

Does not: cut the short answer (the reader does, ``rag/reader``) or pick the sentence.
"""

from __future__ import annotations

import functools
import os
import re

from .question import NOT_NAMES, Question
from .text import STOPWORDS, _jieba, fold, fold_aligned

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
_ORG = re.compile(
    r"[\u4e00-\u9fff（）()A-Za-z0-9·]{2,24}?(?:有限公司|股份公司|公司|集团|大学|学院|研究院|研究所|协会|学会|"
    r"委员会|中心|医院|银行|基金会|联合会|俱乐部|实验室|政府|管委会|局|部|厅|署|法院|检察院|学校|中学|小学)"
)
_TRIM = "，,。；;！？!?：:、 \n“”\"'‘’（）()—-－"
_LEAD_FUNC = re.compile(
    r"^(?:是|为|分别为|分别是|位于|坐落于|地处|在|于|由|被|将|把|对|向|的|了|有|即|约为|成为|称为|叫做|叫|名为|作为|达)+"
)
_TAIL_FUNC = re.compile(
    r"(?:的|了|则|而|等(?:多个|多种|多项|多家|多所|多方面|一系列|在内)?|等等|之一|上|中|(?<![公千英海])里|时|对|向|"
    r"(?<![旨存现正实自所])在|将|于|举行|举办|开展|的一(?:个|种|位|座|家|所|部|条|支))+$"
)


def typed_spans(sentence: str, q: Question) -> list[tuple[int, int]]:
    """The spans of ``sentence`` of the kind ``q`` asks for (a figure in the asked unit
    for 多少个, a date for 哪天, a person's name for 谁), other than what ``q`` says.

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
    for a, b in _typed_candidates(sentence, folded, q):
        # the answer is never something the question already says
        text = "".join(ch for ch in folded[a:b] if ch.isalnum())
        if text and text not in asked:
            out.append((a, b))
    return out


def _typed_candidates(sentence: str, folded: str, q: Question) -> list[tuple[int, int]]:
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
        return _ranges(spans, folded, _TO_OR_AND) or [
            _tidy_span(folded, *m.span()) for m in TIME_PHRASE.finditer(folded)
        ]
    if t in ("person", "author"):
        return _ranges(_pos_spans(sentence, ("nr",)), folded, _AND)
    if t == "place":
        return _pos_spans(sentence, ("ns",))
    if t == "org":
        spans = [m.span() for m in _ORG.finditer(folded)]
        return spans or _pos_spans(sentence, ("nt",))
    asks_one = not re.search(r"各自|分别|哪些", q.text)
    named = re.search(rf"(?:{_TITLE_ASKED.pattern})(?:叫做?|是|名为|为)$", q.before)
    if asks_one and (_TITLE_ASKED.search(q.focus) or named or q.wh.startswith("哪部")):
        # 哪部电影, 什么综艺节目, 第一部诗集叫什么: a work's title, in its 《》
        return [m.span() for m in _TITLE.finditer(folded)]
    return []


_TITLE_ASKED = re.compile(
    r"电影|影片|剧|作品|书|小说|专辑|歌曲?|曲目|节目|诗集|漫画|动画|杂志|报纸|文章|著作|论文"
)
_TITLE = re.compile(r"《[^《》]{1,40}》")


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


_TO = re.compile(rf"\s?(?:{_RANGE_SEP})\s?")
_AND = re.compile(r"和|与|及|、")
_TO_OR_AND = re.compile(rf"\s?(?:{_RANGE_SEP}|和|与|及|、)\s?")
_RANGE_HEAD = re.compile(rf"(?<!\d)\d{{1,2}}\s?(?:{_RANGE_SEP})\s?")


def _ranges(spans: list[tuple[int, int]], folded: str, joint: re.Pattern = _TO) -> list:
    """Spans that ``joint`` alone separates, as one: 2月|至|4月 -> 2月至4月 (a range),
    徐立恒|和|程蔓 -> both (with ``_AND``).

    >>> _ranges([(0, 2), (3, 5), (9, 11)], "2月至4月，又在7月")
    [(0, 5), (9, 11)]
    """
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and joint.fullmatch(folded, out[-1][1], a):
            out[-1] = (out[-1][0], b)
        else:
            out.append((a, b))
    return out


def _pos_spans(sentence: str, flags: tuple[str, ...]) -> list[tuple[int, int]]:
    """Spans of the words jieba tags with one of ``flags`` (nr person, ns place, nt org).
    A person's name jieba cut up is joined again (博|罗米尼, 瓦西里|·|谢苗诺|维奇, 袁丽|嫦).

    >>> s = "由建筑师博罗米尼设计，袁丽嫦原唱"
    >>> [s[a:b] for a, b in _pos_spans(s, ("nr",))]
    ['博罗米尼', '袁丽嫦']
    """
    import jieba.posseg as pseg

    toks, pos = [], 0
    for w in pseg.cut(sentence):
        start = sentence.find(w.word, pos)
        if start < 0:
            continue
        pos = start + len(w.word)
        toks.append((start, pos, w.word, w.flag))
    person = "nr" in flags
    spans: list[tuple[int, int]] = []
    i = 0
    while i < len(toks):
        a, b, word, flag = toks[i]
        if not (flag in flags or (person and flag.startswith("nr"))):
            i += 1
            continue
        i += 1
        joined = False
        while person and i < len(toks) and toks[i][0] == b:
            _, nb, nword, nflag = toks[i]
            if nflag.startswith("nr"):
                b = nb  # 博|罗米尼, 谢苗诺|维奇
            elif nword in "·・•-－" and i + 1 < len(toks) and _HAN.match(toks[i + 1][2]):
                b = toks[i + 1][1]  # 瓦西里|·|谢苗诺
                i += 1
                joined = True
            elif joined and len(nword) == 1 and _HAN.match(nword) and nword not in _NOT_NAME_TAIL:
                b = nb  # 汤玛斯·霍尔|兹: a transliterated name's last syllable
            elif (
                joined
                and len(nword) == 2
                and _HAN.match(nword)
                and nword[0] not in _NOT_NAME_TAIL
                and nword[1] in _NOT_NAME_TAIL
            ):
                b += 1  # 伊恩·法兰|明所创作: the syllable jieba glued to the next word
                break
            elif (
                len(nword) == 1
                and _HAN.match(nword)
                and nflag in _NAME_TAIL_FLAGS
                and nword not in _NOT_NAME_TAIL
                and b - a <= 3
            ):
                b = nb  # 袁丽|嫦, 熊谷元|直: the name's last character
                i += 1
                break
            else:
                break
            i += 1
        if b - a >= 2 and sentence[a:b] not in NOT_NAMES:
            spans.append((a, b))
    return spans


_HAN = re.compile(r"[\u4e00-\u9fff]")
_NAME_TAIL_FLAGS = {"n", "d", "ng", "nr", "nrt", "j", "a", "nz"}
_NOT_NAME_TAIL = set("等们和与及的说在将为曾也又均都则即便就亦还并是有所被把从向对于年月日人")


def _find_suffix(folded: str, before: str, lo: int = 0) -> tuple[int, int] | None:
    """The longest tail of ``before`` (>= 2 chars) found in ``folded``: its span.
    A copula the text leaves out is tried without (该教堂是由 → 该教堂由)."""
    tries = [before.rstrip("的是了在")]
    if "是" in tries[0][-4:]:
        cut = tries[0].rfind("是")
        tries.append(tries[0][:cut] + tries[0][cut + 1 :])
    tries += [v.rstrip("的是了") for v in _worded_otherwise(before.rstrip("的是了"))]
    best = None
    for text in tries:
        for n in range(min(len(text), 12), 1, -1):
            i = folded.find(text[-n:], lo)
            if i >= 0:
                if best is None or n > best[1] - best[0]:
                    best = (i, i + n)
                break
    return best


# endings a question and its answer sentence word differently (用在 / 用于, 源于 / 源自,
# 也叫 / 或称): the question's tail is tried with each other member of its group
_SAME_ENDING = [
    ("在", "于"),
    ("源于", "源自", "来自", "出自", "来源于"),
    ("也叫", "又叫", "或称", "又称", "也称", "亦称", "俗称", "又名", "别称", "简称", "或叫"),
    ("叫做", "称为", "叫", "名为"),
    ("属于", "属"),
    ("原名叫", "原名为", "原名"),
    ("本名叫", "本名为", "本名"),
]


def _worded_otherwise(before: str) -> list[str]:
    """``before`` with its ending swapped for each equivalent one.

    >>> _worded_otherwise("六十进制一般用在")
    ['六十进制一般用于']
    """
    for end, group in _ENDINGS:
        if before.endswith(end):
            stem = before[: len(before) - len(end)]
            return [stem + other for other in group if other != end]
    return []


_ENDINGS = sorted(((e, g) for g in _SAME_ENDING for e in g), key=lambda eg: -len(eg[0]))


def _find_prefix(folded: str, after: str, lo: int, focus: str = "") -> tuple[int, int] | None:
    after = after.lstrip("的是了")
    tries = [after]
    if after[:1] in _PREPOSITIONS:
        tries.append(after[1:])  # 向公众开放 in the question, 对公众开放 in the text
    if focus and after.startswith(focus) and len(after) > len(focus) + 1:
        # 哪个国家的赛车手: the text names the country, then says 赛车手
        tries.append(after[len(focus) :].lstrip("的是了"))
    for text in tries:
        for n in range(min(len(text), 12), 1, -1):
            piece = text[:n]
            i = folded.find(piece, lo)
            if i >= 0:
                return i, i + n
    return None


_PREPOSITIONS = set("向对在于给与和跟同从把被将为以")


# What a sentence that answers "什么<focus>" / "多<measure>" tends to contain.
_FOCUS_CUES = [
    (r"^(?:女儿|长女|次女|女)$", r"之女|女儿|[长次幼三四]女|的女"),
    (r"^(?:儿子|长子|次子|孙子|子)$", r"之子|儿子|[长次幼三四五]子|[一二两三四五]子|之孙|的孙"),
    (r"^(?:父亲|父)$", r"父|之子|之女|的儿子|的女儿"),
    (r"^(?:母亲|母)$", r"母|之子|之女|所生|生下"),
    (r"^(?:妻子|妻)$", r"妻|夫人|皇后|王后|嫁|娶|配偶"),
    (r"^(?:丈夫|夫)$", r"夫|嫁|配偶"),
    (r"^(?:哥哥|兄长|兄|姐姐|姐)$", r"兄|哥|姐|姊|长子|长女"),
    (r"^(?:弟弟|弟|妹妹|妹)$", r"弟|妹"),
    (r"颜色|色彩|色", r"[红橙黄绿青蓝紫黑白灰褐棕金银粉]色|色"),
    (r"为食|食物|吃|食性", r"为食|食|吃|捕食|摄食|饵"),
    (
        r"职务|职位|官职|职业|工作|身份|头衔",
        r"任|担任|出任|职|长|主席|书记|委员|家|师|员|教授|手|者|星|当|从事|工作",
    ),
    (r"奖|荣誉", r"奖|荣誉|称号|冠军|亚军|季军|金牌|银牌|铜牌|第[一二三]名|授予|获"),
    (r"规模|产值|总值|营业额|销售额|交易额|市值", r"亿|万|元|家|个|人"),
    (r"面积|多大|大小|占地", r"亩|平方|公顷|面积|占地"),
    (r"体重|重量|多重", r"公斤|千克|克|吨|斤|重"),
    (r"高度|身高|多高", r"米|高"),
    (r"长度|多长|全长", r"米|长|公里"),
    (r"人口", r"人口|万人|人"),
    (r"朝代|时代|年代|时期", r"[朝代宋唐元明清汉晋隋魏周秦]|时期|年代|世纪"),
    (r"国家|国籍", r"国"),
    (r"语言|语", r"语|文"),
    (r"学位|学历", r"学士|硕士|博士|学位"),
    (r"地区|地方|区域|分布|位置", r"分布|位于|产于|原产|地区|境内|在"),
    (
        r"目的|用途|作用|功能|功效",
        r"为了|目的|以便|旨在|用于|用来|用作|作为|可以|能够|作用|功能|用途|防止|可治|主治|供",
    ),
    (r"^变化$", r"省|节约|降|减|增|提高|提升|升|缩短|扩大|幅"),
    (r"原因|理由", r"因为|由于|因此|所以|原因|导致|为由|故|因"),
    (r"意思|含义|意义", r"意思|意为|意指|指|含义|意义|象征|表示|代表"),
    (r"材料|成分|原料", r"由|制成|成分|原料|材料|含有"),
    (r"多久|时间|多长时间", r"年|月|天|日|小时|分钟|周|星期|期间"),
    (r"多远|距离", r"公里|千米|米|距离|距"),
    (
        r"别名|别称|又名|俗名|俗称|简称|全称|原名|名称|英文名|学名|^名字$",
        r"又名|别名|别称|又称|亦称|也称|俗称|简称|或称|全称|原名|称为|称作|名为|学名|英[文语]|"
        r"[初旧曾改更]名|叫",
    ),
    # the role a 谁 question asks about, and how articles say who held it
    (r"导演", r"执导|导演|编导|监督"),
    (r"编剧", r"编剧|剧本|改编"),
    (r"作者|作家", r"著|作者|所作|撰|写|创作|编"),
    (r"作曲|作词", r"作曲|作词|谱曲|填词"),
    (r"原唱|主唱", r"原唱|主唱|演唱|唱"),
    (r"主演|演员|主角", r"主演|饰演|出演|演员|领衔|饰"),
    (
        r"创始人|创办人|创立者|建立者|开发者|设计者|发明者|发现者|命名者",
        r"创立|创办|创建|建立|成立|开发|设计|发明|发现|命名|发起|创始|描述",
    ),
    (
        r"由来|来源|起源|来历|得名",
        r"得名|故名|故称|源自|源于|由来|来自|起源|命名|来历|名称|因|[赐取改更]名|名[为叫]|称为|被称|号称",
    ),
    (r"症状|病征", r"症状|出现|表现|引起|导致|引致|引发|造成"),
    (r"形状|外形|外貌|外观|样子", r"呈|状|形"),
    (r"目标|宗旨|任务|使命", r"目标|旨在|目的|宗旨|任务|为了|致力"),
    (r"成果|成就|贡献|发现", r"发现|获得|成功|贡献|成果|提出|发明|首次|证明"),
    (r"内容|情节|剧情|故事", r"讲述|描述|叙述|内容|故事|主角|讲|记述|记载|描写|收录|研究"),
    (r"焦点|重点|议题|主题", r"焦点|重点|议题|主题|问题|围绕"),
    (r"口号|广告语|标语", r"口号|标语|广告|「|“"),
    (r"后果|结果|影响", r"导致|造成|结果|致使|使得|影响|以致"),
    (r"区别|不同|差异", r"不同|区别|差异|而|但|比|则"),
    (r"类型|种类", r"型|类|种"),
    (r"风格", r"风格|式|派"),
    (r"重要性", r"重要|影响|首次|第一|意义"),
]
_FOCUS_CUES_RE = [(re.compile(f), re.compile(c)) for f, c in _FOCUS_CUES]


def focus_match(sentence: str, q: Question) -> float:
    """1.0 when the sentence has the kind of word a "什么<focus>" question wants
    (a colour for 什么颜色, a measure for 多重), 0.0 when it lacks it, 0.5 when the
    question has no known focus.

    >>> from rag.question import analyze
    >>> q = analyze("蓝线裸顶鲷的身体是什么颜色的？")
    >>> focus_match("本鱼体呈银灰色。", q), focus_match("蓝线裸顶鲷是辐鳍鱼纲的鱼类。", q)
    (1.0, 0.0)
    """
    if not q.focus:
        return 0.5
    for frx, crx in _FOCUS_CUES_RE:
        if frx.search(q.focus):
            return 1.0 if crx.search(sentence) else 0.0
    # 花淡黄绿色…, 其根稍肉质: a sentence that opens with the thing asked about
    head = re.sub(r"^[\s“”「」]*(?:其|它的|它们的|该种的?|本种的?)?", "", fold(sentence))
    return 1.0 if head.startswith(fold(q.focus)) else 0.5


_DEF_LEAD = re.compile(
    r"^[\s“”「」\"'《》]*(?:在[^，,。]{1,12}(?:中|上|里|方面)[，,]\s*)?(?:所谓的?)?[“「\"'《]?"
)
_DEF_VERB = re.compile(r"是|指|为|即|乃|就是|[亦也又或简俗]称|，|,")


def defines(sentence: str, q: Question) -> float:
    """1.0 when the sentence opens with the term a "什么是X" question asks about and
    goes on to say what it is (X是…, X，是…, 所谓X就是…), else 0.0.

    >>> from rag.question import analyze
    >>> q = analyze("什么是三鹰球？")
    >>> defines("所谓三鹰就是单一洞低于标准杆4杆。", q), defines("三鹰球的记录很少。", q)
    (1.0, 0.0)
    >>> defines("在高尔夫球中，三鹰球是低于标准杆4杆。", q)
    1.0
    """
    if not q.term:
        return 0.0
    s = fold(sentence)
    lead = _DEF_LEAD.match(s).group()
    s = s[len(lead) :]
    n = len(os.path.commonprefix([q.term, s]))
    # 所谓三鹰就是… may drop the term's last character (三鹰球)
    if n < len(q.term) and not ("所谓" in lead and n >= max(2, len(q.term) - 1)):
        return 0.0
    rest = re.sub(r"^[”」》\"']?(?:[（(][^）)]*[）)])?", "", s[n : n + 40])
    return 1.0 if _DEF_VERB.match(rest) else 0.0


def fills_slot(sentence: str, q: Question) -> float:
    """1.0 when a number/date question's own words sit right next to a number/date in the
    sentence (富国银行广场建于哪一年 ~ 建于1988年), as if the sentence filled the
    question's blank; else 0.0.

    >>> from rag.question import analyze
    >>> q = analyze("富国银行广场建于哪一年？")
    >>> fills_slot("建于1988年，是一座摩天大楼。", q), fills_slot("1998年，大厦改名为富国银行广场。", q)
    (1.0, 0.0)
    """
    if q.qtype not in ("number", "date") or q.english:
        return 0.0
    folded = fold_aligned(sentence)
    cands = _typed_candidates(sentence, folded, q)
    if not cands:
        return 0.0
    left = _find_suffix(folded, q.before) if q.before else None
    if left and any(0 <= a - left[1] <= 2 for a, _ in cands):
        return 1.0
    right = _find_prefix(folded, q.after, 0) if q.after else None
    if right and any(0 <= right[0] - b <= 2 for _, b in cands):
        return 1.0
    return 0.0


def anchor_strength(sentence: str, q: Question) -> float:
    """How much of the question's wording right around its question word the sentence
    repeats: 1.0 when both sides (up to 6 characters each) are found, in order.

    >>> from rag.question import analyze
    >>> anchor_strength("生命数耗完即算为踢爆。", analyze("生命数耗完即算为什么？"))
    1.0
    """
    folded = fold_aligned(sentence)
    before, after = q.before[-8:], q.after[:8]
    want = min(len(before), 6) + min(len(after), 6)
    if not want:
        return 0.0
    # the longest stretch of each side the sentence repeats (五个方面开展合作 ~ 五大方面开展)
    got = min(_common_run(before, folded), 6) + min(_common_run(after, folded), 6)
    return min(got / want, 1.0)


def _common_run(a: str, b: str) -> int:
    """Length of the longest common substring of ``a`` and ``b`` (both short-ish)."""
    best = 0
    for i in range(len(a)):
        for j in range(i + best + 1, len(a) + 1):
            if a[i:j] in b:
                best = j - i
            else:
                break
    return best


def _tidy_span(folded: str, a: int, b: int) -> tuple[int, int]:
    return _tidy(folded, a, b) or (a, b)


def _word_end_after(folded: str, a: int) -> int:
    """Where the word ``a`` falls inside ends, if only a complement is left (靠|着 -> 靠着|)."""
    if a <= 0 or a >= len(folded) or not _HAN.match(folded[a - 1 : a + 1]):
        return a
    start = 0
    for word in _words(folded):
        end = start + len(word)
        if start < a < end:
            # only a word of jieba's dictionary, with one character left (派|遣, 讲|述,
            # 靠|着): words jieba makes up on the spot cut across true boundaries (属惩|教署)
            return end if end - a == 1 and _jieba().dt.FREQ.get(word, 0) > 0 else a
        if start >= a:
            break
        start = end
    return a


@functools.lru_cache(maxsize=256)
def _words(folded: str) -> tuple[str, ...]:
    return tuple(_jieba().cut(folded))


def _tidy(folded: str, a: int, b: int) -> tuple[int, int] | None:
    if (w := _word_end_after(folded, a)) < b:
        a = w  # the question's words ended inside a word (靠 in 靠着)
    seg = folded[a:b]
    lead = len(seg) - len(seg.lstrip(_TRIM))
    a += lead
    seg = folded[a:b]
    m = _LEAD_FUNC.match(seg)
    if m and m.end() < len(seg):
        a += m.end()
    seg = folded[a:b].rstrip(_TRIM)
    b = a + len(seg)
    m = _TAIL_FUNC.search(folded[a:b])
    if m and m.start() > 0:
        b = a + m.start()
    if b <= a or b - a > 60 or not any(ch.isalnum() for ch in folded[a:b]):
        return None
    if _ONLY_FUNC.fullmatch(folded[a:b]) or folded[a:b] in _NOT_ANSWERS:
        return None
    return a, b


# words that point at an answer without being one (例如…, 叫做…, 以下…)
_NOT_ANSWERS = STOPWORDS | {"叫做", "例如", "以下", "如下", "下列", "比如", "包括", "重要", "主要"}
_ONLY_FUNC = re.compile(r"[的了是在于为和与及对向将把被由也都就]+")
