"""Extract: the short answer inside a supporting sentence, as a span of that sentence.

Two ways, tried in order:
1. Alignment: the question is split around its question word (``涵盖|哪些|领域``); the
   words before it and after it are found in the sentence and the text between them is
   the answer (``集成电路、新能源、智能制造、生物医药与医疗器械``).
2. Type patterns: a number with its unit, a date, a person/place/organisation name
   (jieba part-of-speech tags), chosen nearest to the question's words in the sentence.

Every result is ``(start, end)`` into the sentence given, so the short answer is verbatim.
Does not: pick the sentence (see ``answer``).
"""

from __future__ import annotations

import re

from .question import Question
from .text import fold_aligned

_NUM = r"(?:\d+(?:[.,]\d+)*|[零〇一二两三四五六七八九十百千万亿]+(?:点[零〇一二三四五六七八九]+)?)"
_UNIT = (
    r"(?:亿元|万元|千元|美元|欧元|日元|港元|元|人民币|平方公里|平方千米|平方米|立方米|公里|千米|厘米|毫米|米|"
    r"公顷|亩|吨|公斤|千克|克|斤|个月|小时|分钟|秒|周年|年|天|日|月|周|岁|倍|%|％|‰|度|"
    r"个|家|项|名|人|位|次|场|所|台|件|种|条|篇|部|架|辆|艘|届|座|层|户|套|株|只|头|匹|本|册|页|张|"
    r"处|支|批|期|轮|分|票|枚|块|门|集|站|款|类|亿|万|千|百)"
)
NUMBER = re.compile(
    rf"(?:约|近|超过|超|逾|达到|达|共|合计|总计|仅|不足|将近)?{_NUM}(?:余|多)?(?:万|亿|千|百)?{_UNIT}?(?:以上|左右|余|多)?"
)
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
_CLAUSE_END = re.compile(r"[，,。；;！？!?：:、（）()“”\"\n]")
_TRIM = "，,。；;！？!?：:、 \n“”\"'‘’"
_LEAD_FUNC = re.compile(
    r"^(?:是|为|在|于|由|被|将|把|对|向|的|了|有|即|约为|成为|称为|叫做|叫|名为|作为|达)+"
)
_TAIL_FUNC = re.compile(r"(?:的|了|等|等等|之一|上|中|里|时|对|向|在|将|于|举行|举办|开展)+$")


def short_answer(sentence: str, q: Question) -> tuple[int, int] | None:
    """The short answer's span in ``sentence``, or None when nothing fits.

    >>> from rag.question import analyze
    >>> s = "共落地重点项目16个,涵盖集成电路、新能源等领域"
    >>> a, b = short_answer(s, analyze("珠海高新区落地了多少个重点项目？")); s[a:b]
    '16个'
    >>> a, b = short_answer(s, analyze("项目涵盖哪些领域？")); s[a:b]
    '集成电路、新能源'
    """
    folded = fold_aligned(sentence)
    if q.qtype in ("why", "how", "yesno"):
        return None
    span = _align(folded, q)
    typed = _typed_candidates(sentence, folded, q)
    if span is not None:
        a, b = span
        if q.qtype in ("number", "date"):
            inside = [c for c in typed if c[0] >= a and c[1] <= b]
            if inside:
                return inside[0]
            if q.qtype == "date" and TIME_PHRASE.search(folded[a:b]):
                return span
            if typed:
                return _nearest(typed, span)
        return span
    if typed:
        return _nearest(typed, _anchor_positions(folded, q))
    return None


def _typed_candidates(sentence: str, folded: str, q: Question) -> list[tuple[int, int]]:
    t = q.qtype
    if t == "number":
        unit = asked_unit(q)
        dates = (
            [] if unit in ("年", "月", "天", "日") else [d.span() for d in DATE.finditer(folded)]
        )
        cands = []
        for m in NUMBER.finditer(folded):
            a, b = m.span()
            if any(da < b and a < db for da, db in dates):
                continue  # part of a date (5月30日), not a quantity
            if not re.search(r"\d|[一二两三四五六七八九十百千万亿]", m.group()):
                continue
            if not re.search(r"\d", m.group()) and not re.search(_UNIT + "$", m.group()):
                continue  # a bare Chinese numeral (二季度, 一体式) is rarely the quantity asked
            cands.append((a, b, unit and unit in m.group()))
        if unit and any(c[2] for c in cands):
            cands = [c for c in cands if c[2]]
        return [(a, b) for a, b, _ in cands]
    if t == "date":
        return [m.span() for m in DATE.finditer(folded)] or [
            _tidy_span(folded, *m.span()) for m in TIME_PHRASE.finditer(folded)
        ]
    if t in ("person", "author"):
        return _pos_spans(sentence, ("nr",))
    if t == "place":
        return _pos_spans(sentence, ("ns",))
    if t == "org":
        spans = [m.span() for m in _ORG.finditer(folded)]
        return spans or _pos_spans(sentence, ("nt",))
    return []


def asked_unit(q: Question) -> str:
    """The unit the question asks in: 多少个 -> 个, 多少亿元 -> 亿元, 几年 -> 年."""
    tail = re.sub(r"^(多少|几|第几|多)", "", q.wh)
    m = re.match(_UNIT, tail + q.after)
    return m.group() if m else ""


def _pos_spans(sentence: str, flags: tuple[str, ...]) -> list[tuple[int, int]]:
    import jieba.posseg as pseg

    spans, pos = [], 0
    for w in pseg.cut(sentence):
        start = sentence.find(w.word, pos)
        if start < 0:
            continue
        pos = start + len(w.word)
        if w.flag in flags and len(w.word) >= 2:
            spans.append((start, pos))
    return spans


def _anchor_positions(folded: str, q: Question) -> tuple[int, int]:
    """Where the question's words sit in the sentence (a span to measure distance to)."""
    pts = []
    for part in (q.before[-6:], q.after[:6]):
        for n in range(len(part), 1, -1):
            for piece in (part[-n:], part[:n]):
                i = folded.find(piece)
                if i >= 0:
                    pts.extend((i, i + len(piece)))
                    break
            else:
                continue
            break
    return (min(pts), max(pts)) if pts else (0, 0)


def _nearest(cands: list[tuple[int, int]], span: tuple[int, int]) -> tuple[int, int]:
    a, b = span

    def dist(c):
        if c[1] <= a:
            return a - c[1]
        if c[0] >= b:
            return c[0] - b
        return 0

    return min(cands, key=dist)


def _find_suffix(folded: str, before: str, lo: int = 0) -> tuple[int, int] | None:
    """The longest tail of ``before`` (>= 2 chars) found in ``folded``: its span."""
    before = before.rstrip("的是了在")
    for n in range(min(len(before), 12), 1, -1):
        piece = before[-n:]
        i = folded.find(piece, lo)
        if i >= 0:
            return i, i + n
    return None


def _find_prefix(folded: str, after: str, lo: int) -> tuple[int, int] | None:
    after = after.lstrip("的是了")
    tries = [after]
    if after[:1] in _PREPOSITIONS:
        tries.append(after[1:])  # 向公众开放 in the question, 对公众开放 in the text
    for text in tries:
        for n in range(min(len(text), 12), 1, -1):
            piece = text[:n]
            i = folded.find(piece, lo)
            if i >= 0:
                return i, i + n
    return None


_PREPOSITIONS = set("向对在于给与和跟同从把被将为以")


def _align(folded: str, q: Question) -> tuple[int, int] | None:
    left = _find_suffix(folded, q.before) if q.before else None
    right = _find_prefix(folded, q.after, left[1] if left else 0) if q.after else None
    if left and right and right[0] - left[1] >= 1:
        a, b = left[1], right[0]
    elif left and not q.after:
        a = left[1]
        m = _CLAUSE_END.search(folded, a + 1)
        b = m.start() if m else len(folded)
    elif right and not q.before.strip():
        m = next(reversed(list(_CLAUSE_END.finditer(folded, 0, right[0]))), None)
        a, b = (m.end() if m else 0), right[0]
    elif left and right is None:
        # the words after the question word are missing: answer runs to the clause end
        a = left[1]
        m = _CLAUSE_END.search(folded, a + 1)
        b = m.start() if m else len(folded)
    else:
        return None
    return _tidy(folded, a, b)


def _tidy_span(folded: str, a: int, b: int) -> tuple[int, int]:
    return _tidy(folded, a, b) or (a, b)


def _tidy(folded: str, a: int, b: int) -> tuple[int, int] | None:
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
    if b <= a or b - a > 40:
        return None
    return a, b
