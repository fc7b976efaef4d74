"""The page: the Gradio Blocks layout and its events (``build_app``), and how it is
served (``launch``, ``main``; ``python app.py``).

The chat renders its messages as sanitised HTML without Markdown, so ``*`` or ``#`` in
an article is shown as typed. ``/ask`` is the JSON API (``gr.api``: its parameters,
types and defaults come from the signature of ``ask`` in ``build_app``); ``/chat`` and
``/add`` are the page's own events, also callable.
"""

from __future__ import annotations

import os
import sys
import time
import traceback
from pathlib import Path
from typing import Literal, TypedDict, get_type_hints

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ..config import Settings  # noqa: E402
from ..errors import RagError  # noqa: E402
from .backend import Backend, ChatHistory  # noqa: E402
from .render import (  # noqa: E402
    EMPTY_SOURCES,
    answer_html,
    error_html,
    sources_panel_html,
    user_html,
)
from .style import ACCEPT_JS, CLICK_JS, CSS  # noqa: E402
from .uploads import discard_staged  # noqa: E402

TITLE = "rag — 中文新闻问答"
QUEUE_SIZE = 64  # events waiting in the queue (not counting those running); more are refused

EXAMPLES = [
    "这一版报纸有哪几篇文章？",
    "珠海高新区5月签约落地了多少个重点项目？",
    "咸阳高新区此次签约项目的总投资是多少？",
    "中关村发展集团那篇报道是哪位记者写的？",
    "西部(重庆)科学城将为高校毕业生提供多少个免费创业工位？",
    "中山火炬开发区要打造几分钟的党群服务圈？",
    "How many key projects did Zhuhai High-tech Zone sign in May?",
]

Mode = Literal["hybrid", "dense", "bm25"]  # rag.config.MODES, as a type for /ask's docs


class AskResult(TypedDict):
    """What ``/ask`` returns: ``rag ask --json``'s object plus ``encoder``."""

    question: str
    answer: str
    short_answer: str | None
    refused: bool
    confidence: float
    query: str
    qtype: str
    sources: list[dict]
    quotes: list[dict]
    as_of: str
    time_range: dict | None
    encoder: str


MODE_CHOICES = [("混合 hybrid", "hybrid"), ("语义 dense", "dense"), ("关键词 bm25", "bm25")]


def one_line(message: str, limit: int = 300) -> str:
    """An error message as the API returns it: one line, at most ``limit`` characters.

    >>> one_line("bad\\n  input  here")
    'bad input here'
    """
    s = " ".join(message.split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


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

    def respond(message, chat, state, k, mode, since="", until="", progress=gr.Progress()):
        message = (message or "").strip()
        history = state if isinstance(state, ChatHistory) else ChatHistory()
        chat = list(chat or [])
        if not message:
            return chat, history, sources_panel_html(history.turns), ""
        try:
            if not backend.ready:
                progress(None, desc="正在建立索引，请稍候…")
            answer = backend.ask(
                message,
                history=history,
                k=int(k or settings.k),
                mode=mode,
                since=since,
                until=until,
            )
        except RagError as e:
            chat += [
                {"role": "user", "content": user_html(message)},
                {"role": "assistant", "content": error_html(str(e))},
            ]
            return chat, history, sources_panel_html(history.turns), message
        chat += [
            {"role": "user", "content": user_html(message)},
            {"role": "assistant", "content": answer_html(answer, history.next_turn)},
        ]
        history = history.then(message, answer)
        return chat, history, sources_panel_html(history.turns), ""

    def clear():
        return [], ChatHistory(), EMPTY_SOURCES, ""

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
            discard_staged(paths, files.GRADIO_CACHE)
        return result.html(), backend.status(), None

    def poll():
        return backend.status(), gr.Timer(active=not backend.ready)

    def ask(
        question: str,
        history: list[str] | str = [],  # noqa: B006 (shown as the default; never changed)
        k: int = settings.k,
        mode: Mode = settings.mode,
        as_of: str = "",
    ) -> AskResult:
        """Answer a question from the articles, with cited sources. history: earlier
        questions of the chat, oldest first (a list, or a JSON list as a string), for
        follow-ups. k: how many sources to return. mode: retrieval, hybrid, dense or bm25.
        as_of: the day (YYYY-MM-DD) that dates in the question such as 去年 or 上周 count
        from; empty for today. Returns the same object as `rag ask --json`, plus `encoder`."""
        try:
            return backend.ask_json(question, history, k, mode, as_of)
        except RagError as e:
            raise gr.Error(one_line(str(e)), print_exception=False) from None
        except Exception as e:  # a bug: logged here, one line for the caller
            traceback.print_exc()
            raise gr.Error(
                f"internal error ({type(e).__name__}); the app keeps serving",
                print_exception=False,
            ) from None

    # resolved types (not strings), so that the API page shows the returned fields too
    ask.__annotations__ = get_type_hints(ask)

    # delete_cache: Gradio's temp copies of uploads the handler never saw (refused
    # requests, abandoned pages) go after an hour, and all of them when the app stops
    with gr.Blocks(title=TITLE, analytics_enabled=False, delete_cache=(3600, 3600)) as demo:
        state = gr.State(ChatHistory())
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
                    with gr.Row():
                        since = gr.Textbox(
                            label="起始日期",
                            placeholder="YYYY-MM-DD",
                            max_length=10,
                            elem_id="rag-since",
                        )
                        until = gr.Textbox(
                            label="截止日期",
                            placeholder="YYYY-MM-DD",
                            max_length=10,
                            elem_id="rag-until",
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
        ask_inputs = [msg, chatbot, state, k, mode, since, until]
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
    _accept_older_calls(demo)
    return demo


# Inputs added after clients were written, all text with "" for "not given": a call with
# fewer inputs (plain HTTP to /ask with four, /chat without the date range) gets these.
ADDED_INPUTS = {"ask": 1, "respond": 2}


def _accept_older_calls(demo) -> None:
    """Let calls made before ``as_of`` (/ask) and the date range (/chat) keep working:
    Gradio's Python and JS clients fill in defaults, but a plain HTTP call sends what it
    knew of, and Gradio refuses too few inputs; the missing trailing ones are padded."""
    preprocess = demo.preprocess_data

    async def preprocess_data(block_fn, inputs, state, explicit_call=False):
        missing = len(block_fn.inputs) - len(inputs)
        if 0 < missing <= ADDED_INPUTS.get(block_fn.name, 0):
            inputs = [*inputs, *[""] * missing]
        return await preprocess(block_fn, inputs, state, explicit_call)

    demo.preprocess_data = preprocess_data


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
