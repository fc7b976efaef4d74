"""Answer: retrieved chunks in, an extractive ``Answer`` with numbered sources out.

1. Group hits by article; the articles, best first, are the sources. Only articles that
   name the question's places, organisations and people, and cover its words about as
   well as the best one, may answer.
2. Score every sentence of the leading articles (``sentences``).
3. The best sentence is quoted verbatim (with the next one when it is only a lead-in,
   and a neighbour that scored nearly as well). Short answers are the reader's
   (``rag/reader``); this stage gives one only for a who-wrote question, the byline's
   names.
4. Below ``min_confidence`` (``confidence``) the answer is a refusal that still lists
   the closest sources.

Does not: search (``retrieve``) or rewrite the question (``question``).
"""

from __future__ import annotations

import re
from dataclasses import replace

from .cite import first_hits, refusal, sources
from .confidence import confidence, doubtful
from .index import Index
from .question import Question
from .sentences import Sent, Sentences, match
from .text import fold, sentence_spans
from .types import Answer, Article, Hit, Quote

_ANNOUNCES = re.compile(
    r"(?:多种|数个|数种|几种|多个|以下|如下|下列|[两三四五六七八九十几]个|[两三四五六七八九十几多](?:方面|点|种|类))"
    r"[^，。]{0,12}[。：:]$"
)
_CAUSE = re.compile(r"因为|由于|为了|原因|因而|以致|导致")
# quote the neighbouring sentence too when it scores within this of the best: on CMRC
# 1.5 traded +1.9 points of answer hit for +7 characters of median answer (BENCHMARKS.md)
PAIR_MARGIN = 1.5


class Answerer:
    """Turns hits into an ``Answer``."""

    def __init__(
        self,
        index: Index,
        min_confidence: float = 0.30,
        max_articles: int = 3,
    ) -> None:
        self.index = index
        self.sentences = Sentences(index)
        self.min_confidence = min_confidence
        self.max_articles = max_articles

    def folded(self, article_id: str) -> str:
        return self.sentences.folded(article_id)

    def run(self, q: Question, hits: list[Hit], k: int = 5) -> Answer:
        articles = list(first_hits(hits))
        if not articles:
            return self._refusal(q, [], {}, confidence=0.0)
        # the leading articles' text, to tell a word jieba glued together from a missing one
        context = "\n".join(self.folded(aid) for aid in articles[: self.max_articles])
        terms = self.sentences.terms(q, context)
        best_hit = first_hits(hits)
        q = self._unglued(q, context)
        named = [aid for aid in articles if self._names_in(q, aid)]
        if not named:
            return self._refusal(q, articles[:k], best_hit, confidence=0.0)
        sentences = self.sentences.ranked(q, terms, self._contenders(terms, named), hits)
        if q.qtype == "author":
            picked = self._author_sentence(q, terms, articles[: self.max_articles])
            if picked is not None:
                sentences.insert(0, picked)
        if not sentences:
            return self._refusal(q, articles[:k], best_hit, confidence=0.0)
        best = sentences[0]
        art = self.index.articles[best.article_id]
        whole = self.folded(art.id)
        sure = confidence(q, terms, whole, art.title, best.text, best_hit.get(art.id))
        if doubtful(q, best.text, whole):
            sure = min(sure, self.min_confidence / 2)
        if sure < self.min_confidence:
            return self._refusal(q, articles[:k], best_hit, sure)
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
            q, art, spans, articles[:k], best_hit, sure, best_span=(best.start, best.end)
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
            cov[aid] = sum(w * match(t, whole) for t, w in terms) / total
        best = max(cov.values())
        return [aid for aid in leading if cov[aid] >= best - 0.2]

    def naming(self, q: Question, hits: list[Hit]) -> list[str]:
        """The articles of ``hits``, best first, that name every place, organisation and
        person ``q`` names: an article that never names the question's (合肥 in a
        question about 合肥高新区) cannot answer it, however well the rest matches."""
        articles = list(first_hits(hits))
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
        return all(any(match(n, whole) > 0.0 for n in name.split("|")) for name in q.names)

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
        return Answer(
            question=q.text,
            text="\n".join(lines),
            short_answer=short,
            refused=False,
            sources=sources(
                self.index, ids, best_hit, {art.id: [(x.start, x.end) for x in quotes]}
            ),
            quotes=tuple(quotes),
            confidence=confidence,
            query=q.query,
            qtype=q.qtype,
            short_span=short_span,
        )

    def _refusal(self, q: Question, article_ids, best_hit, confidence: float) -> Answer:
        return refusal(q, sources(self.index, list(article_ids), best_hit), confidence)


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
