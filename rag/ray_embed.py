"""Ray embedding: a build's chunks embedded by encoder actors on a Ray cluster.

``RayEmbedder`` is an ``Embedder`` (``rag.index.build(..., embedder=...)``): given the
chunks a build has to embed, it returns their vectors, row for row, like the local
``rag.index._embed``. It puts ``{"row", "text"}`` items in a Ray Dataset
(``ray.data.from_items``) and runs ``map_batches`` with ``EmbedBatch``, a callable class
that rebuilds the encoder once per actor from its spec (``rag.embed.load_encoder``,
the encoder's ``id``), on an actor pool of ``workers`` actors of one CPU each. Results
come back in whatever order the actors finish and are put in place by their ``row``.

Everything else stays where it is: which articles are new or changed, chunking (cheap,
and the build needs the chunks on the driver for ``chunks.jsonl`` and the keyword
postings anyway), keyword tokens, manifests and the atomic swap, in either store.

``address``: ``"local"`` starts a Ray on this machine (``ray.init(num_cpus=...)``) and
shuts it down after the build; anything else is passed to ``ray.init(address=...)``
(``host:6379`` of ``ray start --head``, ``ray://host:10001``, or ``auto``). Ray starts
only when there is something to embed. A plugin encoder's module, and rag itself, are
put on the workers' ``PYTHONPATH`` for a local Ray and shipped as ``py_modules`` to a
remote one. Ray is an optional extra (``pip install 'rag[ray]'``); without it, or
with a cluster that cannot be reached, the build stops with a ``ClusterError`` before
anything stored is changed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import socket
import sys
from pathlib import Path

import numpy as np

from .chunk import embed_text
from .embed import Encoder
from .errors import ClusterError
from .types import Chunk

CONNECT_TIMEOUT_S = 5.0  # how long reaching a cluster's head may take before it is an error
INSTALL_HINT = "pip install 'rag[ray]'"


def _import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ClusterError(f"--ray needs the ray package: {INSTALL_HINT}") from None
    return ray


def head_of(address: str) -> tuple[str, int] | None:
    """The host and port a Ray address names, for a reachability check (None for
    ``auto``, which Ray resolves itself).

    >>> head_of("10.0.0.5:6379"), head_of("ray://head:10001"), head_of("auto")
    (('10.0.0.5', 6379), ('head', 10001), None)
    """
    m = re.fullmatch(r"(?:ray://)?\[?([^\]/]+?)\]?:(\d{1,5})/?", address.strip())
    return (m.group(1), int(m.group(2))) if m else None


def _one_line(e: BaseException) -> str:
    """The last line of an exception's message (a Ray error ends with its cause).

    >>> _one_line(ValueError("Traceback...\\n  File x\\nEncoderError: no such model"))
    'EncoderError: no such model'
    """
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    return (lines[-1] if lines else type(e).__name__)[:300]


def _import_root(module_name: str) -> Path | None:
    """The folder that must be on ``sys.path`` for ``module_name`` to import."""
    top = sys.modules.get(module_name.split(".")[0])
    file = getattr(top, "__file__", None)
    if not file:
        return None
    p = Path(file).resolve()
    return p.parent.parent if p.name == "__init__.py" else p.parent


class EmbedBatch:
    """The ``map_batches`` callable class: one encoder per actor, loaded in
    ``__init__`` from the class's ``spec`` (``for_spec`` makes a subclass per spec, so
    the actor takes no arguments); each batch's ``text`` column in, a ``vec`` column
    out, ``row`` carried through."""

    spec = ""

    @classmethod
    def for_spec(cls, spec: str) -> type[EmbedBatch]:
        return type(cls.__name__, (cls,), {"spec": spec})

    def __init__(self) -> None:
        from .embed import load_encoder

        self.encoder = load_encoder(self.spec)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        vecs = self.encoder.encode([str(t) for t in batch["text"]])
        return {"row": batch["row"], "vec": np.asarray(vecs, dtype=np.float32)}


class RayEmbedder:
    """Embeds chunks on a Ray cluster (see the module docstring); ``close()`` shuts
    down a Ray it started. Usable as a context manager."""

    def __init__(self, address: str = "local", workers: int = 0) -> None:
        self.address = address or "local"
        self.workers = workers
        self._started = False
        # fail before the build starts: ray missing, or a head that does not answer
        _import_ray()
        if not self.local:
            self._probe()

    def __enter__(self) -> RayEmbedder:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def local(self) -> bool:
        return self.address == "local"

    def _probe(self) -> None:
        """ray.init retries a head that does not answer for minutes: ask its socket."""
        head = head_of(self.address)
        if head is None:
            return
        try:
            socket.create_connection(head, timeout=CONNECT_TIMEOUT_S).close()
        except OSError as e:
            raise ClusterError(
                f"cannot reach the Ray cluster at {self.address}: {e.strerror or e}"
            ) from None

    def _connect(self, encoder: Encoder):
        ray = _import_ray()
        if ray.is_initialized():
            return ray  # a Ray this process already joined (tests, notebooks)
        quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
        if self.local:
            try:
                ray.init(
                    num_cpus=self.workers or os.cpu_count() or 1,
                    include_dashboard=False,
                    **quiet,
                )
            except Exception as e:
                raise ClusterError(f"cannot start a local Ray: {_one_line(e)}") from None
            self._started = True
            return ray
        try:
            ray.init(address=self.address, runtime_env=self._remote_env(encoder), **quiet)
        except Exception as e:
            raise ClusterError(
                f"cannot join the Ray cluster at {self.address}: {_one_line(e)}"
            ) from None
        return ray

    def _roots(self, encoder: Encoder) -> list[Path]:
        """Folders the workers need on their path: rag's, and a plugin encoder's."""
        roots = [Path(__file__).resolve().parent.parent]
        if ":" in encoder.id and not encoder.id.startswith("st:"):
            root = _import_root(encoder.id.partition(":")[0])
            if root is not None and root not in roots:
                roots.append(root)
        return roots

    def _local_env(self, encoder: Encoder) -> dict:
        paths = [str(p) for p in self._roots(encoder)]
        if os.environ.get("PYTHONPATH"):
            paths.append(os.environ["PYTHONPATH"])
        return {"env_vars": {"PYTHONPATH": os.pathsep.join(paths)}}

    def _remote_env(self, encoder: Encoder) -> dict:
        """Ship rag and a plugin encoder's top-level package to a remote cluster (its
        nodes need rag's dependencies installed)."""
        mods = [Path(__file__).resolve().parent]
        if ":" in encoder.id and not encoder.id.startswith("st:"):
            top = sys.modules.get(encoder.id.partition(":")[0].split(".")[0])
            file = getattr(top, "__file__", None)
            if file and Path(file).name == "__init__.py":
                mods.append(Path(file).resolve().parent)
        return {"py_modules": [str(m) for m in mods]}

    def __call__(
        self, encoder: Encoder, chunks: list[Chunk], batch_size: int, progress=False
    ) -> np.ndarray:
        texts = [embed_text(c) for c in chunks]
        if not texts:
            return np.zeros((0, encoder.dim), dtype=np.float32)
        ray = self._connect(encoder)
        ctx = ray.data.DataContext.get_current()
        ctx.enable_progress_bars = progress is True
        logging.getLogger("ray.data").setLevel(logging.ERROR)
        workers = self.workers or max(1, int(ray.cluster_resources().get("CPU", 1)))
        # enough blocks to keep every actor busy, not so many that scheduling dominates
        batches = -(-len(texts) // batch_size)
        blocks = min(len(texts), max(workers, min(batches, workers * 16)))
        ds = ray.data.from_items(
            [{"row": i, "text": t} for i, t in enumerate(texts)], override_num_blocks=blocks
        ).map_batches(
            EmbedBatch.for_spec(encoder.id),
            batch_size=batch_size,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=min(workers, blocks)),
            num_cpus=1,
            runtime_env=self._local_env(encoder) if self.local else None,
        )
        out = np.zeros((len(texts), encoder.dim), dtype=np.float32)
        seen = np.zeros(len(texts), dtype=bool)
        done = 0
        try:
            for batch in ds.iter_batches(batch_format="numpy", batch_size=None):
                rows = np.asarray(batch["row"], dtype=np.int64)
                if len(rows):
                    out[rows] = np.stack(list(batch["vec"]))
                seen[rows] = True
                done += len(rows)
                if callable(progress):
                    progress(min(done, len(texts)), len(texts))
        except Exception as e:  # a worker's failure arrives wrapped in Ray's tracebacks
            raise ClusterError(
                f"embedding on Ray ({self.address}) failed: {_one_line(e)}"
            ) from None
        if not seen.all():
            missing = int((~seen).sum())
            raise ClusterError(
                f"the Ray cluster at {self.address} returned no vector for {missing} chunks"
            )
        return out

    def close(self) -> None:
        if self._started:
            with contextlib.suppress(Exception):
                import ray

                ray.shutdown()
            self._started = False
