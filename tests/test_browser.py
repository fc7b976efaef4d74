"""The web app in a real browser: Debian's chromium driven by Playwright (Playwright's
own browser download cannot work here). Type a question, see the answer and its
citation, click a marker, see the highlighted passage; article text cannot inject HTML.
"""

from __future__ import annotations

import json
import re
import shutil
import socket
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM} (apt-get install chromium)"
    ),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(tmp_path_factory, fake_index_dir):
    from rag import ui
    from rag.config import Settings
    from rag.pipeline import Pipeline

    tmp = tmp_path_factory.mktemp("browser-app")
    index = tmp / "index"
    shutil.copytree(fake_index_dir, index)  # uploads below must not touch the shared one
    pipe = Pipeline.load(index, Settings.from_env(index_dir=str(index)))
    demo = ui.build_app(pipe, upload_dir=tmp / "uploads")
    _, url, _ = ui.launch(
        demo, prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True
    )
    yield url
    demo.close()


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, app_url):
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.set_default_timeout(30_000)
    page.goto(app_url)
    page.wait_for_selector("#rag-status .rag-ok")
    yield page
    page.close()


def ask(page, question: str, enter: bool = False) -> None:
    before = page.locator("#rag-chat .rag-answer").count()
    box = page.locator("#rag-question textarea")
    box.fill(question)
    if enter:
        box.press("Enter")
    else:
        page.locator("#rag-send").click()
    page.wait_for_function(
        "n => document.querySelectorAll('#rag-chat .rag-answer').length > n", arg=before
    )


def test_ask_see_citation_click_marker_see_highlight(page, tmp_path):
    from playwright.sync_api import expect

    ask(page, "珠海高新区5月签约落地了多少个重点项目？", enter=True)
    answer = page.locator("#rag-chat .rag-answer").last
    expect(answer.locator(".rag-short")).to_have_text("16个[1]")
    expect(answer.locator("a.rag-cite").first).to_have_attribute("href", "#src-1-1")
    card = page.locator("#src-1-1")
    expect(card.locator(".rag-title")).to_have_text("珠海高新区：5月签约落地重点项目16个")
    expect(card.locator(".rag-src-meta")).to_contain_text("朱高新")

    # a second question folds the first answer's sources away ...
    ask(page, "中关村发展集团与哪所大学签署了战略合作协议？")
    expect(page.locator("#src-2-1")).to_be_visible()
    expect(card).not_to_be_visible()
    # ... and its [1] marker opens them again, scrolls to source 1 and outlines it
    page.locator("#rag-chat .rag-answer").first.locator("a.rag-cite").first.click()
    expect(card).to_be_visible()
    expect(card).to_have_class(re.compile(r"\brag-focus\b"))
    expect(card).to_be_in_viewport()
    expect(card.locator("mark.rag-quote")).to_contain_text("共落地重点项目16个")
    expect(card.locator("strong.rag-short-span")).to_have_text("16个")
    expect(card.locator("b.rag-term").first).to_have_text("珠海高新区")
    assert len(page.context.pages) == 1  # the marker did not open a new tab

    shot = tmp_path / "app.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000


def test_uploaded_article_shows_as_text_and_refusals_look_different(page, tmp_path):
    from playwright.sync_api import expect

    from tests.test_ui import PAYLOADS

    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    evil = tmp_path / "evil.jsonl"
    payloads = " ".join(PAYLOADS)  # script, img/svg handlers, javascript: links, LaTeX …
    record = {
        "id": "evil-1",
        "title": f"火星<script>window.__xss=1</script>基地 {payloads}",
        "author": '<img src=x onerror="window.__xss=2">',
        "text": f"火星基地今年建成了3个温室。{PAYLOADS[2]}{PAYLOADS[8]} **不是粗体**",
    }
    evil.write_text(json.dumps(record, ensure_ascii=False) + "\n", encoding="utf-8")
    page.get_by_text("添加文章").click()
    upload = page.locator("#rag-upload input[type=file]")
    expect(upload).to_have_attribute("accept", ".txt,.md,.jsonl")  # the picker's filter
    upload.set_input_files(str(evil))
    expect(page.locator("#rag-upload-status .rag-up-ok")).to_contain_text("新增 1 篇")

    question = f"火星基地今年建成了几个温室？{PAYLOADS[1]}{PAYLOADS[8]}{PAYLOADS[6]}"
    ask(page, question)
    answer = page.locator("#rag-chat .rag-answer").last
    expect(answer.locator(".rag-short")).to_have_text("3个[1]")
    card = page.locator("#src-1-1")
    expect(card.locator(".rag-title")).to_have_text(record["title"])
    expect(card.locator(".rag-src-meta")).to_contain_text(record["author"])
    expect(card.locator(".rag-passage")).to_contain_text("**不是粗体**")
    expect(card.locator(".rag-passage")).to_contain_text(PAYLOADS[2] + PAYLOADS[8])
    user = page.locator("#rag-chat [data-testid=user]").last
    expect(user).to_have_text(question)  # as typed: no markdown, no LaTeX, no HTML
    live = ", ".join(  # elements the payloads would make if any were live
        f"{where} {tag}"
        for where in ("#rag-chat .message-content", "#rag-sources")
        for tag in ("img", "svg", "iframe", "script", "style", "base", ".katex", "a[href^=java]")
    )
    found = page.locator(live).evaluate_all("els => els.map(e => e.outerHTML.slice(0, 300))")
    assert found == []
    assert page.evaluate("window.__xss") is None and dialogs == []

    ask(page, "今天天气怎么样？")
    refusal = page.locator("#rag-chat .rag-answer").last
    expect(refusal).to_have_class(re.compile(r"\brag-refused\b"))
    expect(refusal.locator(".rag-refusal")).to_contain_text("资料中没有找到相关答案")
    expect(page.locator("#turn-2 .rag-turn-note")).to_contain_text("最接近的资料")
    assert page.locator("#turn-2 .rag-src").count() >= 1


def test_the_api_page_shows_ask_with_its_parameters_and_defaults(page):
    page.get_by_text("Use via API").click()
    page.wait_for_function("document.body.innerText.includes('API name: /ask')")
    text = page.locator("body").inner_text()
    ask_docs = text[text.index("API name: /ask") :]
    assert 'question="...",\n\thistory=[],\n\tk=5,\n\tmode="hybrid",' in ask_docs
    assert re.search(r"question\s+str\s+Required", ask_docs)
    assert re.search(r"history\s+list\[str\] \| str\s+Default:\s*\[\]", ask_docs)
    assert re.search(r"k\s+int\s+Default:\s*5", ask_docs)
    assert re.search(
        r"mode\s+Literal\['hybrid', 'dense', 'bm25'\]\s+Default:\s*\"hybrid\"", ask_docs
    )
    assert "short_answer" in ask_docs and "rag ask --json" in ask_docs
