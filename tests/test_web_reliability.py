"""The web app as an attacker or a careless user meets it (issue 6, "Web"): hostile
upload names, wrong types, oversize files, too many files, links, paths that were never
uploaded; HTML and script in questions and articles; the queue when it is full; and 20
questions at once through ``gradio_client`` against a real ``python app.py`` process.

Server tests talk HTTP as a browser or a script would: uploads are raw multipart POSTs
to ``/gradio_api/upload`` (so the file name is whatever the attacker writes, not what a
local file can be called), events go through ``/gradio_api/queue/join``.
docs/RELIABILITY.md ("Web") lists each case and its result.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.test_app import free_port, text_of
from tests.test_ui import PAYLOADS, live_markup, shown_text

SEED_Q = "珠海高新区5月签约落地了多少个重点项目？"
LIMIT_MB = 0.015  # 15,728 bytes: the seed page (13,953 bytes) fits, 30 KB does not
STORED = re.compile(r"[\w\-.]+\.(txt|md|jsonl)")


CITIES = (
    "北京 上海 天津 广州 深圳 成都 杭州 武汉 西安 南京 苏州 郑州 长沙 沈阳 青岛 宁波 东莞 "
    "无锡 佛山 合肥 大连 福州 厦门 济南 温州 南宁 长春 泉州 贵阳 南昌 金华 常州 南通 嘉兴 "
    "太原 徐州 惠州 兰州 昆明 海口"
).split()


def page(n: int) -> bytes:
    """A small newspaper page whose one article is about the base of city ``n``."""
    city = CITIES[n % len(CITIES)]
    return f"# {city}基地\n\n{city}火星基地今年建成了{n + 2}个温室。\n".encode()


def greenhouses(n: int) -> str:
    return f"{CITIES[n % len(CITIES)]}火星基地今年建成了几个温室？"


def tree(root: Path) -> dict[str, int]:
    """Every file under ``root``: relative path -> size."""
    return {
        str(p.relative_to(root)): p.stat().st_size
        for p in root.rglob("*")
        if p.is_file() or p.is_symlink()
    }


# ------------------------------------------------------------------ raw HTTP


def raw_upload(url: str, files: list[tuple[str, bytes]]):
    """POST files to Gradio's upload route under exactly these names."""
    import httpx

    parts = [("files", (name, data, "application/octet-stream")) for name, data in files]
    return httpx.post(url + "gradio_api/upload", files=parts, timeout=30)


def raw_call(url: str, api_name: str, data: list, timeout: float = 60) -> dict:
    """Run the event named ``api_name`` through the queue; the final message."""
    import httpx

    config = httpx.get(url + "config", timeout=10).json()
    fn = next(d["id"] for d in config["dependencies"] if d.get("api_name") == api_name)
    session = uuid.uuid4().hex[:12]
    r = httpx.post(
        url + "gradio_api/queue/join",
        json={"data": data, "fn_index": fn, "session_hash": session},
        timeout=10,
    )
    r.raise_for_status()
    with httpx.stream(
        "GET", url + f"gradio_api/queue/data?session_hash={session}", timeout=timeout
    ) as s:
        for line in s.iter_lines():
            if line.startswith("data:"):
                msg = json.loads(line[5:])
                if msg.get("msg") == "process_completed":
                    return msg
    raise AssertionError("no process_completed message")


def file_data(path: str, name: str | None = None) -> dict:
    return {"path": path, "meta": {"_type": "gradio.FileData"}, "orig_name": name}


# ------------------------------------------------------------------ the app


@pytest.fixture(scope="module")
def site(tmp_path_factory, fake_index_dir):
    """The app over a copy of the seed index, everything it writes inside one sandbox:
    index/, uploads/ and Gradio's temp folder gradio/. The file limit is 0.015 MB."""
    from rag import ui
    from rag.config import Settings
    from rag.pipeline import Pipeline

    root = tmp_path_factory.mktemp("web")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GRADIO_TEMP_DIR", str(root / "gradio"))
        shutil.copytree(fake_index_dir, root / "index")
        settings = Settings.from_env(index_dir=str(root / "index"), max_file_mb=LIMIT_MB)
        pipe = Pipeline.load(root / "index", settings)
        backend = ui.Backend(pipe, upload_dir=root / "uploads", max_files=50)
        demo = ui.build_app(backend)
        _, url, _ = ui.launch(
            demo,
            prevent_thread_lock=True,
            server_name="127.0.0.1",
            server_port=free_port(),
            quiet=True,
        )
        # something already stored, which no later upload may lose
        r = raw_upload(url, [("kept.txt", page(0))])
        msg = raw_call(url, "add", [[file_data(r.json()[0], "kept.txt")]])
        assert msg["success"] and "新增 1 篇" in msg["output"]["data"][0]
        yield {"url": url, "root": root, "backend": backend, "demo": demo}
        demo.close()


def still_answers(backend) -> None:
    """The seed page and the upload made at the start are both still answered."""
    assert backend.ask(SEED_Q).short_answer == "16个"
    assert backend.ask(greenhouses(0)).short_answer == "2个"
    assert (backend.upload_dir / "kept.txt").read_bytes() == page(0)


@pytest.mark.slow
def test_hostile_upload_names_through_the_http_api(site):
    url, root, backend = site["url"], site["root"], site["backend"]
    uploads = root / "uploads"
    html_page = b"# HTML\n\n<script>window.__xss=1</script><p>HTML\xe9\xa1\xb5\xe9\x9d\xa2\xe3\x80\x82</p>\n"
    svg_page = (
        b'<svg xmlns="http://www.w3.org/2000/svg" onload="window.__xss=2"><text>SVG</text></svg>\n'
    )
    mz = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00" + bytes(200)
    accepted = {  # name sent -> name stored
        "../../etc/passwd.txt": "passwd.txt",
        "/abs/path.md": "path.md",
        "..\\..\\win.txt": "win.txt",
        "a/../../b.jsonl": "b.jsonl",
        "新" * 300 + ".txt": "新" * 40 + ".txt",
        "x" * 300 + ".txt": "x" * 120 + ".txt",
        "新闻.txt": "新闻.txt",
        ".bashrc.txt": "bashrc.txt",
        "Case.txt": "Case.txt",
        "case.txt": "case-2.txt",  # differs only in case: a name of its own
        "a.TXT": "a.txt",
        "CON.txt": "_CON.txt",  # a device name on Windows (Gradio sends it as _CON.txt)
        "a\x00b.txt": None,  # stored under some safe name (checked below)
        "c\x01\x1b[31m.md": None,
        "page-html.txt": "page-html.txt",  # HTML renamed .txt: text, shown escaped
        "svg.md": "svg.md",  # SVG renamed .md
    }
    refused = {  # name sent -> the line that says why
        "a.txt.exe": "a.txt.exe: 只接受 .txt、.md、.jsonl 文件",
        "page.html": "page.html: 只接受 .txt、.md、.jsonl 文件",
        "x.svg": "x.svg: 只接受 .txt、.md、.jsonl 文件",
        "evil.exe": "evil.exe: 只接受 .txt、.md、.jsonl 文件",
        "evil-exe.txt": "evil-exe.txt: binary data (NUL bytes), not text",
        "empty.md": "empty.md: file is empty",
    }
    bodies = {}
    for i, name in enumerate(accepted, start=1):
        if name.endswith(".jsonl"):
            bodies[name] = json.dumps({"id": f"j{i}", "text": page(i).decode()}).encode()
        else:
            bodies[name] = page(i)
    bodies["page-html.txt"], bodies["svg.md"] = html_page, svg_page
    bodies |= {"a.txt.exe": page(90), "page.html": html_page, "x.svg": svg_page}
    bodies |= {"evil.exe": mz, "evil-exe.txt": mz, "empty.md": b""}

    tmp_root = Path(tempfile.gettempdir())
    tmp_before = set(os.listdir(tmp_root))
    before = tree(root)
    r = raw_upload(url, list(bodies.items()))
    assert r.status_code == 200, r.text
    staged = r.json()
    assert len(staged) == len(bodies)
    for p in staged:  # Gradio's own copies: inside its temp folder, names cut to 200 bytes
        assert Path(p).resolve().is_relative_to((root / "gradio").resolve())
    msg = raw_call(url, "add", [[file_data(p) for p in staged]])
    assert msg["success"], msg
    report, status, cleared = msg["output"]["data"]
    assert cleared is None

    # exactly one line per refused file, saying why; the good files still added
    for line in refused.values():
        assert line in shown_text(report)
    assert shown_text(report).count("只接受") == 4
    assert f"新增 {len(accepted)} 篇" in report
    stored = sorted(p.name for p in uploads.iterdir())
    expected = [s for s in accepted.values() if s] + ["kept.txt"]
    assert set(expected) <= set(stored) and len(stored) == len(accepted) + 1
    for p in uploads.iterdir():
        assert STORED.fullmatch(p.name), p.name
        assert p.is_file() and not p.is_symlink()
        assert p.resolve().parent == uploads.resolve()
        assert len(p.name.encode()) <= 130
    for name, safe in accepted.items():
        if safe:
            assert (uploads / safe).read_bytes() == bodies[name]
    # every article is in the index, by the name it is stored under
    ids = set(backend.pipe.index.articles)
    for safe in stored:
        if not safe.endswith(".jsonl"):
            assert f"{safe}#0" in ids, safe
    assert "j4" in ids  # b.jsonl's record

    # nothing written anywhere else: the sandbox gained only uploads and a new index
    # generation; Gradio's staged copies are gone (it leaves one empty tmp* file per
    # file, see docs/RELIABILITY.md)
    new = {k: v for k, v in tree(root).items() if k not in before}
    outside = [k for k in new if not k.startswith(("uploads/", "index/", "gradio/"))]
    assert outside == []
    assert all(v == 0 for k, v in new.items() if k.startswith("gradio/")), new
    assert {k: v for k, v in tree(root / "gradio").items() if v} == {}
    assert not Path("/etc/passwd.txt").exists() and not Path("/abs").exists()
    hostile = {"passwd.txt", "path.md", "win.txt", "b.jsonl", "etc", "abs"}
    assert not (set(os.listdir(tmp_root)) - tmp_before) & hostile
    still_answers(backend)
    assert backend.ask(greenhouses(3)).short_answer == "5个"


@pytest.mark.slow
def test_uploads_gradio_refuses_before_the_app_sees_them(site):
    url, root, backend = site["url"], site["root"], site["backend"]
    before = tree(root)
    # a name that is only ".." is refused by Gradio's upload route
    r = raw_upload(url, [("..", page(1))])
    assert r.status_code == 400 and "Invalid file name" in r.text
    # over the size limit: 413 before anything is stored
    big = ("# 大\n\n" + "这是一个很长的句子。" * 1100).encode()
    assert len(big) > LIMIT_MB * 2**20
    r = raw_upload(url, [("big.txt", big)])
    assert r.status_code == 413 and "maximum allowed size" in r.text
    # a path the server has (a secret .txt, the index's own files) sent as if uploaded
    secret = root / "secret.txt"
    secret.write_text("# 机密\n\n服务器的管理员密码是hunter2。\n", encoding="utf-8")
    for path in (secret, root / "index" / "CURRENT", Path("/etc/hostname")):
        msg = raw_call(url, "add", [[file_data(str(path), "x.txt")]])
        assert msg["success"] is False
    assert "hunter2" not in backend.ask("管理员密码是什么？").text
    # uploads and the index are not served as files
    import httpx

    for path in (root / "uploads" / "kept.txt", root / "index" / "CURRENT", secret):
        assert httpx.get(url + f"gradio_api/file={path}", timeout=10).status_code == 403
    secret.unlink()
    # nothing new but what Gradio itself leaves in its temp folder: the bytes of the
    # upload named ".." as gradio/tmp* (its upload route does not delete them; see
    # docs/RELIABILITY.md); the secret was never copied anywhere
    new = [k for k in tree(root) if k not in before]
    assert all(re.fullmatch(r"gradio/tmp\w+", k) for k in new), new
    assert all(b"hunter2" not in (root / k).read_bytes() for k in new)
    still_answers(backend)


@pytest.mark.slow
def test_too_many_files_at_once(site):
    url, backend = site["url"], site["backend"]
    backend.max_files = 3
    try:
        files = [(f"many-{i}.txt", page(100 + i)) for i in range(5)]
        staged = raw_upload(url, files).json()
        msg = raw_call(url, "add", [[file_data(p) for p in staged]])
    finally:
        backend.max_files = 50
    report = shown_text(msg["output"]["data"][0])
    assert "已加入 3 个文件" in report and "新增 3 篇" in report
    for i in (3, 4):
        assert f"many-{i}.txt: 一次最多上传 3 个文件，这个文件没有加入" in report
    assert not (backend.upload_dir / "many-3.txt").exists()
    still_answers(backend)


@pytest.mark.slow
def test_html_in_articles_and_questions_comes_back_escaped(site):
    """/chat returns the chat and the sources panel as HTML: every payload, whether
    in an uploaded article's title, author or text or in the question, is text there."""
    from gradio_client import Client, handle_file

    url = site["url"]
    client = Client(url, verbose=False)
    records = [
        {
            "id": f"xss-{i}",
            "title": f"金星{i}号站{p}",
            "author": p,
            "text": f"金星{i}号站今年建成了{i + 3}座塔。{p}塔高{i + 10}米。",
        }
        for i, p in enumerate(PAYLOADS)
    ]
    f = site["root"] / "xss.jsonl"
    f.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in records), encoding="utf-8")
    report, _, _ = client.predict([handle_file(str(f))], api_name="/add")
    assert f"新增 {len(PAYLOADS)} 篇" in report
    chat: list = []
    for i, p in enumerate(PAYLOADS):
        question = f"金星{i}号站今年建成了几座塔？{p}"
        chat, panel, _ = client.predict(question, chat, 3, "hybrid", api_name="/chat")
        user, answer = text_of(chat[-2]), text_of(chat[-1])
        assert live_markup(user) == [] and shown_text(user) == question
        assert live_markup(answer) == [], (i, answer)
        assert live_markup(panel) == [], (i, panel)
        latest = panel.split('id="turn-')[1]
        assert p in shown_text(latest)  # the article's payload, shown as written
    assert len(chat) == 2 * len(PAYLOADS)


def joined(job, timeout: float = 20.0) -> None:
    """Wait until the server has taken ``job`` into its queue (or refused it)."""
    from gradio_client.utils import Status

    end = time.monotonic() + timeout
    while time.monotonic() < end and not job.done():
        if job.status().code not in (Status.STARTING, Status.JOINING_QUEUE):
            return
        time.sleep(0.05)


@pytest.mark.slow
def test_a_full_queue_refuses_at_once_and_recovers(tmp_path, fake_pipeline):
    """Two questions run, ``queue_size`` wait, the rest are refused with "Queue is
    full"; once it drains, questions are answered again."""
    from gradio_client import Client

    from rag import ui

    gate = threading.Event()

    class Held:
        def __init__(self, pipe) -> None:
            self._pipe = pipe

        def __getattr__(self, name):
            return getattr(self._pipe, name)

        def ask(self, *args, **kwargs):
            gate.wait(30)
            return self._pipe.ask(*args, **kwargs)

    backend = ui.Backend(fake_pipeline, upload_dir=tmp_path / "uploads")
    backend.pipe = Held(fake_pipeline)
    demo = ui.build_app(backend, queue_size=2)
    _, url, _ = ui.launch(
        demo, prevent_thread_lock=True, server_name="127.0.0.1", server_port=free_port(), quiet=True
    )
    try:
        client = Client(url, verbose=False)
        jobs = []
        for _ in range(6):
            jobs.append(client.submit(SEED_Q, api_name="/ask"))
            # in order: 2 running, 2 waiting, then full; each job reaches the queue
            # before the next is sent (a fixed pause was not enough on a busy machine)
            joined(jobs[-1])
        gate.set()
        outcomes = []
        for j in jobs:
            try:
                outcomes.append(j.result(timeout=30)["short_answer"])
            except Exception as e:
                outcomes.append(f"{type(e).__name__}: {e}")
        assert outcomes[:4] == ["16个"] * 4
        assert outcomes[4:] == ["QueueError: Queue is full! Please try again."] * 2
        assert client.predict(SEED_Q, api_name="/ask")["short_answer"] == "16个"
    finally:
        gate.set()
        demo.close()


@pytest.mark.slow
def test_load_20_questions_at_once_against_a_real_app_process(tmp_path):
    """scripts/load_app.py, small: a real ``python app.py`` with the fake encoder, 20
    questions at once from 20 gradio_client sessions. Zero errors, within its bound."""
    out = tmp_path / "load.json"
    cmd = [sys.executable, str(ROOT / "scripts" / "load_app.py"), "-n", "20"]
    cmd += ["--encoder", "fake", "--timeout", "90", "--json", str(out)]
    t0 = time.perf_counter()
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=150)
    took = time.perf_counter() - t0
    assert p.returncode == 0, p.stdout + p.stderr
    r = json.loads(out.read_text(encoding="utf-8"))
    assert r["errors"] == 0 and r["within_bound"] and took < 130
    assert r["inconsistent"] == []  # the same question got the same answer every time
    assert len([x for x in r["results"] if x["seconds"] is not None]) == 20
    assert 0 < r["latency_s"]["p50"] <= r["latency_s"]["p95"] <= r["latency_s"]["max"]
    assert r["rss_mb"]["peak_sampled"] > 100 and r["encoder"].startswith("fake")
    assert "| errors | 0 |" in p.stdout


# ------------------------------------------------------------------ Backend.add itself
# The same rules without HTTP: Python callers (and Gradio, after its own clean-up) reach
# Backend.add with any path and any name.


@pytest.fixture
def backend(tmp_path, fake_index_dir):
    from rag import ui
    from rag.config import Settings
    from rag.pipeline import Pipeline

    index = tmp_path / "index"
    shutil.copytree(fake_index_dir, index)
    settings = Settings.from_env(index_dir=str(index), max_file_mb=LIMIT_MB)
    b = ui.Backend(Pipeline.load(index, settings), upload_dir=tmp_path / "uploads", max_files=4)
    first = tmp_path / "first.txt"
    first.write_bytes(page(0))
    b.add([first], names=["kept.txt"])
    return b


def test_backend_names_cannot_leave_the_upload_folder(backend, tmp_path):
    src = tmp_path / "src.txt"
    names = [
        "../../outside.txt",
        "/tmp/abs.txt",
        "..\\..\\win.txt",
        "sub/../../x.md",
        "a\x00b.txt",
        "\x1b[31m.txt",
        "新" * 300 + ".txt",
    ]
    results = []
    for i, name in enumerate(names):
        src.write_bytes(page(10 + i))
        results.append(backend.add([src], names=[name]))
    assert [r.problems for r in results] == [[]] * len(names)
    stored = sorted(p.name for p in backend.upload_dir.iterdir())
    assert stored == sorted(
        ["kept.txt", "outside.txt", "abs.txt", "win.txt", "x.md", "a_b.txt", "31m.txt"]
        + ["新" * 40 + ".txt"]
    )
    assert not (tmp_path / "outside.txt").exists() and not Path("/tmp/abs.txt").exists()
    # names that are not printable are shown escaped in messages
    r = backend.add([src], names=["\x00\x1b.exe"])
    assert r.problems == ["\\x00\\x1b.exe: 只接受 .txt、.md、.jsonl 文件"]


def test_backend_oversize_and_too_many_files(backend, tmp_path):
    big = tmp_path / "big.txt"
    big.write_bytes(("# 大\n\n" + "这是一个很长的句子。" * 1100).encode())
    files = [big] + [tmp_path / f"f{i}.txt" for i in range(5)]
    for i, f in enumerate(files[1:]):
        f.write_bytes(page(20 + i))
    r = backend.add(files)
    assert r.problems[0].startswith("big.txt: file is 33,")
    assert r.problems[0].endswith("over the 0.015 MB limit (set RAG_MAX_FILE_MB to change it)")
    assert r.problems[1:] == [
        "f3.txt: 一次最多上传 4 个文件，这个文件没有加入（RAG_MAX_UPLOAD_FILES 可以改这个上限）",
        "f4.txt: 一次最多上传 4 个文件，这个文件没有加入（RAG_MAX_UPLOAD_FILES 可以改这个上限）",
    ]
    assert r.files == ["f0.txt", "f1.txt", "f2.txt"] and r.report.added == 3
    assert not (backend.upload_dir / "big.txt").exists()


def test_backend_never_overwrites_a_kept_upload(backend, tmp_path):
    other = tmp_path / "kept.txt"
    other.write_bytes(page(7))  # same name, other content
    r = backend.add([other])
    assert r.files == ["kept-2.txt"] and r.report.added == 1
    assert (backend.upload_dir / "kept.txt").read_bytes() == page(0)
    assert backend.ask(greenhouses(0)).short_answer == "2个"
    assert backend.ask(greenhouses(7)).short_answer == "9个"
    # the same content again is not copied again
    r = backend.add([other])
    assert r.files == ["kept-2.txt"] and r.report.added == 0
    # names that differ only in case, in one upload and against kept files
    a, b = tmp_path / "A" / "KEPT.txt", tmp_path / "B" / "Kept.TXT"
    for f, n in ((a, 8), (b, 9)):
        f.parent.mkdir()
        f.write_bytes(page(n))
    r = backend.add([a, b])
    assert r.files == ["KEPT-3.txt", "Kept-4.txt"]
    assert len(list(backend.upload_dir.iterdir())) == 4
    # a rebuild adds every kept upload back (newest first)
    assert [Path(p).name for p in backend.kept_uploads()][-1] == "kept.txt"


def test_backend_links_are_never_followed(backend, tmp_path):
    outside = tmp_path / "outside.txt"
    outside.write_bytes(b"untouched")
    (backend.upload_dir / "planted.txt").symlink_to(outside)  # planted in the folder
    src = tmp_path / "planted.txt"
    src.write_bytes(page(30))
    r = backend.add([src])
    assert r.files == ["planted-2.txt"] and outside.read_bytes() == b"untouched"
    # a link given as the file to add (only Python callers can): the content is kept,
    # as a file of its own
    target = tmp_path / "t.md"
    target.write_bytes(page(31))
    link = tmp_path / "link.md"
    link.symlink_to(target)
    r = backend.add([link])
    kept = backend.upload_dir / "link.md"
    assert r.files == ["link.md"] and kept.is_file() and not kept.is_symlink()
    assert kept.read_bytes() == page(31)
    # the planted link is not something a rebuild adds back
    assert all("planted.txt" not in p for p in backend.kept_uploads())
    assert not [p for p in backend.upload_dir.iterdir() if p.name.endswith(".part")]


def test_backend_failed_build_leaves_the_kept_uploads(backend, tmp_path, monkeypatch):
    import rag.pipeline
    from rag.errors import IndexBusyError

    def busy(*args, **kwargs):
        raise IndexBusyError("another build is writing the index")

    monkeypatch.setattr(rag.pipeline, "build", busy)
    src = tmp_path / "new.txt"
    src.write_bytes(page(39))
    before = sorted(p.name for p in backend.upload_dir.iterdir())
    r = backend.add([src])
    assert r.problems == ["another build is writing the index"] and r.files == []
    assert sorted(p.name for p in backend.upload_dir.iterdir()) == before
    assert backend.ask(greenhouses(0)).short_answer == "2个"
