"""The web app's formatting functions: pure, exact expectations (markers, highlighting,
escaping). No server, no browser."""

from __future__ import annotations

import html
import re
from dataclasses import replace
from html.parser import HTMLParser

import pytest

from rag import ui
from rag.types import Answer, Article, Quote, Source

EVIL = "<script>alert(1)</script><img src=x onerror=alert(1)>"

# What a hostile question, title, author or article text may hold (also used by
# tests/test_web_reliability.py and tests/test_browser.py).
PAYLOADS = [
    EVIL,
    '<img src=x onerror="window.__xss=1">',
    "<svg onload=window.__xss=2><circle r=9></circle></svg>",
    '<a href="javascript:window.__xss=3">点我</a>',
    '"><iframe src="javascript:window.__xss=4"></iframe>',
    "'><body onload=window.__xss=5>",
    "[点我](javascript:window.__xss=6) ![x](x onerror=window.__xss=7)",
    "&lt;script&gt;window.__xss=8&lt;/script&gt; &amp; &#60;b&#62; &#x3C;i&#x3E;",
    "$$\\href{javascript:window.__xss=9}{点我}$$ $x^2$ \\(y\\)",
    "<style>*{display:none}</style><base href=//evil.example/>",
    "**粗体** _斜体_ `代码` # 标题 <!-- 注释 --> ]]>",
    "\u202e\u200b<b>零宽与反向</b>",
]

# Markup our formatting functions write, and nothing else: any other tag or attribute
# in their output came from the data.
OUR_TAGS = {
    "div",
    "a",
    "mark",
    "strong",
    "b",
    "br",
    "span",
    "section",
    "details",
    "summary",
    "article",
    "progress",
    "ul",
    "li",
    "h3",
    "h1",
    "p",
}
OUR_ATTRS = {"class", "id", "href", "title", "open", "max", "value"}


class _Markup(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in OUR_TAGS:
            self.bad.append(f"<{tag}>")
        for name, value in attrs:
            if name not in OUR_ATTRS:
                self.bad.append(f"<{tag} {name}=>")
            elif name == "href" and not re.fullmatch(r"#src-\d+-\d+", value or ""):
                self.bad.append(f"<{tag} href={value!r}>")

    def handle_comment(self, data):
        self.bad.append("<!--")

    def handle_decl(self, decl):
        self.bad.append(f"<!{decl}>")

    def handle_data(self, data):
        self.text.append(data)


def live_markup(fragment: str) -> list[str]:
    """Tags, attributes and links in an HTML fragment that our formatting does not
    write (so came from data that should have been escaped); empty when it is safe."""
    p = _Markup()
    p.feed(fragment)
    p.close()
    return p.bad


def shown_text(fragment: str) -> str:
    """The text a browser shows for an HTML fragment (entities decoded)."""
    p = _Markup()
    p.feed(fragment)
    p.close()
    return "".join(p.text)


def test_live_markup_finds_what_it_should():
    assert live_markup('<div class="rag-x"><a href="#src-1-2">[2]</a><br></div>') == []
    assert live_markup(EVIL) == ["<script>", "<img>", "<img src=>", "<img onerror=>"]
    assert live_markup('<a href="javascript:x">') == ["<a href='javascript:x'>"]
    assert live_markup(html.escape(EVIL)) == [] and shown_text(html.escape(EVIL)) == EVIL


def _article(text: str, title: str = "珠海高新区：5月签约落地重点项目16个", author: str = "朱高新"):
    return Article(id="p.txt#1", title=title, text=text, author=author)


def _answer(
    article: Article, sent: tuple[int, int], short: tuple[int, int] | None, refused=False
) -> Answer:
    text = article.text
    a, b = sent
    quotes = []
    lines = []
    if short:
        quotes.append(Quote(text[short[0] : short[1]], 1, *short))
        lines.append(f"{text[short[0] : short[1]]}[1]")
    quotes.append(Quote(text[a:b], 1, a, b))
    lines.append(f"{text[a:b]}[1]")
    src = Source(
        n=1,
        article=article,
        passage=text,
        start=0,
        end=len(text),
        score=0.9,
        highlights=tuple((q.start, q.end) for q in quotes),
    )
    other = Source(
        n=2,
        article=_article("别的文章。", title="另一篇", author=""),
        passage="别的文章。",
        start=0,
        end=5,
        score=0.1,
    )
    if refused:
        return Answer(
            question="问题？",
            text="资料中没有找到相关答案。",
            short_answer=None,
            refused=True,
            sources=(src, other),
            query="问题？",
        )
    return Answer(
        question="珠海高新区5月签约落地了多少个重点项目？",
        text="\n".join(lines),
        short_answer=text[short[0] : short[1]] if short else None,
        refused=False,
        sources=(src, other),
        quotes=tuple(quotes),
        confidence=0.87,
        query="珠海高新区5月签约落地了多少个重点项目？",
        short_span=(1, *short) if short else None,
    )


TEXT = "本报讯 近日,珠海高新区举行签约仪式,共落地重点项目16个。其余内容。"
SENT = (0, TEXT.index("。") + 1)
SHORT = (TEXT.index("16个"), TEXT.index("16个") + 3)


def test_answer_html_short_answer_first_with_marker_links():
    html = ui.answer_html(_answer(_article(TEXT), SENT, SHORT), turn=3)
    cite = '<a class="rag-cite" href="#src-3-1" title="来源 1">[1]</a>'
    assert html == (
        '<div class="rag-answer">'
        f'<div class="rag-short">16个{cite}</div>'
        f'<div class="rag-support">{TEXT[: SENT[1]]}{cite}</div>'
        '<div class="rag-meta">置信度 0.87</div></div>'
    )


def test_refusal_looks_different_and_links_closest_sources():
    html = ui.answer_html(_answer(_article(TEXT), SENT, SHORT, refused=True), turn=1)
    assert html.startswith(
        '<div class="rag-answer rag-refused"><div class="rag-refusal">⚠ 资料中没有找到相关答案。</div>'
    )
    assert 'href="#src-1-1"' in html and 'href="#src-1-2"' in html
    panel = ui.sources_panel_html([(1, _answer(_article(TEXT), SENT, SHORT, refused=True))])
    assert "以下是最接近的资料" in panel and 'id="src-1-1"' in panel


def test_marker_links_only_existing_sources():
    assert ui.link_markers("a[1]b[2][3][12]", 1, 2) == (
        'a<a class="rag-cite" href="#src-1-1" title="来源 1">[1]</a>b'
        '<a class="rag-cite" href="#src-1-2" title="来源 2">[2]</a>[3][12]'
    )


def test_mark_passage_nests_quote_short_answer_and_terms():
    assert ui.mark_passage(
        "共落地重点项目16个。其余", quotes=[(0, 10)], short=(7, 10), terms=[(3, 7), (12, 13)]
    ) == (
        '<mark class="rag-quote">共落地<b class="rag-term">重点项目</b>'
        '<strong class="rag-short-span">16个</strong></mark>。'
        '其<b class="rag-term">余</b>'
    )


def test_mark_passage_overlapping_quotes_and_line_breaks():
    assert ui.mark_passage("甲乙\n丙丁", quotes=[(0, 3), (1, 5)]) == (
        '<mark class="rag-quote">甲乙<br>丙丁</mark>'
    )
    assert ui.mark_passage("", quotes=[(0, 3)]) == ""
    assert ui.mark_passage("甲乙", quotes=[(-3, 99)]) == '<mark class="rag-quote">甲乙</mark>'


def test_terms_found_across_scripts_and_marked_on_original_text():
    passage = "咸陽高新區簽約21個項目，ＡＢＣ公司"
    spans = ui.term_spans(passage, ui.question_terms("咸阳高新区签约了多少个项目？abc"))
    assert [passage[a:b] for a, b in spans] == ["咸陽高新區簽約", "項目", "ＡＢＣ"]


def test_source_card_title_author_passage_highlight():
    art = _article(TEXT)
    ans = _answer(art, SENT, SHORT)
    card = ui.source_card_html(
        ans.sources[0], 2, ui.question_terms(ans.query), (SHORT[0], SHORT[1]), cited=True
    )
    assert card.startswith('<article class="rag-src rag-cited" id="src-2-1">')
    assert '<span class="rag-title">珠海高新区：5月签约落地重点项目16个</span>' in card
    assert "作者：朱高新" in card
    assert '<strong class="rag-short-span">16个</strong>' in card
    assert '<b class="rag-term">珠海高新区</b>' in card
    assert card.count("<mark") == 1  # the quoted sentence, once


def test_source_card_shows_the_date_next_to_the_author():
    art = replace(_article(TEXT), date="2023-05-30", column="园区")
    card = ui.source_card_html(_answer(art, SENT, SHORT).sources[0], 1)
    assert '<div class="rag-src-meta">作者：朱高新 · 2023-05-30 · 园区</div>' in card
    undated = ui.source_card_html(_answer(_article(TEXT), SENT, SHORT).sources[0], 1)
    assert '<div class="rag-src-meta">作者：朱高新</div>' in undated


@pytest.mark.parametrize("field", ["text", "title", "author", "date"])
@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_article_html_is_escaped_everywhere(field, payload):
    text = f"共落地项目16个。{payload}之后。"
    kwargs = {"text": text, "title": "标题", "author": "作者"}
    kwargs[field] = text if field == "text" else payload
    art = Article(id="x", **kwargs)
    sent = (0, len(text))
    ans = _answer(art, sent, (text.index("16个"), text.index("16个") + 3))
    out = ui.sources_panel_html([(1, ans)]) + ui.answer_html(ans, 1)
    assert live_markup(out) == []
    assert payload.replace("\n", "") in shown_text(out)  # shown exactly as written
    if payload == EVIL:
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;" in out


def test_question_and_errors_are_escaped():
    assert ui.user_html(EVIL) == (
        "&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
    )
    ans = Answer(question=EVIL, text="资料中没有找到相关答案。", short_answer=None, refused=True)
    panel = ui.sources_panel_html([(1, ans)])
    assert "<script" not in panel and "&lt;script&gt;" in panel
    assert "<img" not in ui.error_html(EVIL)
    assert "<script" not in ui.status_html("x", error=EVIL)
    assert "<script" not in ui.upload_report_html([], None, [f"{EVIL}.txt: bad"])


@pytest.mark.parametrize("payload", PAYLOADS, ids=range(len(PAYLOADS)))
def test_every_payload_is_text_in_questions_errors_status_and_upload_reports(payload):
    followup = Answer(
        question=payload,
        text="资料中没有找到相关答案。",
        short_answer=None,
        refused=True,
        query=f"咸阳{payload}",
    )

    class Report:
        added = updated = embedded_chunks = 1
        seconds = 0.1

    pieces = {
        "question": ui.user_html(payload),
        "panel": ui.sources_panel_html([(1, followup)]),
        "error": ui.error_html(payload),
        "status": ui.status_html(payload) + ui.status_html("x", error=payload),
        "ready": ui.status_html("ready", {"articles": 1, "chunks": 1, "encoder": payload}),
        "upload": ui.upload_report_html([f"{payload}.txt"], Report(), [f"{payload}: bad"]),
    }
    for where, out in pieces.items():
        assert live_markup(out) == [], where
        assert payload in shown_text(out).replace("\n", ""), where


def test_sources_panel_newest_open_first_older_folded():
    art = _article(TEXT)
    a1 = _answer(art, SENT, SHORT)
    panel = ui.sources_panel_html([(1, a1), (2, a1)])
    assert panel.index('id="turn-2"') < panel.index('id="turn-1"')
    assert '<section class="rag-turn" id="turn-2"><details open>' in panel
    assert '<section class="rag-turn" id="turn-1"><details>' in panel
    assert ui.sources_panel_html([]) == ui.EMPTY_SOURCES


def test_safe_filename():
    assert ui.safe_filename("../../x/新闻 稿<1>.TXT") == "新闻_稿_1.txt"
    assert ui.safe_filename("/abs/path/a.jsonl") == "a.jsonl"
    assert ui.safe_filename("..\\..\\win.md") == "win.md"
    assert ui.safe_filename(".hidden.md") == "hidden.md"
    assert ui.safe_filename("a.pdf") is None
    assert ui.safe_filename("noext") is None
    assert ui.safe_filename("") is None


@pytest.mark.parametrize(
    "name, safe",
    [
        ("../../etc/passwd.txt", "passwd.txt"),
        ("/abs/path.md", "path.md"),
        ("..\\..\\win.txt", "win.txt"),
        ("a/../../b.jsonl", "b.jsonl"),
        ("C:\\Users\\x\\新闻.TXT", "新闻.txt"),
        ("a\x00b.txt", "a_b.txt"),
        ("c\x01\x1b[31m\r\n.txt", "c_31m.txt"),
        ("新" * 300 + ".txt", "新" * 40 + ".txt"),
        ("x" * 300 + ".md", "x" * 120 + ".md"),
        ("新闻.txt", "新闻.txt"),
        (".bashrc.txt", "bashrc.txt"),
        ("...txt", "upload.txt"),
        (".txt", "upload.txt"),
        ("a.txt.", None),
        ("a.txt.exe", None),
        ("a.exe.txt", "a.exe.txt"),
        ("page.html", None),
        ("x.svg", None),
        ("evil.exe", None),
        ("a.txt\x00.exe", None),
        ("a.exe\x00.txt", "a.exe.txt"),
        ("..", None),
        ("CON.txt", "_CON.txt"),
        ("nul.tar.md", "_nul.tar.md"),
        ("com1.jsonl", "_com1.jsonl"),
        ("console.txt", "console.txt"),
        ("\udcff\udcfe.txt", "upload.txt"),
        ("名字 with spaces & $(rm -rf).md", "名字_with_spaces_rm_-rf.md"),
    ],
)
def test_safe_filename_hostile_names(name, safe):
    got = ui.safe_filename(name)
    assert got == safe
    if got is not None:
        assert "/" not in got and "\\" not in got and not got.startswith(".")
        assert len(got.encode()) <= ui.NAME_BYTES + len(".jsonl")
        assert got.isprintable()


def test_chat_history_is_parsed_once_into_one_value():
    parse = ui.ChatHistory.parse
    h = parse(
        ["甲？", {"role": "user", "content": "乙？"}, {"role": "assistant", "content": "答"}, " "]
    )
    assert h == ui.ChatHistory(questions=("甲？", "乙？"))
    assert parse('["甲？"]').questions == ("甲？",)
    assert parse("甲？").questions == ("甲？",) and parse(None) == parse("") == parse([])
    for bad, message in (
        ("[not json", "history is not a JSON list"),
        (3, "history must be a list of earlier questions, not int"),
        ({"a": 1}, "history must be a list of earlier questions, not dict"),
        (["甲？", 2], "history must hold earlier questions as text, not int"),
        ([["甲？"]], "history must hold earlier questions as text, not list"),
    ):
        with pytest.raises(ui.InputError, match=re.escape(message)):
            parse(bad)


def test_chat_history_numbers_turns_and_keeps_the_last_ones():
    ans = _answer(_article(TEXT), SENT, SHORT)
    h = ui.ChatHistory()
    assert h.next_turn == 1 and h.turns == ()
    for i in range(ui.MAX_TURNS + 5):
        h = h.then(f"问{i}？", ans)
    assert len(h.questions) == len(h.turns) == ui.MAX_TURNS
    assert h.questions[-1] == f"问{ui.MAX_TURNS + 4}？" and h.questions[0] == "问5？"
    assert [t for t, _ in h.turns] == list(range(6, ui.MAX_TURNS + 6))
    assert h.next_turn == ui.MAX_TURNS + 6
    with pytest.raises(AttributeError):  # frozen: a new value per turn
        h.questions = ()


def test_read_k():
    assert [ui.read_k(x) for x in (3, "4", 5.0, None, "", 0, -1)] == [3, 4, 5, None, None, 0, -1]
    for bad in (True, 2.5, "x", [3]):
        with pytest.raises(ui.InputError, match="k must be a whole number"):
            ui.read_k(bad)


def test_status_html_progress():
    assert ui.status_html("正在建立索引…", progress=(32, 128)) == (
        '<div class="rag-status rag-busy">正在建立索引… '
        '<progress max="128" value="32"></progress> 32/128 段</div>'
    )


def test_follow_up_shows_how_it_was_understood():
    ans = Answer(
        question="那咸阳高新区呢？",
        text="资料中没有找到相关答案。",
        short_answer=None,
        refused=True,
        query="咸阳<高新区>签约了多少个项目？",
    )
    panel = ui.sources_panel_html([(1, ans)])
    assert (
        '<div class="rag-turn-query">按上文理解为：咸阳&lt;高新区&gt;签约了多少个项目？</div>'
        in panel
    )


def test_max_upload_files_setting():
    assert ui.max_upload_files({}) == ui.MAX_UPLOAD_FILES == 20
    assert ui.max_upload_files({"RAG_MAX_UPLOAD_FILES": " 3 "}) == 3
    for bad in ("0", "-1", "many", "2.5"):
        with pytest.raises(ui.InputError, match="RAG_MAX_UPLOAD_FILES must be a whole number"):
            ui.max_upload_files({"RAG_MAX_UPLOAD_FILES": bad})


def test_shown_name_escapes_what_cannot_be_printed():
    assert ui.shown_name("a\x00b\x1b[31m\u202e.txt") == "a\\x00b\\x1b[31m\\u202e.txt"
    assert ui.shown_name("新闻.txt") == "新闻.txt"
    assert ui.shown_name("x" * 200) == "x" * 120 + "…"


def test_an_answer_with_many_quotes_and_sources_is_drawn_like_any_other():
    """An overview answer (a title and a lead per article, each cited) is just an
    Answer with many lines, quotes and sources: every marker links, every source gets
    its card with its quote marked."""
    n = 25
    sources, quotes, lines = [], [], []
    for i in range(1, n + 1):
        text = f"第{i}篇<文章>的导语。后文。"
        lead = text[: text.index("。") + 1]
        art = Article(id=f"p.txt#{i}", title=f"标题{i}", text=text)
        sources.append(Source(i, art, text, 0, len(text), 1 / i, highlights=((0, len(lead)),)))
        quotes.append(Quote(lead, i, 0, len(lead)))
        lines.append(f"标题{i}：{lead}[{i}]")
    ans = Answer(
        question="这一版有哪些文章？",
        text="\n".join(["本版共有 25 篇文章：", *lines]),
        short_answer=None,
        refused=False,
        sources=tuple(sources),
        quotes=tuple(quotes),
        confidence=1.0,
        query="这一版有哪些文章？",
    )
    bubble = ui.answer_html(ans, 4)
    panel = ui.sources_panel_html([(4, ans)])
    for i in range(1, n + 1):
        assert ui.cite_html(4, i) in bubble
        assert f'id="src-4-{i}"' in panel
    assert bubble.count('<div class="rag-support">') == n + 1
    assert panel.count('<article class="rag-src rag-cited"') == n
    assert panel.count('<mark class="rag-quote">') == n
    assert live_markup(bubble + panel) == [] and "&lt;文章&gt;" in panel
