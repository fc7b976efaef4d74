"""The CLI end to end, with the fake encoder (RAG_ENCODER=tests.fake_encoder:hash128) to
stay fast."""

from __future__ import annotations

import json
import shutil

import pytest

from rag.cli import main
from rag.index import read_manifest

from .conftest import ROOT, SEEDS

TINY = ROOT / "tests" / "data" / "squad_tiny.json"


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    shutil.copytree(SEEDS, tmp_path / "seeds")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RAG_ENCODER", "tests.fake_encoder:hash128")
    return tmp_path


def test_build_then_ask_json(workdir, capsys):
    assert main(["build", "-q"]) == 0
    out = capsys.readouterr()
    assert "indexed 7 articles" in out.out and "encoder: tests.fake_encoder:hash128" in out.err
    assert main(["ask", "珠海高新区5月落地了多少个重点项目？", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["short_answer"] == "16个" and d["refused"] is False
    assert d["sources"][0]["title"] == "珠海高新区：5月签约落地重点项目16个"
    assert d["encoder"] == "tests.fake_encoder:hash128"


def test_ask_builds_a_missing_index_then_reuses_it(workdir, capsys):
    assert main(["ask", "咸阳高新区签约了多少个项目？", "-q"]) == 0
    out = capsys.readouterr()
    assert "indexed 7 articles" in out.err
    assert out.out.startswith("21个[1]")
    assert "Sources:\n[1] 咸阳高新区：双招双引项目集中签约21个" in out.out
    assert main(["ask", "咸阳高新区签约了多少个项目？", "-q"]) == 0
    assert "indexed" not in capsys.readouterr().err


def test_ask_rebuilds_when_the_corpus_changed(workdir, capsys):
    assert main(["build", "-q"]) == 0
    capsys.readouterr()
    (workdir / "seeds" / "extra.jsonl").write_text(
        json.dumps(
            {
                "id": "n1",
                "title": "深圳高新区引进独角兽",
                "text": "深圳高新区今年引进了3家独角兽企业。",
            },
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )
    assert main(["ask", "深圳高新区今年引进了多少家独角兽企业？", "--json", "-q"]) == 0
    out = capsys.readouterr()
    assert "1 new, 0 changed, 0 removed, 7 unchanged" in out.err
    d = json.loads(out.out)
    assert "今年引进了3家独角兽企业" in d["answer"] and d["sources"][0]["doc_id"] == "n1"


def test_ask_rechunks_an_index_an_older_chunker_built(workdir, capsys, monkeypatch):
    assert main(["build", "-q"]) == 0
    capsys.readouterr()
    monkeypatch.setattr("rag.index.CHUNK_VERSION", 3)  # rag upgraded, its chunker changed
    monkeypatch.setattr("rag.pipeline.CHUNK_VERSION", 3)
    assert main(["ask", "咸阳高新区签约了多少个项目？", "-q"]) == 0
    err = capsys.readouterr().err
    assert "7 new, 0 changed, 0 removed, 0 unchanged" in err
    assert read_manifest(workdir / "index")["chunking"]["version"] == 3
    assert main(["ask", "咸阳高新区签约了多少个项目？", "-q"]) == 0
    assert "indexed" not in capsys.readouterr().err  # once is enough


def test_batch_answers_every_line_and_reports_bad_ones(workdir, capsys):
    assert main(["build", "-q"]) == 0
    inp = workdir / "q.jsonl"
    inp.write_text(
        "\n".join(
            [
                json.dumps(
                    {"id": "a", "question": "珠海高新区5月落地了多少个重点项目？"},
                    ensure_ascii=False,
                ),
                "{broken",
                json.dumps({"id": "c", "question": 42}),
                "",
                json.dumps(
                    {
                        "id": "d",
                        "question": "那咸阳高新区呢？",
                        "history": ["珠海高新区签约的重点项目涵盖哪些领域？"],
                    },
                    ensure_ascii=False,
                ),
                json.dumps({"id": "e", "question": ""}),
            ]
        ),
        encoding="utf-8",
    )
    assert main(["batch", str(inp), "--out", str(workdir / "out.jsonl")]) == 1
    assert "3 of 5 lines failed" in capsys.readouterr().err
    rows = [json.loads(x) for x in (workdir / "out.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r.get("id") for r in rows] == ["a", None, "c", "d", "e"]
    assert rows[0]["short_answer"] == "16个"
    assert rows[1]["error"].startswith("line 2: invalid JSON")
    assert rows[2]["error"] == "line 3: field 'question' must be a string, got int"
    assert rows[3]["query"] == "咸阳高新区签约的重点项目涵盖哪些领域？"  # history was used
    assert rows[4]["error"] == "line 6: question is empty"
    for r in rows:
        for q in r.get("quotes", []):
            assert q["text"] in r["sources"][q["source"] - 1]["text"]


def test_library_errors_become_one_line(workdir, capsys):
    # a missing index is built from ./seeds first, in any retrieval mode
    assert main(["ask", "问题", "--index", str(workdir / "nowhere"), "--mode", "dense"]) == 0
    assert (workdir / "nowhere").is_dir()
    capsys.readouterr()
    assert main(["info", "--index", str(workdir / "missing")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("rag: error: no index at") and err.count("\n") == 1
    assert main(["build", str(workdir / "nothing-here")]) == 1
    err = capsys.readouterr().err
    assert "nothing to index" in err and "no such file or directory" in err


def test_encoder_mismatch_is_reported(workdir, capsys):
    assert main(["build", "-q"]) == 0
    capsys.readouterr()
    assert main(["ask", "问题", "--encoder", "tests.fake_encoder:hash64"]) == 1
    assert (
        "was built with encoder 'tests.fake_encoder:hash128', not 'tests.fake_encoder:hash64'"
        in capsys.readouterr().err
    )


def test_train_intents_writes_a_model_that_loads(tmp_path, monkeypatch, capsys):
    from rag.intents import IntentModel

    monkeypatch.chdir(ROOT)  # the default dev file is tests/data/intents_dev.jsonl
    out = tmp_path / "intents.safetensors"
    argv = ["train", "intents", "--data", str(TINY), "--out", str(out)]
    assert main([*argv, "--encoder", "tests.fake_encoder:hash64", "--seed", "1"]) == 0
    scores = json.loads(capsys.readouterr().out)  # one JSON line: the model's scores
    model = IntentModel.load(out)
    assert model.meta["scores"] == scores and set(scores) == {"held_apart", "dev"}
    assert model.meta["encoder"] == "tests.fake_encoder:hash64" and model.meta["seed"] == 1
    assert model.labels == ("collection", "topic", "fact")


def test_train_intents_names_a_missing_data_file(tmp_path, capsys):
    missing = tmp_path / "nowhere.json"
    out = tmp_path / "intents.safetensors"
    argv = ["train", "intents", "--data", str(TINY), str(missing), "--out", str(out)]
    assert main([*argv, "--encoder", "tests.fake_encoder:hash64"]) == 1
    err = capsys.readouterr().err
    assert err == f"rag: error: no such data file: {missing}\n"
    assert not out.exists()


def test_build_warns_of_a_bad_date_and_still_succeeds(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("RAG_ENCODER", "tests.fake_encoder:hash64")
    f = tmp_path / "n.jsonl"
    f.write_text(
        '{"id": "a", "title": "甲", "text": "珠海高新区签约。", "date": "last Tuesday"}\n'
        '{"id": "b", "title": "乙", "text": "咸阳高新区签约。", "date": "2023/5/30"}\n',
        encoding="utf-8",
    )
    assert main(["build", str(f), "--index", str(tmp_path / "idx")]) == 0
    err = capsys.readouterr().err
    assert "warning " in err and "last Tuesday" in err and "skipped" not in err
