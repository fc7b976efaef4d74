"""Latency pieces: the file store's optional HNSW graph (rag/index.py: ANN_FILE), the
query cache, and OpenMP threads that sleep when idle (rag/__init__.py)."""

from __future__ import annotations

import shutil

import numpy as np

from rag.config import Settings
from rag.index import ANN_FILE, Index, build, ensure_ann, live_generation
from rag.retrieve import QueryEncoder

from .fake_encoder import HashEncoder

QUERIES = ["珠海高新区签约项目", "青年见习岗位", "公益便民集市", "记者张伟报道", "夜间经济"]


def tops(index, enc, k=1):
    qenc = QueryEncoder(enc)
    return [[r for r, _ in index.search_dense(qenc(q), k)] for q in QUERIES]


def test_a_build_above_the_threshold_writes_a_graph_with_the_same_top_hits(tmp_path, seed_articles):
    enc = HashEncoder(64)
    build(seed_articles, tmp_path / "i", enc, ann_min_chunks=1)
    assert (live_generation(tmp_path / "i") / ANN_FILE).is_file()
    ann, flat = Index.open(tmp_path / "i"), Index.open(tmp_path / "i", ann_ef=0)
    assert (ann.dense_kind, flat.dense_kind) == ("hnsw", "flat")
    # a graph over 29 chunks searched with breadth 256 visits every node: exact
    assert tops(ann, enc, 10) == tops(flat, enc, 10)
    assert len(tops(ann, enc, 10)[0]) == 10


def test_below_the_threshold_no_graph_and_exact_search(tmp_path, seed_articles):
    build(seed_articles, tmp_path / "i", HashEncoder(64), ann_min_chunks=1000)
    assert not (live_generation(tmp_path / "i") / ANN_FILE).exists()
    assert Index.open(tmp_path / "i").dense_kind == "flat"


def test_an_index_without_a_graph_gets_one_from_an_up_to_date_build(tmp_path, seed_articles):
    enc = HashEncoder(64)
    build(seed_articles, tmp_path / "i", enc, ann_min_chunks=0)
    gen = live_generation(tmp_path / "i")
    assert Index.open(tmp_path / "i").dense_kind == "flat"  # an old index opens unchanged
    report = build(seed_articles, tmp_path / "i", enc, ann_min_chunks=1)
    assert report.up_to_date and live_generation(tmp_path / "i") == gen
    assert Index.open(tmp_path / "i").dense_kind == "hnsw"
    assert ensure_ann(tmp_path / "i", 1) is False  # already there: nothing written


def test_add_extends_the_graph_and_a_change_rebuilds_it(tmp_path, seed_articles):
    enc = HashEncoder(64)
    first, rest = seed_articles[:4], seed_articles[4:]
    build(first, tmp_path / "i", enc, ann_min_chunks=1)
    build(rest, tmp_path / "i", enc, ann_min_chunks=1, replace_all=False)
    idx = Index.open(tmp_path / "i")
    assert idx.dense_kind == "hnsw" and idx._ann.ntotal == len(idx.chunks)
    assert tops(idx, enc) == tops(Index.open(tmp_path / "i", ann_ef=0), enc)
    # a changed article: its old rows go, so the graph is made again from all rows
    from dataclasses import replace

    changed = [replace(seed_articles[0], text=seed_articles[0].text + "另有补充。")]
    build(changed, tmp_path / "i", enc, ann_min_chunks=1, replace_all=False)
    idx = Index.open(tmp_path / "i")
    assert idx._ann.ntotal == len(idx.chunks)
    assert tops(idx, enc) == tops(Index.open(tmp_path / "i", ann_ef=0), enc)


def test_a_stale_or_damaged_graph_is_ignored(tmp_path, seed_articles):
    enc = HashEncoder(64)
    build(seed_articles[:3], tmp_path / "small", enc, ann_min_chunks=1)
    build(seed_articles, tmp_path / "i", enc, ann_min_chunks=0)
    gen = live_generation(tmp_path / "i")
    # another index's graph (fewer rows): stale
    shutil.copy(live_generation(tmp_path / "small") / ANN_FILE, gen / ANN_FILE)
    assert Index.open(tmp_path / "i").dense_kind == "flat"
    (gen / ANN_FILE).write_bytes(b"not a faiss index")
    idx = Index.open(tmp_path / "i")
    assert idx.dense_kind == "flat" and tops(idx, enc)[0]
    # and the next build replaces it
    build(seed_articles, tmp_path / "i", enc, ann_min_chunks=1)
    assert Index.open(tmp_path / "i").dense_kind == "hnsw"


def test_settings_carry_the_ann_knobs():
    s = Settings.from_env({"RAG_ANN_MIN_CHUNKS": "7", "RAG_ANN_EF": "0"})
    assert (s.ann_min_chunks, s.ann_ef) == (7, 0)
    assert Settings.from_env({}, ann_ef=64).ann_ef == 64
    import pytest

    from rag.errors import InputError

    with pytest.raises(InputError, match="ann_min_chunks and ann_ef must be 0 or more, not -1"):
        Settings(ann_ef=-1)


def test_a_repeated_question_is_encoded_once_and_gets_the_same_vector():
    calls = []

    class Counting(HashEncoder):
        def encode(self, texts, *, query=False):
            calls.append(list(texts))
            return super().encode(texts, query=query)

    qenc = QueryEncoder(Counting(64))
    a, b = qenc("珠海高新区签约项目"), qenc("珠海高新区签约项目")
    assert a is b and np.array_equal(a, HashEncoder(64).encode(["珠海高新区签约项目"])[0])
    assert calls == [["珠海高新区签约项目"]]


def test_importing_rag_makes_idle_openmp_threads_sleep_unless_told_otherwise():
    import os
    import subprocess
    import sys

    code = "import os, rag; print(os.environ['OMP_WAIT_POLICY'])"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "PASSIVE"
    env["OMP_WAIT_POLICY"] = "ACTIVE"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert out.stdout.strip() == "ACTIVE"


def test_the_encoder_takes_two_threads_only_where_idle_threads_sleep(monkeypatch):
    from rag.embed import _threads

    monkeypatch.delenv("RAG_THREADS", raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr("os.cpu_count", lambda: 8)
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    assert _threads() == 2
    monkeypatch.setenv("OMP_WAIT_POLICY", "ACTIVE")
    assert _threads() == 1
    monkeypatch.setenv("RAG_THREADS", "3")
    assert _threads() == 3
    monkeypatch.delenv("RAG_THREADS")
    monkeypatch.setenv("OMP_WAIT_POLICY", "passive")
    monkeypatch.setattr("os.cpu_count", lambda: 1)
    assert _threads() == 1
