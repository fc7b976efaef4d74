"""The deterministic fake encoder the tests use: hashed character n-grams, no meaning.

Loaded like any plugin encoder, by a ``module:attr`` spec (``rag.embed.load_encoder``)::

    RAG_ENCODER=tests.fake_encoder:hash64 rag build ...

``hash<N>`` is an N-dimensional encoder (made on demand by this module's
``__getattr__``); ``HashEncoder`` alone is 256-dimensional. The encoder's ``id`` is its
spec, so an index built with it is reopened with it. The repository root must be
importable (run from it, or put it on ``PYTHONPATH``).
"""

from __future__ import annotations

import hashlib
import re

import numpy as np

from rag.text import fold

MODULE = "tests.fake_encoder"


def spec(dim: int = 256) -> str:
    """The ``load_encoder`` spec of the ``dim``-dimensional fake.

    >>> spec(64)
    'tests.fake_encoder:hash64'
    """
    return f"{MODULE}:hash{dim}"


class HashEncoder:
    """Deterministic fake: hashed character unigrams+bigrams. For tests only.

    >>> e = HashEncoder(dim=16)
    >>> bool((e.encode(["高新区"]) == e.encode(["高新区"])).all()), e.id
    (True, 'tests.fake_encoder:hash16')
    """

    description = "hashed character n-grams (test double, no meaning)"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim
        self.id = spec(dim)

    def encode(self, texts: list[str], *, query: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for row, t in enumerate(texts):
            s = "".join(ch for ch in fold(t) if ch.isalnum())
            grams = list(s) + [s[i : i + 2] for i in range(len(s) - 1)]
            for g in grams:
                h = int.from_bytes(hashlib.blake2b(g.encode(), digest_size=8).digest(), "little")
                out[row, h % self.dim] += 1.0 if (h >> 63) else -1.0
            if not grams:
                out[row, 0] = 1.0
        if len(texts):
            out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


def __getattr__(name: str):
    """``hash<N>``: a factory of the N-dimensional fake (what ``load_encoder`` calls)."""
    m = re.fullmatch(r"hash([1-9]\d*)", name)
    if m is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    dim = int(m.group(1))
    return lambda: HashEncoder(dim)
