"""Index: chunks, their vectors (FAISS) and keyword postings (bm25s), as plain files.

Layout of an index directory::

    index/
      CURRENT              name of the live generation, swapped atomically
      .build.lock          held while a build writes
      gen-<id>/
        manifest.json      format version, encoder id and dim, chunk settings,
                           article fingerprints, source-file stats
        articles.jsonl     one Article per line
        chunks.jsonl       one Chunk per line, row i = FAISS id i = BM25 doc i
        tokens.txt         each chunk's keyword tokens (reused by incremental builds)
        dense.faiss        exact inner-product search over L2-normalised vectors,
                           stored as float16 (faiss IndexScalarQuantizer QT_fp16)
        dense-hnsw.faiss   optional: an HNSW graph over the same vectors (float16),
                           written by builds of at least ``ann_min_chunks`` chunks and
                           searched instead of the exact scan when present; an index
                           without it (older, or smaller) is searched exactly
        bm25/              bm25s.BM25.save() output
        minhash.npy        wire-copy signatures; groups.json: copies and events
                           (rag/groups.py; absent in indexes made before them)

An index built with ``--store milvus`` keeps the same folder without ``dense.faiss``
and ``bm25/``: its manifest's ``store`` entry names the Milvus URI and the collection
that holds the generation's vectors and BM25 postings (``rag.milvus_store``), and
``Index.open`` returns a ``MilvusIndex`` for it.

A build writes a new generation beside the live one and then replaces ``CURRENT``
(``os.replace``), so a build killed at any moment leaves the previous index loadable.
Articles whose fingerprint is unchanged keep their chunks, vectors and tokens; only new
or changed ones are embedded. numpy and faiss stay inside this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shlex
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .chunk import VERSION as CHUNK_VERSION
from .chunk import chunk_article, embed_text, keyword_text
from .embed import Encoder
from .errors import IndexBusyError, IndexFormatError, InputError, StoreError
from .groups import Groups
from .store import ManifestFacts, Store, StoreSpec
from .text import tokens as keyword_tokens
from .types import Article, Chunk

FORMAT_VERSION = 1
# approximate dense search (an HNSW graph beside the exact index; docs/BENCHMARKS.md)
ANN_FILE = "dense-hnsw.faiss"
ANN_MIN_CHUNKS = 100_000  # builds of this many chunks or more write it (0: never)
ANN_EF = 256  # HNSW efSearch per query (0: never search it; at least k is used)
HNSW_M = 32  # graph neighbours per vector
HNSW_EF_CONSTRUCTION = 40
Progress = Callable[[int, int], None]
# embeds a build's new chunks: (encoder, chunks, batch size, progress) -> one
# L2-normalised float32 row per chunk, in chunk order; ``_embed`` (in process) or
# ``rag.ray_embed.RayEmbedder`` (on a Ray cluster)
Embedder = Callable[[Encoder, "list[Chunk]", int, "bool | Progress"], np.ndarray]


@dataclass(frozen=True)
class BuildReport:
    articles: int
    chunks: int
    added: int
    updated: int
    removed: int
    unchanged: int
    embedded_chunks: int
    seconds: float
    embed_seconds: float
    encoder: str
    up_to_date: bool = False
    problems: tuple[str, ...] = field(default=())
    note: str = ""  # why the previous index could not be reused, when it was damaged
    hashed: int = 0  # articles MinHashed for wire-copy detection (new or changed ones)
    groups: str = ""  # copies and events found (rag/groups.py), one line

    def summary(self) -> str:
        if self.up_to_date:
            return f"index is up to date: {self.articles} articles, {self.chunks} chunks ({self.encoder})"
        return (
            (
                f"indexed {self.articles} articles, {self.chunks} chunks with {self.encoder}: "
                f"{self.added} new, {self.updated} changed, {self.removed} removed, "
                f"{self.unchanged} unchanged; embedded {self.embedded_chunks} chunks "
                f"in {self.embed_seconds:.1f}s ({self.seconds:.1f}s in all)"
            )
            + (f"\n{self.groups}" if self.groups else "")
            + (f"\n{self.note}" if self.note else "")
        )


def _hint(path: Path) -> str:
    """What to run to rebuild the index at ``path``: from the corpus it was built from
    when its manifest still says which."""
    corpus = (peek_manifest(path) or {}).get("corpus")
    cmd = f"rag build --index {shlex.quote(str(path))}"
    if isinstance(corpus, list) and corpus and all(isinstance(c, str) for c in corpus):
        return f"rebuild it with: {cmd} {' '.join(shlex.quote(c) for c in corpus)}"
    return f"rebuild it with: {cmd} PATHS (the files or folders it was built from)"


def _index_error(path: Path, what: str) -> IndexFormatError:
    return IndexFormatError(f"index {path} {what}; {_hint(path)}")


def live_generation(path: str | Path) -> Path | None:
    """The directory of the live generation, or None when there is no index at ``path``.
    A ``CURRENT`` that cannot be read, or names no generation that exists, is an
    ``IndexFormatError``."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise IndexFormatError(f"index path {path} is not a folder")
    try:
        raw = (path / "CURRENT").read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise _index_error(path, f"has a CURRENT file that cannot be read ({e})") from None
    name = raw.decode("utf-8", "replace").strip()
    if not _GEN_NAME.fullmatch(name):
        raise _index_error(path, f"has a bad CURRENT file ({name[:40]!r})")
    if not (path / name).is_dir():
        raise _index_error(path, f"has a CURRENT file naming {name}, which is missing")
    return path / name


_GEN_NAME = re.compile(r"gen-[0-9A-Za-z-]{1,64}")
# what a manifest must hold, and the type of each
_MANIFEST_SCHEMA = {
    "encoder": dict,
    "chunking": dict,
    "counts": dict,
    "articles": dict,
}


def peek_manifest(path: str | Path) -> dict | None:
    """The live manifest as it is, unchecked, or None when it cannot be read. Only for
    guesses about a damaged index (which encoder built it); never raises."""
    path = Path(path)
    with contextlib.suppress(Exception):
        name = (path / "CURRENT").read_text(encoding="utf-8").strip()
        if _GEN_NAME.fullmatch(name):
            manifest = json.loads((path / name / "manifest.json").read_text(encoding="utf-8"))
            return manifest if isinstance(manifest, dict) else None
    return None


def read_manifest(path: str | Path) -> dict | None:
    """The live manifest, or None when there is no index at ``path``."""
    gen = live_generation(path)
    if gen is None:
        return None
    try:
        manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise _index_error(Path(path), "is missing manifest.json") from None
    except (OSError, ValueError) as e:
        raise _index_error(Path(path), f"has an unreadable manifest.json ({e})") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_VERSION:
        got = manifest.get("format") if isinstance(manifest, dict) else None
        raise _index_error(
            Path(path), f"has format {got!r}, this rag reads format {FORMAT_VERSION}"
        )
    for key, typ in _MANIFEST_SCHEMA.items():
        if not isinstance(manifest.get(key), typ):
            raise _index_error(Path(path), f"has a damaged manifest.json (no valid {key!r})")
    enc = manifest["encoder"]
    if (
        not isinstance(enc.get("id"), str)
        or isinstance(enc.get("dim"), bool)
        or not isinstance(enc.get("dim"), int)
    ):
        raise _index_error(Path(path), "has a damaged manifest.json (encoder id or dim)")
    return manifest


def file_state(paths: Iterable[str | Path]) -> dict[str, list[int]]:
    """``{file: [size, mtime_ns]}`` for the corpus files under ``paths``; cheap to compare."""
    from .ingest import corpus_files

    state: dict[str, list[int]] = {}
    for root in paths:
        root = Path(root)
        files = corpus_files(root) if root.is_dir() else [root]
        for f in files:
            try:
                st = f.stat()
            except OSError:
                continue
            state[str(f)] = [st.st_size, st.st_mtime_ns]
    return state


class Index(ManifestFacts):
    """A loaded index: articles, chunks, a FAISS index and a bm25s index."""

    store = "files"

    def __init__(
        self,
        path: Path,
        manifest: dict,
        articles: dict[str, Article],
        chunks: list[Chunk],
        dense,
        bm25,
        groups: Groups | None = None,
        ann=None,
        ann_ef: int = ANN_EF,
    ) -> None:
        self.path = path
        # wire copies and events; everything alone for an index made before them
        self.groups = groups if groups is not None else Groups(computed=False)
        self.manifest = manifest
        self.articles = articles
        self.chunks = chunks
        self._dense = dense
        self._bm25 = bm25
        self._ann = ann  # an HNSW graph over the same rows, or None: exact search
        self._ann_ef = ann_ef
        self._vocab = bm25.vocab_dict if bm25 is not None else {}
        self._df = np.diff(bm25.scores["indptr"]) if bm25 is not None else np.zeros(0)

    @classmethod
    def open(cls, path: str | Path, token: str = "", *, ann_ef: int = ANN_EF) -> Store:
        """Load the live generation at ``path``: an ``Index``, or a ``MilvusIndex`` when
        its manifest says the milvus store (``token``: its server's, else
        ``RAG_MILVUS_TOKEN``). A missing, damaged or foreign index is an
        ``IndexFormatError`` that names the file at fault and says what to run.

        ``ann_ef``: the HNSW search breadth when the generation has an HNSW graph
        (``ANN_FILE``); 0 leaves the graph unread and every search exact. A graph that
        cannot be read or does not match the vectors is ignored (exact search).

        A build that swaps in a new generation while this one is being read (it then
        removes the old one) makes the read fail; it is retried on the new generation."""
        path = Path(path)
        for attempt in range(3):
            gen = live_generation(path)
            try:
                return cls._open_generation(path, token, ann_ef)
            except IndexFormatError:
                # another build swapped CURRENT meanwhile? then read the new generation
                if attempt == 2 or gen is None or live_generation(path) == gen:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    @classmethod
    def _open_generation(cls, path: Path, token: str = "", ann_ef: int = ANN_EF) -> Store:
        manifest = read_manifest(path)
        if manifest is None:
            raise IndexFormatError(f"no index at {path}; build one with: rag build --index {path}")
        gen = live_generation(path)
        assert gen is not None

        def load(name: str, read):
            try:
                return read(gen / name)
            except FileNotFoundError as e:
                missing = Path(e.filename).name if e.filename else name
                raise _index_error(path, f"is missing {missing}") from None
            except Exception as e:  # any reader's complaint about a damaged file
                if not (gen / name).exists():
                    raise _index_error(path, f"is missing {name}") from None
                detail = str(e).strip().splitlines()[-1:] or [""]
                raise _index_error(
                    path,
                    f"is damaged: {name} cannot be read ({type(e).__name__}: {detail[0][:100]})",
                ) from None

        articles = {
            a.id: a for a in load("articles.jsonl", lambda f: [Article(**d) for d in read_jsonl(f)])
        }
        chunks = load("chunks.jsonl", lambda f: [Chunk(**d) for d in read_jsonl(f)])
        if (manifest.get("store") or {}).get("kind") == "milvus":
            from .milvus_store import MilvusIndex

            _check_chunks(path, manifest, articles, chunks)
            return MilvusIndex.open(path, manifest, articles, chunks, gen, token)
        import bm25s
        import faiss

        # one query at a time scans faster on one thread (15 vs 22 ms at 100k chunks)
        faiss.omp_set_num_threads(1)
        dense = load("dense.faiss", lambda f: faiss.read_index(str(f)))
        bm25 = (
            load(
                "bm25",
                lambda f: bm25s.BM25.load(str(f), load_vocab=True, show_progress=False),
            )
            if chunks
            else None
        )
        _check_chunks(path, manifest, articles, chunks)
        if dense.ntotal != len(chunks) or (
            bm25 is not None and int(bm25.scores["num_docs"]) != len(chunks)
        ):
            raise _index_error(path, "is damaged (chunk, vector and keyword counts differ)")
        if dense.d != int(manifest["encoder"]["dim"]):
            raise _index_error(path, "is damaged (vector size differs from the manifest)")
        from .groups import load as load_groups

        return cls(
            path,
            manifest,
            articles,
            chunks,
            dense,
            bm25,
            load_groups(gen, manifest, list(articles)),
            ann=read_ann(gen, len(chunks), dense.d) if ann_ef > 0 else None,
            ann_ef=ann_ef,
        )

    @property
    def dense_kind(self) -> str:
        """How dense search runs: ``hnsw`` (approximate) or ``flat`` (exact)."""
        return "hnsw" if self._ann is not None else "flat"

    # -- search --------------------------------------------------------------------

    def search_dense(
        self, qvec: np.ndarray, k: int, *, exact: bool = False
    ) -> list[tuple[int, float]]:
        """Rows and inner-product scores of the ``k`` nearest chunks (by the HNSW graph
        when there is one, unless ``exact``)."""
        if not self.chunks:
            return []
        q = np.asarray(qvec, dtype=np.float32).reshape(1, -1)
        k = min(k, len(self.chunks))
        if self._ann is not None and not exact:
            import faiss

            params = faiss.SearchParametersHNSW(efSearch=max(self._ann_ef, k))
            scores, rows = self._ann.search(q, k, params=params)
        else:
            scores, rows = self._dense.search(q, k)
        return [(int(r), float(s)) for r, s in zip(rows[0], scores[0], strict=True) if r >= 0]

    def search_bm25(self, qtokens: list[str], k: int) -> list[tuple[int, float]]:
        """Rows and BM25 scores of the best ``k`` chunks with a positive score."""
        if self._bm25 is None or not self.known(qtokens):
            return []
        scores = self._bm25.get_scores(qtokens)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(r), float(scores[r])) for r in top if scores[r] > 0]

    def has(self, token: str) -> bool:
        return token in self._vocab

    def vocabulary(self) -> list[str]:
        return [t for t in self._vocab if t]

    def known(self, qtokens: list[str]) -> list[str]:
        """The tokens that occur in the corpus."""
        return [t for t in qtokens if t in self._vocab]

    def doc_freq(self, token: str) -> int:
        """In how many chunks ``token`` occurs (0 when never)."""
        i = self._vocab.get(token)
        return int(self._df[i]) if i is not None and i < len(self._df) else 0

    def vectors(self, rows: list[int] | None = None) -> np.ndarray:
        if rows is None:
            return self._dense.reconstruct_n(0, self._dense.ntotal)
        return (
            np.stack([self._dense.reconstruct(int(r)) for r in rows])
            if rows
            else np.zeros((0, self.dim), np.float32)
        )


def _check_chunks(path: Path, manifest: dict, articles: dict, chunks: list[Chunk]) -> None:
    counts = manifest["counts"]
    if len(articles) != counts.get("articles") or set(articles) != set(manifest["articles"]):
        raise _index_error(path, "is damaged: articles.jsonl does not match manifest.json")
    if len(chunks) != counts.get("chunks"):
        raise _index_error(path, "is damaged: chunks.jsonl does not match manifest.json")
    for c in chunks:
        a = articles.get(c.article_id)
        if a is None or a.text[c.start : c.end] != c.text:
            raise _index_error(path, f"is damaged: chunk {c.id!r} does not match its article")


# ---------------------------------------------------------------------- ANN


def read_ann(gen: Path, rows: int, dim: int):
    """The HNSW graph of generation ``gen`` when it is there and holds ``rows`` vectors
    of ``dim``; else None (an optional file: a missing, damaged or stale one means
    exact search)."""
    import faiss

    f = gen / ANN_FILE
    if not f.is_file():
        return None
    try:
        ann = faiss.read_index(str(f))
    except Exception:
        return None
    return ann if ann.ntotal == rows and ann.d == dim else None


def new_ann(vecs: np.ndarray, base=None):
    """An HNSW graph (inner product, vectors kept as float16) over ``vecs``, added to
    ``base`` (an earlier graph whose rows come first) when given."""
    import faiss

    vecs = np.ascontiguousarray(vecs, dtype=np.float32)
    ann = base
    if ann is None:
        ann = faiss.IndexHNSWSQ(
            vecs.shape[1], faiss.ScalarQuantizer.QT_fp16, HNSW_M, faiss.METRIC_INNER_PRODUCT
        )
        ann.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        ann.train(vecs[:1] if len(vecs) else np.zeros((1, ann.d), np.float32))
    if len(vecs):
        ann.add(vecs)
    return ann


def write_ann(target: Path, ann) -> None:
    """Write ``ann`` to ``target`` by way of a temporary file (never half a graph)."""
    import faiss

    tmp = target.with_name(f"{target.name}.tmp-{os.getpid()}")
    faiss.write_index(ann, str(tmp))
    os.replace(tmp, target)


def ensure_ann(path: str | Path, min_chunks: int = ANN_MIN_CHUNKS) -> bool:
    """Give the live file-store generation at ``path`` its HNSW graph when it holds at
    least ``min_chunks`` chunks (> 0) and the graph is missing or stale (an index made
    before graphs, or with a higher threshold). True when one was written."""
    manifest = read_manifest(path)
    if manifest is None or (manifest.get("store") or {}).get("kind", "files") != "files":
        return False
    n, dim = int(manifest["counts"]["chunks"]), int(manifest["encoder"]["dim"])
    gen = live_generation(path)
    if min_chunks <= 0 or n < min_chunks or gen is None or read_ann(gen, n, dim) is not None:
        return False
    idx = Index.open(path, ann_ef=0)
    write_ann(gen / ANN_FILE, new_ann(idx.vectors()))
    return True


# ---------------------------------------------------------------------- building


def build(
    articles: list[Article],
    path: str | Path,
    encoder: Encoder,
    *,
    chunk_size: int = 240,
    chunk_overlap: int = 60,
    batch_size: int = 32,
    progress: bool | Progress = False,
    files: dict[str, list[int]] | None = None,
    corpus: list[str] | None = None,
    replace_all: bool = True,
    wait: float = 0,
    store: StoreSpec | None = None,
    embedder: Embedder | None = None,
    ann_min_chunks: int = ANN_MIN_CHUNKS,
) -> BuildReport:
    """Make the index at ``path`` hold exactly ``articles`` (or, with
    ``replace_all=False``, the old articles plus these), embedding only what changed.

    Holds ``path/.build.lock`` (an OS lock, released when the process dies, however it
    dies); a second concurrent build raises ``IndexBusyError``, or first waits up to
    ``wait`` seconds. Debris of a build that was killed (``gen-*`` folders that are not
    live, ``CURRENT.tmp-*``) is removed.

    ``store``: where vectors and keyword postings go (``rag.store.StoreSpec``); None
    keeps the index's own store (files for a new index). With milvus the generation's
    collection is written before ``CURRENT`` is swapped, so a build that fails leaves
    the previous collection answering.

    ``embedder``: what embeds the new chunks (default ``_embed``, in this process; see
    ``rag.ray_embed`` for a Ray cluster); everything else is the same either way.

    ``ann_min_chunks``: a file-store index of at least this many chunks (> 0) also gets
    an HNSW graph (``ANN_FILE``); an index that is up to date but lacks it gets it.
    """
    from filelock import FileLock, Timeout

    t0 = time.perf_counter()
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise IndexFormatError(f"index path {path} is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise IndexFormatError(f"cannot create index folder {path}: {e.strerror or e}") from None
    lock = FileLock(str(path / ".build.lock"))
    try:
        lock.acquire(timeout=wait)
    except Timeout:
        raise IndexBusyError(
            f"another build is writing {path} (lock {path / '.build.lock'}); wait for it to finish"
        ) from None
    except OSError as e:
        raise IndexFormatError(f"cannot lock {path / '.build.lock'}: {e.strerror or e}") from None
    try:
        return _build_locked(
            articles,
            path,
            encoder,
            chunk_size=chunk_size,
            chunk_overlap=chunk_overlap,
            batch_size=batch_size,
            progress=progress,
            files=files,
            corpus=corpus,
            replace_all=replace_all,
            t0=t0,
            store=store,
            embedder=embedder or _embed,
            ann_min_chunks=ann_min_chunks,
        )
    finally:
        lock.release()


def wait_for_build(path: str | Path, timeout: float) -> None:
    """Return once no build holds the lock of the index at ``path`` (at once when there
    is none); ``IndexBusyError`` after ``timeout`` seconds."""
    from filelock import FileLock, Timeout

    lock_file = Path(path) / ".build.lock"
    if not lock_file.exists():
        return
    lock = FileLock(str(lock_file))
    try:
        lock.acquire(timeout=timeout)
    except Timeout:
        raise IndexBusyError(
            f"another build is writing {path} (lock {lock_file}); wait for it to finish"
        ) from None
    lock.release()


def _build_locked(
    articles,
    path: Path,
    encoder: Encoder,
    *,
    chunk_size,
    chunk_overlap,
    batch_size,
    progress,
    files,
    corpus,
    replace_all,
    t0,
    store,
    embedder: Embedder | None = None,
    ann_min_chunks: int = ANN_MIN_CHUNKS,
) -> BuildReport:
    import faiss

    remove_stale_generations(path)
    own = _own_store(peek_manifest(path) or {})
    spec = store if store is not None else own
    old, why_not, old_ann = _load_reusable(
        path, encoder.id, chunk_size, chunk_overlap, spec.token or own.token
    )
    old_fps = old.manifest["articles"] if old else {}
    # where the index came from survives a build that cannot reuse its vectors
    previous = old.manifest if old else (peek_manifest(path) or {})
    target = None
    if spec.kind == "milvus":
        from .milvus_store import Target

        # before anything is embedded: an unreachable server or a foreign collection
        was = (previous.get("store") or {}).get("collection")
        owned = {was} if was and spec.same_place(previous) else set()
        target = Target(spec, path, encoder.id, int(encoder.dim), owned)

    if not replace_all:
        # the articles already there stay, even when their vectors cannot be reused
        # (another encoder or chunking): they are embedded again. A damaged index is
        # refused rather than replaced by one that holds only the new articles.
        prior = old.articles if old is not None else _live_articles(path)
        incoming = {a.id for a in articles}
        articles = [a for a in prior.values() if a.id not in incoming] + list(articles)
    ids = [a.id for a in articles]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise InputError(f"duplicate article id {dup!r}")
    if not articles:
        raise InputError("nothing to index: no articles")

    fps = {a.id: a.fingerprint() for a in articles}
    unchanged = [a for a in articles if old_fps.get(a.id) == fps[a.id]]
    changed = [a for a in articles if old_fps.get(a.id) != fps[a.id]]
    removed = [i for i in old_fps if i not in fps]
    added = sum(1 for a in changed if a.id not in old_fps)
    report_base = dict(
        articles=len(articles),
        added=added,
        updated=len(changed) - added,
        removed=len(removed),
        unchanged=len(unchanged),
        encoder=encoder.id,
        note=why_not,
    )
    from . import groups as grouping

    if (
        old is not None
        and not changed
        and not removed
        and spec.same_place(old.manifest)
        and old.manifest.get("groups") == grouping.params()
    ):
        if files is not None and files != old.manifest.get("files"):
            _write_manifest_only(path, old, files, corpus)
        ensure_ann(path, ann_min_chunks)  # an index made before graphs, or below the bar
        return BuildReport(
            chunks=len(old.chunks),
            embedded_chunks=0,
            seconds=time.perf_counter() - t0,
            embed_seconds=0.0,
            up_to_date=True,
            **report_base,
        )

    # reuse rows of unchanged articles
    kept_rows: list[int] = []
    if old is not None:
        keep_ids = {a.id for a in unchanged}
        kept_rows = [i for i, c in enumerate(old.chunks) if c.article_id in keep_ids]
    new_chunks = [c for a in changed for c in chunk_article(a, chunk_size, chunk_overlap)]
    authors = {a.id: a.author for a in articles}

    t_embed = time.perf_counter()
    new_vecs = (embedder or _embed)(encoder, new_chunks, batch_size, progress)
    if new_vecs.shape[0] != len(new_chunks):
        raise AssertionError(f"embedder returned {new_vecs.shape[0]} rows for {len(new_chunks)}")
    embed_seconds = time.perf_counter() - t_embed
    new_tokens = [keyword_tokens(keyword_text(c, authors[c.article_id])) for c in new_chunks]

    if old is not None and kept_rows:
        chunks = [old.chunks[i] for i in kept_rows] + new_chunks
        vecs = (
            np.concatenate([old.vectors(kept_rows), new_vecs])
            if new_chunks
            else old.vectors(kept_rows)
        )
        toks = [old.tokens[i] for i in kept_rows] + new_tokens
    else:
        chunks, vecs, toks = new_chunks, new_vecs, new_tokens
    dim = int(vecs.shape[1]) if len(vecs) else int(encoder.dim)
    by_id = {a.id: a for a in articles}
    found, sigs, hashed = grouping.compute(
        [by_id[i] for i in ids],
        chunks,
        vecs,
        old.signatures() if old is not None else None,
        old_fps,
    )

    gen = path / f"gen-{time.strftime('%Y%m%d%H%M%S')}-{uuid.uuid4().hex[:6]}"
    gen.mkdir()
    collection = None
    try:
        write_jsonl(gen / "articles.jsonl", (by_id[i].to_dict() for i in ids))
        write_jsonl(gen / "chunks.jsonl", (c.to_dict() for c in chunks))
        with open(gen / "tokens.txt", "w", encoding="utf-8") as f:
            for t in toks:
                f.write(" ".join(t) + "\n")
        if target is not None:
            collection = target.name_for(gen.name)
            target.write(gen.name, chunks, vecs, toks, by_id, chunking(chunk_size, chunk_overlap))
        else:
            dense = _new_dense(dim)
            if len(vecs):
                dense.add(np.ascontiguousarray(vecs, dtype=np.float32))
            faiss.write_index(dense, str(gen / "dense.faiss"))
            if ann_min_chunks > 0 and len(chunks) >= ann_min_chunks:
                # nothing of the old graph removed or changed: add the new rows to it
                reuse = old_ann is not None and kept_rows == list(range(old_ann.ntotal))
                graph = new_ann(new_vecs, old_ann) if reuse else new_ann(vecs)
                write_ann(gen / ANN_FILE, graph)
            save_bm25(gen / "bm25", toks)
        grouping.save(gen, found, sigs)
        manifest = {
            "format": FORMAT_VERSION,
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "encoder": {"id": encoder.id, "dim": dim},
            "chunking": chunking(chunk_size, chunk_overlap),
            "counts": {"articles": len(articles), "chunks": len(chunks)},
            "articles": fps,
            "corpus": corpus if corpus is not None else previous.get("corpus"),
            "files": files if files is not None else previous.get("files"),
            "groups": grouping.params(),
        }
        if target is not None:
            # the token is never written: it comes from the flag or RAG_MILVUS_TOKEN
            manifest["store"] = {
                "kind": "milvus",
                "uri": spec.uri,
                "alias": spec.collection,
                "collection": collection,
            }
        _write_json(gen / "manifest.json", manifest)
        _fsync_dir(gen)
        swap_current(path, gen.name)
    except BaseException:
        shutil.rmtree(gen, ignore_errors=True)
        if target is not None and collection is not None:
            target.drop(collection)
        raise
    remove_stale_generations(path)
    if target is not None and collection is not None:
        was = (previous.get("store") or {}).get("collection")
        target.commit(collection, was if spec.same_place(previous) else None)
    return BuildReport(
        chunks=len(chunks),
        embedded_chunks=len(new_chunks),
        seconds=time.perf_counter() - t0,
        embed_seconds=embed_seconds,
        hashed=hashed,
        groups=found.summary(),
        **report_base,
    )


@dataclass
class _Old:
    manifest: dict
    articles: dict[str, Article]
    chunks: list[Chunk]
    tokens: list[list[str]]
    _index: Index

    def vectors(self, rows: list[int]) -> np.ndarray:
        all_vecs = self._index.vectors()
        return all_vecs[rows]

    def signatures(self) -> dict[str, np.ndarray]:
        """The stored MinHash signatures by article id (empty when there are none)."""
        from .groups import load_signatures

        gen = live_generation(self._index.path)
        return load_signatures(gen, self.manifest, list(self.articles)) if gen else {}


def chunking(size: int, overlap: int) -> dict:
    """How an index is chunked, as its manifest records it (with the chunker's version).

    >>> chunking(240, 60)
    {'size': 240, 'overlap': 60, 'version': 2}
    """
    return {"size": size, "overlap": overlap, "version": CHUNK_VERSION}


def _own_store(manifest: dict) -> StoreSpec:
    """The store an index's manifest names (files when it names none).

    >>> _own_store({}).kind, _own_store({"store": {"kind": "milvus", "uri": "u", "alias": "a"}})
    ('files', StoreSpec(kind='milvus', uri='u', collection='a', token=''))
    """
    entry = manifest.get("store")
    if isinstance(entry, dict) and entry.get("kind") == "milvus":
        return StoreSpec("milvus", str(entry.get("uri", "")), str(entry.get("alias", "")))
    return StoreSpec()


def _load_reusable(
    path: Path, encoder_id: str, size: int, overlap: int, token: str = ""
) -> tuple[_Old | None, str, object]:
    """The live index if its vectors can be reused by this build, else None and, when
    it is damaged, a note saying so (a damaged or differently-built index is rebuilt
    from scratch, not trusted); third, its HNSW graph when it has a valid one. The
    damaged generation is only removed once the new one is live."""
    try:
        manifest = read_manifest(path)
        if manifest is None:
            return None, "", None
        if manifest["encoder"]["id"] != encoder_id or manifest["chunking"] != chunking(
            size, overlap
        ):
            return None, "", None
        idx = Index.open(path, token, ann_ef=0)
        gen = live_generation(path)
        toks = (gen / "tokens.txt").read_text(encoding="utf-8").split("\n")[: len(idx.chunks)]
        if len(toks) != len(idx.chunks):
            return (
                None,
                "the previous index's tokens.txt was incomplete: all articles were embedded again",
                None,
            )
        old = _Old(manifest, idx.articles, idx.chunks, [t.split() for t in toks], idx)
        ann = read_ann(gen, len(idx.chunks), idx.dim) if idx.store == "files" else None
        return old, "", ann
    except (IndexFormatError, StoreError) as e:
        what = str(e).split("; rebuild it with", 1)[0]
        return (
            None,
            f"the previous index could not be reused ({what}): all articles were embedded again",
            None,
        )
    except (OSError, ValueError, KeyError, TypeError) as e:
        return (
            None,
            (
                f"the previous index could not be reused ({type(e).__name__}: {e}): "
                "all articles were embedded again"
            ),
            None,
        )


def _live_articles(path: Path) -> dict[str, Article]:
    """The articles of the live index (for ``--add`` when its vectors cannot be reused);
    an ``IndexFormatError`` when there is an index but its articles cannot be read."""
    manifest = read_manifest(path)
    if manifest is None:
        return {}
    gen = live_generation(path)
    assert gen is not None
    try:
        articles = {a.id: a for a in (Article(**d) for d in read_jsonl(gen / "articles.jsonl"))}
    except Exception as e:
        raise IndexFormatError(
            f"index {path} is damaged (articles.jsonl: {type(e).__name__}); adding to it would "
            f"lose its articles, so nothing was changed; {_hint(path)}"
        ) from None
    if set(articles) != set(manifest["articles"]):
        raise IndexFormatError(
            f"index {path} is damaged (articles.jsonl does not match manifest.json); adding to "
            f"it would lose articles, so nothing was changed; {_hint(path)}"
        )
    return articles


def _embed(
    encoder: Encoder, chunks: list[Chunk], batch_size: int, progress: bool | Progress
) -> np.ndarray:
    texts = [embed_text(c) for c in chunks]
    if not texts:
        return np.zeros((0, encoder.dim), dtype=np.float32)
    bar = None
    if progress is True:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(texts), desc="embedding", unit="chunk")
    out = []
    for i in range(0, len(texts), batch_size):
        batch = texts[i : i + batch_size]
        out.append(encoder.encode(batch))
        if bar is not None:
            bar.update(len(batch))
        elif callable(progress):
            progress(min(i + batch_size, len(texts)), len(texts))
    if bar is not None:
        bar.close()
    return np.concatenate(out).astype(np.float32, copy=False)


def _new_dense(dim: int):
    """Exact inner-product search over vectors kept as float16: half the memory of
    float32 and a 100k-chunk scan in ~9 ms instead of ~15 ms, with the same top 10 in
    998 of 1,000 cases (BENCHMARKS.md)."""
    import faiss

    index = faiss.IndexScalarQuantizer(
        dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
    )
    if not index.is_trained:
        index.train(np.zeros((1, dim), dtype=np.float32))
    return index


def save_bm25(target: Path, toks: list[list[str]]) -> None:
    """Write a bm25s index of ``toks`` (one token list per chunk, row i = chunk i)."""
    import bm25s

    retriever = bm25s.BM25()
    # bm25s drops empty documents' rows unless they hold a token; keep rows aligned
    retriever.index([t if t else [""] for t in toks], show_progress=False)
    retriever.save(str(target), show_progress=False)


def swap_current(path: Path, gen_name: str) -> None:
    """Make ``gen_name`` the live generation: write ``CURRENT.tmp-<pid>``, fsync it and
    rename it over ``CURRENT`` (atomic)."""
    tmp = path / f"CURRENT.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(gen_name + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path / "CURRENT")
    _fsync_dir(path)


def _write_manifest_only(path: Path, old: _Old, files, corpus) -> None:
    """Record new file stats without rewriting the data (files touched, not changed)."""
    gen = live_generation(path)
    manifest = dict(old.manifest, files=files, corpus=corpus or old.manifest.get("corpus"))
    tmp = gen / f"manifest.json.tmp-{os.getpid()}"
    _write_json(tmp, manifest)
    os.replace(tmp, gen / "manifest.json")


def remove_stale_generations(path: Path) -> None:
    """Delete every ``gen-*`` folder but the live one, and leftover ``CURRENT.tmp-*``
    files (nothing when ``CURRENT`` is unreadable: a damaged index is left to look at)."""
    try:
        live = live_generation(path)
    except IndexFormatError:
        return  # leave a damaged index for the user to look at
    for p in path.glob("gen-*"):
        if p.is_dir() and (live is None or p.name != live.name):
            shutil.rmtree(p, ignore_errors=True)
    for p in path.glob("CURRENT.tmp-*"):
        p.unlink(missing_ok=True)


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _dumps(obj, **kw) -> str:
    """JSON, readable (``ensure_ascii=False``) unless it holds what UTF-8 cannot encode
    (lone surrogates from file names that are not UTF-8): those are escaped."""
    text = json.dumps(obj, ensure_ascii=False, **kw)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, ensure_ascii=True, **kw)
    return text


def _write_json(p: Path, obj: dict) -> None:
    with open(p, "w", encoding="utf-8") as f:
        f.write(_dumps(obj, indent=1))
        f.flush()
        os.fsync(f.fileno())


def write_jsonl(p: Path, rows: Iterable[dict]) -> None:
    """One JSON object per line (readable UTF-8, see ``_dumps``), fsynced."""
    with open(p, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(_dumps(r) + "\n")
        f.flush()
        os.fsync(f.fileno())


def read_jsonl(p: Path) -> list[dict]:
    """The JSON objects of a file written by ``write_jsonl`` (blank lines skipped)."""
    out = []
    with open(p, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                out.append(json.loads(line))
    return out
