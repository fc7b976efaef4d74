"""The web app over HTTP with ``gradio_client``: launched on 127.0.0.1 over an index
that its first start builds from seeds/ with the fake encoder; ask, follow up, chat,
upload, and get cited answers."""

from __future__ import annotations

import json
import socket

import pytest

from tests.conftest import SEEDS

pytestmark = pytest.mark.slow

EVIL = '<script>alert(1)</script><img src=x onerror="window.__xss=1">'


def text_of(message: dict) -> str:
    """A chat message's text (Gradio 6 sends content as a list of typed parts)."""
    content = message["content"]
    if isinstance(content, str):
        return content
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from rag import ui
    from rag.config import Settings

    tmp = tmp_path_factory.mktemp("app")
    settings = Settings(index_dir=str(tmp / "index"), corpus=str(SEEDS), encoder="fake:hash-128")
    demo = ui.build_app(settings, upload_dir=tmp / "uploads")
    _, url, _ = ui.launch(
        demo, prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True
    )
    demo.rag_backend.wait(120)
    yield demo, url, tmp
    demo.close()


@pytest.fixture(scope="module")
def client(app):
    from gradio_client import Client

    # download_files=False: a source's "path" field would otherwise be taken for a file
    return Client(app[1], verbose=False, download_files=False)


def test_first_start_built_the_index(app):
    demo, _, tmp = app
    assert (tmp / "index" / "CURRENT").is_file()
    assert demo.rag_backend.pipe.info()["articles"] == 7
    assert "索引：7 篇文章" in demo.rag_backend.status()


def test_api_ask_returns_the_cli_json(client):
    r = client.predict("珠海高新区5月签约落地了多少个重点项目？", api_name="/ask")
    assert r["short_answer"] == "16个"
    assert r["refused"] is False
    assert r["encoder"] == "fake:hash-128"
    assert r["answer"].startswith("16个[1]\n")
    assert r["sources"][0]["title"] == "珠海高新区：5月签约落地重点项目16个"
    by_n = {s["n"]: s for s in r["sources"]}
    for q in r["quotes"]:
        assert q["text"] in by_n[q["source"]]["text"]
    keys = {"question", "answer", "short_answer", "refused", "confidence", "query", "qtype"}
    assert keys | {"sources", "quotes", "encoder"} == set(r)


def test_api_follow_up_and_settings(client):
    r = client.predict(
        "那咸阳高新区签了多少个？",
        ["珠海高新区5月落地了多少个重点项目？"],
        3,
        "bm25",
        api_name="/ask",
    )
    assert "咸阳高新区" in r["query"] and r["query"] != r["question"]
    assert len(r["sources"]) == 3
    assert "咸阳" in r["sources"][0]["title"]
    # history may also come as a JSON string
    r2 = client.predict(
        question="那咸阳高新区签了多少个？",
        history=json.dumps(["珠海高新区5月落地了多少个重点项目？"], ensure_ascii=False),
        api_name="/ask",
    )
    assert r2["query"] == r["query"]


def test_api_bad_input_is_an_error_not_a_crash(client):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError, match="question is empty"):
        client.predict("   ", api_name="/ask")
    with pytest.raises(AppError, match="mode must be one of"):
        client.predict("问题？", None, 3, "nope", api_name="/ask")


def test_concurrent_questions_all_answered(client):
    qs = [
        "珠海高新区5月签约落地了多少个重点项目？",
        "中关村发展集团与哪所大学签署了战略合作协议？",
    ] * 3
    jobs = [client.submit(q, api_name="/ask") for q in qs]  # all in flight at once
    results = [j.result(timeout=60) for j in jobs]
    assert [r["question"] for r in results] == qs
    assert all(r["sources"] for r in results)


def test_chat_endpoint_keeps_history_and_links_markers(app):
    from gradio_client import Client

    c = Client(app[1], verbose=False, download_files=False)  # its own session
    chat, panel, box = c.predict(
        "珠海高新区5月落地了多少个重点项目？", [], 5, "hybrid", api_name="/chat"
    )
    assert box == ""
    assert [m["role"] for m in chat] == ["user", "assistant"]
    assert '<a class="rag-cite" href="#src-1-1" title="来源 1">[1]</a>' in text_of(chat[1])
    assert '<div class="rag-short">16个' in text_of(chat[1])
    assert 'id="src-1-1"' in panel and '<mark class="rag-quote">' in panel
    chat, panel, _ = c.predict("那咸阳高新区签了多少个？", chat, 5, "hybrid", api_name="/chat")
    assert len(chat) == 4
    assert 'href="#src-2-1"' in text_of(chat[3])
    assert panel.index('id="turn-2"') < panel.index('id="turn-1"')
    assert "咸阳" in panel.split('id="turn-1"')[0]  # the follow-up was about Xianyang


def test_upload_adds_articles_without_reembedding(app, client, tmp_path):
    demo = app[0]
    page = tmp_path / "火星 新闻.jsonl"
    page.write_text(
        json.dumps(
            {
                "id": "mars-1",
                "title": f"火星基地{EVIL}",
                "author": "张三",
                "text": "火星基地今年建成了3个温室，种出了土豆。",
            },
            ensure_ascii=False,
        )
        + "\n{not json\n",
        encoding="utf-8",
    )
    empty = tmp_path / "empty.txt"
    empty.write_text("", encoding="utf-8")
    junk = tmp_path / "junk.jsonl"
    junk.write_text("{broken\n[1, 2]\n", encoding="utf-8")
    from gradio_client import handle_file

    before = demo.rag_backend.pipe.info()["chunks"]
    report, status, files = client.predict(
        [handle_file(str(page)), handle_file(str(empty)), handle_file(str(junk))], api_name="/add"
    )
    assert "新增 1 篇" in report and "嵌入 1 段" in report
    assert "火星_新闻.jsonl:2:" in report  # the bad line, by the file's safe name
    assert "empty.txt: file is empty" in report
    assert "索引：8 篇文章" in status and files is None
    assert demo.rag_backend.pipe.info()["chunks"] == before + 1
    assert (app[2] / "uploads" / "火星_新闻.jsonl").is_file()
    assert "junk.jsonl: 没有可用的文章" in report and "junk.jsonl:1:" in report
    assert sorted(p.name for p in (app[2] / "uploads").iterdir()) == ["火星_新闻.jsonl"]

    r = client.predict("火星基地今年建成了几个温室？", api_name="/ask")
    assert r["short_answer"] == "3个"
    assert r["sources"][0]["doc_id"] == "mars-1"

    # the same file again: nothing new is embedded
    report, _, _ = client.predict([handle_file(str(page))], api_name="/add")
    assert "新增 0 篇、更新 0 篇文章，嵌入 0 段" in report


def test_questions_during_an_upload_use_the_index_as_it_was(app, tmp_path):
    backend = app[0].rag_backend
    old = backend.pipe
    extra = tmp_path / "venus.jsonl"
    extra.write_text(
        json.dumps({"id": "venus-1", "title": "金星站", "text": "金星站今年建成了5座塔。"}) + "\n",
        encoding="utf-8",
    )
    result = backend.add([str(extra)])
    assert result.report.added == 1 and backend.pipe is not old
    # the pipeline a question already holds keeps answering from the old index
    before = old.ask("珠海高新区5月签约落地了多少个重点项目？")
    assert before.short_answer == "16个"
    assert "venus-1" not in old.index.articles and "venus-1" in backend.pipe.index.articles


def test_a_rebuild_from_the_corpus_keeps_the_uploads(tmp_path):
    from rag import ui
    from rag.config import Settings

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "a.jsonl").write_text(
        json.dumps({"id": "a1", "title": "甲", "text": "甲城今年新建了3座桥。"}) + "\n",
        encoding="utf-8",
    )
    settings = Settings(
        index_dir=str(tmp_path / "index"), corpus=str(corpus), encoder="fake:hash-64"
    )
    b = ui.Backend(settings, warm_up=False).start()
    b.wait(60)
    up = tmp_path / "up.jsonl"
    up.write_text(
        json.dumps({"id": "u1", "title": "乙", "text": "乙城今年新建了4座桥。"}) + "\n",
        encoding="utf-8",
    )
    b.add([str(up)])
    (corpus / "b.jsonl").write_text(
        json.dumps({"id": "b1", "title": "丙", "text": "丙城今年新建了5座桥。"}) + "\n",
        encoding="utf-8",
    )  # the corpus changed: the next start rebuilds from it
    b2 = ui.Backend(settings, warm_up=False).start()
    assert sorted(b2.wait(60).index.articles) == ["a1", "b1", "u1"]
