"""Store: what the rest of rag needs from a loaded index, and where a build puts it.

Two stores hold an index's vectors and keyword postings:

- ``files`` (the default): FAISS + bm25s files in the index folder (``rag.index.Index``).
- ``milvus``: one Milvus collection per index generation (``rag.milvus_store``), on
  milvus-lite (a local ``*.db`` path) or a Milvus server (``http://host:19530``).

Either way the index folder keeps the manifest, ``articles.jsonl``, ``chunks.jsonl`` and
``tokens.txt`` (the answer stage reads articles and chunk text, and counts keyword
document frequencies, from there), and ``Index.open`` dispatches on the manifest's
``store`` entry, so nothing after ``rag build`` needs to be told which store it is.

This module holds no search code and imports neither FAISS nor pymilvus.
"""

from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .errors import InputError
from .types import Article, Chunk


class Store(Protocol):
    """A loaded index, whichever store holds it: what retrievers, the answerer, the
    overview and the pipeline use (rows are positions in ``chunks``)."""

    store: str  # "files" or "milvus"
    path: Path
    manifest: dict
    articles: dict[str, Article]
    chunks: list[Chunk]

    @property
    def encoder_id(self) -> str: ...

    @property
    def dim(self) -> int: ...

    def __len__(self) -> int: ...

    def search_dense(self, qvec: np.ndarray, k: int) -> list[tuple[int, float]]: ...

    def search_bm25(self, qtokens: list[str], k: int) -> list[tuple[int, float]]: ...

    def has(self, token: str) -> bool: ...

    def vocabulary(self) -> list[str]: ...

    def known(self, qtokens: list[str]) -> list[str]: ...

    def doc_freq(self, token: str) -> int: ...

    def idf(self, token: str) -> float: ...

    def vectors(self, rows: list[int] | None = None) -> np.ndarray: ...


class ManifestFacts:
    """What both stores read off their manifest and chunk list (a mixin)."""

    manifest: dict
    chunks: list[Chunk]

    @property
    def encoder_id(self) -> str:
        return self.manifest["encoder"]["id"]

    @property
    def dim(self) -> int:
        return int(self.manifest["encoder"]["dim"])

    def __len__(self) -> int:
        return len(self.chunks)

    def idf(self, token: str) -> float:
        """BM25's inverse document frequency of ``token`` over the chunks (``doc_freq``
        is the store's)."""
        n = max(len(self), 1)
        df = self.doc_freq(token)  # type: ignore[attr-defined]
        return math.log(1.0 + (n - df + 0.5) / (df + 0.5))


@dataclass(frozen=True)
class StoreSpec:
    """Where a build writes: ``kind`` files or milvus; for milvus the URI, the
    collection name (an alias that follows the live generation) and the token (never
    written anywhere)."""

    kind: str = "files"
    uri: str = ""
    collection: str = ""
    token: str = ""

    def same_place(self, manifest: dict | None) -> bool:
        """Whether ``manifest``'s index lives where this spec writes.

        >>> StoreSpec().same_place({})
        True
        >>> StoreSpec("milvus", "/a/m.db", "c").same_place({})
        False
        """
        entry = (manifest or {}).get("store") or {"kind": "files"}
        if self.kind != entry.get("kind"):
            return False
        return self.kind == "files" or (
            self.uri == entry.get("uri") and self.collection == entry.get("alias")
        )


_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,199}")


def default_collection(index_dir: str | Path) -> str:
    """The Milvus collection name of an index folder: ``rag_<folder>_<hash of path>``.

    >>> default_collection("/tmp/新闻 index")[:-6], len(default_collection("/tmp/x"))
    ('rag____index_', 12)
    """
    p = Path(index_dir).resolve()
    name = re.sub(r"[^0-9A-Za-z_]", "_", p.name)[:40]
    return f"rag_{name}_{hashlib.sha1(str(p).encode('utf-8', 'surrogatepass')).hexdigest()[:6]}"


def normalize_uri(uri: str) -> str:
    """A server URI as given; a milvus-lite path made absolute (the manifest must find
    it from any working directory).

    >>> normalize_uri("http://milvus:19530")
    'http://milvus:19530'
    >>> normalize_uri("/data/m.db")
    '/data/m.db'
    """
    uri = uri.strip()
    if re.match(r"^(https?|tcp|grpc|unix)://|^unix:", uri):
        return uri
    if not uri.endswith(".db"):
        raise InputError(
            f"milvus URI {uri!r} is neither a server (http://host:19530) nor a "
            "milvus-lite file path ending in .db"
        )
    return str(Path(uri).expanduser().resolve())


def spec_for(settings, manifest: dict | None) -> StoreSpec | None:
    """The store a build with ``settings`` writes to, given the live ``manifest``: the
    one asked for, else the index's own (None: files, or what the manifest says)."""
    own = (manifest or {}).get("store") or {}
    kind = settings.store or ("milvus" if settings.milvus_uri else own.get("kind", "files"))
    if kind == "files":
        return StoreSpec() if settings.store else None
    uri = settings.milvus_uri or (own.get("uri", "") if own.get("kind") == "milvus" else "")
    if not uri:
        raise InputError("--store milvus needs --milvus-uri URI (or RAG_MILVUS_URI)")
    name = settings.milvus_collection or (
        own.get("alias", "") if own.get("kind") == "milvus" else ""
    )
    name = name or default_collection(settings.index_dir)
    if not _NAME.fullmatch(name):
        raise InputError(
            f"milvus collection name {name!r} must be letters, digits and underscores, "
            "not starting with a digit"
        )
    return StoreSpec("milvus", normalize_uri(uri), name, settings.milvus_token)
