from __future__ import annotations

from rag.chunk import chunk_article, embed_text
from rag.text import fold, sentence_spans, tokens
from rag.types import Article


def test_sentence_spans_keep_closing_quotes_and_split_lines():
    t = "他说：“今年做好。”我们！真的？是的；然后……\n新的一段"
    assert [t[a:b] for a, b in sentence_spans(t)] == [
        "他说：“今年做好。”",
        "我们！",
        "真的？",
        "是的；",
        "然后……",
        "新的一段",
    ]


def test_titles_in_book_brackets_do_not_end_sentences():
    t = "《卡拉OK.LIVE！‧台北‧我》是第六张专辑。他说！《未完"
    assert [t[a:b] for a, b in sentence_spans(t)] == [
        "《卡拉OK.LIVE！‧台北‧我》是第六张专辑。",
        "他说！",
        "《未完",
    ]


def test_a_short_quotation_is_one_sentence():
    t = "词典解释为：“一个人迅速获得财富。通常含有贬义。”下一句。"
    assert [t[a:b] for a, b in sentence_spans(t)] == [
        "词典解释为：“一个人迅速获得财富。通常含有贬义。”",
        "下一句。",
    ]


def test_decimal_points_do_not_end_sentences():
    t = "总投资42.93亿元,增长3.5%。下一句"
    assert [t[a:b] for a, b in sentence_spans(t)] == ["总投资42.93亿元,增长3.5%。", "下一句"]


def test_tokens_fold_traditional_and_drop_question_words():
    assert tokens("咸陽高新區簽約項目涵蓋哪些領域？") == [
        "咸阳",
        "高新",
        "新区",
        "高新区",
        "签约",
        "项目",
        "涵盖",
        "领域",
    ]
    assert fold("ＡＢＣ１２３") == "abc123"


def test_chunk_offsets_round_trip_on_the_seed_page(seed_articles):
    for art in seed_articles:
        chunks = chunk_article(art, size=120, overlap=30)
        assert chunks, art.id
        for c in chunks:
            assert art.text[c.start : c.end] == c.text
            assert c.article_id == art.id and c.title == art.title
        # chunks cover the whole article text (ignoring whitespace between them)
        covered = set()
        for c in chunks:
            covered.update(range(c.start, c.end))
        assert all(i in covered or art.text[i].isspace() for i in range(len(art.text)))


def test_chunks_overlap_by_whole_sentences_and_stay_within_size():
    art = Article(id="a", title="T", text="一二三四五。六七八九十。甲乙丙丁戊。己庚辛壬癸。")
    chunks = chunk_article(art, size=12, overlap=6)
    assert [(c.id, c.start, c.end, c.text) for c in chunks] == [
        ("a:0", 0, 12, "一二三四五。六七八九十。"),
        ("a:1", 6, 18, "六七八九十。甲乙丙丁戊。"),
        ("a:2", 12, 24, "甲乙丙丁戊。己庚辛壬癸。"),
    ]


def test_overlong_sentence_is_cut_at_clause_marks():
    text = "，".join(["甲乙丙丁戊己庚辛"] * 6) + "。"
    chunks = chunk_article(Article(id="a", title="", text=text), size=20, overlap=0)
    assert all(c.end - c.start <= 20 for c in chunks)
    assert "".join(c.text for c in chunks) == text
    assert chunks[0].text == "甲乙丙丁戊己庚辛，甲乙丙丁戊己庚辛，"


def test_title_travels_into_the_embedding(seed_articles):
    c = chunk_article(seed_articles[2])[0]
    assert embed_text(c).startswith("珠海高新区：5月签约落地重点项目16个\n本报讯 近日")
