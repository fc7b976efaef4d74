"""The app's backend: the pipeline it answers from, the chat history, and uploads.

``Backend`` builds ``index/`` in the background on first start, answers questions (the
chat's, and ``/ask``'s as JSON), adds uploaded files (``uploads`` names and copies them)
and swaps in a new pipeline afterwards, so questions keep being answered from the old
index meanwhile. ``ChatHistory`` is the chat so far, parsed once from whatever a caller
sent. Nothing here imports Gradio.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..config import MODES, Settings
from ..errors import InputError, RagError
from ..types import Answer
from .render import status_html, upload_report_html
from .uploads import (
    copy_into,
    default_upload_dir,
    kept_uploads,
    max_upload_files,
    place_upload,
    problem_line,
    safe_filename,
    shown_name,
)

MAX_TURNS = 20  # answers whose sources the panel keeps (and earlier questions a chat keeps)


@dataclass(frozen=True)
class ChatHistory:
    """The chat so far: its earlier questions, oldest first (what a follow-up is read
    against), and its answers with their turn numbers (what the sources panel shows).
    Both keep the last ``MAX_TURNS``.

    >>> h = ChatHistory.parse('["甲？", "乙？"]')
    >>> h.questions, h.next_turn
    (('甲？', '乙？'), 1)
    """

    questions: tuple[str, ...] = ()
    turns: tuple[tuple[int, Answer], ...] = ()

    @property
    def next_turn(self) -> int:
        """The number the next answer gets (the first is 1)."""
        return self.turns[-1][0] + 1 if self.turns else 1

    def then(self, question: str, answer: Answer) -> ChatHistory:
        """The chat after ``question`` got ``answer``."""
        return ChatHistory(
            questions=(*self.questions, question)[-MAX_TURNS:],
            turns=(*self.turns, (self.next_turn, answer))[-MAX_TURNS:],
        )

    @classmethod
    def parse(cls, history: object) -> ChatHistory:
        """Earlier questions as a caller sends them: a list of strings (or of
        ``{"role", "content"}`` chat messages, of which the user's count), a JSON list
        in a string, a single question, or nothing. Anything else is an ``InputError``
        with a one-line message.

        >>> ChatHistory.parse("甲？").questions, ChatHistory.parse(None).questions
        (('甲？',), ())
        >>> ChatHistory.parse([{"role": "user", "content": "甲？"}, {"role": "assistant"}])
        ChatHistory(questions=('甲？',), turns=())
        >>> ChatHistory.parse([{"role": "user", "content": [{"type": "text", "text": "乙？"}]}])
        ChatHistory(questions=('乙？',), turns=())
        """
        if history is None or history == "":
            return cls()
        if isinstance(history, str):
            s = history.strip()
            if not s.startswith("["):
                return cls(questions=(s,))
            try:
                history = json.loads(s)
            except json.JSONDecodeError as e:
                raise InputError(f"history is not a JSON list: {e}") from None
        if not isinstance(history, (list, tuple)):
            raise InputError(
                f"history must be a list of earlier questions, not {type(history).__name__}"
            )
        out = []
        for h in history:
            if isinstance(h, dict):
                if h.get("role", "user") != "user":
                    continue
                h = h.get("content") if h.get("content") is not None else h.get("question", "")
                if isinstance(h, list):  # Gradio's message content parts
                    h = " ".join(
                        p["text"]
                        for p in h
                        if isinstance(p, dict) and isinstance(p.get("text"), str)
                    )
            if not isinstance(h, str):
                raise InputError(
                    f"history must hold earlier questions as text, not {type(h).__name__}"
                )
            if h.strip():
                out.append(h.strip())
        return cls(questions=tuple(out))


def read_k(k: object) -> int | None:
    """``k`` as an API caller sends it: a whole number (also as text or as 5.0), or
    nothing (None, "") for the settings' default. The range is the pipeline's to check.

    >>> read_k(3), read_k("4"), read_k(5.0), read_k(None), read_k(0)
    (3, 4, 5, None, 0)
    """
    if k is None or k == "":
        return None
    if isinstance(k, bool):
        raise InputError(f"k must be a whole number, not {k!r}")
    if isinstance(k, int):
        return k
    if isinstance(k, float) and k.is_integer():
        return int(k)
    if isinstance(k, str) and k.strip().lstrip("-").isdigit():
        return int(k.strip())
    raise InputError(f"k must be a whole number, not {str(k)[:40]!r}")


@dataclass
class AddResult:
    files: list[str] = field(default_factory=list)
    report: object | None = None
    problems: list[str] = field(default_factory=list)
    total_articles: int | None = None

    def html(self) -> str:
        return upload_report_html(self.files, self.report, self.problems, self.total_articles)


class Backend:
    """The app's pipeline. Built from ``Settings`` it loads in a background thread,
    building ``index/`` first when it is missing or stale (``progress`` says how far);
    given a ``Pipeline`` it is ready at once.

    Uploads are built beside the live index (under the index's build lock) and then a
    new ``Pipeline`` replaces the old one in one assignment: questions asked meanwhile
    are answered from the old one, never from a half-swapped state."""

    def __init__(
        self,
        source,
        upload_dir: str | Path | None = None,
        warm_up: bool = True,
        max_files: int | None = None,
    ):
        from ..pipeline import Pipeline

        self._ready = threading.Event()
        self._write = threading.Lock()
        self._thread: threading.Thread | None = None
        self.pipe: Pipeline | None = None
        self.error: str | None = None
        self.phase = "正在打开索引…"
        self.progress: tuple[int, int] | None = None
        self.warm_up = warm_up
        if isinstance(source, Pipeline):
            self.pipe = source
            self.settings = source.settings
            self.phase = "ready"
            self._ready.set()
        else:
            self.settings = source if isinstance(source, Settings) else Settings.from_env()
        self.upload_dir = Path(upload_dir) if upload_dir else default_upload_dir(self.settings)
        self.max_files = max_files if max_files is not None else max_upload_files()

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def start(self) -> Backend:
        """Load (or build, then load) the index in the background; returns at once."""
        if not self.ready and self._thread is None:
            self._thread = threading.Thread(target=self._load, name="rag-load", daemon=True)
            self._thread.start()
        return self

    def _on_progress(self, done: int, total: int) -> None:
        before = self.progress[0] if self.progress else 0
        self.progress = (done, total)
        step = max(total // 4, 1)
        if done == total or done // step != before // step:
            print(f"rag: embedding {done}/{total} chunks", file=sys.stderr, flush=True)

    def _load(self) -> None:
        from ..index import read_manifest
        from ..pipeline import Pipeline, build, ensure_index

        try:
            s = self.settings
            if read_manifest(s.index_dir) is None:
                self.phase = f"首次启动：正在从 {s.corpus} 建立索引…"
            else:
                self.phase = "正在检查索引…"
            print(f"rag: {self.phase}", file=sys.stderr, flush=True)
            report = ensure_index(s, progress=self._on_progress)
            if report is not None:
                print(f"rag: {report.summary()}", file=sys.stderr, flush=True)
                uploads = self.kept_uploads()
                if uploads:  # a rebuild from the corpus dropped them: add them back
                    self.phase = "正在加入上传的文章…"
                    self.progress = None
                    build(uploads, s, progress=self._on_progress, add=True)
            self.phase = "正在加载模型…"
            self.progress = None
            pipe = Pipeline.load(settings=s)
            if self.warm_up:  # before the first reader: encoder, jieba, tagger, English bridge
                pipe.warm_up()
            self.pipe = pipe
            self.phase = "ready"
            info = pipe.info()
            print(
                f"rag: ready: {info['articles']} articles, {info['chunks']} chunks, "
                f"encoder {info['encoder']}",
                file=sys.stderr,
                flush=True,
            )
        except Exception as e:  # shown in the page; the app stays up to say so
            self.error = f"{type(e).__name__}: {e}" if not isinstance(e, RagError) else str(e)
            print(f"rag: error: {self.error}", file=sys.stderr, flush=True)
        finally:
            self._ready.set()

    def kept_uploads(self) -> list[str]:
        """The kept uploads, newest first, as a rebuild adds them back."""
        return kept_uploads(self.upload_dir)

    def wait(self, timeout: float | None = 900.0):
        """The pipeline, once loaded; ``RagError`` if loading failed or timed out."""
        if not self._ready.wait(timeout):
            raise RagError("the index is still being built; try again in a moment")
        if self.pipe is None:
            raise RagError(f"the index could not be opened: {self.error}")
        return self.pipe

    def status(self) -> str:
        if self.ready and self.pipe is not None:
            return status_html("ready", self.pipe.info())
        return status_html(self.phase, progress=self.progress, error=self.error)

    def ask(
        self,
        question: str,
        history: ChatHistory | list | None = None,
        k=None,
        mode=None,
        since: str | None = None,
        until: str | None = None,
    ) -> Answer:
        """Answer ``question`` with the current pipeline; ``history`` is the chat so far
        (a ``ChatHistory``, or earlier questions as ``ChatHistory.parse`` reads them);
        ``since``/``until`` (``YYYY-MM-DD``, "" for none) limit the articles' dates."""
        if not isinstance(history, ChatHistory):
            history = ChatHistory.parse(history)
        return self.wait().ask(
            question,
            history=list(history.questions) or None,
            k=k,
            mode=mode,
            since=(since or "").strip() or None,
            until=(until or "").strip() or None,
        )

    def ask_json(
        self, question: object, history: object = None, k=None, mode=None, as_of=None
    ) -> dict:
        """What ``/ask`` returns: the object ``rag ask --json`` prints, plus ``encoder``.
        Each input is checked (``InputError``, one line, for a bad one); ``k``, ``mode``
        and ``as_of`` left out (None, "") take the settings' defaults (``as_of``: today)."""
        if not isinstance(question, str):
            raise InputError(f"question must be text, not {type(question).__name__}")
        chat = ChatHistory.parse(history)
        k = read_k(k)
        if mode is not None and not isinstance(mode, str):
            raise InputError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
        if as_of is not None and not isinstance(as_of, str):
            raise InputError(f"as_of must be a date YYYY-MM-DD, not {as_of!r}")
        pipe = self.wait()
        answer = pipe.ask(
            question,
            history=list(chat.questions) or None,
            k=k,
            mode=mode or None,
            as_of=(as_of or "").strip() or None,
        )
        out = answer.to_dict()
        out["encoder"] = pipe.encoder.id
        return out

    def add(
        self,
        files: Sequence[str | Path],
        progress: Callable[[int, int], None] | None = None,
        names: Sequence[str] | None = None,
    ) -> AddResult:
        """Add the articles of ``files`` to the index, embedding only those.

        Each file is checked first (at most ``max_files`` per call, accepted type, size,
        readable, has articles), and each one refused gets one line in
        ``result.problems``; the good ones are still added. A good file is copied into
        the upload folder (so that a rebuild of the index from its corpus can add it
        back) under ``safe_filename`` of its name (``names[i]`` when given, else the
        file's own name); nothing is written anywhere else. A kept upload is never
        overwritten: a file whose name is taken (ignoring case) by a different file is
        kept as ``name-2.txt``, ``name-3.txt``…, an identical one is not copied again.
        The copy is written to a temporary file in the folder and renamed into place,
        so a link planted at the destination is replaced, never written through."""
        from ..ingest import load_file
        from ..pipeline import Pipeline, build

        pipe = self.wait()
        result = AddResult()
        copies: dict[str, str] = {}  # copy path -> safe name shown
        created: set[str] = set()  # copies that did not exist before this upload
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        folder = self.upload_dir.resolve()
        for i, f in enumerate(files):
            given = (names[i] if names and i < len(names) else None) or Path(f).name
            shown = shown_name(given)
            if i >= self.max_files:
                result.problems.append(
                    f"{shown}: 一次最多上传 {self.max_files} 个文件，这个文件没有加入"
                    "（RAG_MAX_UPLOAD_FILES 可以改这个上限）"
                )
                continue
            safe = safe_filename(given)
            if safe is None:
                result.problems.append(f"{shown}: 只接受 .txt、.md、.jsonl 文件")
                continue
            try:
                articles, problems = load_file(f, name=safe, max_file_mb=self.settings.max_file_mb)
            except InputError as e:
                result.problems.append(f"{safe}: {e}")
                continue
            if not articles:
                result.problems += [problem_line(safe, p.line, p.message) for p in problems]
                result.problems.append(f"{safe}: 没有可用的文章")
                continue
            dest, same = place_upload(folder, safe, f, taken={n.lower() for n in copies.values()})
            if dest.parent.resolve() != folder:  # never expected: safe names have no parts
                result.problems.append(f"{safe}: 文件名不安全，没有加入")
                continue
            if not same:
                try:
                    copy_into(f, dest)
                except OSError as e:
                    result.problems.append(f"{safe}: 无法保存（{e.strerror or e}）")
                    continue
                created.add(str(dest))
            copies[str(dest)] = dest.name
        if not copies:
            return result
        with self._write:
            try:
                report, problems = build(
                    list(copies),
                    pipe.settings,
                    progress=progress or False,
                    add=True,
                    encoder=pipe.encoder,
                )
            except Exception as e:
                for c in created:
                    Path(c).unlink(missing_ok=True)
                if not isinstance(e, RagError):
                    raise
                result.problems.append(str(e).replace(str(self.upload_dir) + os.sep, ""))
                return result
            for p in problems:
                name = copies.get(p.path, Path(p.path).name)
                result.problems.append(problem_line(name, p.line, p.message))
            new = Pipeline.load(settings=pipe.settings, encoder=pipe.encoder)
            self.pipe = new
        result.files = list(copies.values())
        result.report = report
        result.total_articles = new.info()["articles"]
        return result
