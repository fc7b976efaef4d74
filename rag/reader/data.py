"""SQuAD-format files -> examples -> token windows the span model trains and reads on.

A window is ``<s> question </s> context-slice </s>`` (question cut to ``max_question``
tokens), the context sliced in ``stride``-token steps so that every token sits in some
window. For training, each question gives the window(s) that hold its gold span whole
plus up to ``negatives`` windows that do not (labelled "no answer", position 0); a
question marked impossible (SQuAD 2.0) gives only negatives.

A gold edge that falls inside a piece (``的大|空翼``, ``1966年|起``) is cut there: the piece
is replaced by the pieces of its two halves, so the gold span is held exactly, to the
character. ``read_squad`` raises ``InputError`` for a missing, non-JSON or non-SQuAD
file, and skips (and reports, naming file and question id) answers whose
``answer_start`` does not point at their text.

With ``hard_negatives`` > 0 a question also gets windows of the paragraphs a keyword
search (bm25s over ``rag.text.tokens``) ranks highest for it among the other paragraphs
of the training files, labelled "no answer": the retrieved-but-wrong passages the reader
meets at answer time, so that its no-answer score learns to tell them from the right
one. A paragraph that holds the gold answer's text is never a negative.

``reworded(examples, path)`` adds other wordings of the questions (a JSONL file of
``{"id", "question"}`` rows, e.g. English translations of Chinese questions): each row
is a copy of that question's example with the new wording, same paragraph and answer,
and same hard negatives (the first wording's).

What it does not do: batch across files, or search with the dense encoder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import InputError

log = logging.getLogger(__name__)

BOS, PAD, EOS = 0, 1, 2


@dataclass(frozen=True)
class Example:
    qid: str
    question: str
    context: str
    answer: tuple[int, int] | None  # character [start, end) in context; None: no answer


@dataclass(frozen=True)
class SquadFile:
    path: Path
    sha256: str
    examples: tuple[Example, ...]
    problems: tuple[str, ...]  # one line each: what was skipped, with file and question id


@dataclass(frozen=True)
class Window:
    input_ids: tuple[int, ...]
    context_start: int  # index of the first context token
    offsets: tuple[tuple[int, int], ...]  # per context token: characters in the context
    start: int = 0  # gold token positions in input_ids; 0 = no answer
    end: int = 0
    qid: str = ""
    passage: int = 0  # which passage (infer) the window reads


def read_squad(path: str | Path, articles: tuple[int, int] | None = None) -> SquadFile:
    """The examples of a SQuAD-format file (only articles ``[a, b)`` if given)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{p}: no such file") from None
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror})") from None
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(f"{p}: not a JSON file ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("data"), list):
        raise InputError(f"{p}: not a SQuAD-format file (no top-level 'data' list)")
    examples: list[Example] = []
    problems: list[str] = []
    chosen = doc["data"] if articles is None else doc["data"][articles[0] : articles[1]]
    for article in chosen:
        paragraphs = article.get("paragraphs") if isinstance(article, dict) else None
        if not isinstance(paragraphs, list):
            raise InputError(f"{p}: not a SQuAD-format file (an article without 'paragraphs')")
        for para in paragraphs:
            context = para.get("context") if isinstance(para, dict) else None
            qas = para.get("qas") if isinstance(para, dict) else None
            if not isinstance(context, str) or not isinstance(qas, list):
                raise InputError(f"{p}: not a SQuAD-format file (a paragraph without context/qas)")
            for qa in qas:
                ex = _example(qa, context, p, problems)
                if ex is not None:
                    examples.append(ex)
    if problems:
        log.info("%s: %d answer(s) skipped, first: %s", p, len(problems), problems[0])
    return SquadFile(p, hashlib.sha256(raw).hexdigest(), tuple(examples), tuple(problems))


def _example(qa: object, context: str, p: Path, problems: list[str]) -> Example | None:
    if not isinstance(qa, dict) or not isinstance(qa.get("question"), str):
        problems.append(f"{p}: a question without 'question' text; skipped")
        return None
    qid = str(qa.get("id", "?"))
    answers = qa.get("answers") or []
    if qa.get("is_impossible") or not answers:
        return Example(qid, qa["question"], context, None)
    for a in answers:
        text, start = (a.get("text"), a.get("answer_start")) if isinstance(a, dict) else (0, 0)
        ok = isinstance(text, str) and text and isinstance(start, int) and start >= 0
        if ok and context[start : start + len(text)] == text:
            return Example(qid, qa["question"], context, (start, start + len(text)))
        problems.append(
            f"{p}: question {qid}: answer_start {start!r} does not point at {text!r}; skipped"
        )
    return None


def read_rewordings(path: str | Path) -> tuple[dict[str, str], str]:
    """``{question id: other wording}`` of a JSONL file of ``{"id", "question"}`` rows
    (e.g. English translations of Chinese questions), and the file's sha256. A row that
    is not such an object is an ``InputError`` naming the file and line."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise InputError(f"{p}: cannot read ({e.strerror or e})") from None
    out: dict[str, str] = {}
    for n, line in enumerate(raw.decode("utf-8", errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            raise InputError(f"{p}:{n}: not a JSON line") from None
        if not (
            isinstance(row, dict)
            and isinstance(row.get("id"), str)
            and isinstance(row.get("question"), str)
            and row["question"].strip()
        ):
            raise InputError(f'{p}:{n}: want {{"id": str, "question": str}}')  # fmt: skip
        out[row["id"]] = row["question"]
    return out, hashlib.sha256(raw).hexdigest()


def reworded(examples: Sequence[Example], path: str | Path) -> tuple[list[Example], str]:
    """The examples a rewordings file (``read_rewordings``) adds, in the examples' order:
    copies with the new wording, same paragraph and answer; and the file's sha256. Rows
    whose id is not among ``examples`` are left out.

    >>> import tempfile
    >>> f = Path(tempfile.mkdtemp()) / "en.jsonl"
    >>> _ = f.write_text('{"id": "q1", "question": "How many?"}\\n{"id": "q9", "question": "?"}\\n')
    >>> reworded([Example("q1", "多少？", "16个。", (0, 3))], f)[0]
    [Example(qid='q1', question='How many?', context='16个。', answer=(0, 3))]
    """
    words, sha = read_rewordings(path)
    out = [Example(ex.qid, words[ex.qid], ex.context, ex.answer) for ex in examples
           if ex.qid in words]  # fmt: skip
    return out, sha


# -- tokens -------------------------------------------------------------------------------

Piece = tuple[int, tuple[int, int]]  # (id, character offsets into the context)


def context_pieces(tok, context: str) -> list[Piece]:
    enc = tok.encode(context)
    return list(zip(enc.ids, enc.offsets, strict=True))


def cut_at(tok, pieces: list[Piece], tokens: list[str], c: int) -> tuple[list[Piece], list[str]]:
    """Make character ``c`` a piece boundary: the piece that crosses it is replaced by the
    pieces of its halves. Unchanged if no piece crosses ``c`` or the piece's text does not
    map one character to one character (a normalised form)."""
    i = next((i for i, (_, (a, _b)) in enumerate(pieces) if a < c < _b), None)
    if i is None:
        return pieces, tokens
    a, b = pieces[i][1]
    value, lead = tokens[i], 0
    if value.startswith("▁") and len(value) == b - a + 1:
        lead = 1  # a prepended ▁ that shares the first character's offsets
    elif len(value) != b - a:
        return pieces, tokens
    new: list[Piece] = []
    new_tokens: list[str] = []
    pos = a
    for part in (value[: c - a + lead], value[c - a + lead :]):
        for t in tok.model.tokenize(part):
            n = len(t.value) - (1 if lead and pos == a and t.value.startswith("▁") else 0)
            new.append((t.id, (pos, pos + n)))
            new_tokens.append(t.value)
            pos += n
    return pieces[:i] + new + pieces[i + 1 :], tokens[:i] + new_tokens + tokens[i + 1 :]


def window_starts(n: int, size: int, stride: int) -> list[int]:
    """Starts of ``size``-token windows every ``stride`` tokens, the last one ending at ``n``."""
    if n <= size:
        return [0]
    starts = list(range(0, n - size + 1, stride))
    if starts[-1] + size < n:
        starts.append(n - size)
    return starts


def make_windows(
    question_ids: Sequence[int],
    pieces: Sequence[Piece],
    *,
    max_len: int,
    stride: int,
    max_question: int = 64,
    passage: int = 0,
) -> list[Window]:
    """Every window of a question over one context (no gold labels)."""
    q = list(question_ids[:max_question])
    size = max_len - len(q) - 3
    if size < 1:
        raise ValueError(f"max_len {max_len} leaves no room for context")
    out = []
    for s in window_starts(len(pieces), size, min(stride, size)):
        part = pieces[s : s + size]
        ids = (BOS, *q, EOS, *(i for i, _ in part), EOS)
        out.append(Window(ids, len(q) + 2, tuple(o for _, o in part), passage=passage))
    return out


@dataclass(frozen=True)
class WindowConfig:
    max_len: int = 256
    stride: int = 128
    max_question: int = 64
    negatives: int = 2  # windows without the answer, per question
    hard_negatives: int = 0  # windows of other, retrieved paragraphs, per question


def training_windows(
    tok, examples: Iterable[Example], cfg: WindowConfig, seed: int = 0
) -> tuple[list[Window], int]:
    """Labelled windows for ``examples``; also the number of gold spans that could not be
    held exactly (their edge is inside a piece that does not split into characters)."""
    examples = list(examples)
    rng = random.Random(seed)
    distractors = distractor_paragraphs(examples, cfg.hard_negatives)
    out: list[Window] = []
    inexact = 0
    last: tuple[str, list[Piece], list[str]] = ("", [], [])  # the paragraph just tokenised
    for ex in examples:
        if ex.context != last[0] or not last[1]:
            enc = tok.encode(ex.context)
            last = (ex.context, list(zip(enc.ids, enc.offsets, strict=True)), enc.tokens)
        pieces, tokens = last[1], last[2]
        if ex.answer is not None:
            for c in ex.answer:
                pieces, tokens = cut_at(tok, pieces, tokens, c)
        qids = tok.encode(ex.question).ids
        windows = make_windows(
            qids, pieces, max_len=cfg.max_len, stride=cfg.stride, max_question=cfg.max_question
        )
        positive, negative = [], []
        for w in windows:
            span = _gold(w, ex.answer) if ex.answer is not None else None
            if span is None:
                outside = ex.answer is None or not _overlaps(w, ex.answer)
                if outside:
                    negative.append(Window(w.input_ids, w.context_start, w.offsets, qid=ex.qid))
                continue
            (s, e), exact = span
            inexact += not exact
            positive.append(Window(w.input_ids, w.context_start, w.offsets, s, e, ex.qid))
        rng.shuffle(negative)
        out.extend(positive + negative[: cfg.negatives])
        for other in distractors.get(ex.qid, ()):
            ws = make_windows(qids, context_pieces(tok, other), max_len=cfg.max_len,
                              stride=cfg.stride, max_question=cfg.max_question)  # fmt: skip
            w = rng.choice(ws)
            out.append(Window(w.input_ids, w.context_start, w.offsets, qid=ex.qid))
    return out, inexact


def distractor_paragraphs(examples: Sequence[Example], n: int) -> dict[str, tuple[str, ...]]:
    """For each question, the ``n`` other paragraphs that bm25s ranks highest for it,
    leaving out any that holds the gold answer's text.

    >>> exs = [Example("q1", "珠海签约多少项目？", "珠海签约项目16个。", (6, 9)),
    ...        Example("q2", "咸阳签约多少项目？", "咸阳签约项目21个。", (6, 9)),
    ...        Example("q3", "天气如何？", "今天天气晴朗。", (4, 6))]
    >>> distractor_paragraphs(exs, 1)["q1"]
    ('咸阳签约项目21个。',)
    """
    import bm25s

    from ..text import tokens

    if n <= 0 or not examples:
        return {}
    contexts = list(dict.fromkeys(ex.context for ex in examples))
    retriever = bm25s.BM25()
    retriever.index([tokens(c) or [""] for c in contexts], show_progress=False)
    k = min(len(contexts), n + 4)
    out: dict[str, tuple[str, ...]] = {}
    for ex in examples:
        q = tokens(ex.question)
        if not q or ex.qid in out:  # a rewording keeps the first wording's negatives
            continue
        rows, scores = retriever.retrieve([q], k=k, show_progress=False)
        gold = ex.context[ex.answer[0] : ex.answer[1]] if ex.answer else None
        picked = [contexts[int(r)] for r, sc in zip(rows[0], scores[0], strict=True) if sc > 0]
        picked = [c for c in picked if c != ex.context and not (gold and gold in c)]
        if picked[:n]:
            out[ex.qid] = tuple(picked[:n])
    return out


def _overlaps(w: Window, answer: tuple[int, int]) -> bool:
    return bool(w.offsets) and w.offsets[0][0] < answer[1] and answer[0] < w.offsets[-1][1]


def _gold(w: Window, answer: tuple[int, int]) -> tuple[tuple[int, int], bool] | None:
    """Token positions (in input_ids) of the tokens covering ``answer``, if the window
    holds it whole, and whether they hold it exactly."""
    a, b = answer
    first = next((i for i, (_, e) in enumerate(w.offsets) if e > a), None)
    last = next((i for i in range(len(w.offsets) - 1, -1, -1) if w.offsets[i][0] < b), None)
    if first is None or last is None or first > last:
        return None
    if w.offsets[first][0] > a or w.offsets[last][1] < b:
        return None  # the window cuts the answer
    exact = w.offsets[first][0] == a and w.offsets[last][1] == b
    return (w.context_start + first, w.context_start + last), exact


def collate(windows: Sequence[Window]):
    """Pad a batch: (input_ids, attention_mask, answer_mask, start, end) tensors."""
    import torch

    n = max(len(w.input_ids) for w in windows)
    ids = torch.full((len(windows), n), PAD, dtype=torch.long)
    attn = torch.zeros((len(windows), n), dtype=torch.long)
    ans = torch.zeros((len(windows), n), dtype=torch.bool)
    for r, w in enumerate(windows):
        ids[r, : len(w.input_ids)] = torch.tensor(w.input_ids)
        attn[r, : len(w.input_ids)] = 1
        ans[r, w.context_start : w.context_start + len(w.offsets)] = True
    start = torch.tensor([w.start for w in windows])
    end = torch.tensor([w.end for w in windows])
    return ids, attn, ans, start, end
