"""Pipeline: the only place that wires the stages together.

    from rag import Pipeline
    p = Pipeline.load("index")
    a = p.ask("咸阳高新区签约了多少个项目？")
    a.text, a.short_answer, [s.article.title for s in a.sources]

``ensure_index`` builds ``index/`` from the corpus when it is missing, or rebuilds it
(incrementally) when the corpus files it was built from have changed.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import re
import shlex
import time
from dataclasses import replace
from pathlib import Path

from . import when
from .answer import Answerer
from .chunk import VERSION as CHUNK_VERSION
from .config import Settings
from .embed import Encoder, load_encoder
from .errors import EncoderError, IndexBusyError, IndexFormatError, InputError
from .groups import annotate, fold
from .groups import params as group_params
from .index import (
    BuildReport,
    Index,
    file_state,
    peek_manifest,
    read_manifest,
    wait_for_build,
)
from .index import build as build_index
from .ingest import Problem, load
from .intents import Guess, IntentModel, intent, model_for, topic_words
from .overview import Overview
from .question import analyze
from .retrieve import QueryEncoder, make_retriever
from .store import spec_for
from .text import mostly_simplified
from .types import Answer

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")
_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_K = 100  # most sources one answer may list
DATE_POOL = 10  # with a date range, how many times deeper retrieval looks
BUILD_WAIT_S = 600.0  # how long ``ensure_index`` waits for another build of a missing index


def resolve_encoder(
    settings: Settings, index_dir: str | Path | None = None, *, for_build: bool = False
) -> Encoder:
    """The encoder to use with the index at ``index_dir``: the one asked for, else the
    index's own, else the default. Asking for one that differs from the index's is an
    ``EncoderError`` (its vectors would not be comparable).

    ``for_build``: the encoder for a build that will replace the index. Another encoder
    than the index's is then allowed (everything is embedded again), and a damaged index
    counts as none, so the build that repairs it is not refused because of it."""
    try:
        manifest = read_manifest(index_dir) if index_dir is not None else None
    except IndexFormatError:
        if not for_build:
            raise
        # a damaged index is rebuilt with the encoder it names, when it still names one
        peeked = (peek_manifest(index_dir) or {}).get("encoder")
        guess = peeked.get("id") if isinstance(peeked, dict) else None
        if not settings.encoder and isinstance(guess, str):
            with contextlib.suppress(EncoderError):
                return load_encoder(guess)
        manifest = None
    built_with = manifest["encoder"]["id"] if manifest else None
    if settings.encoder:
        enc = load_encoder(settings.encoder)
        if built_with and enc.id != built_with and not for_build:
            corpus = manifest.get("corpus") if manifest else None
            paths = (
                " " + " ".join(shlex.quote(c) for c in corpus)
                if isinstance(corpus, list) and all(isinstance(c, str) for c in corpus)
                else ""
            )
            raise EncoderError(
                f"index {index_dir} was built with encoder {built_with!r}, not {enc.id!r}; "
                f"ask without --encoder, or rebuild: rag build --index {index_dir} "
                f"--encoder {shlex.quote(settings.encoder)}{paths}"
            )
        return enc
    return load_encoder(built_with) if built_with else load_encoder(None)


def build(
    paths: list[str | Path] | None = None,
    settings: Settings | None = None,
    *,
    progress=True,
    add: bool = False,
    encoder: Encoder | None = None,
    wait: float = 0,
) -> tuple[BuildReport, list[Problem]]:
    """Index ``paths`` (default: ``settings.corpus``) into ``settings.index_dir``.

    Without ``add`` the index then holds exactly these articles (removed ones are
    dropped); with ``add`` they are added to (or replace same-id) articles already there.
    Returns the report and the problems met (bad files, bad lines), which did not stop
    the good files from being indexed. ``wait``: seconds to wait for another build of
    the same index to finish (default: fail at once with ``IndexBusyError``).
    """
    settings = settings or Settings.from_env()
    paths = [str(p) for p in (paths or [settings.corpus])]
    corpus = load(paths, max_file_mb=settings.max_file_mb)
    if not corpus.articles:
        detail = "; ".join(str(p) for p in corpus.problems[:3]) or "no articles found"
        raise InputError(f"nothing to index in {', '.join(paths)}: {detail}")
    encoder = encoder or resolve_encoder(settings, settings.index_dir, for_build=True)
    with contextlib.ExitStack() as stack:
        embedder = None
        if settings.ray:  # only the embedding runs on Ray (rag/ray_embed.py)
            from .ray_embed import RayEmbedder

            embedder = stack.enter_context(RayEmbedder(settings.ray, settings.ray_workers))
        report = build_index(
            corpus.articles,
            settings.index_dir,
            encoder,
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
            batch_size=settings.batch_size,
            progress=progress,
            files=None if add else file_state(paths),
            corpus=None if add else paths,
            replace_all=not add,
            wait=wait,
            store=spec_for(settings, peek_manifest(settings.index_dir)),
            embedder=embedder,
            ann_min_chunks=settings.ann_min_chunks,
        )
    return report, corpus.problems


def index_is_stale(index_dir: str | Path) -> bool:
    """True when the files the index was built from changed since (cheap: sizes, times)."""
    manifest = read_manifest(index_dir)
    if manifest is None:
        return True
    corpus, files = manifest.get("corpus"), manifest.get("files")
    if not corpus or files is None:
        return False  # built from uploads or by API: nothing to compare with
    if manifest["chunking"].get("version") != CHUNK_VERSION:
        return True  # chunked by an older rag: its chunks may not be what this one cuts
    if manifest.get("groups") != group_params():
        return True  # copies and events missing or made otherwise: regrouped, not re-embedded
    return file_state(corpus) != files


def ensure_index(settings: Settings, progress=True) -> BuildReport | None:
    """Build the index if it is missing or stale; None when it was fine as it was.

    When another process is building it: a stale index is used as it is (the other
    build will bring it up to date), and a missing one is waited for (up to
    ``BUILD_WAIT_S``) rather than failing."""
    manifest = read_manifest(settings.index_dir)
    if manifest is None:
        # another process may be making it: wait, then use what it made
        wait_for_build(settings.index_dir, BUILD_WAIT_S)
        manifest = read_manifest(settings.index_dir)
    if manifest is not None and not index_is_stale(settings.index_dir):
        return None
    paths = manifest.get("corpus") if manifest and manifest.get("corpus") else [settings.corpus]
    if not any(Path(p).exists() for p in paths):
        if manifest is not None:
            return None  # the corpus moved away: the index still answers
        raise InputError(
            f"no index at {settings.index_dir} and no corpus at {', '.join(paths)}; "
            f"build one with: rag build PATHS --index {settings.index_dir}"
        )
    try:
        report, _ = build(
            paths, settings, progress=progress, wait=0 if manifest is not None else BUILD_WAIT_S
        )
    except IndexBusyError:
        if manifest is None:
            raise
        return None
    return report


class Pipeline:
    """A loaded index plus its encoder, retrievers and answerer."""

    def __init__(self, index: Index, encoder: Encoder, settings: Settings) -> None:
        self.index = index
        self.encoder = encoder
        self.settings = settings
        self.qenc = QueryEncoder(encoder, simplify=_simplified(index))
        self._retrievers: dict[str, object] = {}
        self._bridge = None
        self.answerer = self._answerer(index)
        self.overview = Overview(index)
        # what kind of answer a question wants; None (an encoder the shipped model was
        # not fitted for) makes every question a fact question
        self.intents: IntentModel | None = model_for(encoder.id)

    def _answerer(self, index: Index):
        """The neural reader with the weights ``settings.reader`` names (the shipped ones
        by default; loaded once per pipeline, an index swap keeps it), or the rule
        answerer alone for ``none``."""
        from .reader.weights import resolve

        path = resolve(self.settings.reader)
        if path is None:
            return Answerer(index, min_confidence=self.settings.min_confidence)
        from .reader.compose import NeuralAnswerer
        from .reader.infer import Reader
        from .reader.refusal import ENGLISH_FEATURES, Refusal

        reader = getattr(getattr(self, "answerer", None), "reader", None)
        reader = reader or Reader.load(path, dtype=self.settings.reader_dtype)
        # the weights' own refusal model and threshold (rag train refusal; not with the
        # rule gate on every question), else their calibrated margin threshold;
        # RAG_MIN_CONFIDENCE overrides either
        refusal = None
        if self.settings.reader_gate != 2:
            refusal = Refusal.from_header(reader.header.get("refusal"))
        calibrated = (
            refusal.threshold
            if refusal is not None
            else reader.header.get("scores", {}).get("min_confidence")
        )
        chosen = os.environ.get("RAG_MIN_CONFIDENCE") or calibrated
        least = float(chosen) if chosen is not None else self.settings.min_confidence
        # an English question's own model (rag train refusal --english), when the
        # reader decides English refusals
        refusal_en = None
        if self.settings.english_refusal == "reader":
            refusal_en = Refusal.from_header(reader.header.get("refusal_en"), ENGLISH_FEATURES)
        gate = None
        if self.settings.reader_gate:
            gate = Answerer(index, min_confidence=self.settings.min_confidence)
        return NeuralAnswerer(
            index,
            reader,
            min_confidence=least,
            gate=gate,
            read_k=self.settings.read_k,
            refusal=refusal,
            refusal_en=refusal_en,
            w_score=self.settings.read_score_weight,
            gate_bonus=self.settings.read_gate_bonus,
            english_refusal=self.settings.english_refusal,
            english_min_confidence=self.settings.read_english_min_confidence,
        )

    @classmethod
    def load(
        cls,
        index_dir: str | Path | None = None,
        settings: Settings | None = None,
        encoder: Encoder | None = None,
    ) -> Pipeline:
        settings = settings or Settings.from_env()
        if index_dir is not None:
            settings = settings.with_(index_dir=str(index_dir))
        index = Index.open(settings.index_dir, settings.milvus_token, ann_ef=settings.ann_ef)
        if encoder is None:
            encoder = resolve_encoder(settings, settings.index_dir)
        elif encoder.id != index.encoder_id:
            raise EncoderError(
                f"index {settings.index_dir} was built with encoder {index.encoder_id!r}, not {encoder.id!r}"
            )
        return cls(index, encoder, settings)

    @classmethod
    def open(cls, settings: Settings | None = None, progress=True) -> Pipeline:
        """Load ``settings.index_dir``, building it first if it is missing or stale."""
        settings = settings or Settings.from_env()
        ensure_index(settings, progress=progress)
        return cls.load(settings=settings)

    def retriever(self, mode: str):
        if mode not in self._retrievers:
            self._retrievers[mode] = make_retriever(
                mode, self.index, self.qenc, self.settings.rrf_k
            )
        return self._retrievers[mode]

    def ask(
        self,
        question: str,
        history: list | None = None,
        *,
        k: int | None = None,
        mode: str | None = None,
        as_of: str | None = None,
        since: str | None = None,
        until: str | None = None,
    ) -> Answer:
        """Answer ``question`` from the index. ``history`` holds the chat's earlier
        questions (strings, or ``{"role", "content"}`` messages), oldest first.
        ``as_of`` (``YYYY-MM-DD``, default ``settings.as_of`` else today) is the day
        relative dates (去年, 上周) count from; ``since``/``until`` limit the articles'
        dates (default the settings'); see rag/when.py."""
        question = clean_question(question, self.settings.max_question_chars)
        k = self.settings.k if k is None else k
        if isinstance(k, bool) or not isinstance(k, int):
            raise InputError(f"k must be a whole number, not {k!r}")
        if not 1 <= k <= MAX_K:
            raise InputError(f"k must be between 1 and {MAX_K}, not {k}")
        mode = mode or self.settings.mode
        if mode not in ("hybrid", "dense", "bm25"):
            raise InputError(f"mode must be one of hybrid, dense, bm25, not {mode!r}")
        history = clean_history(history, self.settings.max_question_chars)
        as_of_raw = as_of or self.settings.as_of
        day = when.parse_day(as_of_raw, "as_of") if as_of_raw else datetime.date.today()
        given = when.explicit(since or self.settings.since, until or self.settings.until)
        t0 = time.perf_counter()
        q = analyze(question, history)
        if q.english:
            q = self._bridge_english(q)
        asked = when.resolve(q.query, day) if self.settings.date_mode != "off" else None
        query = q.query  # shown in the answer as asked (follow-ups resolved), dates and all
        hits, q, asked = self._retrieve(q, mode, k, day, asked, given)
        # wire copies: one copy of a story is read and cited (the earliest, when it can)
        hits = fold(hits, self.index.groups, self.index, self.index.articles)
        span = when.combine(asked, given)
        recent = span is None and self.settings.date_mode != "off" and when.wants_recent(query)
        t1 = time.perf_counter()
        guess = self.intent(q)
        if guess.intent == "collection":
            within = self._dated(span, day) if span is not None or recent else None
            answer = self.overview.collection(q, hits, guess.probability, articles=within)
        elif guess.intent == "topic":
            answer = self.overview.topic(q, hits, k, guess.probability)
        else:
            answer = self.answerer.run(q, hits, k=k)
        answer = annotate(answer, self.index.groups, self.index.articles)
        t2 = time.perf_counter()
        answer.timings.update(
            retrieve_ms=round((t1 - t0) * 1000, 2), answer_ms=round((t2 - t1) * 1000, 2)
        )
        return replace(answer, query=query, as_of=day.isoformat(), time_range=span)

    def _retrieve(self, q, mode: str, k: int, day: datetime.date, asked, given):
        """Hits for the analysed question ``q``, by the dates it asks about (``asked``)
        and those given (``given``, always a filter); returns the hits, the question
        as searched and the range used (None when the question's was not)."""
        depth = max(k, 10) * 3
        date_mode = self.settings.date_mode
        recent = date_mode != "off" and asked is None and given is None
        recent = recent and when.wants_recent(q.query)
        if asked is None and given is None and not recent:
            return self.retriever(mode).retrieve(q.query, depth, keywords=q.keywords), q, None
        searched = q
        if (
            asked is not None
            and self.settings.date_words == "drop"
            and not when.names_year(asked.text)
        ):
            # a relative date (上个月) now acts through the articles' dates, not as words
            # to match: no article says 上个月; a year (2003年) may well be in the text
            rest = q.query.replace(asked.text, "", 1).strip(" ，,、的")
            if rest:
                stripped = analyze(rest)
                stripped = self._bridge_english(stripped) if q.english else stripped
                searched = replace(stripped, text=q.text)
        # dates filter or reorder a deeper pool, so that articles of the right days that
        # retrieval ranked lower are still there to be picked
        pool = depth * DATE_POOL if asked is not None or given is not None else depth
        date_of, rrf_k = self._date_of, self.settings.rrf_k

        def search(question):
            found = self.retriever(mode).retrieve(question.query, pool, keywords=question.keywords)
            if given is not None:
                found = when.rerank(found, date_of, given, False, day, "filter", rrf_k)
            return found

        hits = search(searched)
        span = when.combine(asked, given)
        if asked is not None and not any(when.in_range(d, span) for d in self._dates()):
            # no article at all is of those dates: the words are about something else
            # (今年 on a page of another year, an undated page): answer as without them
            return (search(q) if searched is not q else hits)[:depth], q, None
        if asked is not None or recent:
            how = date_mode
            if how == "auto":
                # a date that names its year (2023年10月13日) is most often the event's,
                # reported days or months later or announced before: it boosts; a
                # relative one (上周, 上个月) asks for the news of those days: it filters
                how = "boost" if asked is not None and when.names_year(asked.text) else "filter"
            hits = when.rerank(hits, date_of, span, recent, day, how, rrf_k)
        return hits[:depth], searched, asked

    def _dated(self, span, day: datetime.date) -> list | None:
        """The articles of ``span`` (or, for 最新, those up to ``day``); None if none."""
        if span is None:
            span = when.TimeRange(when.OPEN_START, day.isoformat())
        arts = [a for a in self.index.articles.values() if when.in_range(a.date, span)]
        return arts or None

    def _dates(self) -> list[str]:
        """The distinct dates of the index's articles (computed once per index)."""
        if getattr(self, "_date_list", None) is None or self._date_index is not self.index:
            self._date_list = sorted({a.date for a in self.index.articles.values() if a.date})
            self._date_index = self.index
        return self._date_list

    def _date_of(self, hit) -> str:
        art = self.index.articles.get(hit.chunk.article_id)
        return art.date if art is not None else ""

    def intent(self, q) -> Guess:
        """What kind of answer ``q`` (an analysed question) wants: ``collection``,
        ``topic`` or ``fact``. A topic question with no subject of its own (最近有什么
        新闻？) asks about the whole collection."""
        if self.intents is None:
            return Guess("fact", 1.0)
        guess = self.intents.classify(self.qenc(q.query), q.qtype)
        if (
            guess.intent == "topic"
            and not q.english
            and not q.names
            and not topic_words(q.query, intent("topic").frame())
        ):
            return Guess("collection", guess.probability)
        return guess

    def warm_up(self) -> None:
        """Load what a first question would otherwise wait for: the encoder, jieba and
        its part-of-speech tagger, the English word bridge (CC-CEDICT, seconds) and the
        time parsers (jionlp, dateparser: about a second)."""
        from .crosslingual import glossary

        self.qenc("预热")
        analyze("记者张伟在哪里报道？")  # proper_names tags its words
        glossary()
        self._bridge_english(analyze("warm up"))
        when.resolve("上个月的新闻", datetime.date.today())

    def _bridge_english(self, q):
        from dataclasses import replace

        from .crosslingual import Bridge, content_words, measure_words

        if self._bridge is None:
            self._bridge = Bridge(self.index.has, self.index.vocabulary)
        groups, missing, named = self._bridge.translate_with_names(q.query)
        # names are required like a Chinese question's: one the corpus has in no form
        # (Huawei) leaves no article to answer; Zhengzhou needs an article with 郑州
        names = [w.lower().removesuffix("'s") for w in missing]
        names += ["|".join(g) for g in named]
        return replace(
            q,
            groups=tuple(tuple(g) for g in groups),
            content_words=len(content_words(q.query)),
            names=tuple(names),
            measure=tuple(measure_words(q.query)),
        )

    def add(self, paths: list[str | Path], progress=True) -> tuple[BuildReport, list[Problem]]:
        """Add the articles in ``paths`` to the index (embedding only those) and reload."""
        report, problems = build(
            paths, self.settings, progress=progress, add=True, encoder=self.encoder
        )
        self.index = Index.open(
            self.settings.index_dir, self.settings.milvus_token, ann_ef=self.settings.ann_ef
        )
        self.qenc = QueryEncoder(self.encoder, simplify=_simplified(self.index))
        self._retrievers.clear()
        self._bridge = None
        self.answerer = self._answerer(self.index)
        self.overview = Overview(self.index)
        return report, problems

    def info(self) -> dict:
        m = self.index.manifest
        return {
            "index": str(self.settings.index_dir),
            "encoder": self.encoder.id,
            "encoder_description": getattr(self.encoder, "description", self.encoder.id),
            "articles": m["counts"]["articles"],
            "chunks": m["counts"]["chunks"],
            "chunking": m["chunking"],
            "created": m.get("created"),
            "groups": self.index.groups.summary(),
        }


def _simplified(index: Index) -> bool:
    """Whether the index's articles are mostly in Simplified Chinese (a sample)."""
    return mostly_simplified(a.title + a.text for a in index.articles.values())


def clean_question(question: object, max_chars: int = 1000) -> str:
    """The question with control characters removed; errors for non-text, empty or too
    long input.

    >>> clean_question("  珠海\\x00高新区？ ")
    '珠海高新区？'
    """
    if not isinstance(question, str):
        raise InputError(f"question must be text, not {type(question).__name__}")
    return _clean_text(question, "question", max_chars)


def _clean_text(text: str, what: str, max_chars: int) -> str:
    if bad := _SURROGATE.search(text):
        raise InputError(
            f"{what} holds {bad.group()!a} at position {bad.start()}, which is not a "
            "character (bytes that were not UTF-8?)"
        )
    q = _CONTROL.sub("", text).strip()
    if not q:
        raise InputError(f"{what} is empty")
    if len(q) > max_chars:
        raise InputError(f"{what} is {len(q)} characters long; the limit is {max_chars}")
    return q


def clean_history(history: object, max_chars: int = 1000) -> list:
    """The chat's earlier questions, checked like the question itself: a list of strings
    or ``{"role", "content"}`` messages (Gradio's content parts allowed). Empty entries
    are dropped; messages keep their shape with ``content`` as cleaned text, and only the
    user's are held to the length limit (answers may be long).

    >>> clean_history(["甲\\x00？", "", {"role": "assistant", "content": "答"}])
    ['甲？', {'role': 'assistant', 'content': '答'}]
    """
    if history is None:
        return []
    if not isinstance(history, (list, tuple)):
        raise InputError(
            f"history must be a list of earlier questions, not {type(history).__name__}"
        )
    out: list = []
    for i, h in enumerate(history, start=1):
        what = f"history item {i}"
        if isinstance(h, str):
            if _CONTROL.sub("", h).strip():
                out.append(_clean_text(h, what, max_chars))
            continue
        if not isinstance(h, dict):
            raise InputError(
                f"{what} must be a question or a {{role, content}} message, not {type(h).__name__}"
            )
        role = h.get("role", "user")
        content = h.get("content") if h.get("content") is not None else h.get("question", "")
        if isinstance(content, list):  # Gradio message content parts
            content = " ".join(
                p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
        if not isinstance(role, str) or not isinstance(content, str):
            raise InputError(f"{what}: role and content must be text")
        if not _CONTROL.sub("", content).strip():
            continue
        limit = max_chars if role == "user" else 1_000_000
        out.append({"role": role, "content": _clean_text(content, what, limit)})
    return out
