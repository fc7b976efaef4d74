"""`rag eval`: data loading, scoring and a tiny end-to-end run with the fake encoder."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rag.cli import main
from rag.config import Settings
from rag.errors import InputError
from rag.evaluate import (
    ask_squad,
    eval_qa,
    eval_squad,
    fold_of,
    load_qa,
    load_squad,
    markdown,
    refusal_sweep,
    score,
    summarize,
)

DATA = Path(__file__).parent / "data"
TINY = DATA / "squad_tiny.json"
FAKE = "tests.fake_encoder:hash64"


def test_load_squad_makes_one_article_per_paragraph():
    data = load_squad(TINY)
    assert [a.id for a in data.articles] == ["T1_P0", "T2_P0", "T3_P0"]
    assert data.articles[1].title == "泡泡战士"
    assert len(data.questions) == 5
    assert (data.skipped, data.empty) == (1, 1)  # one has no answer, one no question
    q = data.questions[1]
    assert (q.article_id, q.answers) == ("T1_P0", ("超22亿元", "22亿元"))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not valid JSON"),
        ('{"data": {"x": 1}}', "'data' list"),
        ('{"data": [{"title": "t"}]}', "data[0] has no 'paragraphs'"),
        ('{"data": [{"paragraphs": [{"qas": []}]}]}', "paragraphs[0] has no 'context'"),
        (
            '{"data": [{"paragraphs": [{"id": "p", "context": "c", "qas": [{"question": "q", '
            '"answers": [{"start": 1}]}]}]}]}',
            "'text' string",
        ),
    ],
)
def test_malformed_squad_is_an_input_error_naming_the_place(tmp_path, content, message):
    p = tmp_path / "bad.json"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=re.escape(message)):
        load_squad(p)


def test_load_qa_reads_the_seed_format_and_names_bad_lines(tmp_path):
    items = load_qa(DATA / "seed_qa.jsonl")
    assert {i.kind for i in items} >= {"factoid", "unanswerable", "follow-up"}
    follow = next(i for i in items if i.history)
    assert follow.article and follow.expect
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q"}\n{"question": 3}\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"bad.jsonl:2"):
        load_qa(bad)


def test_score_counts_a_refusal_as_empty_and_unanswerables_as_correct_when_refused():
    common = dict(question="q", kind="x", latency_ms=1.0)
    right = score(
        id="1",
        gold_article="A",
        gold=["16个"],
        answer="16个[1]\n落地项目16个。[1]",
        short="16个",
        refused=False,
        ranked=["B", "A"],
        **common,
    )
    assert (right.rank, right.hit, right.correct, right.em, right.f1) == (2, True, True, 1.0, 1.0)
    assert right.length == 3 + 8
    refused = score(
        id="2",
        gold_article="A",
        gold=["16个"],
        answer="资料中没有找到相关答案。",
        short="16个",
        refused=True,
        ranked=["A"],
        **common,
    )
    assert (refused.hit, refused.em, refused.short, refused.length) == (False, 0.0, "", 0)
    none = score(
        id="3",
        gold_article=None,
        gold=[],
        answer="资料中没有找到相关答案。",
        short="",
        refused=True,
        ranked=["A"],
        **common,
    )
    assert none.correct and none.rank is None
    s = summarize([right, refused, none])
    # ranks over the two with a gold article, hit/EM over the two with gold answers
    assert (s.n, s.r1, s.r5, s.mrr) == (3, 0.5, 1.0, 0.75)
    assert (s.hit, s.em, s.correct) == (0.5, 50.0, pytest.approx(2 / 3))
    assert s.refused == pytest.approx(2 / 3) and s.length_median == 11


def test_a_question_the_pipeline_rejects_is_an_error_outcome_not_a_crash():
    class Rejecting:
        def ask(self, question, **kw):
            raise InputError("question is empty")

    q = load_squad(TINY).questions[0]
    o = ask_squad(Rejecting(), q, k=5, mode=None)
    assert (o.refused, o.error, o.hit, o.rank) == (True, "question is empty", False, None)


def test_refusal_sweep_replays_the_threshold_on_confidences():
    def o(conf, refused, run, error=""):
        return score(
            id="x",
            question="q",
            kind="k",
            gold_article="A",
            gold=["a"],
            answer="",
            short="",
            refused=refused,
            ranked=[],
            latency_ms=1.0,
            confidence=conf,
            run=run,
            error=error,
        )

    normal = [o(0.9, False, "normal"), o(0.4, False, "normal"), o(0.3, True, "normal")]
    removed = [o(0.2, True, "removed"), o(0.45, False, "removed"), o(0.0, True, "removed")]
    rows = refusal_sweep(normal, removed, [0.35, 0.5])
    assert rows[0] == {"min_confidence": 0.35, "false_refusals": 0.3333, "refused_removed": 0.6667}
    assert rows[1] == {"min_confidence": 0.5, "false_refusals": 0.6667, "refused_removed": 1.0}


def test_folds_are_round_robin():
    assert fold_of(["a", "b", "c", "d", "e"], 2) == {"a": 0, "b": 1, "c": 0, "d": 1, "e": 0}


def test_tiny_squad_eval_end_to_end(tmp_path):
    settings = Settings.from_env(encoder=FAKE)
    report = eval_squad(TINY, settings, folds=3, cache=tmp_path / "cache", progress=False)
    s, r = report.summary, report.removed
    assert s.n == 5 and r is not None and r.n == 5
    assert s.r1 == 1.0  # three unrelated paragraphs: keyword search finds each
    assert 0.0 <= s.hit <= 1.0 and 0.0 <= s.f1 <= 100.0
    assert r.r1 == 0.0 and all(o.rank is None for o in report.outcomes if o.run == "removed")
    assert report.meta["articles"] == 3 and report.meta["encoder"] == FAKE
    # the fold indexes were derived from the cached one; a rerun reuses everything
    folds = sorted(p.name for p in (tmp_path / "cache").glob("*/without-fold-*"))
    assert folds == [f"without-fold-{i}-of-3" for i in range(3)]
    again = eval_squad(TINY, settings, folds=3, cache=tmp_path / "cache", progress=False)
    assert again.summary.r1 == s.r1 and again.summary.hit == s.hit
    assert "| open-domain | 5 |" in markdown(report)


def test_traditional_run_asks_the_same_questions_in_traditional(tmp_path):
    settings = Settings.from_env(encoder=FAKE)
    report = eval_squad(
        TINY, settings, removed=False, traditional=True, cache=tmp_path / "cache", progress=False
    )
    assert report.meta["questions_in"] == "Taiwan Traditional (OpenCC s2twp)"
    assert "questions in Taiwan Traditional" in markdown(report)
    asked = sorted(o.question for o in report.outcomes)
    assert "珠海高新區5月落地了多少個重點專案？" in asked  # 项目 is 專案 in Taiwan
    assert report.summary.n == 5 and report.summary.r1 == 1.0  # folded back for matching


def test_reworded_run_asks_only_the_named_questions_in_their_wording(tmp_path):
    settings = Settings.from_env(encoder=FAKE)
    report = eval_squad(
        TINY,
        settings,
        removed=False,
        reworded=DATA / "squad_tiny_en.jsonl",
        cache=tmp_path / "cache",
        progress=False,
    )
    assert report.meta["questions_in"] == "reworded by squad_tiny_en.jsonl"
    assert sorted(o.question for o in report.outcomes) == [
        "How many key projects did the Zhuhai high-tech zone land in May?",
        "Which company developed Bubble Fighter?",
    ]


def test_eval_cli_writes_reports_and_details(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("RAG_ENCODER", FAKE)
    out = tmp_path / "reports"
    rc = main(
        [
            "eval",
            "squad",
            str(TINY),
            "--limit",
            "2",
            "--no-removed",
            "--details",
            "--out",
            str(out),
            "--cache",
            str(tmp_path / "cache"),
            "-q",
        ]
    )
    assert rc == 0
    printed = capsys.readouterr().out
    assert "| open-domain | 2 |" in printed and "gold removed" not in printed
    report = json.loads((out / "eval-squad-squad_tiny.json").read_text(encoding="utf-8"))
    assert report["summary"]["n"] == 2 and report["limit"] == 2 and "definitions" in report
    rows = [
        json.loads(line)
        for line in (out / "eval-squad-squad_tiny-details.jsonl").read_text().splitlines()
    ]
    assert [r["id"] for r in rows] == ["T1_Q0", "T1_Q1"]
    assert {"question", "gold", "answer", "short", "hit", "rank", "em", "f1"} <= set(rows[0])


def test_eval_cli_reports_a_bad_file_in_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]", encoding="utf-8")
    assert main(["eval", "squad", str(bad), "-q", "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("rag: error:") and "bad.json" in err and "\n" not in err


def test_eval_qa_by_kind_on_the_fake_seed_index(fake_index_dir, tmp_path):
    # a few Chinese questions of each of three kinds (English ones load the dictionary)
    lines = (DATA / "seed_qa.jsonl").read_text(encoding="utf-8").splitlines()
    keep = [ln for ln in lines if '"factoid"' in ln][:3]
    keep += [ln for ln in lines if '"follow-up"' in ln][:2]
    keep += [ln for ln in lines if '"unanswerable"' in ln and "Who" not in ln][:2]
    qa = tmp_path / "qa.jsonl"
    qa.write_text("\n".join(keep) + "\n", encoding="utf-8")
    settings = Settings.from_env(index_dir=str(fake_index_dir))
    report = eval_qa(qa, settings, progress=False)
    assert report.summary.n == 7
    assert {k: s.n for k, s in report.by_kind.items()} == {
        "factoid": 3,
        "follow-up": 2,
        "unanswerable": 2,
    }
    unans = [o for o in report.outcomes if o.kind == "unanswerable"]
    assert all(o.correct == o.refused for o in unans)
    md = markdown(report)
    assert "| unanswerable |" in md and "| **all** |" in md
