"""Sentences: the rule gate's score for each sentence of the leading articles.

Each sentence gets a row of features (``FEATURES``): idf-weighted overlap with the
question's words (words the article's title already has count less: they say which
article, not which sentence), character-bigram and longest-common-run overlap, whether
it holds a figure or date of the kind a 多少/哪天 question asks (``extract``), the
article's retrieval rank and the chunk's, whether it opens with a pronoun standing for
the article's topic, and the dates the question names. The score is the row times ``WEIGHTS`` (fitted on CMRC 2018 trial; which features
stay was decided by ablation through the reader, docs/BENCHMARKS.md).

Does not: decide whether to answer (``confidence``), quote (``answer``) or cut a short
answer (the reader).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .extract import DATE, NUMBER, TIME_PHRASE, asked_unit, typed_spans
from .index import Index
from .question import Question
from .text import STOPWORDS, char_ngrams, fold, sentence_spans, words
from .types import Hit

_AUTHOR_WORDS = re.compile(
    r"^(作者|记者|撰稿|撰写|写|摄影|摄影师|拍摄|拍|署名|照片|图片|相片|报道|文章|稿件|新闻|"
    r"author|wrote|written|reporter|byline|photo|photograph|picture|article|report)$"
)


_WH_WORDS = re.compile(
    r"^(哪.*|多少.*|几.?|什么.*|谁|何.*|怎么.*|怎样|如何|为什么|为何|是否|第几|多[大高长重远宽深久])$"
)


# Sentence features and their weights (fitted on CMRC 2018 trial, see docs/BENCHMARKS.md).
FEATURES = (
    "kw",  # idf-weighted share of the question's words found in the sentence
    "kw_nt",  # … counting only words the article's title does not already have
    "bigram",  # share of the question's character bigrams found
    "lcs",  # longest common substring with the question, relative to its length
    "ctx",  # kw_nt of the best neighbouring sentence
    "type",  # holds an answer of the asked type (number/date questions)
    "no_type",  # number/date question and the sentence holds none
    "first",  # the article's first sentence
    "prior",  # 1/(1+rank) of the article
    "in_hit",  # 1/(1+rank) of the retrieved chunk holding the sentence
    "refers",  # opens with a pronoun (它/其/该…): kw as if it named the article's title
    "when",  # has the date the question names (1989年，…): 1, its year only: 0.5
    "not_when",  # the question names a date; the sentence has another and not that one
)


_COL = {name: i for i, name in enumerate(FEATURES)}


WEIGHTS = np.array(
    [
        0.55,
        5.06,
        1.29,
        0.67,
        -0.33,
        1.66,
        -1.03,
        0.42,
        3.68,
        2.05,
        1.0,
        1.0,
        -1.0,
    ]
)

# function characters jieba glues onto an unknown word's end or start
_GLUED_TAIL = set("有著在的也都就将把被于")


_GLUED_HEAD = set("以在于被把将对从向和与及由")


_PRONOUN_START = re.compile(r"^(?:[它她他其此该这牠]|本(?![来身地]))")


UNIT_MARGIN = 2.5


@dataclass(frozen=True)
class Sent:
    """A sentence of an article (character offsets ``start``-``end``) with its score."""

    article_id: str
    start: int
    end: int
    text: str
    score: float
    kw: float


class Sentences:
    """Scores the sentences of an index's articles for a question."""

    def __init__(self, index: Index) -> None:
        self.index = index
        self._fold_cache: dict[str, str] = {}

    def folded(self, article_id: str) -> str:
        """The article's title, author and text, folded (``text.fold``); cached."""
        got = self._fold_cache.get(article_id)
        if got is None:
            art = self.index.articles[article_id]
            got = fold(art.title + "\n" + art.author + "\n" + art.text)
            if len(self._fold_cache) > 4096:
                self._fold_cache.clear()
            self._fold_cache[article_id] = got
        return got

    def terms(self, q: Question, context: str = "") -> list[tuple[str, float]]:
        """Content words of the question with idf weights (single characters count half).
        For an English question: the Chinese words standing for its words, each group
        sharing one word's weight, plus an empty share for words with no translation.
        ``context`` (folded text of the leading articles) lets a word that jieba glued
        across a word boundary (细胞谷要在 -> 细胞|谷要) fall back to the half it has."""
        out: dict[str, float] = {}
        if q.english:
            for g in q.groups:
                for w in g:
                    out[w] = max(out.get(w, 0.0), self.index.idf(w) / len(g))
            missing = max(q.content_words - len(q.groups), 0)
            if out and missing:
                mean = sum(out.values()) / max(len(q.groups), 1)
                out[" untranslated"] = mean * missing  # matches nothing, lowers coverage
            return list(out.items())
        ws = words(q.query)
        for i, w in enumerate(ws):
            unseen = len(w) >= 2 and self.index.doc_freq(w) == 0
            if unseen and w[-1] in "了着过是":
                # jieba glues aspect particles and a copula on (签了, 林晓是): match the rest
                w = w[:-1]
            elif unseen and context and w[-1] in _GLUED_TAIL and w[:-1] in context:
                w = w[:-1]  # 天门冬的根有什么特点: 根|有, 史继偕著有: 史继偕|著
            elif unseen and context and w[0] in _GLUED_HEAD and w[1:] in context:
                w = w[1:]  # 以兆康苑总站为…: 以|兆康苑
            elif len(w) == 2 and context and self.index.doc_freq(w) == 0:
                before = ws[i - 1] if i else ""
                after = ws[i + 1] if i + 1 < len(ws) else ""
                if before and before + w[0] in context:
                    w = w[0]
                elif after and w[1] + after in context:
                    w = w[1]
            if w in STOPWORDS or _WH_WORDS.match(w):
                continue
            if q.qtype == "author" and _AUTHOR_WORDS.match(w):
                continue  # 作者/记者 name what is asked; the article need not say them
            weight = self.index.idf(w) * (0.5 if len(w) == 1 and not w.isdigit() else 1.0)
            out[w] = max(out.get(w, 0.0), weight)
        if "其中" in q.text and q.query != q.text.strip():
            # 其中做芯片设计的有多少家？ (rewritten): the article says 其中… for a subset too
            out["其中"] = self.index.idf("其中")
        return list(out.items())

    def ranked(self, q: Question, terms, article_ids: list[str], hits: list[Hit]) -> list[Sent]:
        """The candidate sentences of ``article_ids``, best first."""
        cands, feats = self.features(q, terms, article_ids, hits)
        if not cands:
            return []
        scores = feats @ WEIGHTS
        if q.qtype == "number" and asked_unit(q):
            # 多少个/几家 names its unit: a close runner-up holding a number in that unit
            # beats a leader holding none (the lead sentence often names the event and
            # the next one gives the figure)
            lead = int(np.argmax(scores))
            if feats[lead, _COL["type"]] < 1.0:
                fits = np.where(feats[:, _COL["type"]] == 1.0)[0]
                if len(fits):
                    best = fits[int(np.argmax(scores[fits]))]
                    if scores[lead] - scores[best] <= UNIT_MARGIN:
                        scores[best] = scores[lead] + 1e-6
        out = [
            Sent(aid, a, b, s, float(sc), float(f[0]))
            for (aid, a, b, s), sc, f in zip(cands, scores, feats, strict=True)
        ]
        out.sort(key=lambda x: (-x.score, x.article_id, x.start))
        return out

    def features(self, q: Question, terms, article_ids: list[str], hits: list[Hit]):
        """Candidate sentences of the leading articles and their feature rows (columns
        as in ``FEATURES``)."""
        total = sum(w for _, w in terms) or 1.0
        q_content = "".join(ch for ch in q.before + q.after if ch.isalnum())
        q_bigrams = set(char_ngrams(q_content)) if q_content else set()
        typed = q.qtype in ("number", "date")
        asked_dates = _asked_dates(q)
        hit_spans: dict[str, list[tuple[int, int, int]]] = {}
        for h in hits:
            hit_spans.setdefault(h.chunk.article_id, []).append(
                (h.chunk.start, h.chunk.end, h.rank)
            )
        cands: list[tuple[str, int, int, str]] = []
        rows: list[np.ndarray] = []
        for arank, aid in enumerate(article_ids):
            art = self.index.articles[aid]
            title = fold(art.title)
            # a name-like title (乍都节公园) is the topic of every sentence, so its words
            # say nothing about which sentence answers; a news headline states the key
            # fact, so its words still count half
            in_title = 0.5 if len(title) > 12 else 0.0
            spans = sentence_spans(art.text)
            first_row = len(rows)
            for i, (a, b) in enumerate(spans):
                s = art.text[a:b]
                fs = fold(s)
                f = np.zeros(len(FEATURES))
                hit = [(t, w * match(t, fs)) for t, w in terms]
                f[_COL["kw"]] = sum(x for _, x in hit) / total
                f[_COL["kw_nt"]] = (
                    sum(x * (1.0 if t not in title else in_title) for t, x in hit) / total
                )
                if q_bigrams:
                    f[_COL["bigram"]] = len(q_bigrams & set(char_ngrams(s))) / len(q_bigrams)
                if q_content:
                    f[_COL["lcs"]] = min(2.0 * _longest_common(q_content, fs) / len(q_content), 1.0)
                if typed:
                    t = type_match(q, s)
                    f[_COL["type"]] = t
                    f[_COL["no_type"]] = 1.0 if t == 0.0 else 0.0
                f[_COL["first"]] = 1.0 if i == 0 else 0.0
                f[_COL["prior"]] = 1.0 / (1.0 + arank)
                # a sentence longer than a chunk is split over two: count the best
                # chunk holding at least half of it
                in_hit = min(
                    (
                        r
                        for (ca, cb, r) in hit_spans.get(aid, [])
                        if min(b, cb) - max(a, ca) >= min(b - a, cb - ca) / 2
                    ),
                    default=None,
                )
                f[_COL["in_hit"]] = 1.0 / (1.0 + in_hit) if in_hit is not None else 0.0
                if i > 0 and _PRONOUN_START.match(s):
                    f[_COL["refers"]] = (
                        sum(w * max(match(t, fs), match(t, title)) for t, w in terms) / total
                    )
                if asked_dates:
                    f[_COL["when"]], f[_COL["not_when"]] = _date_match(asked_dates, fs)
                rows.append(f)
                cands.append((aid, a, b, s))
            # a neighbour that holds the question's words lends some of its overlap (the
            # answer sentence often refers to the topic only by 该/其 or not at all)
            block = rows[first_row:]
            for i, f in enumerate(block):
                nb = [block[j][_COL["kw_nt"]] for j in (i - 1, i + 1) if 0 <= j < len(block)]
                f[_COL["ctx"]] = max(nb, default=0.0)
        feats = np.asarray(rows, dtype=np.float64).reshape(len(rows), len(FEATURES))
        return cands, feats


def match(term: str, text: str) -> float:
    """1 when ``term`` occurs in ``text``; for a longer word, the share of its character
    bigrams that occur when at least half do (总投资额 ~ 总投资); else 0.

    >>> match("总投资额", "总投资42.93亿元"), match("咸阳", "珠海高新区")
    (0.6666666666666666, 0.0)
    """
    if term in text:
        return 1.0
    if len(term) < 3:
        return 0.0
    grams = [term[i : i + 2] for i in range(len(term) - 1)]
    share = sum(1 for g in grams if g in text) / len(grams)
    return share if share >= 0.5 else 0.0


def _longest_common(a: str, b: str) -> int:
    """Length of the longest common substring (grown one character at a time with C-level
    ``in`` checks, so it stays cheap for a question against a sentence).

    >>> _longest_common("签约项目共有", "此次集中签约项目共有21个")
    6
    """
    best = 0
    for i in range(len(a)):
        j = i + best + 1
        while j <= len(a) and a[i:j] in b:
            best = j - i
            j += 1
    return best


_YEAR = re.compile(r"(?:公元前?)?\d{2,4}年")


def _asked_dates(q: Question) -> list[tuple[str, str]]:
    """The dates a question names outside its question word, each with its year:
    ``1989年，蔡敏参与了什么活动`` -> ``[("1989年", "1989年")]``."""
    if q.english:
        return []
    out = []
    for m in DATE.finditer(q.before + " " + q.after):
        y = _YEAR.match(m.group())
        if y:
            out.append((m.group(), y.group()))
    return out


def _date_match(asked: list[tuple[str, str]], folded: str) -> tuple[float, float]:
    """(when, not_when) for a sentence: 1 when it has a date the question names, 0.5
    when it has only that date's year; not_when 1 when it has other years instead.

    >>> _date_match([("1989年", "1989年")], "1983年参与维也纳轻歌剧蝙蝠演出。")
    (0.0, 1.0)
    """
    if any(d in folded for d, _ in asked):
        return 1.0, 0.0
    if any(y in folded for _, y in asked):
        return 0.5, 0.0
    return 0.0, 1.0 if _YEAR.search(folded) else 0.0


def type_match(q: Question, sentence: str) -> float:
    """How well the best figure or date of ``sentence`` fits a number or date question
    (``_typed_score``: 1 in the asked unit, less in another), else 0."""
    if q.qtype not in ("number", "date"):
        return 0.0
    return max((_typed_score(q, sentence[a:b]) for a, b in typed_spans(sentence, q)), default=0.0)


def _typed_score(q: Question, span: str) -> float:
    """How well ``span``, a figure or a date, fits the number or date question ``q``.

    >>> from rag.question import analyze
    >>> q = analyze("落地了多少个项目？")
    >>> _typed_score(q, "16个"), _typed_score(q, "22亿元"), _typed_score(q, "十六个")
    (1.0, 0.4, 0.7)
    """
    got = fold(span)  # 兩星期 reads as 两星期
    if q.qtype == "date":
        return 1.0 if DATE.search(got) else 0.7 if TIME_PHRASE.search(got) else 0.0
    if not NUMBER.search(got) or not re.search(r"\d|[一二两三四五六七八九十百千万亿]", got):
        return 0.0
    unit = asked_unit(q)
    if not unit or unit in got:
        return 1.0 if re.search(r"\d", got) else 0.7
    return 0.4 if re.search(r"\d", got) else 0.2
