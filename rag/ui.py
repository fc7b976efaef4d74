"""The web app: a Gradio chat over the indexed articles, with sources you can check.

Does: render answers, sources and status as HTML (pure functions, every piece of article
text, title, author, file name and question escaped before any markup is added); hold
the pipeline for the app (``Backend``: builds ``index/`` in the background on first
start, swaps in a new pipeline after uploads so questions keep being answered from the
old index meanwhile); lay out the page (``build_app``); launch it (``launch``, ``main``).

Does not: answer questions or parse files itself (``rag.pipeline``, ``rag.ingest``), or
fetch anything at run time (the encoder is the index's own, or ``RAG_ENCODER``).

The chat renders its messages as sanitised HTML without Markdown, so ``*`` or ``#`` in
an article is shown as typed; ``[n]`` markers are links to ``#src-<turn>-<n>``, the card
of source n of that answer in the sources panel.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from .config import MODES, Settings  # noqa: E402
from .errors import InputError, RagError  # noqa: E402
from .types import Answer, Source  # noqa: E402

TITLE = "rag — 中文新闻问答"
UPLOAD_SUFFIXES = (".txt", ".md", ".jsonl")
MAX_TURNS = 20  # answers whose sources the panel keeps (and earlier questions a chat keeps)
MAX_UPLOAD_FILES = 20  # files one upload may add; RAG_MAX_UPLOAD_FILES changes it
NAME_BYTES = 120  # an uploaded file's stored stem, at most, in UTF-8 bytes
QUEUE_SIZE = 64  # events waiting in the queue (not counting those running); more are refused

EXAMPLES = [
    "珠海高新区5月签约落地了多少个重点项目？",
    "咸阳高新区此次签约项目的总投资是多少？",
    "中关村发展集团那篇报道是哪位记者写的？",
    "西部(重庆)科学城将为高校毕业生提供多少个免费创业工位？",
    "中山火炬开发区要打造几分钟的党群服务圈？",
    "How many key projects did Zhuhai High-tech Zone sign in May?",
]

MODE_CHOICES = [("混合 hybrid", "hybrid"), ("语义 dense", "dense"), ("关键词 bm25", "bm25")]


# ------------------------------------------------------------------ pure formatting


def esc(text: object) -> str:
    """``text`` as HTML text: ``& < > " '`` escaped, nothing else changed.

    >>> esc('<script>alert("x")</script>')
    '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;'
    """
    return html.escape(str(text), quote=True)


def esc_lines(text: str) -> str:
    """Escaped text with line breaks as ``<br>``.

    >>> esc_lines("a<b\\nc")
    'a&lt;b<br>c'
    """
    return esc(text).replace("\r\n", "\n").replace("\n", "<br>")


def source_anchor(turn: int, n: int) -> str:
    """The element id of source ``n`` of answer number ``turn``.

    >>> source_anchor(2, 1)
    'src-2-1'
    """
    return f"src-{turn}-{n}"


def cite_html(turn: int, n: int) -> str:
    """A ``[n]`` marker that leads to source n of answer ``turn``.

    >>> cite_html(1, 2)
    '<a class="rag-cite" href="#src-1-2" title="来源 2">[2]</a>'
    """
    return f'<a class="rag-cite" href="#{source_anchor(turn, n)}" title="来源 {n}">[{n}]</a>'


_MARKER = re.compile(r"\[(\d{1,3})\]")


def link_markers(escaped: str, turn: int, n_sources: int) -> str:
    """Turn each ``[n]`` (1 ≤ n ≤ n_sources) in already escaped text into a link.

    >>> link_markers("16个[1] [9]", 3, 2)
    '16个<a class="rag-cite" href="#src-3-1" title="来源 1">[1]</a> [9]'
    """

    def repl(m: re.Match) -> str:
        n = int(m.group(1))
        return cite_html(turn, n) if 1 <= n <= n_sources else m.group(0)

    return _MARKER.sub(repl, escaped)


def user_html(question: str) -> str:
    """A question as it appears in the chat: plain text, escaped.

    >>> user_html("<b>哪天</b>？")
    '&lt;b&gt;哪天&lt;/b&gt;？'
    """
    return esc_lines(question)


def answer_html(answer: Answer, turn: int) -> str:
    """The chat bubble of an answer: the short answer first, then the supporting
    sentence, each with its ``[n]`` links; a refusal says so and links the closest
    sources instead."""
    n_src = len(answer.sources)
    if answer.refused:
        if n_src:
            closest = " ".join(cite_html(turn, s.n) for s in answer.sources)
            note = f'<div class="rag-closest">最接近的资料：{closest}</div>'
        else:
            note = '<div class="rag-closest">没有找到相关的文章。</div>'
        return (
            '<div class="rag-answer rag-refused">'
            f'<div class="rag-refusal">⚠ {esc_lines(answer.text)}</div>{note}</div>'
        )
    lines = [ln for ln in answer.text.split("\n") if ln.strip()]
    parts = []
    for i, line in enumerate(lines):
        cls = "rag-short" if i == 0 and answer.short_answer and len(lines) > 1 else "rag-support"
        parts.append(f'<div class="{cls}">{link_markers(esc(line), turn, n_src)}</div>')
    meta = f'<div class="rag-meta">置信度 {answer.confidence:.2f}</div>'
    return f'<div class="rag-answer">{"".join(parts)}{meta}</div>'


def error_html(message: str) -> str:
    """An error shown in the chat instead of an answer.

    >>> error_html("question is empty")
    '<div class="rag-answer rag-error">出错了：question is empty</div>'
    """
    return f'<div class="rag-answer rag-error">出错了：{esc(message)}</div>'


def question_terms(question: str) -> list[str]:
    """The question's search words worth marking in a passage (folded, two characters
    or more), longest first.

    >>> question_terms("珠海高新区签约了多少个项目？")
    ['高新区', '珠海', '高新', '新区', '签约', '项目']
    """
    from .text import tokens

    seen: dict[str, None] = {}
    for t in tokens(question):
        if len(t) >= 2 and t not in seen:
            seen[t] = None
    return sorted(seen, key=len, reverse=True)


def term_spans(passage: str, terms: Iterable[str]) -> list[tuple[int, int]]:
    """Where ``terms`` (folded words) occur in ``passage``, as merged spans of the
    original text: matched on the folded text (Traditional as Simplified, full-width as
    half-width, case ignored), which keeps every offset.

    >>> term_spans("咸陽高新區簽約", ["高新区", "签约"])
    [(2, 7)]
    """
    from .text import fold_aligned

    hay = fold_aligned(passage)
    if len(hay) != len(passage):  # never expected; fall back to case folding only
        hay = passage.lower()
    spans = []
    for t in terms:
        if not t:
            continue
        i = hay.find(t)
        while i >= 0:
            spans.append((i, i + len(t)))
            i = hay.find(t, i + 1)
    return merge_spans(spans)


def merge_spans(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted, with overlapping or touching spans joined; empty ones dropped.

    >>> merge_spans([(5, 7), (0, 2), (1, 3), (7, 8), (4, 4)])
    [(0, 3), (5, 8)]
    """
    out: list[tuple[int, int]] = []
    for a, b in sorted(s for s in spans if s[1] > s[0]):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


_OPEN = {
    "quote": '<mark class="rag-quote">',
    "short": '<strong class="rag-short-span">',
    "term": '<b class="rag-term">',
}
_CLOSE = {"quote": "</mark>", "short": "</strong>", "term": "</b>"}


def mark_passage(
    passage: str,
    quotes: Iterable[tuple[int, int]] = (),
    short: tuple[int, int] | None = None,
    terms: Iterable[tuple[int, int]] = (),
) -> str:
    """The passage as escaped HTML with the quoted spans in ``<mark>``, the short answer
    in ``<strong>`` and the question's terms in ``<b>`` (spans relative to the passage;
    they may overlap, the tags nest properly).

    >>> mark_passage("共落地<项目>16个。", quotes=[(0, 10)], short=(7, 10), terms=[(3, 5)])
    '<mark class="rag-quote">共落地<b class="rag-term">&lt;项</b>目&gt;<strong class="rag-short-span">16个</strong></mark>。'
    """
    n = len(passage)

    def clip(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
        return merge_spans((max(0, a), min(n, b)) for a, b in spans)

    layers = [
        ("quote", clip(quotes)),
        ("short", clip([short] if short else [])),
        ("term", clip(terms)),
    ]
    bounds = sorted({0, n, *(x for _, spans in layers for s in spans for x in s)})
    out: list[str] = []
    opened: list[str] = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        want = [name for name, spans in layers if any(x <= a and b <= y for x, y in spans)]
        i = 0
        while i < len(opened) and i < len(want) and opened[i] == want[i]:
            i += 1
        out.extend(_CLOSE[name] for name in reversed(opened[i:]))
        out.extend(_OPEN[name] for name in want[i:])
        opened = want
        out.append(esc_lines(passage[a:b]))
    out.extend(_CLOSE[name] for name in reversed(opened))
    return "".join(out)


def source_card_html(
    source: Source,
    turn: int,
    terms: Sequence[str] = (),
    short: tuple[int, int] | None = None,
    cited: bool = False,
) -> str:
    """One source: number, title, author (and date/column when known), and the passage
    with its quotes highlighted and the question's terms marked. ``short`` is the short
    answer's span relative to the passage."""
    a = source.article
    title = a.title or "（无标题）"
    meta = [f"作者：{a.author}" if a.author else "作者：未署名"]
    meta += [x for x in (a.date, a.column) if x]
    marked = mark_passage(
        source.passage, source.highlights, short, term_spans(source.passage, terms)
    )
    before = "…" if source.start > 0 else ""
    after = "…" if source.end < len(a.text) else ""
    cls = "rag-src rag-cited" if cited else "rag-src"
    return (
        f'<article class="{cls}" id="{source_anchor(turn, source.n)}">'
        f'<div class="rag-src-head"><span class="rag-n">[{source.n}]</span> '
        f'<span class="rag-title">{esc(title)}</span></div>'
        f'<div class="rag-src-meta">{" · ".join(esc(m) for m in meta)}</div>'
        f'<div class="rag-passage">{before}{marked}{after}</div>'
        "</article>"
    )


def turn_sources_html(answer: Answer, turn: int, open_: bool = True) -> str:
    """The sources of one answer: a collapsible section headed by its question."""
    terms = question_terms(answer.query or answer.question)
    cited = {q.source for q in answer.quotes}
    short_n = answer.short_span[0] if answer.short_span else None
    cards = []
    for s in answer.sources:
        short = None
        if answer.short_span and s.n == short_n:
            short = (answer.short_span[1] - s.start, answer.short_span[2] - s.start)
        cards.append(source_card_html(s, turn, terms, short, cited=s.n in cited))
    note = ""
    if answer.query and answer.query != answer.question:  # a follow-up, as it was understood
        note += f'<div class="rag-turn-query">按上文理解为：{esc(answer.query)}</div>'
    if answer.refused:
        note += '<div class="rag-turn-note">没有找到答案；以下是最接近的资料。</div>'
    elif not cards:
        note += '<div class="rag-turn-note">没有来源。</div>'
    return (
        f'<section class="rag-turn" id="turn-{turn}"><details{" open" if open_ else ""}>'
        f'<summary><span class="rag-turn-n">问 {turn}</span> {esc(answer.question)}</summary>'
        f"{note}{''.join(cards)}</details></section>"
    )


EMPTY_SOURCES = (
    '<div class="rag-empty">提问之后，这里列出答案引用的文章：标题、作者和段落，'
    '引用的句子以<mark class="rag-quote">高亮</mark>标出，问题里的词'
    '<b class="rag-term">加粗</b>。点击回答里的 [n] 跳到第 n 个来源。</div>'
)


def sources_panel_html(turns: Sequence[tuple[int, Answer]]) -> str:
    """The sources panel: the newest answer's sources open at the top, older ones
    folded below."""
    if not turns:
        return EMPTY_SOURCES
    ordered = list(reversed(turns))
    return "".join(turn_sources_html(a, t, open_=i == 0) for i, (t, a) in enumerate(ordered))


def status_html(
    phase: str,
    info: dict | None = None,
    progress: tuple[int, int] | None = None,
    error: str | None = None,
) -> str:
    """The line above the chat: index size and encoder, build progress, or an error.

    >>> status_html("ready", {"articles": 3, "chunks": 9, "encoder": "fake:hash-128"})
    '<div class="rag-status rag-ok">索引：3 篇文章 · 9 段 · 编码器 fake:hash-128</div>'
    """
    if error:
        return f'<div class="rag-status rag-bad">索引不可用：{esc(error)}</div>'
    if phase == "ready" and info:
        return (
            '<div class="rag-status rag-ok">'
            f"索引：{int(info['articles'])} 篇文章 · {int(info['chunks'])} 段 · "
            f"编码器 {esc(info['encoder'])}</div>"
        )
    bar = ""
    if progress and progress[1]:
        done, total = progress
        bar = (
            f' <progress max="{int(total)}" value="{int(done)}"></progress> '
            f"{int(done)}/{int(total)} 段"
        )
    return f'<div class="rag-status rag-busy">{esc(phase)}{bar}</div>'


def safe_filename(name: str) -> str | None:
    """A safe base name for an uploaded file, or None when its type is not accepted:
    directories dropped (``/`` and ``\\``), characters other than letters, digits, ``-``
    and ``.`` (control characters, spaces, NUL, ``<>:"|?*``) replaced by ``_``, no
    leading dot, the suffix in lower case, the stem cut to ``NAME_BYTES`` UTF-8 bytes
    (file systems allow 255 bytes, not characters), Windows device names (``CON``,
    ``NUL``, ``COM1``…) prefixed with ``_``.

    >>> safe_filename("../../etc/passwd.txt"), safe_filename("C:\\\\x\\\\新闻 稿.md")
    ('passwd.txt', '新闻_稿.md')
    >>> safe_filename("evil.sh") is None, safe_filename("..jsonl"), safe_filename("A.TXT")
    (True, 'upload.jsonl', 'A.txt')
    """
    base = re.split(r"[\\/]", name or "")[-1]
    stem, dot, suffix = base.rpartition(".")
    suffix = "." + suffix.lower()
    if not dot or suffix not in UPLOAD_SUFFIXES:
        return None
    stem = re.sub(r"[^\w\-.\u3400-\u9fff]+", "_", stem).strip("._ ")
    stem = stem.encode("utf-8")[:NAME_BYTES].decode("utf-8", "ignore").rstrip("._ ")
    if stem.split(".")[0].upper() in _WINDOWS_DEVICES:  # "CON.txt" is a device there
        stem = "_" + stem
    return (stem or "upload") + suffix


_WINDOWS_DEVICES = {"CON", "PRN", "AUX", "NUL"} | {
    f"{p}{i}" for p in ("COM", "LPT") for i in range(1, 10)
}


def upload_report_html(
    added_files: Sequence[str],
    report: object | None = None,
    problems: Sequence[str] = (),
    total_articles: int | None = None,
) -> str:
    """What an upload did: articles added/updated, what was embedded, and each problem
    (bad file, bad line) on its own line."""
    parts = []
    if report is not None:
        r = report
        names = "、".join(esc(f) for f in added_files)
        parts.append(
            f'<div class="rag-up-ok">已加入 {len(added_files)} 个文件（{names}）：新增 {r.added} 篇、'
            f"更新 {r.updated} 篇文章，嵌入 {r.embedded_chunks} 段"
            f"（{r.seconds:.1f} 秒）。"
            + (f"索引现有 {int(total_articles)} 篇文章。" if total_articles is not None else "")
            + "</div>"
        )
    if problems:
        items = "".join(f"<li>{esc(p)}</li>" for p in problems)
        parts.append(f'<div class="rag-up-bad">未能加入：<ul>{items}</ul></div>')
    return "".join(parts) or '<div class="rag-up-bad">没有可加入的文件。</div>'


def parse_history(history: object) -> list[str]:
    """Earlier questions for the API: a list of strings (or chat messages), a JSON list
    in a string, a single question, or nothing.

    >>> parse_history('["甲？", "乙？"]'), parse_history("甲？"), parse_history(None)
    (['甲？', '乙？'], ['甲？'], [])
    """
    if history is None or history == "":
        return []
    if isinstance(history, str):
        s = history.strip()
        if s.startswith("["):
            try:
                history = json.loads(s)
            except json.JSONDecodeError as e:
                raise InputError(f"history is not a JSON list: {e}") from None
        else:
            return [s]
    if not isinstance(history, list):
        raise InputError(f"history must be a list of questions, not {type(history).__name__}")
    out = []
    for h in history:
        if isinstance(h, dict):
            if h.get("role", "user") != "user":
                continue
            h = h.get("content", "")
        if not isinstance(h, str):
            raise InputError("history must hold questions as text")
        if h.strip():
            out.append(h.strip())
    return out


# ------------------------------------------------------------------ the backend


def default_upload_dir(settings: Settings) -> Path:
    """Where uploads are kept: ``RAG_UPLOAD_DIR``, else ``<index_dir>/uploads``."""
    return Path(os.environ.get("RAG_UPLOAD_DIR") or Path(settings.index_dir) / "uploads")


def max_upload_files(env: dict[str, str] | None = None) -> int:
    """Files one upload may add: ``RAG_MAX_UPLOAD_FILES``, else ``MAX_UPLOAD_FILES``.

    >>> max_upload_files({"RAG_MAX_UPLOAD_FILES": "3"}), max_upload_files({})
    (3, 20)
    """
    raw = (os.environ if env is None else env).get("RAG_MAX_UPLOAD_FILES", "").strip()
    if not raw:
        return MAX_UPLOAD_FILES
    try:
        n = int(raw)
    except ValueError:
        n = 0
    if n < 1:
        raise InputError(f"RAG_MAX_UPLOAD_FILES must be a whole number of at least 1, not {raw!r}")
    return n


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
        from .pipeline import Pipeline

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
        from .index import read_manifest
        from .pipeline import Pipeline, build, ensure_index

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
                uploads = self._upload_files()
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

    def _upload_files(self) -> list[str]:
        """The kept uploads, newest first (so that when two hold the same JSONL id, a
        rebuild keeps the newer record, as the live index did); links are not followed."""
        if not self.upload_dir.is_dir():
            return []
        files = [
            p
            for p in self.upload_dir.iterdir()
            if p.is_file()
            and not p.is_symlink()
            and not p.name.startswith(".")
            and p.suffix.lower() in UPLOAD_SUFFIXES
        ]
        return [str(p) for p in sorted(files, key=lambda p: (-p.stat().st_mtime_ns, p.name))]

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

    def ask(self, question: str, history: list | None = None, k=None, mode=None) -> Answer:
        return self.wait().ask(question, history=history, k=k, mode=mode)

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
        from .ingest import load_file
        from .pipeline import Pipeline, build

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
                result.problems += [_problem_line(safe, p.line, p.message) for p in problems]
                result.problems.append(f"{safe}: 没有可用的文章")
                continue
            dest, same = self._place(safe, f, taken={n.lower() for n in copies.values()})
            if dest.parent.resolve() != folder:  # never expected: safe names have no parts
                result.problems.append(f"{safe}: 文件名不安全，没有加入")
                continue
            if not same:
                try:
                    _copy_into(f, dest)
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
                result.problems.append(_problem_line(name, p.line, p.message))
            new = Pipeline.load(settings=pipe.settings, encoder=pipe.encoder)
            self.pipe = new
        result.files = list(copies.values())
        result.report = report
        result.total_articles = new.info()["articles"]
        return result

    def _place(self, safe: str, source: str | Path, taken: set[str]) -> tuple[Path, bool]:
        """Where the upload ``safe`` goes, and whether an identical file is already
        there: the first of ``safe``, ``stem-2.suffix``, … whose name (ignoring case)
        is neither in ``taken`` (this upload's names, lower case) nor a kept file with
        other content."""
        import filecmp

        kept = {p.name.lower(): p for p in self.upload_dir.iterdir()}
        stem, _, suffix = safe.rpartition(".")
        name, n = safe, 1
        while True:
            if name.lower() not in taken:
                old = kept.get(name.lower())
                if old is None:
                    return self.upload_dir / name, False
                if old.is_file() and not old.is_symlink() and filecmp.cmp(old, source, False):
                    return old, True
            n += 1
            name = f"{stem}-{n}.{suffix}"


def _copy_into(source: str | Path, dest: Path) -> None:
    """Copy ``source`` to ``dest`` through a temporary file beside it and a rename: no
    half-written file is ever visible, and a link at ``dest`` is replaced, not followed."""
    import tempfile

    fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".upload-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, open(source, "rb") as src:
            shutil.copyfileobj(src, out)
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def shown_name(name: str, limit: int = 120) -> str:
    """A file name as messages show it: characters that are not printable (control
    characters, NUL, halves of surrogate pairs) as escapes, cut to ``limit`` characters.

    >>> shown_name("a\\x00b\\x1b[31m.txt"), shown_name("新" * 200 + ".txt", 5)
    ('a\\\\x00b\\\\x1b[31m.txt', '新新新新新…')
    """
    out = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in name)
    return out if len(out) <= limit else out[:limit] + "…"


def _problem_line(name: str, line: int | None, message: str) -> str:
    return f"{name}:{line}: {message}" if line else f"{name}: {message}"


# ------------------------------------------------------------------ the page

CSS = """
.rag-header h1 { margin: 0 0 .2em 0; font-size: 1.6em; }
.rag-logo { display: inline-block; background: #b3261e; color: #fff; border-radius: 6px;
  padding: 0 .25em; font-size: .9em; }
.rag-header p { margin: 0; color: var(--body-text-color-subdued); }
.rag-status { font-size: .9em; padding: .35em .7em; border-radius: 6px; }
.rag-status progress { vertical-align: middle; width: 12em; }
.rag-ok { background: var(--background-fill-secondary); color: var(--body-text-color-subdued); }
.rag-busy { background: #fff7e0; color: #7a5200; }
.rag-bad { background: #fdecea; color: #8a1c12; }
.rag-answer .rag-short { font-size: 1.35em; font-weight: 700; margin-bottom: .35em; }
.rag-answer .rag-support { line-height: 1.7; }
.rag-answer .rag-meta { margin-top: .4em; font-size: .8em; color: var(--body-text-color-subdued); }
.rag-refused .rag-refusal { color: #7a5200; background: #fff7e0; border-left: 4px solid #e0a100;
  padding: .4em .7em; border-radius: 4px; font-weight: 600; }
.rag-refused .rag-closest { margin-top: .5em; font-size: .92em; color: var(--body-text-color-subdued); }
.rag-error { color: #8a1c12; }
a.rag-cite { text-decoration: none; font-weight: 600; color: #b3261e; padding: 0 .1em;
  border-radius: 3px; cursor: pointer; }
a.rag-cite:hover { background: #fde3df; }
#rag-sources { max-height: 680px; overflow-y: auto; padding-right: .3em; }
.rag-empty { color: var(--body-text-color-subdued); padding: 1em; line-height: 1.7; }
.rag-turn details { margin-bottom: .6em; }
.rag-turn summary { cursor: pointer; font-weight: 600; padding: .3em 0; }
.rag-turn-n { display: inline-block; background: #b3261e; color: #fff; border-radius: 4px;
  padding: 0 .45em; margin-right: .3em; font-size: .85em; }
.rag-turn-query { color: var(--body-text-color-subdued); font-size: .88em; margin: 0 0 .3em 0; }
.rag-turn-note { color: #7a5200; font-size: .9em; margin: .2em 0 .4em 0; }
.rag-src { border: 1px solid var(--border-color-primary); border-radius: 8px; padding: .6em .8em;
  margin: .5em 0; background: var(--background-fill-primary); transition: box-shadow .3s, border-color .3s; }
.rag-src.rag-cited { border-left: 4px solid #b3261e; }
.rag-src.rag-focus { border-color: #b3261e; box-shadow: 0 0 0 3px #f6c9c3; }
.rag-src-head { font-weight: 700; }
.rag-n { color: #b3261e; }
.rag-src-meta { font-size: .85em; color: var(--body-text-color-subdued); margin: .15em 0 .4em 0; }
.rag-passage { line-height: 1.75; font-size: .95em; }
mark.rag-quote { background: #fff1a8; color: inherit; padding: 0 .05em; }
strong.rag-short-span { background: #ffd86b; }
b.rag-term { font-weight: 700; color: inherit; border-bottom: 2px solid #8ab4f8; }
.rag-up-ok { color: #1e6b2f; }
.rag-up-bad { color: #8a1c12; }
.rag-up-bad ul { margin: .2em 0 0 1.2em; }
"""

# Clicking a [n] marker opens that answer's sources, scrolls to card n and outlines it.
CLICK_JS = """
if (!window.__ragCiteHandler) {
  window.__ragCiteHandler = function (ev) {
    const a = ev.target && ev.target.closest ? ev.target.closest('a.rag-cite') : null;
    if (!a) return;
    const id = (a.getAttribute('href') || '').replace(/^#/, '');
    const card = id ? document.getElementById(id) : null;
    if (!card) return;
    ev.preventDefault();
    ev.stopPropagation();
    const d = card.closest('details');
    if (d) d.open = true;
    document.querySelectorAll('.rag-src.rag-focus').forEach(e => e.classList.remove('rag-focus'));
    card.classList.add('rag-focus');
    card.scrollIntoView({behavior: 'smooth', block: 'center'});
  };
  document.addEventListener('click', window.__ragCiteHandler, true);
}
"""


# The upload picker offers only the accepted types (the file_types Gradio would check).
ACCEPT_JS = """
if (!window.__ragAccept) {
  const accept = () => document.querySelectorAll('#rag-upload input[type=file]').forEach(
    i => { if (i.getAttribute('accept') !== '%s') i.setAttribute('accept', '%s'); });
  window.__ragAccept = new MutationObserver(accept);
  window.__ragAccept.observe(document.body, {childList: true, subtree: true});
  accept();
}
""" % ((",".join(UPLOAD_SUFFIXES),) * 2)


def _new_state() -> dict:
    return {"questions": [], "turns": [], "next": 1}


def _discard_staged(paths: Iterable[str], staging: str | Path) -> None:
    """Remove the copies Gradio made of uploaded files in its temp folder
    (``GRADIO_TEMP_DIR``, default ``<tmp>/gradio/<sha256>/<name>``) once the upload is
    handled: what is kept lives in the upload folder only. ``staging`` is that folder
    (the component's ``GRADIO_CACHE``); paths elsewhere are left."""
    staging = Path(staging).resolve()
    for p in paths:
        path = Path(p).resolve()
        if path.parent.parent != staging:
            continue
        path.unlink(missing_ok=True)
        with contextlib.suppress(OSError):  # the <sha256> folder, when nothing else is in it
            path.parent.rmdir()


def build_app(
    source=None,
    upload_dir: str | Path | None = None,
    warm_up: bool = True,
    queue_size: int = QUEUE_SIZE,
):
    """The Gradio app over a ``Pipeline`` (ready at once), a ``Settings`` or None
    (``Settings.from_env()``; loaded, or first built, in the background), or a
    ``Backend``. Launch it with ``launch(demo)`` to get the page's style.

    Questions (``/ask``, the chat) share one queue slot pair: two are answered at a
    time, up to ``queue_size`` more wait, and beyond that a caller is refused at once
    ("Queue is full"); uploads run one at a time."""
    import gradio as gr

    backend = (
        source
        if isinstance(source, Backend)
        else Backend(source, upload_dir=upload_dir, warm_up=warm_up)
    )
    backend.start()
    settings = backend.settings

    def respond(message, chat, state, k, mode, progress=gr.Progress()):
        message = (message or "").strip()
        state = state or _new_state()
        chat = list(chat or [])
        if not message:
            return chat, state, sources_panel_html(state["turns"]), ""
        try:
            if not backend.ready:
                progress(None, desc="正在建立索引，请稍候…")
            answer = backend.ask(
                message, history=list(state["questions"]), k=int(k or settings.k), mode=mode
            )
        except RagError as e:
            chat += [
                {"role": "user", "content": user_html(message)},
                {"role": "assistant", "content": error_html(str(e))},
            ]
            return chat, state, sources_panel_html(state["turns"]), message
        turn = state["next"]
        chat += [
            {"role": "user", "content": user_html(message)},
            {"role": "assistant", "content": answer_html(answer, turn)},
        ]
        state = {
            "questions": [*state["questions"], message][-MAX_TURNS:],
            "turns": [*state["turns"], (turn, answer)][-MAX_TURNS:],
            "next": turn + 1,
        }
        return chat, state, sources_panel_html(state["turns"]), ""

    def clear():
        return [], _new_state(), EMPTY_SOURCES, ""

    def upload(uploaded, progress=gr.Progress()):
        if not uploaded:
            return gr.update(), backend.status(), None
        paths = [f if isinstance(f, str) else getattr(f, "name", str(f)) for f in uploaded]
        progress(0, desc="正在读取文件…")

        def cb(done: int, total: int) -> None:
            progress((done, total), desc="正在嵌入新文章", unit="段")

        try:
            result = backend.add(paths, progress=cb)
        except RagError as e:
            return error_html(str(e)), backend.status(), None
        finally:
            _discard_staged(paths, files.GRADIO_CACHE)
        return result.html(), backend.status(), None

    def poll():
        return backend.status(), gr.Timer(active=not backend.ready)

    def ask(
        question: str,
        history: list[str] | str | None = None,
        k: int | None = None,
        mode: str | None = None,
    ) -> dict:
        """Answer a question from the articles. history: earlier questions of the chat,
        oldest first (a list, or a JSON list as a string). k: sources to return. mode:
        hybrid, dense or bm25. Returns the same object as `rag ask --json`."""
        pipe = backend.wait()
        try:
            answer = pipe.ask(
                question, history=parse_history(history), k=int(k) if k else None, mode=mode or None
            )
        except RagError as e:
            raise gr.Error(str(e)) from None
        out = answer.to_dict()
        out["encoder"] = pipe.encoder.id
        return out

    # delete_cache: Gradio's temp copies of uploads the handler never saw (refused
    # requests, abandoned pages) go after an hour, and all of them when the app stops
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        state = gr.State(_new_state())
        gr.HTML(
            '<div class="rag-header"><h1><span class="rag-logo">报</span> 中文新闻问答</h1>'
            "<p>答案逐字摘自文章，每句都标出处 [n]：点开来源核对原文。"
            "可以用简体、繁体或英文提问，也可以接着上一个问题追问。</p></div>",
            js_on_load=None,
        )
        status = gr.HTML(backend.status(), elem_id="rag-status", js_on_load=None)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=360):
                chatbot = gr.Chatbot(
                    label="对话",
                    elem_id="rag-chat",
                    height=520,
                    render_markdown=False,
                    latex_delimiters=[],  # "$$x$$" in a question or article stays as typed
                    sanitize_html=True,
                    allow_tags=False,
                    feedback_options=None,
                    buttons=[],
                    placeholder="问一个关于这些新闻的问题，例如：珠海高新区5月签约落地了多少个重点项目？",
                )
                with gr.Row():
                    msg = gr.Textbox(
                        placeholder="输入问题，按回车提问",
                        show_label=False,
                        container=False,
                        scale=6,
                        max_length=settings.max_question_chars,
                        elem_id="rag-question",
                        autofocus=True,
                    )
                    send = gr.Button("提问", variant="primary", scale=1, elem_id="rag-send")
                    clear_btn = gr.Button("清空对话", scale=1, elem_id="rag-clear")
                gr.Examples(
                    examples=[[q] for q in EXAMPLES],
                    inputs=[msg],
                    label="试试这些问题（来自示例报纸版面）",
                )
                with gr.Accordion("设置", open=False):
                    mode = gr.Radio(
                        MODE_CHOICES, value=settings.mode, label="检索方式", elem_id="rag-mode"
                    )
                    k = gr.Slider(
                        1,
                        10,
                        value=min(settings.k, 10),
                        step=1,
                        label="来源数 (top-k)",
                        elem_id="rag-k",
                    )
                with gr.Accordion("添加文章", open=False):
                    gr.Markdown(
                        "上传 `.txt` / `.md` 报纸版面或 `.jsonl` 记录（每行 "
                        '`{"id", "title", "text"}`）。只嵌入新文章，已有的不会重算。'
                    )
                    # no file_types: Gradio would refuse a whole upload for one wrong
                    # file; Backend.add names each refused file and keeps the others.
                    # The picker still offers only these types (ACCEPT_JS).
                    files = gr.File(
                        file_count="multiple",
                        label=f"上传文件（一次最多 {backend.max_files} 个）",
                        elem_id="rag-upload",
                    )
                    upload_status = gr.HTML("", elem_id="rag-upload-status", js_on_load=None)
            with gr.Column(scale=4, min_width=320):
                gr.HTML('<h3 class="rag-sources-title">来源</h3>', js_on_load=None)
                sources = gr.HTML(
                    EMPTY_SOURCES,
                    elem_id="rag-sources",
                    js_on_load=CLICK_JS + ACCEPT_JS,
                    padding=False,
                )

        ask_outputs = [chatbot, state, sources, msg]
        ask_inputs = [msg, chatbot, state, k, mode]
        common = dict(concurrency_id="ask", concurrency_limit=2, show_progress="minimal")
        msg.submit(respond, ask_inputs, ask_outputs, api_visibility="undocumented", **common)
        send.click(
            respond,
            ask_inputs,
            ask_outputs,
            api_name="chat",
            api_visibility="undocumented",
            **common,
        )
        clear_btn.click(clear, None, ask_outputs, queue=False, api_visibility="private")
        # the chatbot's own trash button empties the chat: forget its history too
        chatbot.clear(
            lambda: clear()[1:], None, [state, sources, msg], queue=False, api_visibility="private"
        )
        files.upload(
            upload,
            [files],
            [upload_status, status, files],
            api_name="add",
            concurrency_id="add",
            concurrency_limit=1,
        )
        gr.api(ask, api_name="ask", concurrency_id="ask", concurrency_limit=2)
        timer = gr.Timer(1.0, active=not backend.ready)
        timer.tick(
            poll,
            None,
            [status, timer],
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
        demo.load(
            poll,
            None,
            [status, timer],
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
    demo.queue(max_size=queue_size, default_concurrency_limit=1)
    demo.rag_backend = backend  # for tests and embedding
    return demo


def launch(demo, **kwargs):
    """``demo.launch`` with the page's style and limits; keyword arguments override."""
    import gradio as gr

    backend = getattr(demo, "rag_backend", None)
    options = dict(
        css=CSS,
        theme=gr.themes.Soft(primary_hue="red", neutral_hue="stone"),
        server_name=os.environ.get("GRADIO_SERVER_NAME", "127.0.0.1"),
        # bytes, as rag.ingest counts them (gradio only parses whole numbers of "mb")
        max_file_size=int(backend.settings.max_file_mb * 1024 * 1024) if backend else None,
        footer_links=["api", "settings"],
    )
    options.update(kwargs)
    return demo.launch(**options)


def main() -> None:
    """``python app.py``: settings from ``RAG_*``, index built on first start (progress
    in the console and on the page), then the app on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT
    (default 127.0.0.1:7860)."""
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    t0 = time.perf_counter()
    try:
        demo = build_app(Settings.from_env())
    except RagError as e:  # a bad RAG_* setting
        print(f"rag: error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"rag: page ready in {time.perf_counter() - t0:.1f}s", file=sys.stderr, flush=True)
    launch(demo)


__all__ = [
    "CSS",
    "EXAMPLES",
    "MODES",
    "AddResult",
    "Backend",
    "answer_html",
    "build_app",
    "launch",
    "main",
    "mark_passage",
    "question_terms",
    "safe_filename",
    "source_card_html",
    "sources_panel_html",
    "term_spans",
]
