"""The reader's refusal model (rag/reader/refusal.py) and its fitting (rag/calibrate.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.calibrate import cross_validate
from rag.errors import InputError
from rag.evaluate import load_spec
from rag.question import analyze
from rag.reader.compose import NeuralAnswerer, reader_question
from rag.reader.refusal import FEATURES, FORMAT, Refusal, features, fit, threshold_for

from .test_reader_compose import FixedReader, run

DATA = Path(__file__).resolve().parent / "data"


def test_features_are_margin_scores_retrieval_and_coverage():
    idf = {"珠海": 3.0, "签约": 1.0, "项目": 1.0}.get
    x = features(
        "珠海签约了多少项目",
        "咸阳高新区签约项目",
        span=4.0,
        no_answer=1.5,
        dense=0.8,
        rank=1,
        english=False,
        idf=idf,
    )
    assert x == [2.5, 4.0, 1.5, 0.8, 1.0, 0.4, 0.6, 0.0]
    assert len(x) == len(FEATURES)


def test_fit_orders_by_the_margin_and_round_trips_through_the_header():
    x = np.array([[m, 0.0] for m in (-2.0, -1.0, 0.5, 1.0, 2.0, 3.0)])
    model = fit(x, np.array([0, 0, 1, 0, 1, 1]))
    assert model.probability([-2.0, 0.0]) < 0.5 < model.probability([3.0, 0.0])
    header = {**model.to_header(), "features": list(FEATURES)}
    again = Refusal.from_header(header)
    assert again is not None and again.weights == model.weights and again.bias == model.bias
    assert Refusal.from_header({**header, "features": ["margin"]}) is None
    assert Refusal.from_header({**header, "format": "other"}) is None
    assert Refusal.from_header(None) is None and header["format"] == FORMAT


def test_the_threshold_refuses_at_most_the_share_allowed():
    assert threshold_for([0.9, 0.2, 0.6, 0.8, 0.7], 0.2) == 0.6
    assert threshold_for([0.9, 0.2, 0.6, 0.8, 0.7], 0.0) == 0.2
    assert threshold_for([], 0.03) == 1.0


def test_cross_validation_reports_out_of_fold_rates():
    rng = np.random.default_rng(0)
    pos = rng.normal(2.0, 1.0, size=(60, 1))
    neg = rng.normal(-2.0, 1.0, size=(60, 1))
    x = np.vstack([pos, neg])
    y = np.array([1] * 60 + [0] * 60)
    groups = [f"a{i % 30}" for i in range(120)]
    got = cross_validate(x, y, groups, cv=5, most_refused=0.05)
    assert (got["answerable"], got["removed"], got["folds"]) == (60, 60, 5)
    assert got["false_refusals"] <= 0.05 and got["refused_removed"] > 0.9


class Model(Refusal):
    """A refusal model that answers when the margin is above 3."""

    def probability(self, x):
        return 1.0 if x[0] > 3 else 0.0


def test_the_answerer_refuses_by_the_model_and_traces_its_features(fake_pipeline):
    model = Model((), (), (), 0.0, 0.5, {})
    traced: list = []

    def ask(score):
        q = analyze("珠海高新区5月签约落地了多少个重点项目？")
        hits = fake_pipeline.retriever("hybrid").retrieve(q.query, 30)
        ans = NeuralAnswerer(fake_pipeline.index, FixedReader("重点项目16个", score), refusal=model)
        ans.trace = traced
        return ans.run(q, hits, k=5)

    a, b = ask(5.0), ask(2.0)
    assert not a.refused and a.confidence == 1.0
    assert b.refused and b.confidence == 0.0
    assert [t[1][0] for t in traced] == [5.0, 2.0] and len(traced[0][1]) == len(FEATURES)
    # without a model the margin's logistic curve decides, as before
    assert not run(fake_pipeline, FixedReader("重点项目16个")).refused


def test_an_english_question_is_read_with_its_chinese_words():
    q = analyze("How many projects did Zhuhai sign?")
    # with the Chinese question word of its type (a number: 多少)
    assert reader_question(q) == q.query + " 多少"  # no words bridged yet
    q2 = type(q)(**{**q.__dict__, "groups": (("珠海",), ("签约", "签署"), ("项目",))})
    assert reader_question(q2) == "How many projects did Zhuhai sign? 珠海 签约 项目多少"
    assert reader_question(analyze("珠海签约了多少项目？")) == "珠海签约了多少项目？"


def test_a_spec_takes_an_article_range(tmp_path):
    whole = load_spec(str(DATA / "squad_tiny.json"))
    entries = json.loads((DATA / "squad_tiny.json").read_text(encoding="utf-8"))["data"]
    part = load_spec(f"{DATA / 'squad_tiny.json'}@1-{len(entries)}")
    assert 0 < len(part.articles) < len(whole.articles)
    assert {q.article_id for q in part.questions} <= {a.id for a in part.articles}
    for bad, says in (("@x", "want PATH or PATH@A-B"), ("@9-10", "no articles in that range")):
        with pytest.raises(InputError, match=says):
            load_spec(f"{DATA / 'squad_tiny.json'}{bad}")


@pytest.mark.slow
def test_rag_train_refusal_writes_a_model_into_a_copy_of_the_weights(tmp_path, monkeypatch):
    from rag.cli import main
    from rag.reader.weights import SHIPPED, read_header

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "reader.safetensors"
    before = SHIPPED.read_bytes()
    # a SQuAD file and a news question set (rag/newsqa.py) with its news file
    argv = ["train", "refusal", str(DATA / "squad_tiny.json"), str(DATA / "news_tiny_qa.jsonl")]
    argv += ["--news", str(DATA / "news_tiny.jsonl"), "--out", str(out)]
    argv += ["--encoder", "tests.fake_encoder:hash64", "--folds", "2", "-q", "--reader", "shipped"]
    argv += ["--cache", str(tmp_path / "cache")]
    assert main(argv) == 0
    got = read_header(out)["refusal"]
    assert got["features"] == list(FEATURES) and 0.0 <= got["threshold"] <= 1.0
    assert got["scores"]["cv"]["answerable"] > 3  # squad_tiny's questions and the 3 news ones
    assert sorted(Path(k).name for k in got["data"]) == [
        "news_tiny.jsonl",
        "news_tiny_qa.jsonl",
        "squad_tiny.json",
    ]
    assert SHIPPED.read_bytes() == before  # the shipped weights untouched
    shutil.rmtree(tmp_path)


@pytest.mark.slow
def test_rag_train_refusal_english_fits_the_english_model(tmp_path, monkeypatch):
    from rag.cli import main
    from rag.reader.refusal import ENGLISH_FEATURES
    from rag.reader.weights import SHIPPED, read_header

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    out = tmp_path / "reader.safetensors"
    argv = ["train", "refusal", str(DATA / "squad_tiny.json"), "--out", str(out)]
    argv += ["--english", str(DATA / "squad_tiny_en.jsonl"), "--folds", "2", "-q"]
    argv += ["--encoder", "tests.fake_encoder:hash64", "--reader", "shipped"]
    argv += ["--cache", str(tmp_path / "cache")]
    assert main(argv) == 0
    header = read_header(out)
    got = header["refusal_en"]
    assert got["features"] == list(ENGLISH_FEATURES) and 0.0 <= got["threshold"] <= 1.0
    assert sorted(Path(k).name for k in got["data"]) == ["squad_tiny.json", "squad_tiny_en.jsonl"]
    # asked only in the file's English wording: as many readings as it names
    named = len((DATA / "squad_tiny_en.jsonl").read_text(encoding="utf-8").split("\n")) - 1
    assert got["scores"]["cv"]["answerable"] <= named
    assert header["refusal"] == read_header(SHIPPED)["refusal"]  # the Chinese one kept
    # and the pipeline takes it up for English questions
    from rag.reader.refusal import Refusal

    assert Refusal.from_header(got, ENGLISH_FEATURES) is not None
    assert Refusal.from_header(got) is None  # not a Chinese model
    shutil.rmtree(tmp_path)


def test_rag_train_refusal_english_needs_its_files(capsys):
    from rag.cli import main

    assert main(["train", "refusal", "--english", str(DATA / "squad_tiny_en.jsonl")]) == 1
    assert "--english needs the files" in capsys.readouterr().err


@pytest.mark.slow
def test_the_shipped_weights_carry_a_refusal_model_used_with_gate_1(real_index_dir):
    from rag.config import Settings
    from rag.pipeline import Pipeline

    pipe = Pipeline.load(real_index_dir, Settings(index_dir=str(real_index_dir), reader_gate=1))
    ans = pipe.answerer
    assert ans.refusal is not None and ans.min_confidence == 0.2381
    a = pipe.ask("中关村发展集团与哪所大学签署了战略合作协议？")
    assert a.short_answer == "北京航空航天大学" and not a.refused and a.confidence > 0.9
    assert pipe.ask("苹果公司2023年第二季度的营收是多少？").refused
    # English questions: the reader's span and its margin's confidence, the gate's
    # sentences read too (RAG_ENGLISH_REFUSAL=reader, the default)
    en = pipe.ask("Which university did Zhongguancun Development Group sign an agreement with?")
    assert en.short_answer == "北京航空航天大学" and not en.refused
    gated = Pipeline.load(
        real_index_dir,
        Settings(index_dir=str(real_index_dir), reader_gate=1, english_refusal="gate"),
    )
    q, hits = _analysed(gated, en.question)
    assert gated.ask(en.question).confidence == gated.answerer.gate.run(q, hits).confidence


def _analysed(pipe, text):
    from rag.question import analyze

    q = pipe._bridge_english(analyze(text))
    return q, pipe.retriever("hybrid").retrieve(q.query, 20, keywords=q.keywords)
