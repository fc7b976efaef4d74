"""The events benchmark scripts (scripts/bench_events.py, scripts/fit_event_model.py):
their pure helpers on tiny fixtures with exact values, their doctests, and the learned
pair score fitted and scored end to end on a tiny synthetic corpus."""

from __future__ import annotations

import datetime as dt
import doctest
import importlib
import json
from pathlib import Path

import numpy as np
import pytest

from rag.errors import InputError
from rag.types import Article

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"


@pytest.fixture
def bench(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    return importlib.import_module("bench_events")


@pytest.fixture
def fit(monkeypatch):
    monkeypatch.syspath_prepend(str(SCRIPTS))
    return importlib.import_module("fit_event_model")


def test_doctests_pass(bench, fit):
    for module in (bench, fit):
        assert doctest.testmod(module).failed == 0


def test_split_of_is_the_files_per_pair_rule(bench):
    pair = {"a": {"id": "xwlb_sample.jsonl#5"}, "b": {"id": "xwlb_sample.jsonl#9"}}
    assert bench.split_of(pair) == "test"
    assert bench.split_of({**pair, "split": "tune"}) == "tune"


def test_read_pairs_matches_ids_by_their_last_part(bench, tmp_path):
    f = tmp_path / "pairs.jsonl"
    rows = [
        {"a": {"id": "n.jsonl#1"}, "b": {"id": "n.jsonl#2"}, "same": True, "split": "tune"},
        {"a": {"id": "n.jsonl#2"}, "b": {"id": "n.jsonl#9"}, "same": False, "split": "test"},
        {"a": {"id": "n.jsonl#3"}, "b": {"id": "n.jsonl#1"}, "same": False, "split": "test"},
    ]
    f.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    pairs, same, split, missing = bench.read_pairs(f, ["/d/n.jsonl#1", "/d/n.jsonl#2", "n.jsonl#3"])
    assert pairs.tolist() == [[0, 1], [2, 0]]
    assert same.tolist() == [True, False] and split.tolist() == ["tune", "test"]
    assert missing == 1
    f.write_text('{"a": {"id": "x"}}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"pairs.jsonl:1: not a labelled pair"):
        bench.read_pairs(f, ["x"])


def test_scores_stories_and_labels(bench):
    arts = [Article(x, "", "") for x in "abcd"]
    lab = bench.labels(arts, {"a": "a", "c": "a"})
    assert lab.tolist() == [0, 1, 0, 3]
    keep, pos = bench.stories(["a", "b", "c", "d"], {"d": "b"})
    assert keep == [0, 1, 2] and pos.tolist() == [0, 1, 2, 1]
    pairs = np.array([[0, 2], [1, 3], [0, 1]])
    got = bench.scores(lab, pairs, np.array([True, True, False]))
    assert got == {
        "pairs": 3,
        "same": 2,
        "tp": 1,
        "fp": 0,
        "fn": 1,
        "precision": 1.0,
        "recall": 0.5,
        "f1": 0.667,
    }


def test_pair_features_on_a_tiny_fixture(fit):
    arts = [
        Article("a", "丫丫启程回国", "旅美大熊猫丫丫今天启程回国", date="2023-04-26"),
        Article("b", "丫丫抵达上海", "旅美大熊猫丫丫今天抵达上海", date="2023-04-27"),
        Article("c", "上海发布防汛预案", "上海市今天发布夏季防汛预案", date="2023-04-27"),
        Article("d", "丫丫回国一年", "丫丫回国一年后生活良好", date="2024-04-27"),
    ]
    lead = np.array([[1.0, 0.0], [0.96, 0.28], [0.0, 1.0], [0.8, 0.6]], dtype=np.float32)
    mean = np.array([[1.0, 0.0], [1.0, 0.0], [0.6, 0.8], [1.0, 0.0]], dtype=np.float32)
    ctx = fit.context(arts, lead, mean, 7)
    # nearest outside the window: d, a year later, for all three
    assert ctx.near_lead.astype(float).round(3).tolist() == [0.8, 0.936, 0.6, 0.936]
    x = fit.pair_features(ctx, [0, 1], [1, 2]).round(3)
    assert dict(zip(fit.FEATURES, x[0].tolist(), strict=True)) == {
        "lead_cos": 0.96,
        "lead_margin": 0.024,
        "mean_cos": 1.0,
        "mean_margin": 0.0,
        "days": 1.0,
        "title_tfidf": 0.013,
        "lead_tfidf": 0.328,
        "title_jaccard": 0.111,
    }
    assert x[1].tolist() == [0.28, -0.656, 0.6, -0.4, 0.0, 0.055, 0.042, 0.091]
    i, j = fit.candidates(ctx, 7, 0.9)
    assert (i.tolist(), j.tolist()) == ([0], [1])  # d is a year later, c unlike
    i, j = fit.candidates(ctx, 7, 0.0)
    assert sorted(zip(i.tolist(), j.tolist(), strict=True)) == [(0, 1), (0, 2), (1, 2)]


def test_tfidf_and_link(fit):
    rows = fit.tfidf_rows(["国务院常务会议", "国务院会议", "防汛"])
    assert {g: round(v, 3) for g, v in rows[1].items()} == {
        "国务": 0.311,
        "务院": 0.311,
        "院会": 0.843,
        "会议": 0.311,
    }
    i, j = np.array([0, 1, 2, 0]), np.array([1, 2, 3, 3])
    p = np.array([0.9, 0.6, 0.55, 0.05])
    assert fit.link(5, i, j, p, 0.5, "single").tolist() == [0, 0, 0, 0, 4]
    assert fit.link(5, i, j, p, 0.5, "average").tolist() == [0, 0, 2, 2, 4]


def test_fit_logistic_is_exact_and_deterministic(fit):
    x = np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 1.0], [3.0, 0.0], [4.0, 1.0]])
    y = np.array([0, 0, 1, 0, 1])
    mu, sd, w, b = fit.fit_logistic(x, y, 0.1)
    assert mu.tolist() == [2.0, 0.6]
    assert np.round(w, 3).tolist() == [1.928, 2.26] and round(float(b), 3) == -0.757
    # the gradient of the penalised log-likelihood is zero there
    z = np.c_[(x - mu) / sd, np.ones(len(x))]
    p = 1 / (1 + np.exp(-(z @ np.r_[w, b])))
    assert np.abs(z.T @ (p - y) + 0.1 * np.r_[w, 0.0]).max() < 1e-9


def _synthetic(tmp_path):
    """30 dated articles: 8 two-report events (a vector and a shared rare title word),
    a daily bulletin series under one title, and singletons; and labelled pairs."""
    rng = np.random.default_rng(3)
    start = dt.date(2024, 1, 1)
    arts, vecs, pairs = [], [], []

    def add(title, text, day, v):
        arts.append(Article(f"s.jsonl#{len(arts) + 1}", title, text, date=str(day)))
        vecs.append(v / np.linalg.norm(v))

    names = "甲乙丙丁戊己庚辛"
    for k, n in enumerate(names):
        v = rng.normal(size=16)
        day = start + dt.timedelta(days=7 * k)
        add(f"{n}{n}峰会开幕", f"{n}{n}峰会今天开幕，各方代表出席。", day, v)
        add(f"{n}{n}峰会闭幕", f"{n}{n}峰会今天闭幕，达成多项成果。", day + dt.timedelta(1),
            v + 0.15 * rng.normal(size=16))  # fmt: skip
        pairs.append((len(arts) - 1, len(arts), True))
    series = rng.normal(size=16)
    for k in range(8):
        add("每日通报", f"今天通报第{k}号情况。", start + dt.timedelta(days=3 * k),
            series + 0.1 * rng.normal(size=16))  # fmt: skip
        if k:
            pairs.append((len(arts) - 1, len(arts), False))
    for k in range(6):
        add(
            f"其他新闻{k}",
            f"一条无关的新闻{k}。",
            start + dt.timedelta(days=5 * k),
            rng.normal(size=16),
        )
        pairs.append((1 + 2 * k, len(arts), False))
    f = tmp_path / "pairs.jsonl"
    f.write_text(
        "".join(
            json.dumps(
                {
                    "a": {"id": f"s.jsonl#{a}"},
                    "b": {"id": f"s.jsonl#{b}"},
                    "same": s,
                    "split": "tune" if n % 3 else "test",
                }
            )
            + "\n"
            for n, (a, b, s) in enumerate(pairs)
        ),
        encoding="utf-8",
    )
    v = np.array(vecs, dtype=np.float32)
    return arts, v, f


def test_fit_and_score_on_a_synthetic_corpus(fit, tmp_path):
    arts, v, pairs = _synthetic(tmp_path)
    out = fit.fit_and_score(arts, v, v, pairs, seed=0)
    assert (out["l2"], out["threshold"], out["linkage"]) == (0.01, 0.1, "single")
    assert out["scores"]["test"] == {
        "pairs": 7,
        "same": 3,
        "tp": 3,
        "fp": 0,
        "fn": 0,
        "precision": 1.0,
        "recall": 1.0,
        "f1": 1.0,
    }
    assert out["scores"]["tune_cv"]["pairs"] == 14 * fit.REPEATS
    # the rule cross-validated in the same folds links two bulletins of the series
    assert (out["scores"]["rule_tune_cv"]["tp"], out["scores"]["rule_tune_cv"]["fp"]) == (15, 2)
    assert set(out["test_f1_gaps"]) == {
        "learned - rule",
        "learned - rule re-chosen",
        "rule re-chosen - rule",
    }
    # too few tune pairs: one line naming the file
    small = tmp_path / "small.jsonl"
    small.write_text("\n".join(pairs.read_text(encoding="utf-8").splitlines()[:3]) + "\n")
    with pytest.raises(InputError, match="small.jsonl: 2 tune pairs"):
        fit.fit_and_score(arts, v, v, small)
