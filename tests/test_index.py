from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from rag.errors import IndexBusyError, IndexFormatError
from rag.index import Index, build, live_generation, read_manifest
from rag.retrieve import BM25Retriever, DenseRetriever, HybridRetriever, QueryEncoder

from .fake_encoder import HashEncoder


class CountingEncoder(HashEncoder):
    def __init__(self):
        super().__init__(64)
        self.seen: list[str] = []

    def encode(self, texts, *, query=False):
        if not query:
            self.seen.extend(texts)
        return super().encode(texts, query=query)


def test_manifest_records_encoder_chunking_and_fingerprints(fake_index_dir, seed_articles):
    m = read_manifest(fake_index_dir)
    assert m["format"] == 1
    assert m["encoder"] == {"id": "tests.fake_encoder:hash256", "dim": 256}
    assert m["chunking"] == {"size": 240, "overlap": 60, "version": 2}
    assert m["articles"] == {a.id: a.fingerprint() for a in seed_articles}
    gen = live_generation(fake_index_dir)
    assert sorted(p.name for p in gen.iterdir()) == [
        "articles.jsonl",
        "bm25",
        "chunks.jsonl",
        "dense.faiss",
        "groups.json",
        "manifest.json",
        "minhash.npy",
        "tokens.txt",
    ]


def test_save_load_same_hits(tmp_path, seed_articles, fake_index_dir):
    enc = HashEncoder(256)
    a = Index.open(fake_index_dir)
    build(seed_articles, tmp_path / "copy", enc)
    b = Index.open(tmp_path / "copy")
    for q in ["珠海高新区签约项目", "青年见习岗位", "公益便民集市"]:
        for R in (
            lambda i: DenseRetriever(i, QueryEncoder(enc)),
            BM25Retriever,
            lambda i: HybridRetriever(i, QueryEncoder(enc)),
        ):
            ha = [(h.chunk.id, round(h.score, 6)) for h in R(a).retrieve(q, 5)]
            hb = [(h.chunk.id, round(h.score, 6)) for h in R(b).retrieve(q, 5)]
            assert ha == hb and ha


def test_bm25_finds_exact_chunks(fake_pipeline):
    hits = BM25Retriever(fake_pipeline.index).retrieve("青年见习岗位", 3)
    assert [h.chunk.article_id for h in hits][:1] == ["000_d81e7fddda0856ce.txt#6"]
    assert "新增青年见习岗位超过2000个" in hits[0].chunk.text
    assert BM25Retriever(fake_pipeline.index).retrieve("完全无关的外星词汇", 3) == []


def test_hybrid_ignores_keywords_the_corpus_lacks(fake_pipeline):
    idx = fake_pipeline.index
    qenc = fake_pipeline.qenc
    dense = [
        h.chunk.id for h in DenseRetriever(idx, qenc).retrieve("What activity did they hold?", 5)
    ]
    hybrid = [
        h.chunk.id for h in HybridRetriever(idx, qenc).retrieve("What activity did they hold?", 5)
    ]
    assert hybrid == dense


def test_incremental_build_embeds_only_changed_articles(tmp_path, seed_articles):
    enc = CountingEncoder()
    path = tmp_path / "idx"
    first = build(seed_articles, path, enc)
    assert first.added == 7 and first.embedded_chunks == len(enc.seen) == first.chunks
    enc.seen.clear()
    again = build(seed_articles, path, enc)
    assert again.up_to_date and enc.seen == []

    changed = replace(seed_articles[3], text=seed_articles[3].text + "\n新增的一句。")
    arts = seed_articles[:3] + [changed] + seed_articles[4:6]  # article #6 removed
    r = build(arts, path, enc)
    assert (r.added, r.updated, r.removed, r.unchanged) == (0, 1, 1, 5)
    assert all(t.startswith("咸阳高新区：") for t in enc.seen)
    idx = Index.open(path)
    assert sorted(idx.articles) == sorted(a.id for a in arts)
    assert not any(c.article_id.endswith("#6") for c in idx.chunks)
    # reused vectors are the same as freshly computed ones
    fresh = HashEncoder(64).encode([f"{c.title}\n{c.text}" for c in idx.chunks])
    assert np.allclose(idx.vectors(), fresh, atol=1e-3)  # stored as float16
    # only the live generation is left on disk
    assert len(list(path.glob("gen-*"))) == 1


def test_an_index_chunked_by_another_version_is_chunked_and_embedded_again(
    tmp_path, seed_articles, monkeypatch
):
    enc = CountingEncoder()
    path = tmp_path / "idx"
    first = build(seed_articles, path, enc)
    enc.seen.clear()
    monkeypatch.setattr("rag.index.CHUNK_VERSION", 3)  # the chunker changed since
    again = build(seed_articles, path, enc)
    # as for another encoder or chunk size: nothing is reused, every article is new
    assert (again.added, again.unchanged) == (7, 0)
    assert again.embedded_chunks == first.chunks == len(enc.seen)
    assert read_manifest(path)["chunking"]["version"] == 3


def test_add_mode_keeps_existing_articles(tmp_path, seed_articles):
    enc = HashEncoder(64)
    path = tmp_path / "idx"
    build(seed_articles[:2], path, enc)
    r = build(seed_articles[2:3], path, enc, replace_all=False)
    assert (r.added, r.unchanged, r.removed) == (1, 2, 0)
    assert sorted(Index.open(path).articles) == [a.id for a in seed_articles[:3]]


def test_missing_and_damaged_index_errors_say_what_to_run(tmp_path, fake_index_dir, seed_articles):
    with pytest.raises(
        IndexFormatError, match=r"no index at .*nowhere; build one with: rag build --index"
    ):
        Index.open(tmp_path / "nowhere")
    path = tmp_path / "idx"
    build(seed_articles, path, HashEncoder(32))
    gen = live_generation(path)
    (gen / "chunks.jsonl").unlink()
    with pytest.raises(
        IndexFormatError, match=r"is missing chunks.jsonl; rebuild it with: rag build --index"
    ):
        Index.open(path)
    m = json.loads((gen / "manifest.json").read_text())
    (gen / "manifest.json").write_text(json.dumps(dict(m, format=99)))
    with pytest.raises(IndexFormatError, match="has format 99, this rag reads format 1"):
        Index.open(path)


def test_truncated_vectors_are_reported(tmp_path, seed_articles):
    path = tmp_path / "idx"
    build(seed_articles, path, HashEncoder(32))
    f = live_generation(path) / "dense.faiss"
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(IndexFormatError, match="is damaged"):
        Index.open(path)


def test_second_concurrent_build_is_refused(tmp_path, seed_articles):
    from filelock import FileLock

    path = tmp_path / "idx"
    path.mkdir()
    with (
        FileLock(str(path / ".build.lock")),
        pytest.raises(IndexBusyError, match="another build is writing"),
    ):
        build(seed_articles, path, HashEncoder(32))
