"""Metric functions against values computed by hand."""

from __future__ import annotations

import math

import pytest

from rag.metrics import (
    answer_length,
    cmrc_em,
    cmrc_f1,
    contains_any,
    longest_common_run,
    mean,
    median,
    mixed_segmentation,
    mrr,
    percentile,
    rank_of,
    rate,
    recall_at,
    remove_punctuation,
    strip_markers,
)

# ---------------------------------------------------------------------- CMRC 2018


def test_segmentation_splits_chinese_characters_and_english_words():
    assert mixed_segmentation("iPhone 14 Pro，售价5999元。") == [
        "iphone",
        "14",
        "pro",
        "，",
        "售",
        "价",
        "5999",
        "元",
        "。",
    ]


def test_segmentation_drops_punctuation_without_splitting_the_run():
    # the official script skips a mark before it would flush the pending run
    assert mixed_segmentation("2V2、4V4", rm_punc=True) == ["2v24v4"]
    assert mixed_segmentation("《红楼梦》", rm_punc=True) == ["红", "楼", "梦"]


def test_remove_punctuation_lowercases_and_strips_but_keeps_inner_spaces():
    assert remove_punctuation(" 《A B》。") == "a b"
    # the script lists "……" as one entry, which never equals a single character
    assert remove_punctuation("……") == "……"


def test_longest_common_run_is_contiguous_not_a_subsequence():
    assert longest_common_run(list("甲乙丙丁"), list("甲丙")) == 1
    assert longest_common_run(list("abc"), []) == 0


def test_em_ignores_punctuation_case_and_outer_spaces():
    assert cmrc_em("“踢爆”。", ["踢爆"]) == 1.0
    assert cmrc_em(" Nexon ", ["nexon"]) == 1.0
    assert cmrc_em("踢爆了", ["踢爆"]) == 0.0
    assert cmrc_em("a b", ["ab"]) == 0.0
    assert cmrc_em("", ["踢爆"]) == 0.0
    assert cmrc_em("4分钟", ["四分钟", "4分钟"]) == 1.0  # best over gold answers


def test_f1_chinese_sentence_with_punctuation():
    # prediction 红楼梦的作者是曹雪芹 (10 segments), gold 曹雪芹 (3): P=3/10, R=1
    f1 = cmrc_f1("《红楼梦》的作者是曹雪芹。", ["曹雪芹"])
    assert f1 == pytest.approx(2 * 0.3 * 1.0 / 1.3)


def test_f1_mixed_english_and_chinese():
    # prediction [iphone 14 pro 售 价 5999 元] (7), gold [iphone 14] (2): P=2/7, R=1 -> 4/9
    assert cmrc_f1("iPhone 14 Pro，售价5999元", ["iPhone 14"]) == pytest.approx(4 / 9)


def test_f1_uses_longest_common_run_and_best_gold():
    # run 1 of 4 predicted, 1 of 2 gold: P=1/4, R=1/2 -> 1/3
    assert cmrc_f1("甲乙丙丁", ["甲丙"]) == pytest.approx(1 / 3)
    assert cmrc_f1("北京大学", ["北京", "北京大学"]) == 1.0
    assert cmrc_f1("北京大学", ["北京"]) == pytest.approx(2 / 3)
    assert cmrc_f1("", ["北京"]) == 0.0
    assert cmrc_f1("上海", ["北京"]) == 0.0


# ---------------------------------------------------------------------- rankings


def test_rank_recall_and_mrr():
    assert rank_of("c", ["a", "b", "c"]) == 3
    assert rank_of("z", ["a"]) is None
    ranks = [1, 3, None, 2]
    assert recall_at(ranks, 1) == 0.25
    assert recall_at(ranks, 2) == 0.5
    assert recall_at(ranks, 5) == 0.75
    assert mrr(ranks) == pytest.approx((1 + 1 / 3 + 0 + 1 / 2) / 4)
    assert recall_at([], 1) == 0.0 and mrr([]) == 0.0


# ---------------------------------------------------------------------- statistics


def test_percentile_interpolates_between_ranks():
    xs = [40, 10, 30, 20]
    assert percentile(xs, 0) == 10
    assert percentile(xs, 50) == 25
    assert percentile(xs, 95) == pytest.approx(38.5)
    assert percentile(xs, 100) == 40
    assert percentile([7], 95) == 7
    assert math.isnan(percentile([], 50))
    with pytest.raises(ValueError):
        percentile(xs, 101)


def test_median_mean_rate():
    assert median([3, 1, 2]) == 2
    assert median([1, 2, 3, 10]) == 2.5
    assert mean([1, 2, 3, 6]) == 3
    assert rate([True, False, False, False]) == 0.25
    assert math.isnan(mean([])) and math.isnan(rate([]))


# ---------------------------------------------------------------------- answers


def test_answer_measures_ignore_markers():
    text = "16个[1]\n共落地重点项目16个。[2]"
    assert strip_markers(text) == "16个\n共落地重点项目16个。"
    assert answer_length(text) == 3 + 11
    assert contains_any(text, ["重点项目16个"])
    assert not contains_any(text, ["17个", ""])
    assert contains_any("16[1]个", ["16个"])  # a marker never hides a span
