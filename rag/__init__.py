"""rag: extractive question answering with cited sources over Chinese news articles.

    from rag import Pipeline
    answer = Pipeline.load("index").ask("珠海高新区5月落地了多少个重点项目？")
    print(answer.text, answer.short_answer)

Nothing heavy is imported here; models load on first use.
"""

from __future__ import annotations

from .config import Settings
from .errors import EncoderError, IndexBusyError, IndexFormatError, InputError, RagError
from .types import Answer, Article, Chunk, Hit, Quote, Source

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
