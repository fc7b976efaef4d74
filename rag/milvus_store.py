"""The Milvus store: an index's vectors and BM25 postings in a Milvus collection.

One collection per index generation, named ``<alias>__g<generation>``; the alias (the
index's collection name, ``--milvus-collection``) is moved to it once the generation is
live. Fields: ``id`` (chunk id, primary key), ``article_id``, ``title``, ``date``
(``YYYY-MM-DD`` text, so a date range is a filter expression such as
``date >= "2024-01-01"``), ``text`` (the chunk), ``keywords`` (the chunk's keyword
tokens, rag's own jieba tokens joined by spaces, analysed by Milvus's jieba tokenizer),
``sparse`` (Milvus's BM25 function over ``keywords``) and ``vec`` (the normalised
embedding, HNSW index, inner product).

Searches go to the generation's own collection (named in its manifest), never to the
alias, so an index folder and its collection always agree. Hybrid retrieval runs inside
Milvus (``hybrid_search`` with an ``RRFRanker``); dense and keyword retrieval are one
search each. Articles, chunk text and the keyword vocabulary are read from the index
folder as for the file store (``rag.index``).

Works on milvus-lite (a local path ending in ``.db``) and on a Milvus server
(``http://host:19530`` with an optional token from ``RAG_MILVUS_TOKEN``). Does not
build or chunk (``rag.index`` does), and never drops a collection that another index
made.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import threading
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from .errors import IndexFormatError, StoreError
from .store import ManifestFacts
from .types import Article, Chunk

CONNECT_TIMEOUT_S = 5.0  # how long reaching a server may take before it is an error
HNSW = {"M": 16, "efConstruction": 200}
BATCH = 500  # rows per insert or query request
_CLIENTS: dict[tuple[str, str], object] = {}
_LOCK = threading.Lock()


def _one_line(e: BaseException) -> str:
    msg = getattr(e, "message", None) or str(e) or type(e).__name__
    return " ".join(str(msg).split())[:300]


def connect(uri: str, token: str = ""):
    """A ``MilvusClient`` for ``uri`` (one per URI and token in a process: milvus-lite
    starts its server once per file). ``StoreError`` when it cannot be reached."""
    token = token or os.environ.get("RAG_MILVUS_TOKEN", "")
    key = (uri, token)
    with _LOCK:
        client = _CLIENTS.get(key)
        if client is not None:
            return client
        try:
            from pymilvus import MilvusClient

            # pymilvus logs each failed call with a traceback; rag reports one line
            logging.getLogger("pymilvus").setLevel(logging.CRITICAL)
            # milvus-lite's in-process server logs calls it does not implement (pymilvus
            # asks for a timestamp while it waits for an index) with a traceback
            logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
            logging.getLogger("milvus_lite").setLevel(logging.CRITICAL)
        except ImportError:
            raise StoreError(
                f"the milvus store ({uri}) needs pymilvus and milvus-lite: "
                'pip install "rag[milvus]"'
            ) from None
        try:
            kw = {"token": token} if token else {}
            client = MilvusClient(uri=uri, timeout=CONNECT_TIMEOUT_S, **kw)
        except Exception as e:
            if _lite_locked(uri):
                raise StoreError(
                    f"milvus-lite file {uri} is open in another process (milvus-lite allows "
                    "one at a time; a Milvus server does not have this limit)"
                ) from None
            raise StoreError(f"cannot reach Milvus at {uri}: {_one_line(e)}") from None
        _CLIENTS[key] = client
        return client


def disconnect(uri: str, token: str = "") -> None:
    """Close this process's client of ``uri`` and, for a milvus-lite file, stop its
    in-process server, so that another process may open the file."""
    token = token or os.environ.get("RAG_MILVUS_TOKEN", "")
    with _LOCK:
        client = _CLIENTS.pop((uri, token), None)
    if client is not None:
        with contextlib.suppress(Exception):
            client.close()
    if uri.endswith(".db"):  # milvus-lite: its in-process server holds the file's lock
        with contextlib.suppress(Exception):
            from milvus_lite.server_manager import server_manager_instance

            server_manager_instance.release_server(uri)


def _lite_locked(uri: str) -> bool:
    """Whether another process holds the lock of the milvus-lite folder ``uri``."""
    lock = Path(uri) / "LOCK"
    if not uri.endswith(".db") or not lock.is_file():
        return False
    import fcntl

    try:
        with open(lock, "a") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(f, fcntl.LOCK_UN)
    except OSError:
        return True
    return False


def pk(chunk_id: str) -> str:
    """A chunk's primary key: its id, escaped where it is not UTF-8 and shortened (with a
    hash) where it is over Milvus's length limit.

    >>> pk("a.txt#3"), pk("\\udcff.txt#0")
    ('a.txt#3', '\\\\udcff.txt#0')
    """
    s = chunk_id.encode("utf-8", "backslashreplace").decode("utf-8")
    if len(s.encode()) > 500:
        s = s[:150] + "#" + hashlib.sha1(s.encode()).hexdigest()
    return s


def _fit(text: str, max_bytes: int) -> str:
    """``text`` cut to at most ``max_bytes`` of UTF-8 (and made encodable).

    >>> _fit("高新区", 7)
    '高新'
    """
    b = text.encode("utf-8", "backslashreplace")[:max_bytes]
    return b.decode("utf-8", "ignore")


def _describe(info: dict) -> dict:
    """What rag recorded about a collection (its ``rag`` property; milvus-lite keeps no
    schema description), or {} for a collection it did not make."""
    for raw in ((info.get("properties") or {}).get("rag"), info.get("description")):
        with contextlib.suppress(ValueError, TypeError):
            d = json.loads(raw or "")
            if isinstance(d, dict) and "rag" in d:
                return d
    return {}


def _dim(info: dict) -> int | None:
    for f in info.get("fields", []):
        if f.get("name") == "vec" or "dim" in (f.get("params") or {}):
            with contextlib.suppress(KeyError, TypeError, ValueError):
                return int(f["params"]["dim"])
    return None


class Target:
    """A Milvus place a build writes to: checked before anything is embedded."""

    def __init__(self, spec, index_dir: Path, encoder_id: str, dim: int, owned: set[str]):
        self.spec = spec
        self.uri = spec.uri
        self.alias = spec.collection
        self.index_dir = str(Path(index_dir).resolve())
        self.encoder_id = encoder_id
        self.dim = dim
        self.owned = owned  # collections this index folder's manifests name
        self.client = connect(spec.uri, spec.token)
        self._check()

    def _check(self) -> None:
        """Refuse a collection name that another index or program uses with another
        encoder or dimension, or that is a collection rather than an alias."""
        c = self.client
        try:
            if not c.has_collection(self.alias):
                return
            info = c.describe_collection(self.alias)
        except Exception as e:
            raise StoreError(f"cannot reach Milvus at {self.uri}: {_one_line(e)}") from None
        real = info.get("collection_name", self.alias)
        made = _describe(info)
        if real in self.owned or made.get("index") == self.index_dir:
            return  # this index's own: any encoder may replace it
        dim = _dim(info)
        where = f"Milvus collection {self.alias} at {self.uri}"
        if made.get("encoder") != self.encoder_id or dim != self.dim:
            held = (
                f"vectors of encoder {made['encoder']!r} (dim {dim})"
                if made
                else f"data rag did not write (vector dim {dim})"
            )
            raise StoreError(
                f"{where} holds {held}, not {self.encoder_id!r} (dim {self.dim}); "
                "choose another --milvus-collection (nothing was changed)"
            )
        if real == self.alias:
            raise StoreError(
                f"{where} is a collection, not an alias rag can move; choose another "
                "--milvus-collection (nothing was changed)"
            )

    def name_for(self, gen_name: str) -> str:
        return f"{self.alias}__g{gen_name.removeprefix('gen-').replace('-', '_')}"

    def write(
        self,
        gen_name: str,
        chunks: list[Chunk],
        vecs: np.ndarray,
        toks: list[list[str]],
        articles: dict[str, Article],
        chunking: dict,
    ) -> str:
        """Create the generation's collection and fill it; its name."""
        from pymilvus import DataType, Function, FunctionType

        c = self.client
        name = self.name_for(gen_name)
        about = json.dumps(
            {
                "rag": 1,
                "encoder": self.encoder_id,
                "dim": self.dim,
                "chunking": chunking,
                "index": self.index_dir,
            },
            ensure_ascii=True,
        )
        schema = c.create_schema(auto_id=False, description=about)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=512)
        schema.add_field("article_id", DataType.VARCHAR, max_length=1024)
        schema.add_field("title", DataType.VARCHAR, max_length=2048)
        schema.add_field("date", DataType.VARCHAR, max_length=32)
        schema.add_field("text", DataType.VARCHAR, max_length=16384)
        schema.add_field(
            "keywords",
            DataType.VARCHAR,
            max_length=32768,
            enable_analyzer=True,
            # rag's own tokens (Traditional folded, stopwords gone) split again by jieba
            analyzer_params={"tokenizer": {"type": "jieba", "mode": "search"}},
        )
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("vec", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_function(
            Function(
                name="bm25",
                function_type=FunctionType.BM25,
                input_field_names=["keywords"],
                output_field_names=["sparse"],
            )
        )
        index = c.prepare_index_params()
        index.add_index("vec", index_type="HNSW", metric_type="IP", params=HNSW)
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        try:
            c.create_collection(
                name, schema=schema, consistency_level="Strong", properties={"rag": about}
            )
            # a server builds indexes in the background: wait. milvus-lite builds them at
            # once, and pymilvus's wait would only sleep (0.5 s per index)
            c.create_index(name, index, sync=not self.uri.endswith(".db"))
            c.load_collection(name)
            rows = (
                {
                    "id": pk(ch.id),
                    "article_id": _fit(ch.article_id, 1024),
                    "title": _fit(ch.title, 2048),
                    "date": _fit(articles[ch.article_id].date or "", 32),
                    "text": _fit(ch.text, 16384),
                    "keywords": _fit(" ".join(t), 32768),
                    "vec": v.tolist(),
                }
                for ch, t, v in zip(chunks, toks, np.asarray(vecs, np.float32), strict=True)
            )
            insert(c, name, rows)
            c.flush(name)
        except StoreError:
            raise
        except Exception as e:
            raise StoreError(
                f"cannot write Milvus collection {name} at {self.uri}: {_one_line(e)}"
            ) from None
        return name

    def drop(self, name: str) -> None:
        """Remove a collection this build made (after a failure); never raises."""
        with contextlib.suppress(Exception):
            self.client.drop_collection(name)

    def commit(self, live: str, previous: str | None) -> None:
        """Point the alias at ``live`` and drop this index's other collections but the
        previous one (a process that opened it still answers until the next build).
        Best effort: the index folder's ``CURRENT`` is the commit; a lagging alias is
        moved by the next build."""
        c = self.client
        with contextlib.suppress(Exception):
            if c.has_collection(self.alias):
                c.alter_alias(live, self.alias)
            else:
                c.create_alias(live, self.alias)
        with contextlib.suppress(Exception):
            for name in c.list_collections():
                if not name.startswith(self.alias + "__g") or name in (live, previous):
                    continue
                info = c.describe_collection(name)
                if _describe(info).get("index") == self.index_dir:
                    c.drop_collection(name)


def insert(client, name: str, rows: Iterable[dict]) -> None:
    """Upsert ``rows`` in batches (upsert by chunk id: a retried write does not
    duplicate)."""
    batch: list[dict] = []
    for r in rows:
        batch.append(r)
        if len(batch) >= BATCH:
            client.upsert(name, batch)
            batch = []
    if batch:
        client.upsert(name, batch)


class MilvusIndex(ManifestFacts):
    """A loaded index whose vectors and BM25 postings are in Milvus (``rag.store.Store``).
    Rows are positions in ``chunks``, as in the file store."""

    store = "milvus"

    def __init__(
        self,
        path: Path,
        manifest: dict,
        articles: dict[str, Article],
        chunks: list[Chunk],
        tokens_file: Path,
        client,
        groups=None,
    ) -> None:
        from .groups import Groups

        self.path = path
        self.manifest = manifest
        self.articles = articles
        self.chunks = chunks
        entry = manifest["store"]
        self.uri = entry["uri"]
        self.collection = entry["collection"]
        self._client = client
        self._row = {pk(c.id): i for i, c in enumerate(chunks)}
        self._tokens_file = tokens_file
        self._df: Counter | None = None
        # wire copies and events (rag/groups.py), kept in the folder as for the file store
        self.groups = groups if groups is not None else Groups(computed=False)

    @classmethod
    def open(
        cls, path: Path, manifest: dict, articles, chunks, gen: Path, token: str = ""
    ) -> MilvusIndex:
        entry = manifest.get("store")
        if not isinstance(entry, dict) or not all(
            isinstance(entry.get(k), str) for k in ("uri", "collection", "alias")
        ):
            raise IndexFormatError(f"index {path} has a damaged manifest.json (store)")
        uri, name = entry["uri"], entry["collection"]
        client = connect(uri, token)
        try:
            if not client.has_collection(name):
                raise IndexFormatError(
                    f"index {path} names Milvus collection {name} at {uri}, which is "
                    f"missing; rebuild it with: rag build --index {path} PATHS"
                )
            count = int(client.get_collection_stats(name).get("row_count", -1))
            client.load_collection(name)
        except IndexFormatError:
            raise
        except Exception as e:
            raise StoreError(
                f"cannot read Milvus collection {name} at {uri}: {_one_line(e)}"
            ) from None
        if count != len(chunks):
            raise IndexFormatError(
                f"index {path} is damaged: Milvus collection {name} holds {count} chunks, "
                f"chunks.jsonl {len(chunks)}; rebuild it with: rag build --index {path} PATHS"
            )
        if not (gen / "tokens.txt").is_file():
            raise IndexFormatError(f"index {path} is missing tokens.txt")
        from .groups import load as load_groups

        groups = load_groups(gen, manifest, list(articles))
        return cls(path, manifest, articles, chunks, gen / "tokens.txt", client, groups)

    def _call(self, fn, *args, **kw):
        try:
            return fn(*args, **kw)
        except Exception as e:
            raise StoreError(
                f"Milvus collection {self.collection} at {self.uri}: {_one_line(e)}"
            ) from None

    def _rows(self, hits) -> list[tuple[int, float, dict]]:
        out = []
        for h in hits:
            r = self._row.get(h["id"])
            if r is not None:
                out.append((r, float(h["distance"]), h.get("entity") or {}))
        return out

    # -- search --------------------------------------------------------------------

    def _dense_request(self, qvec: np.ndarray, k: int) -> dict:
        return {
            "data": [np.asarray(qvec, np.float32).ravel().tolist()],
            "anns_field": "vec",
            "limit": min(k, len(self.chunks)),
            "search_params": {"metric_type": "IP", "params": {"ef": max(64, k)}},
        }

    def search_dense(self, qvec: np.ndarray, k: int) -> list[tuple[int, float]]:
        """Rows and inner-product scores of the ``k`` nearest chunks."""
        if not self.chunks:
            return []
        res = self._call(self._client.search, self.collection, **self._dense_request(qvec, k))
        return [(r, s) for r, s, _ in self._rows(res[0])]

    def search_bm25(self, qtokens: list[str], k: int) -> list[tuple[int, float]]:
        """Rows and BM25 scores (Milvus's) of the best ``k`` chunks with a match."""
        if not self.chunks or not self.known(qtokens):
            return []
        res = self._call(
            self._client.search,
            self.collection,
            data=[" ".join(qtokens)],
            anns_field="sparse",
            limit=min(k, len(self.chunks)),
            search_params={"metric_type": "BM25"},
        )
        # milvus-lite reports -score as the distance, a server the score itself
        return [(r, abs(s)) for r, s, _ in self._rows(res[0])]

    def search_hybrid(
        self, qvec: np.ndarray, qtokens: list[str], k: int, rrf_k: int = 60, depth: int = 50
    ) -> list[tuple[int, float, float]]:
        """Rows, RRF scores and dense scores of the best ``k`` chunks: one Milvus
        ``hybrid_search`` over the dense and the BM25 side (each ``depth`` deep) fused by
        its ``RRFRanker``. Without a known keyword it is the dense side alone, scored
        the same way."""
        if not self.chunks:
            return []
        q = np.asarray(qvec, np.float32).ravel()
        if not self.known(qtokens):
            dense = self.search_dense(q, k)
            return [(r, 1.0 / (rrf_k + i + 1), s) for i, (r, s) in enumerate(dense)]
        from pymilvus import AnnSearchRequest, RRFRanker

        depth = min(max(k, depth), len(self.chunks))
        d = self._dense_request(q, depth)
        reqs = [
            AnnSearchRequest(d["data"], "vec", d["search_params"], depth),
            AnnSearchRequest([" ".join(qtokens)], "sparse", {"metric_type": "BM25"}, depth),
        ]
        res = self._call(
            self._client.hybrid_search,
            self.collection,
            reqs,
            RRFRanker(rrf_k),
            limit=min(k, len(self.chunks)),
            output_fields=["vec"],
        )
        out = []
        for r, s, ent in self._rows(res[0]):
            v = ent.get("vec")
            dense = float(np.asarray(v, np.float32) @ q) if v is not None else 0.0
            out.append((r, s, dense))
        return out

    # -- keyword vocabulary (from the index folder's tokens.txt) -------------------

    def _doc_freq(self) -> Counter:
        if self._df is None:
            df: Counter = Counter()
            with open(self._tokens_file, encoding="utf-8") as f:
                for line, _ in zip(f, self.chunks, strict=False):
                    df.update(set(line.split()))
            self._df = df
        return self._df

    def has(self, token: str) -> bool:
        return token in self._doc_freq()

    def vocabulary(self) -> list[str]:
        return list(self._doc_freq())

    def known(self, qtokens: list[str]) -> list[str]:
        """The tokens that occur in the corpus."""
        df = self._doc_freq()
        return [t for t in qtokens if t in df]

    def doc_freq(self, token: str) -> int:
        """In how many chunks ``token`` occurs (0 when never)."""
        return self._doc_freq().get(token, 0)

    def vectors(self, rows: list[int] | None = None) -> np.ndarray:
        """The stored vectors of ``rows`` (all rows when None), in that order."""
        rows = list(range(len(self.chunks))) if rows is None else list(rows)
        out = np.zeros((len(rows), self.dim), np.float32)
        for i in range(0, len(rows), BATCH):
            part = rows[i : i + BATCH]
            ids = [pk(self.chunks[r].id) for r in part]
            got = self._call(
                self._client.query, self.collection, ids=ids, output_fields=["id", "vec"]
            )
            by_id = {g["id"]: g["vec"] for g in got}
            for j, key in enumerate(ids):
                if key not in by_id:
                    raise IndexFormatError(
                        f"index {self.path} is damaged: Milvus collection {self.collection} "
                        f"has no vector for chunk {key!r}; rebuild it with: "
                        f"rag build --index {self.path} PATHS"
                    )
                out[i + j] = np.asarray(by_id[key], np.float32)
        return out
