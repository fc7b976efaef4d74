"""A real ``rag`` build in its own process that can stop at a chosen moment, so a test
can kill it there (SIGKILL) or run a second build beside it.

    python -m tests.helpers_build CORPUS INDEX MARKERS STAGE

runs ``rag.pipeline.build(CORPUS)`` into INDEX with the fake encoder ``tests.fake_encoder:hash64``.
On reaching STAGE it writes the file ``MARKERS/STAGE`` and waits until ``MARKERS/go``
exists (a test that kills it never creates that file). Stages, in the order a build
meets them:

- ``embedding``: inside the encoder, before any file is written
- ``writing``: the new ``gen-*`` folder holds ``articles.jsonl`` only
- ``bm25``: every data file is written, ``manifest.json`` is not
- ``before-swap``: the generation is complete, ``CURRENT`` still names the old one
- ``tmp-written``: ``CURRENT.tmp-<pid>`` is written, not yet renamed over ``CURRENT``
- ``after-swap``: ``CURRENT`` names the new generation, the old one is not removed yet
- ``none``: no stop

The hooks wrap the index module's public steps (``write_jsonl``, ``save_bm25``,
``swap_current``, ``remove_stale_generations``) from outside; the product has no
test-only code paths.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from tests.fake_encoder import HashEncoder

STAGES = (
    "embedding",
    "writing",
    "bm25",
    "before-swap",
    "tmp-written",
    "after-swap",
    "none",
)


class PausingEncoder(HashEncoder):
    """``tests.fake_encoder:hash64`` (same id, same vectors) that stops at its first passage batch."""

    def __init__(self, pause) -> None:
        super().__init__(64)
        self._pause = pause

    def encode(self, texts, *, query=False):
        if not query:
            self._pause("embedding")
        return super().encode(texts, query=query)


def main(argv: list[str]) -> int:
    corpus, index, markers, stage = argv
    if stage not in STAGES:
        raise SystemExit(f"stage must be one of {', '.join(STAGES)}")
    markers_dir = Path(markers)
    markers_dir.mkdir(parents=True, exist_ok=True)

    def pause(at: str) -> None:
        if at != stage:
            return
        (markers_dir / at).write_text(str(os.getpid()), encoding="utf-8")
        deadline = time.monotonic() + 120
        while not (markers_dir / "go").exists():
            if time.monotonic() > deadline:
                raise SystemExit(f"helper: nobody said go at {at}")
            time.sleep(0.02)

    import rag.index as ix

    write_jsonl, save_bm25, swap_current, remove_stale = (
        ix.write_jsonl,
        ix.save_bm25,
        ix.swap_current,
        ix.remove_stale_generations,
    )

    def pausing_write_jsonl(p, rows):
        write_jsonl(p, rows)
        if Path(p).name == "articles.jsonl":
            pause("writing")

    def pausing_save_bm25(target, toks):
        save_bm25(target, toks)
        pause("bm25")

    def pausing_swap_current(path, gen_name):
        pause("before-swap")
        swap_current(path, gen_name)

    calls = {"remove": 0}

    def pausing_remove_stale_generations(path):
        calls["remove"] += 1
        if calls["remove"] == 2:  # the second call comes right after the swap
            pause("after-swap")
        remove_stale(path)

    class _Os:
        """``os`` for the index module, with a stop between writing and renaming
        ``CURRENT.tmp-*``."""

        def __getattr__(self, name):
            return getattr(os, name)

        @staticmethod
        def replace(src, dst):
            if Path(dst).name == "CURRENT":
                pause("tmp-written")
            os.replace(src, dst)

    ix.write_jsonl = pausing_write_jsonl
    ix.save_bm25 = pausing_save_bm25
    ix.swap_current = pausing_swap_current
    ix.remove_stale_generations = pausing_remove_stale_generations
    ix.os = _Os()

    from rag.config import Settings
    from rag.pipeline import build

    report, problems = build(
        [corpus], Settings.from_env(index_dir=index), progress=False, encoder=PausingEncoder(pause)
    )
    print(report.summary())
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
