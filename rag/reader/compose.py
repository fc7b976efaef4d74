"""Compose: the reader's best span over the retrieved chunks, as an ``Answer``.

``NeuralAnswerer.run(q, hits, k)`` has the rule answerer's shape (``rag/answer.py``):
it reads the ``read_k`` best-ranked chunks, scores each chunk's best span by the
reader's span score minus its no-answer score plus ``w_score`` times the log of the
chunk's retrieval score over the best chunk's (as BERTserini interpolates the two: a
right passage ranked second still wins when the reader is surer of it, and chunks the
retriever scores alike are read alike), and refuses when its confidence is below
``min_confidence``: the probability of the weights' refusal model (``refusal.py``,
fitted by ``rag train refusal`` on held-apart questions with and without their gold
paragraph), or for weights without one a logistic curve of the margin
(``scores.min_confidence``).

With the rule answerer as its gate (the default), the gate is asked first: its refusal
stands; the reader reads only articles that name the question's places, organisations
and people (``Answerer.naming``), and it reads the sentences the gate quotes as one more
passage whose spans' margins get ``gate_bonus`` (chosen on held-apart CMRC questions,
docs/BENCHMARKS.md). An English question is the reader's to refuse
(``english_refusal="reader"``, the default): it reads the best chunks and the gate's
sentences (when the gate answers) alike and refuses below the threshold of the
weights' English refusal model (``refusal_en``: the refusal features plus the gate's
verdict, fitted by ``rag train refusal --english`` on held-apart English questions), or
without one, when the gate refuses too, below ``english_min_confidence`` (the margin's
logistic curve): the gate's bridge finds the sentence of few of them. With ``"gate"``
the gate's refusal stands and the span comes from its sentences.

The short answer is the span; the quote is the sentence of the article that holds it
(two when the span crosses a sentence end); sources and offsets are as the rule
answerer gives them. It does not rewrite follow-ups, bridge English words or tell
overview questions (the pipeline does those first), and it never edits a span.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..cite import first_hits, refusal, sources
from ..question import Question
from ..text import sentence_spans
from ..types import Answer, Hit, Quote
from .refusal import Refusal, features

READ_K = 3  # chunks read per question (Settings.read_k)
GATE_BONUS = 3.0  # added to the margins of spans in the gate's sentences (Settings.read_gate_bonus)
# below this confidence an English question the reader decides is refused
# (Settings.read_english_min_confidence, chosen on held-apart English questions)
ENGLISH_MIN_CONFIDENCE = 0.03


@dataclass(frozen=True)
class Choice:
    hit: Hit
    start: int  # in the article
    end: int
    margin: float  # span score minus no-answer score, plus the rank term
    span: float = 0.0  # the reader's span score
    no_answer: float = 0.0  # … and the chunk's no-answer score
    rank: int = 0  # of the chunk among those read


class NeuralAnswerer:
    """``refusal``: the weights' refusal model (``refusal.py``); without one the margin's
    logistic curve is the confidence. ``gate``: an answerer (the rule answerer) asked
    about English questions (its sentences are read too; ``english_refusal``) and
    who-wrote questions (its answer stands when it names the byline), and, without a refusal
    model (the pipeline passes none for ``RAG_READER_GATE=2``, the default), about every
    question: its refusal stands, otherwise the reader picks the span, reading the
    gate's sentences too (``gate_bonus``)."""

    def __init__(
        self,
        index,
        reader,
        *,
        gate=None,
        read_k: int = READ_K,
        w_score: float = 60.0,
        min_confidence: float = 0.5,
        max_answer_tokens: int = 30,
        refusal: Refusal | None = None,
        refusal_en: Refusal | None = None,
        gate_bonus: float = GATE_BONUS,
        english_refusal: str = "reader",
        english_min_confidence: float = ENGLISH_MIN_CONFIDENCE,
    ) -> None:
        self.index = index
        self.reader = reader
        self.gate = gate
        self.read_k = read_k
        self.w_score = w_score
        self.min_confidence = min_confidence
        self.max_answer_tokens = max_answer_tokens
        self.refusal = refusal
        self.refusal_en = refusal_en
        self.gate_bonus = gate_bonus
        self.english_refusal = english_refusal
        self.english_min_confidence = english_min_confidence
        # (question, features, confidence) of each reading, when a list (rag train refusal)
        self.trace: list | None = None

    def choose(
        self, q: Question, hits: list[Hit], region=None, bonus: float = 0.0
    ) -> Choice | None:
        """The best span over the first ``read_k`` distinct chunks, or None. ``region``:
        ``(hit, start, end)``, a stretch of ``hit``'s article read as one more passage,
        its spans' margins raised by ``bonus`` and scored as if ranked first."""
        seen, picked = set(), []
        if self.gate is not None:
            # an article that never names the question's place, organisation or person
            # cannot answer it (the gate's test): the reader does not read it either
            named = set(self.gate.naming(q, hits))
            hits = [h for h in hits if h.chunk.article_id in named]
        for h in sorted(hits, key=lambda h: h.rank):
            if h.chunk.id not in seen:
                seen.add(h.chunk.id)
                picked.append(h)
            if len(picked) == self.read_k:
                break
        if not picked:
            return None
        texts = [h.chunk.text for h in picked]
        bases = [h.chunk.start for h in picked]
        if region is not None:
            rh, ra, rb = region
            texts.append(self.index.articles[rh.chunk.article_id].text[ra:rb])
            bases.append(ra)
        spans = self.reader.read(
            reader_question(q),
            texts,
            max_answer_tokens=self.max_answer_tokens,
        )
        best = None
        for sp in spans:
            if not sp.text:
                continue
            if sp.passage < len(picked):
                h = picked[sp.passage]
                rank = sp.passage
                prior = self.w_score * _log_ratio(h.score, picked[0].score)
            else:
                h, rank, prior = region[0], 0, bonus
            margin = sp.score - sp.no_answer + prior
            if best is None or margin > best.margin:
                a = bases[sp.passage] + sp.start
                best = Choice(h, a, a + len(sp.text), margin, sp.score, sp.no_answer, rank)
        return best

    def confidence(self, q: Question, choice: Choice, gated: Answer | None = None) -> float:
        """How likely ``choice`` answers ``q``: the refusal model's probability, or a
        logistic curve of the margin without one. ``gated``: the gate's answer to the
        English question ``q``; the model is then the English one (``refusal_en``), the
        gate's verdict among its features (the Chinese one was fitted on Chinese
        questions)."""
        model = self.refusal if gated is None else self.refusal_en
        if model is None and self.trace is None:
            return _squash(choice.margin)
        x = self.features(q, choice)
        if gated is not None:
            x += [float(gated.refused), gated.confidence]
        p = model.probability(x) if model else _squash(choice.margin)
        if self.trace is not None:
            self.trace.append((q.text, x, p))
        return p

    def features(self, q: Question, choice: Choice) -> list[float]:
        chunk = choice.hit.chunk
        art = self.index.articles[chunk.article_id]
        return features(
            q.keywords,
            f"{art.title}\n{chunk.text}",
            span=choice.span,
            no_answer=choice.no_answer,
            dense=choice.hit.dense if choice.hit.dense is not None else 0.0,
            rank=choice.rank,
            english=q.english,
            idf=self.index.idf,
        )

    def run(self, q: Question, hits: list[Hit], k: int = 5) -> Answer:
        if self.gate is None:
            return self._read(q, hits, k, self.min_confidence)
        # without a refusal model the gate decides every question; either way it is asked
        # about English questions (the reader was trained on Chinese ones) and about
        # bylines and photo credits (article metadata that no training question asks),
        # whose answer stands when it names the article's author
        decides = self.refusal is None
        if not (decides or q.english or q.qtype == "author"):
            return self._read(q, hits, k, self.min_confidence)
        first = self.gate.run(q, hits, k=k)
        if quotes_byline(q, first):
            return first
        if q.english and self.english_refusal == "reader":
            # the reader reads the best chunks and the gate's sentences, if any, and
            # refuses by its own confidence: the gate refuses most English questions
            # whose words its bridge does not know (docs/BENCHMARKS.md)
            region = None if first.refused else self._region(first, hits)
            # names that the bridge found in no form in the corpus do not rule articles
            # out here (Qiu Suiheng, Choe Yeong, Sylvinho: the article writes them in
            # characters the bridge cannot reach); those it found (Zhengzhou → 郑州)
            # still must be named; the reader's confidence decides
            spelled = replace(q, names=tuple(n for n in q.names if not n.isascii()))
            if self.refusal_en is not None:
                least = self.refusal_en.threshold
            else:  # refused only when neither the gate nor the reader is sure of an answer
                least = self.english_min_confidence if first.refused else 0.0
            return self._read(spelled, hits, k, least, region, self.gate_bonus, gated=first)
        if first.refused and (decides or q.english):
            return first
        if not (decides or q.english):
            return self._read(q, hits, k, self.min_confidence)
        # the reader picks the span, reading the sentences the gate quotes beside the
        # best chunks, their spans' margins raised by gate_bonus (an English question's
        # span, with english_refusal="gate", always comes from them); how sure the
        # answer is, the gate's calibrated figure
        bonus = math.inf if q.english else self.gate_bonus
        got = self._read(q, hits, k, 0.0, self._region(first, hits), bonus)
        # no span anywhere (the reader read nothing it could cut): the gate's sentences
        return first if got.refused else replace(got, confidence=first.confidence)

    def _region(self, gated: Answer, hits: list[Hit]) -> tuple[Hit, int, int] | None:
        """The stretch of article that ``gated`` (the gate's answer, best sentence first)
        quotes from its first source, with that article's best-ranked hit."""
        if not gated.quotes:
            return None
        best = gated.quotes[0]
        aid = gated.sources[best.source - 1].article.id
        hit = next(
            (h for h in sorted(hits, key=lambda h: h.rank) if h.chunk.article_id == aid), None
        )
        if hit is None:
            return None
        same = [x for x in gated.quotes if x.source == best.source]
        return hit, min(x.start for x in same), max(x.end for x in same)

    def _read(
        self,
        q: Question,
        hits: list[Hit],
        k: int,
        least: float,
        region=None,
        bonus: float = 0.0,
        gated: Answer | None = None,
    ) -> Answer:
        """``gated``: the gate's answer to an English question (``confidence``)."""
        choice = self.choose(q, hits, region, bonus)
        sure = 0.0 if choice is None else self.confidence(q, choice, gated)
        first_hit = first_hits(hits)
        order = list(first_hit)
        if choice is None or sure < least:
            return refusal(q, sources(self.index, order[:k], first_hit), sure)
        aid = choice.hit.chunk.article_id
        art = self.index.articles[aid]
        sents = holding(art.text, choice.start, choice.end)
        a0, b0 = sents[0][0], sents[-1][1]
        short = art.text[choice.start : choice.end]
        quotes = [Quote(short, 1, choice.start, choice.end)]
        if (a0, b0) != (choice.start, choice.end):
            quotes.append(Quote(art.text[a0:b0], 1, a0, b0))
        lines = [f"{short}[1]"] + ([f"{art.text[a0:b0]}[1]"] if len(quotes) > 1 else [])
        ids = [aid] + [i for i in order if i != aid][: k - 1]
        spans = [(qt.start, qt.end) for qt in quotes]
        return Answer(
            question=q.text,
            text="\n".join(lines),
            short_answer=short,
            refused=False,
            sources=sources(self.index, ids, first_hit, {aid: spans}),
            quotes=tuple(quotes),
            confidence=sure,
            query=q.query,
            qtype=q.qtype,
            short_span=(1, choice.start, choice.end),
        )


# The Chinese question word an English question's type asks with: the reader was trained
# on Chinese questions, whose question word tells it what kind of span is wanted.
ASKS = {
    "number": "多少",
    "date": "什么时候",
    "person": "谁",
    "author": "谁",
    "place": "哪里",
    "org": "哪个机构",
}


def reader_question(q: Question) -> str:
    """What the reader reads as the question: as searched (follow-ups resolved), and
    for an English question, its Chinese words after it and the Chinese question word
    of its type (``ASKS``; 什么 for the others): the English words alone find the
    sentence less often, and the spans are longer without the question word.

    >>> reader_question(Question("Who?", "Who won?", "person", english=True, groups=(("赢", "胜"),)))
    'Who won? 赢谁'
    >>> reader_question(Question("How many?", "How many?", "number", english=True))
    'How many? 多少'
    """
    if not q.english:
        return q.query
    return q.query + " " + " ".join(g[0] for g in q.groups if g) + ASKS.get(q.qtype, "什么")


def quotes_byline(q: Question, answer: Answer) -> bool:
    """Whether ``answer`` to a who-wrote / who-took-the-photo question names its first
    source's author (``Article.author``, from the byline).

    >>> from rag.types import Article, Source
    >>> art = Article("a", "标题", "正文（许杰 摄）", author="许杰")
    >>> a = Answer("照片是谁拍的？", "许杰[1]", "许杰", False, (Source(1, art, "", 0, 0, 0.0),))
    >>> quotes_byline(Question("照片是谁拍的？", "照片是谁拍的？", "author"), a)
    True
    >>> quotes_byline(Question("谁获得了冠军？", "谁获得了冠军？", "person"), a)
    False
    >>> book = Article("b", "三体", "《三体》是刘慈欣创作的长篇小说。")  # no byline
    >>> b = Answer("《三体》的作者是谁？", "刘慈欣[1]", "刘慈欣", False, (Source(1, book, "", 0, 0, 0.0),))
    >>> quotes_byline(Question("《三体》的作者是谁？", "《三体》的作者是谁？", "author"), b)
    False
    """
    if q.qtype != "author" or not answer.short_answer or not answer.sources:
        return False
    names = [n for n in answer.sources[0].article.author.split("、") if n]
    return any(n in answer.short_answer for n in names)


def holding(text: str, start: int, end: int) -> list[tuple[int, int]]:
    """The sentence spans of ``text`` that overlap ``[start, end)``.

    >>> t = "甲说好。乙在2019年加入。丙走了。"
    >>> [t[a:b] for a, b in holding(t, 6, 11)]
    ['乙在2019年加入。']
    """
    got = [(a, b) for a, b in sentence_spans(text) if a < end and b > start]
    return got or [(start, end)]


def _log_ratio(score: float, best: float) -> float:
    """ln(score / best), scores below a tiny floor counted at the floor (a BM25 or
    cosine score can be 0 or below).

    >>> round(_log_ratio(0.0161, 0.0322), 3), _log_ratio(0.5, 0.5), _log_ratio(-1.0, 0.0)
    (-0.693, 0.0, 0.0)
    """
    tiny = 1e-9
    return math.log(max(score, tiny) / max(best, tiny))


def _squash(margin: float) -> float:
    """A 0..1 confidence from a logit margin (a logistic curve)."""
    return 1.0 / (1.0 + math.exp(-margin / 2.0))
