"""Chinese text helpers shared by the stages: sentence spans, keyword tokens, script folding.

Does: split text into sentence spans with offsets; turn text into search tokens
(jieba words, Traditional folded to Simplified, full-width folded, stopwords dropped).
Does not: know about articles, chunks or indexes.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable, Iterator

# Sentence-final marks. A run of them, plus closing quotes/brackets, ends a sentence.
_FINAL = "。！？!?；;…"
_CLOSERS = "”’」』）)】》\"'"
_SENT_END = re.compile(rf"[{re.escape(_FINAL)}]+[{re.escape(_CLOSERS)}]*|\n+")

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
_WORDISH = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)

# Function words and question words: they match everything and answer nothing.
STOPWORDS = frozenset(
    """
    的 了 是 在 和 与 及 或 也 都 就 而 并 对 为 以 于 被 把 从 到 由 向 让 给 将 其 之 等 中 上 下
    这 那 这些 那些 这个 那个 该 此 有 没有 个 么 吗 呢 吧 啊 呀 哪 哪个 哪些 哪里 哪儿 哪家 哪所
    哪位 哪年 哪天 哪一年 哪种 什么 什么样 怎么 怎么样 怎样 如何 为什么 为何 多少 几 几个 多 多大
    多久 多长 多高 多远 谁 何 何时 何地 何处 时候 请问 请 一下 一个 一些 可以 能 会 要 所 又 还 但
    即 若 则 因 因为 所以 如果 虽然 但是 而且 以及 其中 通过 进行 它 他 她 它们 他们 她们 我们 你 我
    您 着 过 得 地 呢 嘛 么 之后 之前 以后 以前 那篇 这篇 报道 文章 里 内 外 时
    a an the of to in on at for by with and or is are was were be been what which who whom
    whose when where why how did do does this that these those it its as from about
    """.split()
)


_QPREFIX = re.compile(r"^(哪些|哪个|哪里|哪家|哪所|哪位|哪年|哪天|哪一|什么|多少|为什么|怎么|如何)")


def fold(text: str) -> str:
    """Fold for matching only: NFKC (full-width to half-width), lower case, Traditional
    to Simplified. The result is never shown to a reader.

    >>> fold("咸陽高新區ＡＢＣ")
    '咸阳高新区abc'
    """
    return _t2s(unicodedata.normalize("NFKC", text).lower())


@functools.lru_cache(maxsize=2)
def _opencc(config: str = "t2s"):
    import opencc

    return opencc.OpenCC(config)


def _t2s(text: str) -> str:
    if not _CJK.search(text):
        return text
    return _opencc().convert(text)


def to_simplified(text: str) -> str:
    """Traditional to Simplified Chinese with OpenCC (phrases included).

    >>> to_simplified("簽約項目")
    '签约项目'
    """
    return _t2s(text)


def to_traditional(text: str) -> str:
    """Simplified to Taiwan Traditional Chinese with OpenCC, Taiwanese words included
    (for evaluating Traditional questions; the product never rewrites an article).

    >>> to_traditional("软件签约项目")
    '軟體簽約專案'
    """
    return _opencc("s2twp").convert(text)


def mostly_simplified(texts: Iterable[str], sample: int = 20000) -> bool:
    """True unless Traditional characters (those OpenCC's t2s changes) make up more than
    5 % of the first ``sample`` Chinese characters of ``texts``.

    >>> mostly_simplified(["签约项目", "What"]), mostly_simplified(["簽約項目"])
    (True, False)
    """
    seen: list[str] = []
    n = 0
    for t in texts:
        cjk = "".join(_CJK.findall(t))
        seen.append(cjk)
        n += len(cjk)
        if n >= sample:
            break
    s = "".join(seen)[:sample]
    if not s:
        return True
    changed = sum(a != b for a, b in zip(s, _t2s(s), strict=False))
    return changed / len(s) <= 0.05


def is_chinese(text: str) -> bool:
    """True when the text has any CJK ideograph.

    >>> is_chinese("What is 火炬?"), is_chinese("What is it?")
    (True, False)
    """
    return bool(_CJK.search(text))


def sentence_spans(text: str, start: int = 0, end: int | None = None) -> list[tuple[int, int]]:
    """Spans of the sentences in ``text[start:end]``, stripped of surrounding whitespace.

    A sentence ends after a run of 。！？；… (or ASCII !?;) and any closing quotes or
    brackets, or at a line break.

    >>> t = "他说：“好。”然后走了！\\n新段落"
    >>> [t[a:b] for a, b in sentence_spans(t)]
    ['他说：“好。”', '然后走了！', '新段落']
    >>> t = "《台北！我》是专辑。"
    >>> [t[a:b] for a, b in sentence_spans(t)]
    ['《台北！我》是专辑。']
    """
    end = len(text) if end is None else end
    spans: list[tuple[int, int]] = []
    pos = start
    for m in _SENT_END.finditer(text, start, end):
        if not m.group().startswith("\n") and (
            _inside(text, pos, m.end(), "《", "》", 30) or _inside(text, pos, m.end(), "“", "”", 80)
        ):
            # 《卡拉OK.LIVE！‧台北‧我》: a title's ！ ends no sentence, nor does the 。 of
            # a short quotation (解释为：“…。通常…。”)
            continue
        stop = m.start() if m.group().startswith("\n") else m.end()
        _add_span(text, pos, stop, spans)
        pos = m.end()
    _add_span(text, pos, end, spans)
    return spans


def _inside(text: str, a: int, i: int, left: str, right: str, reach: int) -> bool:
    """True when ``text[i]`` lies inside ``left``…``right`` opened after ``a`` and
    closed within ``reach`` characters on the same line."""
    opened = text.rfind(left, a, i)
    if opened < 0 or text.find(right, opened, i) >= 0:
        return False
    close = text.find(right, i, i + reach)
    return close >= 0 and "\n" not in text[i:close]


def _add_span(text: str, a: int, b: int, out: list[tuple[int, int]]) -> None:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    if b > a:
        out.append((a, b))


@functools.lru_cache(maxsize=1)
def _jieba():
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def words(text: str) -> list[str]:
    """jieba words of the folded text, punctuation and spaces dropped (stopwords kept).

    >>> words("珠海高新区签约16个项目")
    ['珠海', '高新区', '签约', '16', '个', '项目']
    """
    return [w for w in _jieba().lcut(fold(text)) if _WORDISH.search(w)]


def tokens(text: str) -> list[str]:
    """Search tokens: jieba's search-mode words of the folded text, minus stopwords.

    Search mode adds the shorter words inside long ones (高新区 -> 高新, 新区), which
    lets a question's wording match the article's.

    >>> tokens("咸陽高新區簽約了多少個項目？")
    ['咸阳', '高新', '新区', '高新区', '签约', '项目']
    """
    out = []
    for w in _jieba().lcut_for_search(fold(text)):
        if not _WORDISH.search(w) or w in STOPWORDS or w.isspace():
            continue
        # jieba glues question words to nouns (哪些项目, 多少个); keep the noun part
        m = _QPREFIX.match(w)
        if m:
            w = w[m.end() :]
            if not w or w in STOPWORDS:
                continue
        out.append(w)
    return out


def char_ngrams(text: str, n: int = 2) -> Iterator[str]:
    """Overlapping character n-grams of the folded text's word characters.

    >>> list(char_ngrams("高新区。"))
    ['高新', '新区']
    """
    s = "".join(ch for ch in fold(text) if _WORDISH.match(ch))
    for i in range(len(s) - n + 1):
        yield s[i : i + n]


def fold_aligned(text: str) -> str:
    """``fold`` that keeps every character in place (same length, same offsets), so a
    match found in the folded text is a span of the original.

    >>> fold_aligned("咸陽ＡＢ①")
    '咸阳ab1'
    """
    chars = []
    for ch in text:
        c = unicodedata.normalize("NFKC", ch).lower()
        chars.append(c if len(c) == 1 else ch.lower() if len(ch.lower()) == 1 else ch)
    s = "".join(chars)
    if not _CJK.search(s):
        return s
    conv = _t2s(s)
    if len(conv) == len(s):
        return conv
    return "".join(c2 if len(c2 := _t2s(c)) == 1 else c for c in s)
