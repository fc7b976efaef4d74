"""Time the shipped reader on 15 CMRC questions (3 passages of 240 characters each),
with torch's threads and OpenMP's wait policy as the environment sets them.

    OMP_WAIT_POLICY=PASSIVE python scripts/reader_threads.py 2   # rag's default policy
    OMP_WAIT_POLICY= python scripts/reader_threads.py 2          # libgomp's own default

Prints the torch threads, the median wall milliseconds per question and the median
CPU milliseconds (all threads). ``OMP_WAIT_POLICY`` must be given before Python starts:
``import rag`` sets PASSIVE when it is unset, and libgomp reads it once, when it loads.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CMRC = ROOT.parent / "shared/data/cmrc2018/cmrc2018_trial.json"


def main() -> None:
    import torch

    if len(sys.argv) > 1:
        torch.set_num_threads(int(sys.argv[1]))
    from rag.reader.infer import Reader
    from rag.reader.weights import resolve

    reader = Reader.load(resolve("shipped"))
    data = json.loads(CMRC.read_text(encoding="utf-8"))
    items = [
        (p["qas"][0]["question"], p["context"])
        for a in data["data"]
        for p in a["paragraphs"]
        if p["qas"]
    ]
    contexts = [c[:240] for _, c in items]
    reader.read(items[0][0], contexts[:3])  # warm up
    wall, cpu = [], []
    for i, (q, _) in enumerate(items[:15]):
        t, c = time.perf_counter(), time.process_time()
        reader.read(q, contexts[i : i + 3])
        wall.append((time.perf_counter() - t) * 1000)
        cpu.append((time.process_time() - c) * 1000)
    print(
        f"torch threads {torch.get_num_threads()}: p50 {statistics.median(wall):.0f} ms, "
        f"CPU p50 {statistics.median(cpu):.0f} ms"
    )


if __name__ == "__main__":
    main()
