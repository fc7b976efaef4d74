"""The store contract: the file store and the Milvus store (milvus-lite) answer alike.

Every ``store`` test runs on both stores; the Milvus ones share one milvus-lite file per
module (its server starts once) and skip when pymilvus or milvus-lite is missing.

``RAG_TEST_MILVUS_URI=http://host:19530`` (with ``RAG_MILVUS_TOKEN`` when the server
needs one) runs the same tests against that Milvus server instead of milvus-lite
(docs/SCALING.md); they create collections named ``rag_*``, ``aliased_news`` and
``shared_news`` there.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np
import pytest

from rag.chunk import embed_text
from rag.cli import main
from rag.errors import IndexFormatError, StoreError
from rag.index import Index, build, read_manifest
from rag.retrieve import QueryEncoder, StoreHybridRetriever, make_retriever
from rag.store import StoreSpec, default_collection
from rag.text import tokens

from .fake_encoder import HashEncoder
from .fake_encoder import spec as fake_spec

SEEDS = Path(__file__).resolve().parents[1] / "seeds"


def _milvus_missing() -> str:
    try:
        import milvus_lite  # noqa: F401
        import pymilvus  # noqa: F401
    except ImportError as e:
        return f"the milvus extra is not installed ({e})"
    return ""


MILVUS = pytest.param(
    "milvus", marks=pytest.mark.skipif(bool(_milvus_missing()), reason=_milvus_missing())
)


@pytest.fixture(scope="module")
def lite_uri(tmp_path_factory) -> str:
    """milvus-lite in a temporary file, or the server ``RAG_TEST_MILVUS_URI`` names."""
    if os.environ.get("RAG_TEST_MILVUS_URI"):
        return os.environ["RAG_TEST_MILVUS_URI"]
    return str(tmp_path_factory.mktemp("milvus") / "store.db")


@pytest.fixture(params=["files", MILVUS])
def kind(request) -> str:
    return request.param


class CountingEncoder(HashEncoder):
    def __init__(self, dim: int = 64):
        super().__init__(dim)
        self.seen: list[str] = []

    def encode(self, texts, *, query=False):
        if not query:
            self.seen.extend(texts)
        return super().encode(texts, query=query)


def _spec(kind: str, uri: str, path: Path, name: str = "") -> StoreSpec:
    if kind == "files":
        return StoreSpec()
    return StoreSpec("milvus", uri, name or default_collection(path))


def _client(uri: str):
    from rag.milvus_store import connect

    return connect(uri)


@pytest.fixture
def built(kind, lite_uri, tmp_path, seed_articles):
    """The seed page in the store under test, and in the file store to compare with."""
    enc = HashEncoder(64)
    build(seed_articles, tmp_path / "ref", enc)
    build(seed_articles, tmp_path / "idx", enc, store=_spec(kind, lite_uri, tmp_path / "idx"))
    return Index.open(tmp_path / "idx"), Index.open(tmp_path / "ref"), enc


def test_both_stores_hold_the_same_articles_and_chunks(built, kind):
    idx, ref, _ = built
    assert idx.store == kind
    assert idx.articles == ref.articles and idx.chunks == ref.chunks
    assert (len(idx), idx.dim, idx.encoder_id) == (29, 64, "tests.fake_encoder:hash64")
    assert sorted(idx.vocabulary()) == sorted(ref.vocabulary())
    assert [idx.doc_freq(t) for t in ("高新区", "签约", "没有这个词")] == [
        ref.doc_freq(t) for t in ("高新区", "签约", "没有这个词")
    ]
    np.testing.assert_allclose(idx.vectors([3, 0]), ref.vectors([3, 0]), atol=2e-3)


def test_dense_top1_is_the_chunk_whose_text_is_asked(built):
    idx, _, enc = built
    for row in (0, 7, 28):
        qvec = enc.encode([embed_text(idx.chunks[row])], query=True)[0]
        got = idx.search_dense(qvec, 3)
        assert got[0][0] == row and got[0][1] == pytest.approx(1.0, abs=2e-3)
        assert len(got) == 3


def test_keyword_search_finds_the_same_first_chunk(built):
    idx, ref, _ = built
    for q in ("珠海高新区签约项目", "青年见习岗位", "公益便民集市"):
        qtok = tokens(q)
        got, want = idx.search_bm25(qtok, 5), ref.search_bm25(qtok, 5)
        assert got[0][0] == want[0][0]
        assert all(s > 0 for _, s in got)
    assert idx.search_bm25(tokens("完全无关的外星词汇"), 5) == []
    assert idx.search_bm25(["zzzz"], 5) == []


def test_hybrid_finds_the_same_first_chunk(built, kind):
    idx, ref, enc = built
    qenc = QueryEncoder(enc)
    r = make_retriever("hybrid", idx, qenc)
    assert isinstance(r, StoreHybridRetriever) == (kind == "milvus")
    for q in ("珠海高新区签约了多少个项目？", "青年见习岗位有多少个", "公益便民集市在哪里举办"):
        hits = r.retrieve(q, 5)
        want = make_retriever("hybrid", ref, qenc).retrieve(q, 5)
        assert hits[0].chunk.id == want[0].chunk.id
        assert [h.rank for h in hits] == [0, 1, 2, 3, 4]
        # the dense component is the inner product, whichever store fused the ranks
        row = idx.chunks.index(hits[0].chunk)
        assert hits[0].dense == pytest.approx(float(ref.vectors([row])[0] @ qenc(q)), abs=2e-3)
    # an English question with no Chinese keyword: the dense side alone
    english = r.retrieve("zzzz qqqq", 3)
    dense = make_retriever("dense", idx, qenc).retrieve("zzzz qqqq", 3)
    assert [h.chunk.id for h in english] == [h.chunk.id for h in dense]


def test_incremental_build_embeds_only_what_changed(kind, lite_uri, tmp_path, seed_articles):
    path = tmp_path / "idx"
    spec = _spec(kind, lite_uri, path)
    build(seed_articles[:5], path, HashEncoder(64), store=spec)
    enc = CountingEncoder()
    report = build(seed_articles[2:], path, enc, store=spec)
    assert (report.added, report.removed, report.unchanged) == (2, 2, 3)
    new_ids = {a.id for a in seed_articles[5:]}
    idx = Index.open(path)
    assert sorted(idx.articles) == sorted(a.id for a in seed_articles[2:])
    assert len(enc.seen) == sum(c.article_id in new_ids for c in idx.chunks)
    # a removed article is gone from search; an unchanged one is found by its own text
    gone = seed_articles[0]
    qvec = HashEncoder(64).encode([gone.title + "\n" + gone.text[:200]], query=True)[0]
    assert all(idx.chunks[r].article_id != gone.id for r, _ in idx.search_dense(qvec, 29))
    for row in (0, len(idx) - 1):
        qvec = HashEncoder(64).encode([embed_text(idx.chunks[row])], query=True)[0]
        assert idx.search_dense(qvec, 1)[0][0] == row
    # --add keeps what is there
    report = build(seed_articles[:1], path, CountingEncoder(), store=spec, replace_all=False)
    assert (report.added, report.unchanged) == (1, 5)
    assert len(Index.open(path).articles) == 6
    assert build(seed_articles[:1], path, enc, store=spec, replace_all=False).up_to_date


def test_a_failed_build_leaves_the_previous_index_answering(
    kind, lite_uri, tmp_path, seed_articles, monkeypatch
):
    path = tmp_path / "idx"
    spec = _spec(kind, lite_uri, path)
    enc = HashEncoder(64)
    build(seed_articles[:4], path, enc, store=spec)
    before = read_manifest(path)

    def fail(*a, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(
        "rag.milvus_store.insert" if kind == "milvus" else "rag.index.save_bm25", fail
    )
    with pytest.raises((RuntimeError, StoreError), match="disk full"):
        build(seed_articles, path, enc, store=spec)
    monkeypatch.undo()
    assert read_manifest(path) == before
    idx = Index.open(path)
    assert len(idx.articles) == 4
    qvec = enc.encode([embed_text(idx.chunks[2])], query=True)[0]
    assert idx.search_dense(qvec, 1)[0][0] == 2
    assert len(list(path.glob("gen-*"))) == 1
    if kind == "milvus":
        names = [n for n in _client(lite_uri).list_collections() if n.startswith(spec.collection)]
        assert names == [before["store"]["collection"]]


def test_the_alias_follows_the_live_generation(lite_uri, tmp_path, seed_articles):
    if _milvus_missing():
        pytest.skip(_milvus_missing())
    path = tmp_path / "idx"
    spec = _spec("milvus", lite_uri, path, "aliased_news")
    made = []
    for articles in (seed_articles[:3], seed_articles[:4], seed_articles[:5]):
        build(articles, path, HashEncoder(64), store=spec)
        made.append(read_manifest(path)["store"]["collection"])
    c = _client(lite_uri)
    assert c.describe_alias("aliased_news")["collection_name"] == made[-1]
    # the previous generation stays (a process that opened it still answers), older go
    kept = sorted(n for n in c.list_collections() if n.startswith("aliased_news"))
    assert kept == sorted(made[1:])
    assert read_manifest(path)["store"] == {
        "kind": "milvus",
        "uri": lite_uri,
        "alias": "aliased_news",
        "collection": made[-1],
    }


def test_ask_needs_no_new_flags_on_a_milvus_index(lite_uri, tmp_path, monkeypatch, capsys):
    if _milvus_missing():
        pytest.skip(_milvus_missing())
    monkeypatch.setenv("RAG_ENCODER", fake_spec(64))
    idx = str(tmp_path / "idx")
    rc = main(
        ["build", str(SEEDS), "--index", idx, "-q", "--store", "milvus"]
        + ["--milvus-uri", lite_uri, "--milvus-token", "s3cret"]
    )
    assert rc == 0
    assert "s3cret" not in "".join(p.read_text() for p in Path(idx).glob("gen-*/*.json"))
    capsys.readouterr()
    monkeypatch.delenv("RAG_ENCODER")
    assert main(["ask", "珠海高新区签约了多少个项目？", "--index", idx, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["short_answer"] == "16个"
    assert out["sources"][0]["title"] == "珠海高新区：5月签约落地重点项目16个"
    # a rebuild with no flags stays in Milvus and finds nothing to do
    assert main(["build", str(SEEDS), "--index", idx, "-q"]) == 0
    assert capsys.readouterr().out.startswith("index is up to date: 7 articles, 29 chunks")
    assert read_manifest(idx)["store"]["kind"] == "milvus"


def test_moving_a_file_index_to_milvus_reuses_its_vectors(lite_uri, tmp_path, seed_articles):
    if _milvus_missing():
        pytest.skip(_milvus_missing())
    path = tmp_path / "idx"
    build(seed_articles, path, HashEncoder(64))
    enc = CountingEncoder()
    report = build(seed_articles, path, enc, store=_spec("milvus", lite_uri, path))
    assert not report.up_to_date and report.embedded_chunks == 0 and enc.seen == []
    assert Index.open(path).store == "milvus"
    assert not (sorted(path.glob("gen-*"))[0] / "dense.faiss").exists()


def test_an_unreachable_milvus_is_one_line_naming_it_and_keeps_the_index(
    tmp_path, monkeypatch, capsys
):
    if _milvus_missing():
        pytest.skip(_milvus_missing())
    monkeypatch.setenv("RAG_ENCODER", fake_spec(64))
    idx = str(tmp_path / "idx")
    assert main(["build", str(SEEDS), "--index", idx, "-q"]) == 0
    before = read_manifest(idx)
    capsys.readouterr()
    t0 = time.perf_counter()
    rc = main(
        ["build", str(SEEDS), "--index", idx, "-q", "--store", "milvus"]
        + ["--milvus-uri", "http://127.0.0.1:1"]
    )
    err = capsys.readouterr().err
    assert time.perf_counter() - t0 < 10
    assert rc == 1 and len(err.strip().splitlines()) == 2  # the encoder line, the error
    assert (
        err.strip()
        .splitlines()[-1]
        .startswith("rag: error: cannot reach Milvus at http://127.0.0.1:1")
    )
    assert read_manifest(idx) == before and Index.open(idx).store == "files"


def test_a_collection_of_another_encoder_is_refused_by_name(
    lite_uri, tmp_path, seed_articles, monkeypatch, capsys
):
    if _milvus_missing():
        pytest.skip(_milvus_missing())
    spec = StoreSpec("milvus", lite_uri, "shared_news")
    build(seed_articles, tmp_path / "a", HashEncoder(64), store=spec)
    with pytest.raises(StoreError) as e:
        build(seed_articles, tmp_path / "b", HashEncoder(32), store=spec)
    assert str(e.value) == (
        f"Milvus collection shared_news at {lite_uri} holds vectors of encoder "
        "'tests.fake_encoder:hash64' (dim 64), not 'tests.fake_encoder:hash32' (dim 32); "
        "choose another --milvus-collection (nothing was changed)"
    )
    assert not (tmp_path / "b" / "CURRENT").exists()
    assert len(Index.open(tmp_path / "a")) == 29  # the first index still answers
    # through the CLI: one line
    monkeypatch.setenv("RAG_ENCODER", fake_spec(32))
    rc = main(
        ["build", str(SEEDS), "--index", str(tmp_path / "c"), "-q", "--store", "milvus"]
        + ["--milvus-uri", lite_uri, "--milvus-collection", "shared_news"]
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 1 and "Milvus collection shared_news" in err[-1] and len(err) == 2
    # the index's own collection may be rebuilt with another encoder
    build(seed_articles, tmp_path / "a", HashEncoder(32), store=spec)
    assert Index.open(tmp_path / "a").dim == 32


def test_a_missing_collection_is_an_index_error(lite_uri, tmp_path, seed_articles):
    if _milvus_missing():
        pytest.skip(_milvus_missing())
    path = tmp_path / "idx"
    build(seed_articles[:2], path, HashEncoder(64), store=_spec("milvus", lite_uri, path))
    name = read_manifest(path)["store"]["collection"]
    _client(lite_uri).drop_collection(name)
    with pytest.raises(
        IndexFormatError, match=f"names Milvus collection {name} at .*, which is missing"
    ):
        Index.open(path)
    # a build repairs it (embedding everything again)
    report = build(seed_articles[:2], path, HashEncoder(64), store=_spec("milvus", lite_uri, path))
    assert "could not be reused" in report.note
    assert len(Index.open(path).articles) == 2


def test_bad_store_settings_are_one_line(tmp_path):
    from rag.config import Settings
    from rag.errors import InputError
    from rag.store import spec_for

    with pytest.raises(InputError, match="store must be one of files, milvus, not 'redis'"):
        Settings(store="redis")
    with pytest.raises(InputError, match="--store milvus needs --milvus-uri"):
        spec_for(Settings(store="milvus", index_dir=str(tmp_path)), None)
    with pytest.raises(InputError, match="neither a server"):
        spec_for(Settings(store="milvus", milvus_uri="milvus.sqlite"), None)
    with pytest.raises(InputError, match="collection name '1x'"):
        spec_for(Settings(milvus_uri="m.db", milvus_collection="1x"), None)
    assert spec_for(Settings(), None) is None
    assert spec_for(Settings(store="files"), {"store": {"kind": "milvus"}}) == StoreSpec()


def test_a_milvus_lite_file_held_by_another_process_is_one_line(tmp_path, seed_articles):
    if _milvus_missing():
        pytest.skip(_milvus_missing())
    import fcntl

    uri = tmp_path / "held.db"
    uri.mkdir()
    with open(uri / "LOCK", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # as a second process's milvus-lite would
        with pytest.raises(StoreError) as e:
            build(
                seed_articles,
                tmp_path / "idx",
                HashEncoder(64),
                store=_spec("milvus", str(uri), tmp_path / "idx"),
            )
    assert str(e.value) == (
        f"milvus-lite file {uri} is open in another process (milvus-lite allows one at a "
        "time; a Milvus server does not have this limit)"
    )
    assert not (tmp_path / "idx" / "CURRENT").exists()


def test_article_fields_make_date_ranges_a_filter_expression(lite_uri, tmp_path, seed_articles):
    if _milvus_missing():
        pytest.skip(_milvus_missing())
    from dataclasses import replace

    dates = ["2023-05-01", "2023-05-30", "2023-06-02", "", "2023-06-15", "", "2022-12-31"]
    articles = [replace(a, date=d) for a, d in zip(seed_articles, dates, strict=True)]
    path = tmp_path / "idx"
    build(articles, path, HashEncoder(64), store=_spec("milvus", lite_uri, path))
    idx = Index.open(path)
    rows = _client(lite_uri).query(
        idx.collection,
        filter='date >= "2023-05-30" and date <= "2023-06-30"',
        output_fields=["article_id", "title"],
        limit=100,
    )
    want = {a.id for a, d in zip(articles, dates, strict=True) if "2023-05-30" <= d <= "2023-06-30"}
    assert {r["article_id"] for r in rows} == want
    assert len(rows) == sum(c.article_id in want for c in idx.chunks)
    assert {r["title"] for r in rows} == {a.title for a in articles if a.id in want}
