"""Scores of a ``rag eval squad … --details`` run of a news question set, split by the
set's own ``lang`` and ``kind`` fields (the report splits by the pipeline's question
type only).

    python scripts/news_qa_breakdown.py reports/eval-squad-news_qa-details.jsonl [--qa tests/data/news_qa.jsonl]

Prints one markdown table per run (open-domain, gold removed) and field.
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("details")
    ap.add_argument("--qa", default="tests/data/news_qa.jsonl")
    args = ap.parse_args()
    with open(args.qa, encoding="utf-8") as f:
        qa = {r["id"]: r for r in map(json.loads, filter(str.strip, f))}
    with open(args.details, encoding="utf-8") as f:
        rows = [json.loads(x) for x in f if x.strip()]
    for run in ("normal", "removed"):
        done = [r for r in rows if r["run"] == run]
        if not done:
            continue
        for field in ("lang", "kind"):
            groups = defaultdict(list)
            for r in done:
                groups[qa[r["id"]][field]].append(r)
            print(f"\n{run}, by {field}:\n")
            print(f"| {field} | n | R@1 | hit | EM | F1 | refused |\n|---|---|---|---|---|---|---|")
            for key, g in sorted(groups.items(), key=lambda kv: -len(kv[1])):
                n = len(g)
                print(
                    f"| {key} | {n} | {sum(r['rank'] == 1 for r in g) / n:.3f} "
                    f"| {sum(r['hit'] for r in g) / n:.3f} | {100 * sum(r['em'] for r in g) / n:.1f} "
                    f"| {100 * sum(r['f1'] for r in g) / n:.1f} "
                    f"| {sum(r['refused'] for r in g) / n:.3f} |"
                )


if __name__ == "__main__":
    main()
