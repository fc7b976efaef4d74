"""Question: what is asked, and of what.

Does: find the question word and the type of answer wanted (number, date, person, …),
split the question around its question word (``涵盖|哪些|领域``) so the answerer can
align it with a sentence, and rewrite follow-ups from the chat history
(``那咸阳高新区呢？`` after a question about 珠海高新区).
Does not: search or read articles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .text import fold, fold_aligned, is_chinese

# (type, pattern) in priority order; the first match decides the answer type.
_WH = [
    (
        "author",
        r"作者|记者|谁写|撰稿|摄影师|谁拍|署名|谁报导|谁报道|who wrote|author|reporter|byline",
    ),
    (
        "date",
        r"哪一?天|哪一?年|哪个月|几月|几号|何时|什么时候|什么时间|几时|哪个时间|何年|多少年|日期|"
        r"(?<=的)时间(?:是|为)?[？?]?$|"
        r"when|what year|what date|which year|which day",
    ),
    (
        "number",
        r"多少|(?<!哪)几[个位家项名次人场所台件种条篇部岁倍天年月]?|多大|多高|多长|多重|多远|多宽|多深|"
        r"多久|第几|百分之几|how many|how much|how long|how big|what percentage|what number",
    ),
    (
        "person",
        r"谁|哪位|哪个人|什么人|何人|姓名|名字(?!.{0,3}(?:怎么|如何|由来|来历))|who|whom|whose",
    ),
    (
        "place",
        r"哪里|哪儿|在哪(?![一二两三四五六七八九十几个位种所家部本支座条届])|何地|何处|哪个地方|什么地方|哪个城市|哪个国家|哪个省|位于|where",
    ),
    (
        "org",
        r"哪家|哪所|哪个机构|哪个单位|哪个公司|什么公司|什么机构|哪个企业|哪个组织|哪个部门|which company|"
        r"which organi[sz]ation|which university",
    ),
    ("list", r"哪些|哪几|哪[两二三四五六七八九十]|which|what (?:are|were)"),
    ("why", r"为什么|为何|因何|why"),
    ("how", r"怎么|怎样|如何|how"),
    ("what", r"什么|啥|哪个|哪种|哪一|何种|what|which"),
    ("yesno", r"是否|是不是|有没有|吗[？?]?$"),
]
_WH_RE = [(t, re.compile(p, re.I)) for t, p in _WH]
# the span of the question word itself, for splitting the question around it
_WH_SPAN = re.compile(
    r"哪几[个位家项名次人场所台件种条篇部座门]?|哪一?[天年个位家所些里儿种类项条部样]|"
    r"哪(?=[两二三四五六七八九十])|哪|多少[个位家项名次人场元年]?|几[个位家项名次人场所台件种条篇部岁倍天年月号]?|"
    r"多[大高长重远宽深久]|什么[时候时间人地方样]*|何时|何地|何处|何人|谁|第几|为什么|为何|因何|怎么样?|怎样|如何|是否|"
    r"百分之几"
)


@dataclass(frozen=True)
class Question:
    text: str  # as asked
    query: str  # as searched (follow-ups resolved)
    qtype: str  # author|date|number|person|place|org|list|what|how|why|yesno|other
    before: str = ""  # the question's words before its question word (folded)
    after: str = ""  # … and after it
    wh: str = ""  # the question word itself (多少个, 哪天, 谁)
    english: bool = False
    # for English questions: the corpus's Chinese words for each English word (crosslingual)
    groups: tuple[tuple[str, ...], ...] = ()
    content_words: int = 0  # English content words in the question
    # proper names the question is about (places, organisations, people); an article
    # without one of them cannot answer it ("郑州|正州": either will do)
    names: tuple[str, ...] = ()
    # for an English quantity question, the Chinese words its measure may be (the
    # population of X -> 人口, 人丁…); an article with none of them has not its figure
    measure: tuple[str, ...] = ()

    @property
    def keywords(self) -> str:
        """What the keyword search sees: the Chinese words standing for an English
        question, or the question itself."""
        return " ".join(w for g in self.groups for w in g) if self.english else self.query


def analyze(text: str, history: list | None = None) -> Question:
    """Type and shape of a question, with follow-ups resolved against ``history``.

    >>> q = analyze("珠海高新区签约的重点项目涵盖哪些领域？")
    >>> q.qtype, q.before, q.after
    ('list', '珠海高新区签约的重点项目涵盖', '领域')
    >>> analyze("那咸阳高新区呢？", ["珠海高新区签约的重点项目涵盖哪些领域？"]).query
    '咸阳高新区签约的重点项目涵盖哪些领域？'
    """
    query = resolve_followup(text, history or [])
    folded = fold(query)
    qtype = question_type(folded)
    before, wh, after = split_on_wh(folded)
    english = not is_chinese(query) and bool(re.search(r"[A-Za-z]{2,}", query))
    names = () if english else proper_names(folded)
    if history and query != text.strip():
        # 那咸阳高新区呢？: the entity the follow-up switches to is what it is about
        m = _ELLIPSIS.match(text.strip())
        new = fold(m.group("x").strip(" ，,")) if m else ""
        if len(new) >= 2 and _names_something(new):
            names = tuple(dict.fromkeys((*names, *(proper_names(new) or (new,)))))
    return Question(
        text=text,
        query=query,
        qtype=qtype,
        before=before,
        after=after,
        wh=wh,
        english=english,
        names=names,
    )


def question_type(folded: str) -> str:
    """The kind of answer a (folded) question wants.

    >>> question_type("咸阳高新区签约了多少个项目？"), question_type("协议是哪天签的？")
    ('number', 'date')
    """
    # "…算为什么？" is "算为 + 什么", not "why"
    folded = re.sub(r"为什么([？?。]?)$", r"为 什么\1", folded)
    for t, rx in _WH_RE:
        if rx.search(folded):
            return t
    return "other"


def split_on_wh(folded: str) -> tuple[str, str, str]:
    """The question's text before its question word, the word, and the text after it.

    >>> split_on_wh("生命数耗完即算为什么？")
    ('生命数耗完即算为', '什么', '')
    """
    s = re.sub(r"[？?。!！\s]+$", "", folded)
    # the last question word is usually the one asked about
    m = next(reversed(list(_WH_SPAN.finditer(s))), None)
    if m is None:
        return s, "", ""
    start = m.start()
    if m.group() == "为什么" and m.end() == len(s):
        start += 1  # "算为什么" at the end: keep "为" with the verb
    return s[:start].strip(), s[start : m.end()], s[m.end() :].strip(" ，,的")


# ------------------------------------------------------------------ follow-ups

_ELLIPSIS = re.compile(
    r"^(?:那么?|那个|还有|而|另外)?\s*(?P<x>.{1,30}?)\s*(?:的情况|又|怎么样|如何|的呢|)呢[？?]?$"
)
_PRONOUN = re.compile(
    r"它们|他们|她们|它|其|该(?:区|市|公司|集团|项目|活动|企业|园区|单位|中心)?|"
    r"这(?:家|个|里|张|篇|则|条|位|所|座|项)|此次|那里"
)
_QUANTITY_NOUN = re.compile(
    r"(面积|产值|规模|人口|人数|营收|收入|投资额?|金额|数量|价格|高度|长度|重量|算力|增速|增幅|"
    r"比例|占比|预算|资金|补贴|补助|销量|产量|市值|营业额|销售额|交易额|利润|税收|估值)$"
)
_ELLIPSIS_EN = re.compile(r"^(?:and\s+|so\s+)?(?:what|how)\s+about\s+(?P<x>.+?)\s*[?？.!]*$", re.I)
_EN_NAME = re.compile(r"(?<=\s)[A-Z][\w'-]*(?:\s+(?:of\s+)?[A-Z][\w'-]*)*")
_ENTITY_SUFFIX = (
    "高新区|开发区|科学城|新区|园区|科技园|产业园|软件园|工业园|公园|集团|公司|大学|学院|中心|协会|街道|社区|政府|委员会|研究院|"
    "研究所|医院|银行|省|市|区|县|镇|村"
)
_LEADING_SUBJECT = re.compile(
    r"^(?:那么?|关于)?([^\s的与和及是在哪什么多少谁几它其该那这，,。？?！!、]{2,12}?)"
    r"(?=是|在|于|将|已|有|的|共|从|为|由)"
)
_ENTITY_STRICT = re.compile(rf"[\u4e00-\u9fffA-Za-z]{{2,16}}(?:{_ENTITY_SUFFIX})$")
# 港深创新及科技园的首座大楼: an entity and a thing of its own
_ENTITY_OWNS = re.compile(rf"^[\u4e00-\u9fffA-Za-z]{{2,16}}(?:{_ENTITY_SUFFIX})的")
_ENTITY = re.compile(
    rf"[^\s的与和及是在哪什么多少谁它其该那这，,。？?！!、]{{1,16}}(?:{_ENTITY_SUFFIX})"
    rf"|(?<![\u4e00-\u9fffA-Za-z])[^\s\d的与和及是在哪什么多少谁几它其该那这，,。？?！!、]{{2,8}}"
    rf"(?=的|[签举开召推发建设])"
)


def _history_questions(history: list) -> list[str]:
    """The user's earlier questions, each resolved against the ones before it, so a
    chain of follow-ups keeps its subject."""
    resolved: list[str] = []
    for t in _raw_history(history)[-20:]:
        resolved.append(_resolve_one(t, resolved[-1]) if resolved else t)
    return resolved


def _raw_history(history: list) -> list[str]:
    out = []
    for h in history:
        if isinstance(h, str):
            t = h
        elif isinstance(h, dict) and h.get("role", "user") == "user":
            t = h.get("content") or h.get("question") or ""
            if isinstance(t, list):  # gradio message content parts
                t = " ".join(p.get("text", "") for p in t if isinstance(p, dict))
        else:
            continue
        if isinstance(t, str) and t.strip():
            out.append(t.strip())
    return out


def _names_something(phrase: str) -> bool:
    """Whether a follow-up's phrase names a place, organisation or person (咸阳高新区,
    长沙) rather than a thing about the subject (产值, 它的面积)."""
    folded = fold_aligned(phrase)
    if _PRONOUN.search(folded):
        return False
    return bool(
        _ENTITY_STRICT.search(folded) or _ENTITY_OWNS.search(folded) or proper_names(fold(phrase))
    )


def subject_of(question: str) -> str | None:
    """The entity a question is about: its first named-entity-like phrase.

    >>> subject_of("珠海高新区签约的重点项目涵盖哪些领域？")
    '珠海高新区'
    """
    # matched on the question folded to Simplified (香港科學園 as 香港科学园), cut from
    # the question as written
    folded = fold_aligned(question)
    m = _ENTITY.search(folded)
    if m:
        return question[m.start() : m.end()]
    # else what the question opens with, up to its verb: 生物制造大会|是哪天开幕的
    m = _LEADING_SUBJECT.match(folded)
    return question[m.start(1) : m.end(1)] if m else None


def resolve_followup(question: str, history: list) -> str:
    """Rewrite an elliptical or pronoun follow-up into a whole question.

    >>> resolve_followup("它的总投资额是多少？", ["咸阳高新区签约了多少个项目？"])
    '咸阳高新区的总投资额是多少？'
    """
    prevs = _history_questions(history)
    return _resolve_one(question.strip(), prevs[-1]) if prevs else question.strip()


def _resolve_one(q: str, prev: str) -> str:
    if not q:
        return q
    fq = fold_aligned(q)  # every pattern reads Simplified; what is kept is as written
    m = _ELLIPSIS.match(fq)
    if m and len(q) <= 24:
        new = q[m.start("x") : m.end("x")].strip(" ，,")
        old = subject_of(prev)
        if new and not _names_something(new):
            # 那它的产值呢？ / 那面积呢？: the same subject, another thing about it
            pn = _PRONOUN.search(fold_aligned(new))
            attr = (new[: pn.start()] + new[pn.end() :] if pn else new).lstrip("的 ")
            if not (old and attr):
                return f"{attr or new} {prev}"
            # a quantity (面积, 产值) is asked as one: 是多少
            ask = "是多少？" if _QUANTITY_NOUN.search(attr) else "是什么？"
            return f"{old}的{attr}{ask}"
        if old and new and old != new:
            if "的" in new.strip("的"):
                # 那昆明的生物医药产业园二期呢？ after 苏州工业园区的纳米产业数据是哪天发布的？:
                # a thing of its own takes the place of the old subject's thing too
                old = _noun_phrase_from(prev, old)
            return prev.replace(old, new, 1)
        if new:
            return f"{new} {prev}"
    m = _ELLIPSIS_EN.match(q)
    if m:
        # What about Qingdao?: the earlier question, about the new name
        new = m.group("x")
        olds = _EN_NAME.findall(prev)
        return prev.replace(olds[0], new, 1) if olds else f"{prev} {new}"
    if "其中" in q and not _names_something(q.replace("其中", "")):
        # 其中做芯片设计的有多少家？ after …有多少家集成电路企业？: among the things the
        # earlier question counted, of its subject
        old = subject_of(prev)
        if old:
            fp = fold_aligned(prev)
            before, wh, counted = split_on_wh(fp)
            at = fp.find(counted, len(before) + len(wh)) if counted else -1
            counted = (prev[at : at + len(counted)] if at >= 0 else counted).strip(" ？?。!！")
            return q.replace("其中", f"{old}{counted}中", 1)
    pm = _PRONOUN.search(fq)
    if pm and not _names_something(q[: pm.start()] + q[pm.end() :]):
        old = subject_of(prev)
        if old:
            return q[: pm.start()] + old + q[pm.end() :]
    m = _GOES_ON.match(fq)
    if m and len(q) > 4:
        rest = q[m.end() :].lstrip("，, ") if m.group().startswith("那") else q
        if _names_something(rest) or _ENTITY.search(fold_aligned(rest)):
            return rest  # 那中关村的合作协议是哪天签的？: a subject of its own
        # 还有多少家签了意向协议？: it goes on about the earlier question's subject
        old = subject_of(prev)
        return f"{old}{rest}" if old else rest
    return q


# how a follow-up that names nothing carries on (还有多少家…, 另外…, 那…)
_GOES_ON = re.compile(r"还有|另外|此外|那么?(?![里儿些个])")


def _noun_phrase_from(question: str, subject: str) -> str:
    """The subject with what the question says of it, up to its verb or question word.

    >>> _noun_phrase_from("苏州工业园区的纳米产业数据是哪天发布的？", "苏州工业园区")
    '苏州工业园区的纳米产业数据'
    """
    import jieba.posseg as pseg

    at = question.find(subject)
    rest = question[at + len(subject) :]
    if at < 0 or not rest.startswith("的"):
        return subject
    n = 1
    for w in pseg.cut(fold_aligned(rest[1:])):
        if not w.flag.startswith(("n", "vn", "j", "eng", "an")) or _WH_SPAN.search(w.word):
            break
        if _QUANTITY_NOUN.search(w.word):
            break  # …大楼的投资额是多少: the measure asked stays, for the new subject too
        n += len(w.word)
    return subject + rest[:n] if n > 1 else subject


# ------------------------------------------------------------------ names

_NAME_FLAGS = ("ns", "nt", "nrt")  # not nr: jieba guesses it for any unknown word
# words that end the name of a place or an organisation (合肥|高新区, 中关村发展|集团):
# the words before them are the name; alone they say nothing about which one
_GENERIC = (
    "高新区|开发区|新区|科学城|园区|工业园区|科技园区|科技园|工业园|产业园|集团|公司|有限公司|"
    "大学|学院|省|市|县|镇|村|区|街道|社区|自治区|州"
)
# common words jieba's dictionary tags as places or organisations (长度 ns, 城市 ns): the
# frequent ones, read off its dict.txt; an article need not say them
NOT_NAMES = frozenset(
    "城市 东西 平原 外国 爱国 英雄 朝廷 太阳 海洋 哥哥 湖泊 大桥 高原 上市 美丽 山区 江湖 大街 "
    "王国 开国 城镇 京城 阿哥 庆典 深度 长度 山脉 回国 治安 大国 新鲜 古城 海峡 河口 冰川 山水 "
    "长大 莫非 普及 商城 内河 古典 阴阳 江山 高山 大海 山坡 河谷 上马 太平 福利 日志 云集 青春 "
    "山河 神圣 南北 东南 西北 西南 东北 中路 南路 大都".split()
)
_GENERIC_WORD = re.compile(rf"^(?:{_GENERIC})$")
_GENERIC_END = re.compile(rf"(?:{_GENERIC})$")
# first halves of generic names (科技|园区, 工业|园区): not names either
_GENERIC_STEM = re.compile(
    r"^(?:科技|工业|产业|高新|经济|技术|开发|发展|创新|软件|国家级|总|分|子|母|"
    r"初创|新创|创业|上市|民营|国有|外资|合资|龙头|头部|本地|当地|知名|大型|中小|小型|独角兽)$"
)
_NOT_NAME_FLAGS = ("m", "x", "uj", "ul", "p", "v", "r", "c", "d", "t", "q", "f", "u", "y", "e")


def proper_names(folded: str) -> tuple[str, ...]:
    """Names of places, organisations and people in a (folded) question: words jieba
    tags as such (two characters or more), and the words right before a generic entity
    word (``合肥`` of ``合肥高新区``). Generic entity words themselves are not names.

    >>> proper_names("合肥高新区今年的gdp增长了多少？")
    ('合肥',)
    """
    import jieba.posseg as pseg

    from .text import STOPWORDS, _jieba

    _jieba()
    out: dict[str, None] = {}
    tagged = [(w.word, w.flag) for w in pseg.cut(folded)]

    def plain(w: str, flag: str) -> bool:
        return not (
            flag in _NOT_NAME_FLAGS or _WH_SPAN.search(w) or w in STOPWORDS or not w.strip()
        )

    for i, (w, flag) in enumerate(tagged):
        if _GENERIC_WORD.match(w) or (_GENERIC_END.search(w) and flag not in _NAME_FLAGS):
            # the name is the (at most two) content words before it
            run = ""
            for pw, pflag in reversed(tagged[max(i - 2, 0) : i]):
                if not plain(pw, pflag) or _GENERIC_WORD.match(pw):
                    break
                run = pw + run
            if not run and not _GENERIC_WORD.match(w):
                # one word holding both: 苹果公司 -> 苹果
                run = _GENERIC_END.sub("", w)
            if len(run) >= 2 and not _GENERIC_STEM.match(run):
                out.setdefault(run, None)
        elif flag in _NAME_FLAGS and len(w) >= 2 and plain(w, "n") and w not in NOT_NAMES:
            out.setdefault(w, None)
    return tuple(out)
