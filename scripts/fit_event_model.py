"""A learned pair score for events (the experiment of docs/BENCHMARKS.md, "Wire copies
and events"): logistic regression over features of two reports, fitted on the ``tune``
pairs of ``tests/data/news_event_pairs.jsonl`` only, its L2 strength, link threshold
and linkage (single or average) chosen by cross-validation on tune (5 folds, 3
repeats, each held-out fold scored on the grouping of every article of the index),
then scored once on ``test`` beside the shipped rule (``rag/events.py``). The rule is
cross-validated in the same folds too (its threshold and contrast chosen on the
fitting folds), for a like-for-like figure on tune.

    python scripts/fit_event_model.py --index DIR [--pairs FILE] [--seed N] [--trust 60]

Features of a pair (``FEATURES``): lead-vector cosine and its margin over the nearest
article outside the window, the same for mean vectors, the day gap, TF-IDF cosine of
the titles' and the leads' character bigrams (IDF over the index), and the titles'
bigram Jaccard. Candidates: pairs at most 7 days apart with lead cosine >= ``FLOOR``.
Pure numpy; not shipped (it did not beat the rule beyond noise), kept to reproduce the
figures. ``--trust N`` prints N random pairs the fitted model links, to read.
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import random
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from bench_events import _prf, labels, read_pairs, scores, stories

from rag.errors import InputError
from rag.events import (
    CONTRAST,
    THRESHOLD,
    WINDOW_DAYS,
    _nearest_outside,
    _ordinal,
    article_vectors,
    cluster,
    lead_vectors,
)
from rag.types import Article

FEATURES = (
    "lead_cos",
    "lead_margin",
    "mean_cos",
    "mean_margin",
    "days",
    "title_tfidf",
    "lead_tfidf",
    "title_jaccard",
)
FLOOR = 0.85  # candidate pairs: lead cosine at least this (no labelled positive is below)
LEAD_CHARS = 120


def bigrams(text: str) -> list[str]:
    """The character bigrams of ``text`` without whitespace.

    >>> bigrams("中 国人")
    ['中国', '国人']
    """
    s = "".join(text.split())
    return [s[k : k + 2] for k in range(len(s) - 1)]


def tfidf_rows(texts: Sequence[str]) -> list[dict[str, float]]:
    """Each text's bigrams weighted by count times ``log(N / df)`` over ``texts``, L2
    normalised (a bigram in every text weighs nothing).

    >>> [sorted((k, round(v, 3)) for k, v in r.items()) for r in tfidf_rows(["甲乙", "甲乙丙", "丁"])]
    [[('甲乙', 1.0)], [('乙丙', 0.938), ('甲乙', 0.346)], []]
    """
    grams = [collections.Counter(bigrams(t)) for t in texts]
    df = collections.Counter(g for c in grams for g in c)
    n = len(texts)
    out = []
    for c in grams:
        w = {g: k * math.log(n / df[g]) for g, k in c.items()}
        norm = math.sqrt(sum(v * v for v in w.values()))
        out.append({g: v / norm for g, v in w.items() if v > 0} if norm > 0 else {})
    return out


def _dot(a: dict[str, float], b: dict[str, float]) -> float:
    if len(a) > len(b):
        a, b = b, a
    return sum(v * b.get(g, 0.0) for g, v in a.items())


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 0.0


@dataclass(frozen=True)
class PairContext:
    """What the pair features need of a set of articles: day numbers (None undated),
    lead and mean vectors, each one's nearest cosine outside the window, and the TF-IDF
    bigrams of titles and leads."""

    days: list[int | None]
    lead: np.ndarray
    mean: np.ndarray
    near_lead: np.ndarray
    near_mean: np.ndarray
    titles: list[dict[str, float]]
    leads: list[dict[str, float]]
    title_sets: list[set[str]]


def context(
    articles: Sequence[Article], lead: np.ndarray, mean: np.ndarray, window_days: int = WINDOW_DAYS
) -> PairContext:
    """The pair context of ``articles`` (row i of ``lead``/``mean`` for ``articles[i]``)."""
    days = [_ordinal(a.date) for a in articles]
    lead = np.asarray(lead, dtype=np.float32)
    mean = np.asarray(mean, dtype=np.float32)
    near_lead = np.zeros(len(articles), dtype=np.float32)
    near_mean = np.zeros(len(articles), dtype=np.float32)
    dated = np.array([i for i, d in enumerate(days) if d is not None], dtype=np.int64)
    if len(dated):
        day = np.array([days[i] for i in dated], dtype=np.int64)
        near_lead[dated] = _nearest_outside(lead[dated], day, window_days)
        near_mean[dated] = _nearest_outside(mean[dated], day, window_days)
    return PairContext(
        days,
        lead,
        mean,
        near_lead,
        near_mean,
        tfidf_rows([a.title for a in articles]),
        tfidf_rows([a.text[:LEAD_CHARS] for a in articles]),
        [set(bigrams(a.title)) for a in articles],
    )


def pair_features(ctx: PairContext, i: Sequence[int], j: Sequence[int]) -> np.ndarray:
    """One row of ``FEATURES`` per pair ``(i[k], j[k])`` of dated articles.

    >>> arts = [Article("a", "甲乙丙", "x", date="2023-05-01"), Article("b", "甲乙", "y", date="2023-05-03")]
    >>> v = np.array([[1.0, 0], [0.6, 0.8]], dtype=np.float32)
    >>> pair_features(context(arts, v, v), [0], [1]).round(3).tolist()
    [[0.6, 0.6, 0.6, 0.6, 2.0, 0.0, 0.0, 0.5]]
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    lead_cos = np.einsum("ij,ij->i", ctx.lead[i], ctx.lead[j])
    mean_cos = np.einsum("ij,ij->i", ctx.mean[i], ctx.mean[j])
    out = np.empty((len(i), len(FEATURES)), dtype=np.float64)
    out[:, 0] = lead_cos
    out[:, 1] = lead_cos - np.maximum(ctx.near_lead[i], ctx.near_lead[j])
    out[:, 2] = mean_cos
    out[:, 3] = mean_cos - np.maximum(ctx.near_mean[i], ctx.near_mean[j])
    for k, (a, b) in enumerate(zip(i.tolist(), j.tolist(), strict=True)):
        out[k, 4] = abs(ctx.days[a] - ctx.days[b])
        out[k, 5] = _dot(ctx.titles[a], ctx.titles[b])
        out[k, 6] = _dot(ctx.leads[a], ctx.leads[b])
        out[k, 7] = _jaccard(ctx.title_sets[a], ctx.title_sets[b])
    return out


def candidates(
    ctx: PairContext, window_days: int = WINDOW_DAYS, floor: float = FLOOR
) -> tuple[np.ndarray, np.ndarray]:
    """Pairs ``(i, j)`` of dated articles at most ``window_days`` apart whose lead
    cosine is at least ``floor`` (each pair once, ``i`` dated no later than ``j``).

    >>> arts = [Article("a", "", "", date="2023-05-01"), Article("b", "", "", date="2023-05-03"),
    ...         Article("c", "", "", date="2023-05-30"), Article("d", "", "")]
    >>> v = np.array([[1.0, 0], [0.99, 0.14], [1.0, 0], [1.0, 0]], dtype=np.float32)
    >>> [x.tolist() for x in candidates(context(arts, v, v), 7, 0.9)]
    [[0], [1]]
    """
    dated = np.array([k for k, d in enumerate(ctx.days) if d is not None], dtype=np.int64)
    if len(dated) < 2:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    order = dated[np.argsort([ctx.days[k] for k in dated], kind="stable")]
    day = np.array([ctx.days[k] for k in order], dtype=np.int64)
    vec = ctx.lead[order]
    left, right = [], []
    s = 0
    while s < len(order):
        e = int(np.searchsorted(day, day[s], side="right"))  # same-day block [s, e)
        end = int(np.searchsorted(day, day[s] + window_days, side="right"))
        sims = vec[s:e] @ vec[s:end].T
        a, b = np.nonzero(sims >= floor)
        keep = b > a  # later rows only (within the block: each pair once)
        left.append(order[s + a[keep]])
        right.append(order[s + b[keep]])
        s = e
    return np.concatenate(left), np.concatenate(right)


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> tuple[np.ndarray, ...]:
    """L2-regularised logistic regression on standardised features by Newton's method
    (deterministic): ``(mean, scale, coef, bias)``; the bias is not penalised.

    >>> mu, sd, w, b = fit_logistic(np.array([[0.0], [1.0], [2.0], [3.0]]), np.array([0, 0, 1, 1]), 1.0)
    >>> mu.tolist(), round(float(w[0]), 3), round(float(b), 3)
    ([1.5], 0.944, 0.0)
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    mu, sd = x.mean(axis=0), x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    z = np.c_[(x - mu) / sd, np.ones(len(x))]
    beta = np.zeros(z.shape[1])
    reg = l2 * np.eye(z.shape[1])
    reg[-1, -1] = 0.0
    for _ in range(100):
        p = 1.0 / (1.0 + np.exp(-(z @ beta)))
        grad = z.T @ (p - y) + reg @ beta
        hess = (z * (p * (1 - p))[:, None]).T @ z + reg + 1e-9 * np.eye(len(beta))
        step = np.linalg.solve(hess, grad)
        beta -= step
        if np.abs(step).max() < 1e-10:
            break
    return mu, sd, beta[:-1], beta[-1]


def link(
    n: int,
    i: np.ndarray,
    j: np.ndarray,
    prob: np.ndarray,
    threshold: float,
    linkage: str = "average",
) -> np.ndarray:
    """Each of ``n`` items' group label (the group's least item) from scored pairs:
    pairs are taken from the most to the least probable down to ``threshold``; two
    groups merge when their pair does (``single``) or when the mean probability over
    all their cross pairs, unscored ones counting 0, reaches ``threshold``
    (``average``), so a chain of look-alikes does not make one group.

    >>> i, j, p = np.array([0, 1, 0]), np.array([1, 2, 2]), np.array([0.9, 0.8, 0.1])
    >>> link(4, i, j, p, 0.5, "single").tolist(), link(4, i, j, p, 0.5, "average").tolist()
    ([0, 0, 0, 3], [0, 0, 2, 3])
    """
    label = list(range(n))
    members: dict[int, list[int]] = {k: [k] for k in range(n)}
    weight = {}
    for a, b, p in zip(i.tolist(), j.tolist(), prob.tolist(), strict=True):
        if p >= threshold:
            weight[(a, b)] = weight[(b, a)] = p
    for k in np.argsort(-np.asarray(prob), kind="stable"):
        if prob[k] < threshold:
            break
        a, b = label[int(i[k])], label[int(j[k])]
        if a == b:
            continue
        if linkage != "single":
            cross = [weight.get((x, z), 0.0) for x in members[a] for z in members[b]]
            if sum(cross) / len(cross) < threshold:
                continue
        a, b = min(a, b), max(a, b)
        for x in members[b]:
            label[x] = a
        members[a] += members.pop(b)
    return np.array(label, dtype=np.int64)


L2S = (0.01, 0.1, 1.0, 10.0)
THRESHOLDS = tuple(round(0.1 + 0.05 * k, 2) for k in range(11))  # 0.1 .. 0.6
LINKAGES = ("single", "average")
FOLDS, REPEATS = 5, 3
RULE_THRESHOLDS = (0.9, 0.92, 0.93, 0.94, 0.95, 0.96)
RULE_CONTRASTS = (None, 0.0, 0.0025, 0.005, 0.01, 0.02)


def fit_and_score(
    articles: Sequence[Article],
    lead: np.ndarray,
    mean: np.ndarray,
    pairs_file: str | Path,
    *,
    copies: dict[str, str] | None = None,
    seed: int = 0,
    window_days: int = WINDOW_DAYS,
    l2s: Sequence[float] = L2S,
    thresholds: Sequence[float] = THRESHOLDS,
    linkages: Sequence[str] = LINKAGES,
) -> dict:
    """Fit the pair model on the ``tune`` pairs of ``pairs_file`` over ``articles``
    (an index's, with their lead and mean vectors), choosing the L2 strength, the link
    threshold and the linkage by cross-validation on tune (``FOLDS`` folds, repeated
    ``REPEATS`` times, each held-out fold scored on the grouping of all articles);
    then score it once on ``test``; returns the choice, the scores and each kept
    article's group under the fitted model. Wire
    ``copies`` (``{copy id: canonical id}``) are left out and take their original's
    group, as at build."""
    copies = copies or {}
    ids = [a.id for a in articles]
    pairs, same, split, missing = read_pairs(pairs_file, ids)
    tune, test = split == "tune", split == "test"
    if tune.sum() < 2 * FOLDS or not same[tune].any() or same[tune].all():
        raise InputError(
            f"{pairs_file}: {int(tune.sum())} tune pairs over this index "
            f"({missing} name items not in it); need both kinds, at least {2 * FOLDS}"
        )
    keep, pos = stories(ids, copies)
    kept = [articles[k] for k in keep]
    ctx = context(kept, np.asarray(lead)[keep], np.asarray(mean)[keep], window_days)
    ci, cj = candidates(ctx, window_days)
    xc = pair_features(ctx, ci, cj)
    p = pos[pairs]
    xl = pair_features(ctx, p[:, 0], p[:, 1])

    def grouped(model_bits, threshold: float, linkage: str) -> np.ndarray:
        mu, sd, w, b = model_bits
        prob = 1.0 / (1.0 + np.exp(-(((xc - mu) / sd) @ w + b)))
        return link(len(kept), ci, cj, prob, threshold, linkage)

    # cross-validation on tune: counts pooled over folds and repeats
    grid = [(l2, t, k) for l2 in l2s for t in thresholds for k in linkages]
    counts = {g: np.zeros(3, dtype=np.int64) for g in grid}
    tune_rows = np.nonzero(tune)[0]
    # the rule in the same folds: its threshold and contrast chosen on the fitting folds
    rules = {
        (t, c): labels(kept, cluster(kept, ctx.lead, t, window_days, c))
        for t in RULE_THRESHOLDS
        for c in RULE_CONTRASTS
    }
    rule_cv = np.zeros(3, dtype=np.int64)
    for r in range(REPEATS):
        rng = random.Random(f"{seed}:{r}")
        fold = np.array([rng.randrange(FOLDS) for _ in tune_rows])
        for f in range(FOLDS):
            fit_on, held = tune_rows[fold != f], tune_rows[fold == f]
            if not same[fit_on].any() or same[fit_on].all():
                continue
            best = max(rules, key=lambda g: scores(rules[g], p[fit_on], same[fit_on])["f1"])
            s = scores(rules[best], p[held], same[held])
            rule_cv += (s["tp"], s["fp"], s["fn"])
            for l2 in l2s:
                bits = fit_logistic(xl[fit_on], same[fit_on], l2)
                for t in thresholds:
                    for k in linkages:
                        s = scores(grouped(bits, t, k), p[held], same[held])
                        counts[(l2, t, k)] += (s["tp"], s["fp"], s["fn"])
    n_tune, pos_tune = int(tune.sum()), int(same[tune].sum())
    # (counts summed over the repeats: each tune pair is held out once per repeat)
    cv = {g: _prf(n_tune * REPEATS, pos_tune * REPEATS, *map(int, c)) for g, c in counts.items()}
    l2, threshold, linkage = max(grid, key=lambda g: cv[g]["f1"])  # first best in grid order
    bits = fit_logistic(xl[tune], same[tune], l2)
    label = grouped(bits, threshold, linkage)
    rule = labels(kept, cluster(kept, ctx.lead, THRESHOLD, window_days, CONTRAST))
    again = max(rules, key=lambda g: scores(rules[g], p[tune], same[tune])["f1"])
    rechosen = rules[again]
    gaps = {
        "learned - rule": f1_gap(label, rule, p[test], same[test], seed),
        "learned - rule re-chosen": f1_gap(label, rechosen, p[test], same[test], seed),
        "rule re-chosen - rule": f1_gap(rechosen, rule, p[test], same[test], seed),
    }
    meta = {
        "pairs_file": Path(pairs_file).name,
        "pairs_missing": missing,
        "articles": len(articles),
        "window_days": window_days,
        "floor": FLOOR,
        "l2": l2,
        "seed": seed,
        "cv": f"{FOLDS}-fold x {REPEATS} on tune",
        "scores": {
            "tune_cv": cv[(l2, threshold, linkage)],
            "tune_fit": scores(label, p[tune], same[tune]),
            "test": scores(label, p[test], same[test]),
            "rule_tune_cv": _prf(n_tune * REPEATS, pos_tune * REPEATS, *map(int, rule_cv)),
            "rule_tune": scores(rule, p[tune], same[tune]),
            "rule_test": scores(rule, p[test], same[test]),
        },
        "rule": {"threshold": THRESHOLD, "contrast": CONTRAST},
        "rule_rechosen": {
            "threshold": again[0],
            "contrast": again[1],
            "tune": scores(rechosen, p[tune], same[tune]),
            "test": scores(rechosen, p[test], same[test]),
        },
        "test_f1_gaps": gaps,
    }
    return {
        **meta,
        "threshold": threshold,
        "linkage": linkage,
        "coef": dict(zip(FEATURES, np.round(bits[2], 3).tolist(), strict=True)),
        "_label": label,
        "_kept": kept,
    }


def f1_gap(
    a: np.ndarray, b: np.ndarray, pairs: np.ndarray, same: np.ndarray, seed: int, n: int = 5000
) -> dict:
    """Groupings ``a`` minus ``b`` in pairwise F1 on ``pairs``: the difference, its 95 %
    bootstrap interval over pairs and the share of resamples where ``a`` is no better.

    >>> g = f1_gap(np.array([0, 0, 2, 2]), np.array([0, 1, 2, 3]), np.array([[0, 1], [2, 3]]),
    ...            np.array([True, False]), 0, 200)
    >>> g["f1"], g["interval"][0] <= g["f1"] <= g["interval"][1]
    (0.667, True)
    """
    pa = a[pairs[:, 0]] == a[pairs[:, 1]]
    pb = b[pairs[:, 0]] == b[pairs[:, 1]]

    def f1(pred: np.ndarray, y: np.ndarray) -> float:
        tp = int((pred & y).sum())
        return 2 * tp / (2 * tp + int((pred & ~y).sum()) + int((~pred & y).sum())) if tp else 0.0

    rng = np.random.default_rng(seed)
    d = []
    for _ in range(n):
        s = rng.integers(0, len(same), len(same))
        d.append(f1(pa[s], same[s]) - f1(pb[s], same[s]))
    d = np.array(d)
    return {
        "f1": round(f1(pa, same) - f1(pb, same), 3),
        "interval": [round(float(x), 3) for x in np.percentile(d, [2.5, 97.5])],
        "no_better": round(float((d <= 0).mean()), 3),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--index", required=True)
    ap.add_argument("--pairs", default="tests/data/news_event_pairs.jsonl")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--trust", type=int, default=0, metavar="N", help="print N linked pairs")
    args = ap.parse_args(argv)
    from rag.index import Index

    index = Index.open(args.index)
    arts = list(index.articles.values())
    ids = [a.id for a in arts]
    vecs = np.asarray(index.vectors(), dtype=np.float16).astype(np.float32)  # as stored
    out = fit_and_score(
        arts,
        lead_vectors(ids, index.chunks, vecs),
        article_vectors(ids, index.chunks, vecs),
        args.pairs,
        copies=index.groups.copies,
        seed=args.seed,
    )
    label, kept = out.pop("_label"), out.pop("_kept")
    sizes = collections.Counter(collections.Counter(label.tolist()).values())
    out["events"] = sum(n for k, n in sizes.items() if k > 1)
    out["articles_in_events"] = sum(k * n for k, n in sizes.items() if k > 1)
    print(json.dumps(out, ensure_ascii=False, indent=1))
    if args.trust:
        groups = collections.defaultdict(list)
        for k, g in enumerate(label.tolist()):
            groups[g].append(k)
        linked = [(a, b) for g in groups.values() for n, a in enumerate(g) for b in g[n + 1 :]]
        print(f"{len(linked)} linked pairs; {min(args.trust, len(linked))} at random:")
        for a, b in random.Random(args.seed).sample(linked, min(args.trust, len(linked))):
            x, y = sorted((kept[a], kept[b]), key=lambda r: (r.date, r.id))
            print(f"{x.date} {x.title[:40]} || {y.date} {y.title[:40]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
