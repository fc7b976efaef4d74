"""Metrics: pure functions that score answers and rankings. No I/O, no models.

- ``cmrc_em`` / ``cmrc_f1``: the official CMRC 2018 evaluation (v5, SQuAD-style) re-done
  in Python 3: lower-case and strip; for F1, split the text into single Chinese
  characters (U+4E00..U+9FA5) and word tokens of the runs between them, drop the
  script's punctuation list, and score the *longest common contiguous* run of
  segments (the script's ``find_lcs``) as precision/recall/F1; for EM, drop the
  punctuation and compare the strings. Both take the best over the gold answers and
  are 0..1 here (the script prints them ×100).
- ``rank_of`` / ``recall_at`` / ``mrr``: ranks of a gold item in a ranked list.
- ``percentile`` / ``median`` / ``mean``: summary statistics without numpy.
- ``strip_markers`` / ``answer_length`` / ``contains_any``: how answers are measured.

Differences from the official script, on purpose and small: the script tokenizes the
non-Chinese runs with ``nltk.word_tokenize``; nltk is not a dependency, so
``_word_tokens`` approximates it (words, numbers with inner ``.``/``,``, every other
symbol on its own). The two differ only on English contractions (``don't``) and
dotted abbreviations (``U.S.``), rare in CMRC answers. Like the script, a punctuation
mark that is dropped does *not* split the run around it (``4V4、2V2`` → one token).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence

# the official script's ``sp_char`` list; its "……" entry is two characters and so never
# equals a single character: a lone "…" is kept, exactly as the script keeps it.
CMRC_PUNCT = frozenset(
    [
        "-",
        ":",
        "_",
        "*",
        "^",
        "/",
        "\\",
        "~",
        "`",
        "+",
        "=",
        "，",
        "。",
        "：",
        "？",
        "！",
        "“",
        "”",
        "；",
        "’",
        "《",
        "》",
        "·",
        "、",
        "「",
        "」",
        "（",
        "）",
        "－",
        "～",
        "『",
        "』",
    ]
)
_CJK = re.compile(r"[\u4e00-\u9fa5]")
_WORD = re.compile(r"[^\W_]+(?:[.,'][^\W_]+)*|\S")
_MARKER = re.compile(r"\[\d+\]")


# ---------------------------------------------------------------------- CMRC 2018


def _word_tokens(text: str) -> list[str]:
    """Tokens of a run of non-Chinese text (an approximation of nltk.word_tokenize).

    >>> _word_tokens("v2.0 (beta), 1,000 km")
    ['v2.0', '(', 'beta', ')', ',', '1,000', 'km']
    """
    return _WORD.findall(text)


def mixed_segmentation(text: str, rm_punc: bool = False) -> list[str]:
    """Chinese characters one by one, other runs as word tokens, lower-cased.

    >>> mixed_segmentation("iPhone 14售价5999元。", rm_punc=True)
    ['iphone', '14', '售', '价', '5999', '元']
    """
    segs: list[str] = []
    run = ""
    for ch in str(text).lower().strip():
        if rm_punc and ch in CMRC_PUNCT:
            continue
        if _CJK.match(ch) or ch in CMRC_PUNCT:
            if run:
                segs.extend(_word_tokens(run))
                run = ""
            segs.append(ch)
        else:
            run += ch
    if run:
        segs.extend(_word_tokens(run))
    return segs


def remove_punctuation(text: str) -> str:
    """Lower-cased, stripped, without the script's punctuation marks.

    >>> remove_punctuation(" 《红楼梦》、Dream ")
    '红楼梦dream'
    """
    return "".join(ch for ch in str(text).lower().strip() if ch not in CMRC_PUNCT)


def longest_common_run(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common *contiguous* run of ``a`` and ``b`` (``find_lcs``).

    >>> longest_common_run(list("abcde"), list("xbcdy"))
    3
    """
    best = 0
    prev = [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b):
            if x == y:
                cur[j + 1] = prev[j] + 1
                best = max(best, cur[j + 1])
        prev = cur
    return best


def cmrc_f1(prediction: str, answers: Iterable[str]) -> float:
    """Best character-level F1 (0..1) of ``prediction`` against any gold answer.

    >>> round(cmrc_f1("北京大学", ["北京"]), 4)
    0.6667
    """
    pred = mixed_segmentation(prediction, rm_punc=True)
    best = 0.0
    for ans in answers:
        gold = mixed_segmentation(ans, rm_punc=True)
        common = longest_common_run(gold, pred)
        if common == 0:
            continue
        p, r = common / len(pred), common / len(gold)
        best = max(best, 2 * p * r / (p + r))
    return best


def cmrc_em(prediction: str, answers: Iterable[str]) -> float:
    """1.0 when ``prediction`` equals a gold answer once punctuation is dropped, else 0.0.

    >>> cmrc_em("“踢爆”。", ["踢爆"])
    1.0
    """
    pred = remove_punctuation(prediction)
    return 1.0 if any(remove_punctuation(a) == pred for a in answers) else 0.0


# ---------------------------------------------------------------------- rankings


def rank_of(gold: str, ranked: Sequence[str]) -> int | None:
    """1-based position of ``gold`` in ``ranked``; None when it is absent.

    >>> rank_of("b", ["a", "b", "b"])
    2
    """
    for i, item in enumerate(ranked, start=1):
        if item == gold:
            return i
    return None


def recall_at(ranks: Sequence[int | None], k: int) -> float:
    """Share of questions whose gold item ranks within the top ``k``.

    >>> recall_at([1, 3, None, 2], 2)
    0.5
    """
    if not ranks:
        return 0.0
    return sum(1 for r in ranks if r is not None and r <= k) / len(ranks)


def mrr(ranks: Sequence[int | None]) -> float:
    """Mean reciprocal rank; an absent gold item counts 0.

    >>> mrr([1, 2, None, 4])
    0.4375
    """
    if not ranks:
        return 0.0
    return sum(1.0 / r for r in ranks if r) / len(ranks)


# ---------------------------------------------------------------------- statistics


def percentile(values: Iterable[float], p: float) -> float:
    """The ``p``-th percentile (0..100), linear between closest ranks (numpy's default).

    >>> percentile([10, 20, 30, 40], 95)
    38.5
    """
    xs = sorted(values)
    if not xs:
        return math.nan
    if not 0 <= p <= 100:
        raise ValueError(f"percentile must be within 0..100, not {p}")
    pos = (len(xs) - 1) * p / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def median(values: Iterable[float]) -> float:
    return percentile(values, 50)


def mean(values: Iterable[float]) -> float:
    xs = list(values)
    return sum(xs) / len(xs) if xs else math.nan


def rate(flags: Iterable[bool]) -> float:
    """Share of true flags (NaN for none).

    >>> rate([True, False, True, True])
    0.75
    """
    xs = list(flags)
    return sum(1 for x in xs if x) / len(xs) if xs else math.nan


# ---------------------------------------------------------------------- answers


def strip_markers(text: str) -> str:
    """The answer text without its ``[n]`` source markers.

    >>> strip_markers("16个[1]\\n共落地重点项目16个。[1]")
    '16个\\n共落地重点项目16个。'
    """
    return _MARKER.sub("", text)


def answer_length(text: str) -> int:
    """Characters a reader reads: the answer without ``[n]`` markers and line breaks.

    >>> answer_length("16个[1]\\n共落地重点项目16个。[1]")
    14
    """
    return len(strip_markers(text).replace("\n", ""))


def contains_any(text: str, needles: Iterable[str]) -> bool:
    """True when one of ``needles`` (non-empty) occurs in ``text`` once the ``[n]``
    markers are removed.

    >>> contains_any("落地重点项目16个[1]", ["16个", "十六个"])
    True
    """
    hay = strip_markers(text)
    return any(n and n in hay for n in needles)
