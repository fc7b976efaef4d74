"""The web app over HTTP: launched on 127.0.0.1 over an index that its first start
builds from seeds/ with the fake encoder; ask, follow up, chat, upload, and get cited
answers, through a default ``gradio_client.Client``, plain HTTP (Gradio's documented
``/gradio_api/call/ask`` route) and, where ``node`` and ``npm`` are installed, the
JavaScript client ``@gradio/client``."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

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
    settings = Settings.from_env(
        index_dir=str(tmp / "index"), corpus=str(SEEDS), encoder="tests.fake_encoder:hash128"
    )
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

    return Client(app[1], verbose=False)  # the defaults, as a first-time user calls it


def test_first_start_built_the_index(app):
    demo, _, tmp = app
    assert (tmp / "index" / "CURRENT").is_file()
    assert demo.rag_backend.pipe.info()["articles"] == 7
    assert "索引：7 篇文章" in demo.rag_backend.status()


SEED_Q = "珠海高新区5月签约落地了多少个重点项目？"
KEYS = {"question", "answer", "short_answer", "refused", "confidence", "query", "qtype"}


def keys_named_path(value) -> list:
    """Every dict key ``path`` anywhere in ``value``: what a client takes for a file."""
    if isinstance(value, dict):
        found = ["path"] if "path" in value else []
        return found + [k for v in value.values() for k in keys_named_path(v)]
    if isinstance(value, list):
        return [k for v in value for k in keys_named_path(v)]
    return []


def cli_json(app, question: str) -> dict:
    """What ``rag ask --json`` prints for ``question`` (``cli.cmd_ask``'s object), from
    the app's own pipeline."""
    pipe = app[0].rag_backend.pipe
    out = pipe.ask(question).to_dict()
    out["encoder"] = pipe.encoder.id
    return json.loads(json.dumps(out))


def check_seed_answer(r: dict) -> None:
    assert r["short_answer"] == "16个"
    assert r["refused"] is False
    assert r["encoder"] == "tests.fake_encoder:hash128"
    assert r["answer"].startswith("16个[1]\n")
    assert r["sources"][0]["title"] == "珠海高新区：5月签约落地重点项目16个"
    assert r["sources"][0]["file"] == "000_d81e7fddda0856ce.txt"
    by_n = {s["n"]: s for s in r["sources"]}
    for q in r["quotes"]:
        assert q["text"] in by_n[q["source"]]["text"]
    assert KEYS | {"sources", "quotes", "as_of", "time_range", "encoder"} == set(r)
    assert keys_named_path(r) == []  # nothing a client would try to download


def test_api_ask_with_a_default_client_returns_the_cli_json(app, client):
    r = client.predict(SEED_Q, api_name="/ask")  # no other argument
    check_seed_answer(r)
    assert r == cli_json(app, SEED_Q)


def test_api_page_shows_the_real_parameters(app, client):
    info = client.view_api(return_format="dict", print_info=False)["named_endpoints"]["/ask"]
    params = {p["parameter_name"]: p for p in info["parameters"]}
    assert list(params) == ["question", "history", "k", "mode", "as_of"]
    assert not params["question"]["parameter_has_default"]
    assert params["question"]["python_type"]["type"] == "str"
    settings = app[0].rag_backend.settings
    for name, default, type_ in (
        ("history", [], "list[str] | str"),
        ("k", settings.k, "int"),
        ("mode", settings.mode, "Literal['hybrid', 'dense', 'bm25']"),
        ("as_of", "", "str"),
    ):
        assert params[name]["parameter_has_default"], name
        assert params[name]["parameter_default"] == default, name
        assert params[name]["python_type"]["type"] == type_, name
    assert "rag ask --json" in info["description"]
    returned = info["returns"][0]["python_type"]["type"]
    assert "short_answer" in returned and "sources" in returned
    # the page's own API docs read the same info
    import httpx

    page = httpx.get(app[1] + "gradio_api/info", timeout=10).json()
    assert page["named_endpoints"]["/ask"]["parameters"] == info["parameters"]


def http_call(url: str, api: str, data: list) -> tuple[str, object]:
    """Gradio's documented plain-HTTP route: POST the inputs to ``/gradio_api/call/<api>``,
    then read the event stream; returns the last event's name and its data."""
    import httpx

    r = httpx.post(f"{url}gradio_api/call/{api}", json={"data": data}, timeout=30)
    r.raise_for_status()
    event_id = r.json()["event_id"]
    event, payload = None, None
    with httpx.stream("GET", f"{url}gradio_api/call/{api}/{event_id}", timeout=60) as resp:
        for line in resp.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                payload = json.loads(line.split(":", 1)[1])
                if event in ("complete", "error"):
                    break
    return event, payload


def test_api_ask_over_plain_http(app):
    event, data = http_call(app[1], "ask", [SEED_Q, [], 5, "hybrid"])
    assert event == "complete"
    check_seed_answer(data[0])
    assert data[0] == cli_json(app, SEED_Q)
    event, data = http_call(app[1], "ask", ["   ", [], 5, "hybrid"])
    assert event == "error" and data["error"] == "question is empty"


NODE_SCRIPT = """
import { Client } from "@gradio/client";
const [url, question] = process.argv.slice(2);
const app = await Client.connect(url);
const result = await app.predict("/ask", { question });
let error = null;
try {
  await app.predict("/ask", { question: "" });
} catch (e) {
  error = e.message;
}
console.log(JSON.stringify({ data: result.data, error }));
process.exit(0);
"""


@pytest.fixture(scope="session")
def gradio_js_client() -> Path:
    """A folder with ``@gradio/client`` (npm) installed: ``RAG_TEST_NODE_DIR``, else a
    cache in the temp folder, installed once. Skips when node/npm are missing or the
    install fails (no network)."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are needed to run @gradio/client (not installed)")
    folder = Path(
        os.environ.get("RAG_TEST_NODE_DIR") or Path(tempfile.gettempdir()) / "rag-test-node"
    )
    if not (folder / "node_modules" / "@gradio" / "client" / "package.json").is_file():
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "package.json").write_text('{"private": true, "type": "module"}\n')
        try:
            p = subprocess.run(
                [
                    npm,
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--loglevel=error",
                    "@gradio/client@^2",
                ],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=240,
            )
        except subprocess.TimeoutExpired:
            pytest.skip("npm install @gradio/client timed out (no network?)")
        if p.returncode != 0:
            pytest.skip(f"npm install @gradio/client failed: {p.stderr.strip()[-300:]}")
    return folder


def test_api_ask_with_the_javascript_client(app, gradio_js_client):
    script = gradio_js_client / "ask.mjs"
    script.write_text(NODE_SCRIPT, encoding="utf-8")
    p = subprocess.run(
        ["node", str(script), app[1], SEED_Q],
        cwd=gradio_js_client,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout.strip().splitlines()[-1])
    check_seed_answer(out["data"][0])
    assert out["data"][0] == cli_json(app, SEED_Q)
    assert out["error"] == "question is empty"


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


def test_api_as_of_counts_dates_in_the_question_from_that_day(client):
    r = client.predict(
        "去年5月珠海高新区签约落地了多少个重点项目？", as_of="2024-06-15", api_name="/ask"
    )
    assert r["as_of"] == "2024-06-15"
    # the seed page has no date: no article is of May 2023, so the range is not applied
    assert r["time_range"] is None and r["short_answer"] == "16个"
    assert client.predict(SEED_Q, api_name="/ask")["as_of"] == dt.date.today().isoformat()


@pytest.mark.parametrize(
    "args, message",
    [
        (("   ",), "question is empty"),
        (("问" * 20_000,), "question is 20000 characters long; the limit is 1000"),
        ((None,), "question must be text, not NoneType"),
        (("问题？", 5), "history must be a list of earlier questions, not int"),
        (("问题？", {"q": "甲？"}), "history must be a list of earlier questions, not dict"),
        (("问题？", ["甲？", 2]), "history must hold earlier questions as text, not int"),
        (("问题？", "[not json"), "history is not a JSON list"),
        (("问题？", [], 0), "k must be between 1 and 100, not 0"),
        (("问题？", [], 1000), "k must be between 1 and 100, not 1000"),
        (("问题？", [], -3), "k must be between 1 and 100, not -3"),
        (("问题？", [], "many"), "k must be a whole number, not 'many'"),
        (("问题？", [], 2.5), "k must be a whole number"),
        (("问题？", [], 3, "nope"), "mode must be one of"),
        (("问题？", [], 3, "hybrid", "2024-02-30"), "as_of must be a real date YYYY-MM-DD"),
        (("问题？", [], 3, "hybrid", "last week"), "as_of must be a date YYYY-MM-DD"),
    ],
)
def test_api_bad_input_is_a_one_line_error_not_a_crash(client, args, message):
    from gradio_client.exceptions import AppError

    with pytest.raises(AppError) as e:
        client.predict(*args, api_name="/ask")
    assert str(e.value).startswith(message)
    assert "\n" not in str(e.value) and "Traceback" not in str(e.value)
    assert len(str(e.value)) < 300
    # and the app keeps serving
    assert client.predict(SEED_Q, api_name="/ask")["short_answer"] == "16个"


def test_api_a_bug_is_one_line_too_and_the_app_keeps_serving(app, client, monkeypatch):
    from gradio_client.exceptions import AppError

    def boom(*args, **kwargs):
        raise ValueError("secret\nTraceback (most recent call last): /srv/x.py")

    monkeypatch.setattr(app[0].rag_backend, "ask_json", boom)
    with pytest.raises(AppError) as e:
        client.predict(SEED_Q, api_name="/ask")
    assert str(e.value) == "internal error (ValueError); the app keeps serving"
    monkeypatch.undo()
    assert client.predict(SEED_Q, api_name="/ask")["short_answer"] == "16个"


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

    c = Client(app[1], verbose=False)  # its own session
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
    assert r["sources"][0]["file"] == "火星_新闻.jsonl"  # its kept name, not a path

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
    settings = Settings.from_env(
        index_dir=str(tmp_path / "index"), corpus=str(corpus), encoder="tests.fake_encoder:hash64"
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
