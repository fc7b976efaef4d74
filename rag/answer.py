"""Answer: retrieved chunks in, an extractive ``Answer`` with numbered sources out.

1. Group hits by article; the articles, best first, are the sources.
2. Score every sentence of the leading articles: idf-weighted overlap with the
   question's words (words shared with the article's title count less: they say which
   article, not which sentence), character-bigram overlap, whether the sentence holds
   an answer of the asked type (a number for 多少, a date for 哪天), the article's
   retrieval rank, and (for questions sharing no words with the corpus, e.g. English)
   dense similarity of the sentence to the question.
3. The best sentence is quoted verbatim (with the next one when it is only a lead-in).
   Short answers are the reader's (``rag/reader``); this stage gives one only for a
   who-wrote question, the byline's names.
4. Confidence combines how much of the question the article and sentence cover with the
   dense score; below ``min_confidence`` the answer is a refusal that still lists the
   closest sources.

Does not: search (``retrieve``) or rewrite the question (``question``).
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, replace

import numpy as np

from .extract import (
    COUNT_UNIT,
    DATE,
    NUMBER,
    TIME_PHRASE,
    UNIT_KINDS,
    asked_unit,
    typed_spans,
)
from .index import Index
from .question import KIN, Question
from .retrieve import QueryEncoder
from .text import STOPWORDS, char_ngrams, fold, sentence_spans, words
from .types import Answer, Article, Hit, Quote, Source

NO_ANSWER = "资料中没有找到相关答案。"
NO_ANSWER_EN = "资料中没有找到相关答案。(No answer was found in the articles.)"
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
    "dense",  # rescaled cosine to the question (English or no shared words only)
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
        1.5,
        1.0,
        1.0,
        -1.0,
    ]
)
_ANNOUNCES = re.compile(
    r"(?:多种|数个|数种|几种|多个|以下|如下|下列|[两三四五六七八九十几]个|[两三四五六七八九十几多](?:方面|点|种|类))"
    r"[^，。]{0,12}[。：:]$"
)
# function characters jieba glues onto an unknown word's end or start
_GLUED_TAIL = set("有著在的也都就将把被于")
_GLUED_HEAD = set("以在于被把将对从向和与及由")
_CAUSE = re.compile(r"因为|由于|为了|原因|因而|以致|导致")
_PRONOUN_START = re.compile(r"^(?:[它她他其此该这牠]|本(?![来身地]))")
UNIT_MARGIN = 2.5
DENSE_LEADERS = 3  # sentences given a dense score for English / no-shared-word questions
# quote the neighbouring sentence too when it scores within this of the best: on CMRC
# 1.5 traded +1.9 points of answer hit for +7 characters of median answer (BENCHMARKS.md)
PAIR_MARGIN = 1.5

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


@dataclass(frozen=True)
class Sent:
    """A sentence of an article (character offsets ``start``-``end``) with its score."""

    article_id: str
    start: int
    end: int
    text: str
    score: float
    kw: float


class Answerer:
    """Turns hits into an ``Answer``. ``query_encoder`` is optional (dense sentence
    scoring for questions that share no words with the corpus)."""

    def __init__(
        self,
        index: Index,
        query_encoder: QueryEncoder | None = None,
        min_confidence: float = 0.30,
        max_articles: int = 3,
    ) -> None:
        self.index = index
        self.qenc = query_encoder
        self.min_confidence = min_confidence
        self.max_articles = max_articles
        self._fold_cache: dict[str, str] = {}

    # ------------------------------------------------------------------ public

    def run(self, q: Question, hits: list[Hit], k: int = 5) -> Answer:
        articles = self._rank_articles(hits)
        if not articles:
            return self._refusal(q, [], {}, confidence=0.0)
        # the leading articles' text, to tell a word jieba glued together from a missing one
        context = "\n".join(self.folded(aid) for aid in articles[: self.max_articles])
        terms = self.terms(q, context)
        best_hit = {aid: h for aid, h in reversed([(h.chunk.article_id, h) for h in hits])}
        q = self._unglued(q, context)
        named = [aid for aid in articles if self._names_in(q, aid)]
        if not named:
            return self._refusal(q, articles[:k], best_hit, confidence=0.0)
        sentences = self._score_sentences(q, terms, self._contenders(terms, named), hits)
        if q.qtype == "author":
            picked = self._author_sentence(q, terms, articles[: self.max_articles])
            if picked is not None:
                sentences.insert(0, picked)
        if not sentences:
            return self._refusal(q, articles[:k], best_hit, confidence=0.0)
        best = sentences[0]
        art = self.index.articles[best.article_id]
        confidence = self._confidence(q, terms, art, best, best_hit.get(art.id))
        if _uncounted(q, best.text):
            # 多少家/几个 and the best sentence has no count at all (only money, a share
            # or a measure): the corpus does not say how many
            confidence = min(confidence, self.min_confidence / 2)
        if q.query != q.text.strip() and _count_of_something_else(q, best.text):
            # 那广州开发区呢？ after 长沙…引进了多少个项目: the new subject's article counts
            # 企业, not 项目. A follow-up's words were written for another article, so
            # its count must be of the same thing
            confidence = min(confidence, self.min_confidence / 2)
        whole = self.folded(art.id)
        measured = _measured_word(q)
        if measured and not any(len(m) >= 2 and m in whole for m in _stems(measured)):
            # 数据中心用电量是多少 and the article never says 用电量 (nor 电量): whatever
            # figure it has measures something else
            confidence = min(confidence, self.min_confidence / 2)
        if q.measure and not any(m in whole for m in q.measure):
            # What is the population of Qingdao? and Qingdao's article has no 人口
            confidence = min(confidence, self.min_confidence / 2)
        whose = _measured_of(q)
        if whose and not all(w in whole for w in whose):
            # 人工智能产业去年产值是多少 and the article's 产值 is of 纳米新材料
            confidence = min(confidence, self.min_confidence / 2)
        if confidence < self.min_confidence:
            return self._refusal(q, articles[:k], best_hit, confidence)
        spans = [(best.start, best.end)]
        nxt = None if q.qtype == "author" else self._continuation(art, best)
        if nxt is not None:
            spans.append(nxt)
        elif q.qtype != "author":
            pair = self.neighbour(art, best, sentences)
            if pair is None and q.qtype == "why" and not _CAUSE.search(best.text):
                pair = self._previous(art, best)
            if pair is not None:
                spans = sorted([*spans, pair])
        return self._compose(
            q, art, spans, articles[:k], best_hit, confidence, best_span=(best.start, best.end)
        )

    def neighbour(self, art: Article, best: Sent, ranked: list[Sent]) -> tuple[int, int] | None:
        """The sentence right before or after the best one, when it scored nearly as well:
        the answer then most likely runs across the two."""
        for s in ranked[1:]:
            if best.score - s.score > PAIR_MARGIN:
                break
            if s.article_id != best.article_id or s.start == best.start:
                continue
            if not art.text[min(s.end, best.end) : max(s.start, best.start)].strip():
                return (s.start, s.end)  # adjacent
        return None

    def _previous(self, art: Article, best: Sent) -> tuple[int, int] | None:
        """The sentence right before the best one in the same paragraph: a "why" question
        restates the effect, and the cause usually comes just before it."""
        prev = [s for s in sentence_spans(art.text, 0, best.start) if s[1] <= best.start]
        if prev and "\n" not in art.text[prev[-1][1] : best.start]:
            return prev[-1]
        return None

    # ------------------------------------------------------------------ scoring

    def _rank_articles(self, hits: list[Hit]) -> list[str]:
        seen: dict[str, None] = {}
        for h in sorted(hits, key=lambda h: h.rank):
            seen.setdefault(h.chunk.article_id, None)
        return list(seen)

    def _contenders(self, terms, article_ids: list[str]) -> list[str]:
        """The leading articles that can hold the answer: those that cover the question's
        words about as well as the best one does. An article that lacks the question's
        subject (咸阳 in a question about 咸阳) does not get to answer it."""
        leading = article_ids[: self.max_articles]
        if not terms or len(leading) < 2:
            return leading
        total = sum(w for _, w in terms) or 1.0
        cov = {}
        for aid in leading:
            whole = self.folded(aid)
            cov[aid] = sum(w * _match(t, whole) for t, w in terms) / total
        best = max(cov.values())
        return [aid for aid in leading if cov[aid] >= best - 0.2]

    def naming(self, q: Question, hits: list[Hit]) -> list[str]:
        """The articles of ``hits``, best first, that name every place, organisation and
        person ``q`` names: an article that never names the question's (合肥 in a
        question about 合肥高新区) cannot answer it, however well the rest matches."""
        articles = self._rank_articles(hits)
        context = "\n".join(self.folded(aid) for aid in articles[: self.max_articles])
        q = self._unglued(q, context)
        return [aid for aid in articles if self._names_in(q, aid)]

    def _unglued(self, q: Question, context: str) -> Question:
        """``q`` without the "names" that are jieba gluing the end of one word to the
        start of the next (细胞谷|共签约 tagged 谷共): the leading articles have the
        text that runs into them (胞谷)."""
        if not q.names or not context:
            return q
        folded = fold(q.query)
        keep = []
        for name in q.names:
            p = folded.find(name)
            glued = (
                len(name) == 2
                and p >= 0
                and (
                    (p >= 2 and folded[p - 2 : p + 1] in context)
                    or folded[p + 1 : p + 4] in context
                )
                and self.index.doc_freq(name) == 0
            )
            if not glued:
                keep.append(name)
        return q if len(keep) == len(q.names) else replace(q, names=tuple(keep))

    def _names_in(self, q: Question, article_id: str) -> bool:
        """Whether the article has every proper name of the question (a longer name
        may match in part: 南京江北 ~ 江北; ``郑州|正州`` is either)."""
        if not q.names:
            return True
        whole = self.folded(article_id)
        return all(any(_match(n, whole) > 0.0 for n in name.split("|")) for name in q.names)

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
            if w == q.focus and (KIN.fullmatch(w) or w == "名字"):
                continue  # 谁的女儿 is answered by X之女, which has no 女儿
            if q.focus == "由来" and _NAME_FRAME.fullmatch(w):
                continue  # 名字是怎么来的 is answered by …故得名, which has no 名字
            weight = self.index.idf(w) * (0.5 if len(w) == 1 and not w.isdigit() else 1.0)
            out[w] = max(out.get(w, 0.0), weight)
        if "其中" in q.text and q.query != q.text.strip():
            # 其中做芯片设计的有多少家？ (rewritten): the article says 其中… for a subset too
            out["其中"] = self.index.idf("其中")
        return list(out.items())

    def _score_sentences(
        self, q: Question, terms, article_ids: list[str], hits: list[Hit]
    ) -> list[Sent]:
        cands, feats = self.sentence_features(q, terms, article_ids, hits)
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

    def sentence_features(self, q: Question, terms, article_ids: list[str], hits: list[Hit]):
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
                hit = [(t, w * _match(t, fs)) for t, w in terms]
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
                        sum(w * max(_match(t, fs), _match(t, title)) for t, w in terms) / total
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
        if cands and self.qenc is not None and (q.english or feats[:, 0].max() < 0.1):
            # dense similarity of each sentence, for the leaders of a first pass only:
            # encoding every candidate would cost ~50 ms a sentence on this CPU
            first = feats @ WEIGHTS
            lead = [int(i) for i in np.argsort(-first, kind="stable")[:DENSE_LEADERS]]
            feats[:, _COL["dense"]] = self._dense_scores(q, cands, lead)
        return cands, feats

    def _dense_scores(self, q: Question, cands, keep: list[int]) -> np.ndarray:
        """Cosine of the ``keep`` sentences to the question, rescaled to 0..1 among them
        (0 for the others)."""
        out = np.zeros(len(cands))
        if not keep:
            return out
        vecs = self.qenc.encoder.encode([cands[i][3][:80] for i in keep])
        sims = vecs @ self.qenc(q.query)
        lo, hi = float(sims.min()), float(sims.max())
        out[keep] = (sims - lo) / (hi - lo) if hi > lo else np.ones_like(sims)
        return out

    def _author_sentence(self, q: Question, terms, article_ids: list[str]) -> Sent | None:
        """For "who wrote…": the byline of the article that best matches the question."""
        best, best_cov = None, -1.0
        for aid in article_ids:
            art = self.index.articles[aid]
            if not art.author:
                continue
            hay = fold(art.title + "\n" + art.text[:200])
            cov = sum(w for t, w in terms if t in hay)
            if cov > best_cov:
                best, best_cov = art, cov
        if best is None:
            return None
        first = best.author.split("、")[0]
        for a, b in sentence_spans(best.text):
            if first in best.text[a:b] and b - a <= 40:
                return Sent(best.id, a, b, best.text[a:b], 10.0, 1.0)
        return None

    def _continuation(self, art: Article, best: Sent) -> tuple[int, int] | None:
        """The next sentence when the best one only leads into it: it ends with a colon
        or a semicolon, is very short, or announces what follows (具有数个独有特征。)."""
        leads = (
            best.text.endswith(("：", ":", "；", ";"))
            or len(best.text) < 12
            or (len(best.text) < 30 and _ANNOUNCES.search(best.text))
        )
        if not leads:
            return None
        for a, b in sentence_spans(art.text, best.end):
            return (a, b)
        return None

    def _confidence(self, q: Question, terms, art: Article, best: Sent, hit: Hit | None) -> float:
        """Probability-like confidence that ``best`` answers ``q``: a logistic model over
        ``confidence_features`` (fitted on CMRC 2018 trial, normal vs gold-removed)."""
        f = self.confidence_features(q, terms, art, best, hit)
        return float(1.0 / (1.0 + np.exp(-(f @ CONF_WEIGHTS + CONF_BIAS))))

    def confidence_features(self, q: Question, terms, art: Article, best: Sent, hit: Hit | None):
        total = sum(w for _, w in terms) or 1.0
        hay_article = self.folded(art.id)
        hay_sent = fold(art.title + "\n" + best.text)
        found = [(t, w, _match(t, hay_article)) for t, w in terms]
        cov_article = sum(w * m for _, w, m in found) / total
        cov_sent = sum(w * _match(t, hay_sent) for t, w in terms) / total
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
            typed = 1.0 if type_match(q, best.text) >= 0.7 else 0.0
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

    # ------------------------------------------------------------------ output

    def _compose(
        self, q: Question, art: Article, spans, article_ids, best_hit, confidence, best_span=None
    ) -> Answer:
        # the article quoted comes first: it is the one the answer stage judged best
        others = [i for i in article_ids if i != art.id]
        ids = [art.id] + others[: max(len(article_ids) - 1, 0)]
        n = 1
        quotes: list[Quote] = []
        short = None
        short_span = None
        a0, b0 = spans[0] if best_span is None else best_span
        sent = art.text[a0:b0]
        ss = None
        if q.qtype == "author" and art.author:
            names = art.author.split("、")
            if art.author in sent:
                ss = (sent.index(art.author), sent.index(art.author) + len(art.author))
            elif all(x in sent for x in names) and len(sent) <= 30:
                ss = (0, len(sent))  # the byline line itself: 赵丁硕 本报记者 叶伟
            elif names[0] in sent:
                ss = (sent.index(names[0]), sent.index(names[0]) + len(names[0]))
        if ss is not None:
            short = sent[ss[0] : ss[1]]
            short_span = (n, a0 + ss[0], a0 + ss[1])
            if short != sent:
                quotes.append(Quote(short, n, a0 + ss[0], a0 + ss[1]))
        # quotes best first (the short answer, the best sentence, then its neighbour);
        # the answer's lines keep the article's order
        for a, b in sorted(spans, key=lambda sp: sp != (a0, b0)):
            quotes.append(Quote(art.text[a:b], n, a, b))
        # one line per quote, each with its marker: every line is verbatim in source n
        lines = [f"{short}[{n}]"] if short and short != sent else []
        lines += [f"{art.text[a:b]}[{n}]" for a, b in _joined(sorted(spans))]
        sources = self._sources(ids, best_hit, {n: [(q_.start, q_.end) for q_ in quotes]})
        return Answer(
            question=q.text,
            text="\n".join(lines),
            short_answer=short,
            refused=False,
            sources=tuple(sources),
            quotes=tuple(quotes),
            confidence=confidence,
            query=q.query,
            qtype=q.qtype,
            short_span=short_span,
        )

    def _refusal(self, q: Question, article_ids, best_hit, confidence: float) -> Answer:
        return Answer(
            question=q.text,
            text=NO_ANSWER_EN if q.english else NO_ANSWER,
            short_answer=None,
            refused=True,
            sources=tuple(self._sources(list(article_ids), best_hit, {})),
            quotes=(),
            confidence=confidence,
            query=q.query,
            qtype=q.qtype,
        )

    def _sources(
        self, ids: list[str], best_hit: dict, quoted: dict[int, list[tuple[int, int]]]
    ) -> list[Source]:
        out = []
        for i, aid in enumerate(ids, start=1):
            art = self.index.articles[aid]
            hit = best_hit.get(aid)
            if hit is not None:
                a, b = hit.chunk.start, hit.chunk.end
                score = hit.score
            else:
                a, b, score = 0, min(len(art.text), 240), 0.0
            spans = quoted.get(i, [])
            if spans:
                qa, qb = min(s for s, _ in spans), max(e for _, e in spans)
                if qb <= a or qa >= b:  # the quote is elsewhere in the article: centre on it
                    a, b = _window(art.text, qa, qb)
                a, b = min(a, qa), max(b, qb)
            passage = art.text[a:b]
            highlights = tuple(sorted({(s - a, e - a) for s, e in spans}))
            out.append(Source(i, art, passage, a, b, score, highlights))
        return out


@functools.lru_cache(maxsize=65536)
def _rarity(word: str) -> float:
    """How rare a word is in general Chinese (jieba's dictionary counts): ln(total/freq).
    常见词 like 增加 score about 8, names like 深圳 about 10, 独角兽 16; unknown words 18."""
    from .text import _jieba

    dt = _jieba().dt
    return math.log(dt.total / (dt.FREQ.get(word, 0) + 1))


# the words of a question about a name's origin (名字是怎么来的, 为什么叫X, 因何得名)
_NAME_FRAME = re.compile(r"名字|名称|名|来|来的|由来|得名|命名|来历|叫|称|又叫|又称")


def _match(term: str, text: str) -> float:
    """1 when ``term`` occurs in ``text``; for a longer word, the share of its character
    bigrams that occur when at least half do (总投资额 ~ 总投资); else 0.

    >>> _match("总投资额", "总投资42.93亿元"), _match("咸阳", "珠海高新区")
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


def _joined(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted spans with the ones that touch merged: two sentences quoted back to back
    are one passage of the article (and an answer running across them reads whole).

    >>> _joined([(0, 5), (5, 9), (12, 20)])
    [(0, 9), (12, 20)]
    """
    out: list[tuple[int, int]] = []
    for a, b in spans:
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(b, out[-1][1]))
        else:
            out.append((a, b))
    return out


def _window(text: str, a: int, b: int, pad: int = 80) -> tuple[int, int]:
    """Whole sentences around ``text[a:b]``, about ``pad`` characters each side."""
    spans = sentence_spans(text)
    lo = max([s for s, e in spans if s <= a and a - s <= pad] or [a])
    hi = min([e for s, e in spans if e >= b and e - b <= pad] or [b])
    return lo, hi


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
    return bool(ws) and all(_match(w, folded) == 0.0 for w in ws)


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
