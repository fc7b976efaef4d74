"""Answer: retrieved chunks in, an extractive ``Answer`` with numbered sources out.

1. Group hits by article; the articles, best first, are the sources.
2. Score every sentence of the leading articles: idf-weighted overlap with the
   question's words (words shared with the article's title count less: they say which
   article, not which sentence), character-bigram overlap, whether the sentence holds
   an answer of the asked type (a number for 多少, a date for 哪天), the article's
   retrieval rank, and (for questions sharing no words with the corpus, e.g. English)
   dense similarity of the sentence to the question.
3. The best sentence is quoted verbatim (with the next one when it is only a lead-in);
   a short answer is cut from it (``extract``).
4. Confidence combines how much of the question the article and sentence cover with the
   dense score; below ``min_confidence`` the answer is a refusal that still lists the
   closest sources.

Does not: search (``retrieve``) or rewrite the question (``question``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from .extract import DATE, NUMBER, TIME_PHRASE, asked_unit, short_answer
from .index import Index
from .question import Question
from .retrieve import QueryEncoder
from .text import STOPWORDS, char_ngrams, fold, sentence_spans, words
from .types import Answer, Article, Hit, Quote, Source

NO_ANSWER = "资料中没有找到相关答案。"
NO_ANSWER_EN = "资料中没有找到相关答案。(No answer was found in the articles.)"
_AUTHOR_WORDS = re.compile(
    r"^(作者|记者|撰稿|撰写|写|摄影|摄影师|拍摄|署名|author|wrote|written|reporter|byline)$"
)
_WH_WORDS = re.compile(
    r"^(哪.*|多少.*|几.?|什么.*|谁|何.*|怎么.*|怎样|如何|为什么|为何|是否|第几|多[大高长重远宽深久])$"
)


@dataclass(frozen=True)
class _Sent:
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
        min_confidence: float = 0.35,
        max_articles: int = 3,
    ) -> None:
        self.index = index
        self.qenc = query_encoder
        self.min_confidence = min_confidence
        self.max_articles = max_articles

    # ------------------------------------------------------------------ public

    def run(self, q: Question, hits: list[Hit], k: int = 5) -> Answer:
        articles = self._rank_articles(hits)
        if not articles:
            return self._refusal(q, [], {}, confidence=0.0)
        terms = self._terms(q)
        best_hit = {aid: h for aid, h in reversed([(h.chunk.article_id, h) for h in hits])}
        sentences = self._score_sentences(q, terms, articles[: self.max_articles], hits)
        if q.qtype == "author":
            picked = self._author_sentence(q, terms, articles[: self.max_articles])
            if picked is not None:
                sentences.insert(0, picked)
        if not sentences:
            return self._refusal(q, articles[:k], best_hit, confidence=0.0)
        best = sentences[0]
        art = self.index.articles[best.article_id]
        confidence = self._confidence(q, terms, art, best, best_hit.get(art.id))
        if confidence < self.min_confidence:
            return self._refusal(q, articles[:k], best_hit, confidence)
        spans = [(best.start, best.end)]
        nxt = self._continuation(art, best)
        if nxt is not None:
            spans.append(nxt)
        return self._compose(q, art, spans, articles[:k], best_hit, confidence)

    # ------------------------------------------------------------------ scoring

    def _rank_articles(self, hits: list[Hit]) -> list[str]:
        seen: dict[str, None] = {}
        for h in sorted(hits, key=lambda h: h.rank):
            seen.setdefault(h.chunk.article_id, None)
        return list(seen)

    def _idf(self, t: str) -> float:
        n = max(len(self.index), 1)
        df = self.index.doc_freq(t)
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))

    def _terms(self, q: Question) -> list[tuple[str, float]]:
        """Content words of the question with idf weights (single characters count half).
        For an English question: the Chinese words standing for its words, each group
        sharing one word's weight, plus an empty share for words with no translation."""
        out: dict[str, float] = {}
        if q.english:
            for g in q.groups:
                for w in g:
                    out[w] = max(out.get(w, 0.0), self._idf(w) / len(g))
            missing = max(q.content_words - len(q.groups), 0)
            if out and missing:
                mean = sum(out.values()) / max(len(q.groups), 1)
                out[" untranslated"] = mean * missing  # matches nothing, lowers coverage
            return list(out.items())
        for w in words(q.query):
            if w in STOPWORDS or _WH_WORDS.match(w):
                continue
            if q.qtype == "author" and _AUTHOR_WORDS.match(w):
                continue  # 作者/记者 name what is asked; the article need not say them
            weight = self._idf(w) * (0.5 if len(w) == 1 and not w.isdigit() else 1.0)
            out[w] = max(out.get(w, 0.0), weight)
        return list(out.items())

    def _score_sentences(
        self, q: Question, terms, article_ids: list[str], hits: list[Hit]
    ) -> list[_Sent]:
        total = sum(w for _, w in terms) or 1.0
        q_content = q.before + q.after
        q_bigrams = set(char_ngrams(q_content)) if q_content else set()
        hit_rank: dict[tuple[str, int], int] = {}
        for h in hits:
            hit_rank.setdefault((h.chunk.article_id, h.chunk.start), h.rank)
        hit_spans: dict[str, list[tuple[int, int, int]]] = {}
        for h in hits:
            hit_spans.setdefault(h.chunk.article_id, []).append(
                (h.chunk.start, h.chunk.end, h.rank)
            )

        cands: list[tuple[str, int, int, str, float, float, float, float]] = []
        for arank, aid in enumerate(article_ids):
            art = self.index.articles[aid]
            title = fold(art.title)
            prior = 1.0 / (1.0 + arank)
            for a, b in sentence_spans(art.text):
                s = art.text[a:b]
                fs = fold(s)
                kw = sum(w * (0.35 if t in title else 1.0) for t, w in terms if t in fs) / total
                bg = (len(q_bigrams & set(char_ngrams(s))) / len(q_bigrams)) if q_bigrams else 0.0
                typ = _type_match(q, s)
                in_hit = min(
                    (r for (ca, cb, r) in hit_spans.get(aid, []) if ca <= a and b <= cb),
                    default=None,
                )
                near = 1.0 / (1.0 + in_hit) if in_hit is not None else 0.0
                cands.append((aid, a, b, s, kw, bg, typ, prior + 0.3 * near))
        if not cands:
            return []
        dense = np.zeros(len(cands))
        max_kw = max(c[4] for c in cands)
        if self.qenc is not None and (q.english or max_kw < 0.1):
            dense = self._dense_scores(q, cands)
        typed = q.qtype in ("number", "date")
        scored = []
        for i, ((aid, a, b, s, kw, bg, typ, prior), dn) in enumerate(
            zip(cands, dense, strict=True)
        ):
            # a neighbour that names the topic lends some of its overlap (the answer
            # sentence often refers to the topic only by 该/其 or not at all)
            ctx = max(
                (cands[j][4] for j in (i - 1, i + 1) if 0 <= j < len(cands) and cands[j][0] == aid),
                default=0.0,
            )
            score = 0.45 * kw + 0.15 * ctx + 0.2 * bg + 0.15 * prior + 0.5 * dn
            if typed:
                score += 0.3 * typ - 0.15 * (1.0 - typ)
            if len(s) < 8:
                score -= 0.15
            scored.append(_Sent(aid, a, b, s, score, kw))
        scored.sort(key=lambda x: (-x.score, x.article_id, x.start))
        return scored

    def _dense_scores(self, q: Question, cands) -> np.ndarray:
        """Cosine of each sentence to the question, rescaled to 0..1 within the set.
        Only the sentences of the leading article(s) are encoded, to bound latency."""
        keep = [i for i, c in enumerate(cands) if c[7] > 1.0][
            :12
        ]  # sentences in hit chunks of the top article
        out = np.zeros(len(cands))
        if not keep:
            return out
        enc = self.qenc.encoder
        vecs = enc.encode([cands[i][3] for i in keep])
        sims = vecs @ self.qenc(q.query)
        lo, hi = float(sims.min()), float(sims.max())
        scaled = (sims - lo) / (hi - lo) if hi > lo else np.ones_like(sims)
        out[keep] = scaled
        return out

    def _author_sentence(self, q: Question, terms, article_ids: list[str]) -> _Sent | None:
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
                return _Sent(best.id, a, b, best.text[a:b], 10.0, 1.0)
        return None

    def _continuation(self, art: Article, best: _Sent) -> tuple[int, int] | None:
        """The next sentence when the best one only leads into it (ends with a colon or
        is very short)."""
        if not (best.text.endswith(("：", ":")) or len(best.text) < 12):
            return None
        for a, b in sentence_spans(art.text, best.end):
            return (a, b)
        return None

    def _confidence(self, q: Question, terms, art: Article, best: _Sent, hit: Hit | None) -> float:
        total = sum(w for _, w in terms) or 1.0
        hay_article = fold(art.title + "\n" + art.author + "\n" + art.text)
        hay_sent = fold(art.title + "\n" + best.text)
        cov_article = sum(w for t, w in terms if t in hay_article) / total
        cov_sent = sum(w for t, w in terms if t in hay_sent) / total
        dense = hit.dense if hit is not None and hit.dense is not None else None
        dn = min(max(((dense or 0.0) - 0.78) / 0.12, 0.0), 1.0) if dense is not None else 0.5
        if q.english:
            # English↔Chinese cosines sit lower than same-language ones
            dnx = min(max(((dense or 0.0) - 0.68) / 0.1, 0.0), 1.0) if dense is not None else 0.5
            return 0.5 * cov_article + 0.2 * cov_sent + 0.3 * dnx if terms else 0.5 * dnx
        if not terms:
            return dn
        return 0.45 * cov_article + 0.35 * cov_sent + 0.2 * dn

    # ------------------------------------------------------------------ output

    def _compose(
        self, q: Question, art: Article, spans, article_ids, best_hit, confidence
    ) -> Answer:
        ids = list(article_ids)
        if art.id not in ids:
            ids = [art.id] + ids[:-1] if ids else [art.id]
        n = ids.index(art.id) + 1
        quotes: list[Quote] = []
        short = None
        short_span = None
        a0, b0 = spans[0]
        sent = art.text[a0:b0]
        if q.qtype == "author" and art.author and art.author.split("、")[0] in sent:
            short = art.author
        else:
            ss = short_answer(sent, q)
            if ss is not None and ss[1] - ss[0] < len(sent):
                short = sent[ss[0] : ss[1]]
                short_span = (n, a0 + ss[0], a0 + ss[1])
                quotes.append(Quote(short, n, a0 + ss[0], a0 + ss[1]))
        for a, b in spans:
            quotes.append(Quote(art.text[a:b], n, a, b))
        lines = []
        if short and short != sent:
            lines.append(f"{short}[{n}]")
        lines.append("".join(f"{art.text[a:b]}" for a, b in spans) + f"[{n}]")
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


def _window(text: str, a: int, b: int, pad: int = 80) -> tuple[int, int]:
    """Whole sentences around ``text[a:b]``, about ``pad`` characters each side."""
    spans = sentence_spans(text)
    lo = max([s for s, e in spans if s <= a and a - s <= pad] or [a])
    hi = min([e for s, e in spans if e >= b and e - b <= pad] or [b])
    return lo, hi


def _type_match(q: Question, sentence: str) -> float:
    """1 when the sentence holds an answer of the asked type (in the asked unit), 0.5
    for one of another unit, else 0."""
    if q.qtype not in ("number", "date"):
        return 0.0
    span = short_answer(sentence, q)
    if span is None:
        return 0.0
    got = sentence[span[0] : span[1]]
    if q.qtype == "date":
        return 1.0 if DATE.search(got) else 0.7 if TIME_PHRASE.search(got) else 0.0
    if not NUMBER.search(got) or not re.search(r"\d|[一二两三四五六七八九十百千万亿]", got):
        return 0.0
    unit = asked_unit(q)
    if not unit or unit in got:
        return 1.0 if re.search(r"\d", got) else 0.7
    return 0.4 if re.search(r"\d", got) else 0.2
