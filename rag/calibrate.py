"""``rag train refusal``: fit the reader's refusal model (rag/reader/refusal.py) and
write it into the reader weights' header.

Every question of the SQuAD-format files (or news question sets, rag/newsqa.py) is
asked open-domain through the real pipeline (the reader alone, no rule gate) twice:
over an index of all the files' paragraphs (it should answer) and over one without its
own paragraph (the gold-removed folds of ``rag eval squad``; it should refuse). The
features of each reading are kept; a logistic regression is cross-validated by article
(``cv`` folds), the threshold is the highest that refuses at most ``most_refused`` of
the answerable questions out of fold, and the model fitted on all of them ships with
that threshold. The cross-validated rates go in the header.

Does not: train the reader (``rag train reader``) or choose read_k / rank weight.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import numpy as np

from .errors import InputError
from .evaluate import (
    DEFAULT_CACHE,
    SquadSet,
    _load_set,
    cached_index,
    fold_of,
    removed_folds,
    run_all,
)
from .newsqa import DEFAULT_NEWS, is_news_set

MOST_REFUSED = 0.02  # false refusals allowed out of fold (issue 19 wants ≤ 0.03 anywhere)


def readings(pipe, questions, progress: bool, desc: str) -> list[list[float] | None]:
    """The refusal features of each question's reading (None: nothing was read)."""
    ans = pipe.answerer
    ans.trace = []
    out: list[list[float] | None] = []

    def one(q):
        n = len(ans.trace)
        pipe.ask(q.question, k=5)
        out.append(list(ans.trace[-1][1]) if len(ans.trace) > n else None)

    run_all(questions, one, progress=progress, desc=desc)
    ans.trace = None
    return out


def collect(
    data: SquadSet,
    settings,
    encoder,
    *,
    folds=8,
    limit=None,
    progress=True,
    cache=DEFAULT_CACHE,
    english: str | Path | None = None,
):
    """(features, labels, article ids) over the normal and gold-removed readings.
    ``english``: a file of ``{"id", "question"}`` rows (English wordings); only the
    questions it names are asked, in its wording, read as the default stage reads
    English questions (the gate asked first; ``ENGLISH_FEATURES``)."""
    from .pipeline import Pipeline

    questions = list(data.questions[:limit] if limit else data.questions)
    if english:
        from .reader.data import read_rewordings

        words = read_rewordings(english)[0]
        questions = [replace(q, question=words[q.id]) for q in questions if q.id in words]
        settings = settings.with_(reader_gate=2, english_refusal="reader")
    else:
        settings = settings.with_(reader_gate=0)
    full = cached_index(data.articles, encoder, settings, cache, progress)
    pipe = Pipeline.load(full, settings.with_(index_dir=str(full)), encoder=encoder)
    rows = [
        (x, 1, q.article_id)
        for q, x in zip(questions, readings(pipe, questions, progress, "answerable"), strict=True)
    ]
    for f, asked, p in removed_folds(data, questions, full, encoder, settings, folds):
        p.answerer.reader = pipe.answerer.reader
        got = readings(p, asked, progress, f"gold removed {f + 1}/{folds}")
        rows += [(x, 0, q.article_id) for q, x in zip(asked, got, strict=True)]
    rows = [r for r in rows if r[0] is not None]
    x = np.array([r[0] for r in rows], dtype=float)
    y = np.array([r[1] for r in rows])
    return x, y, [r[2] for r in rows]


def cross_validate(x, y, groups, *, cv: int = 5, most_refused: float = MOST_REFUSED) -> dict:
    """Out-of-fold probabilities by article, the threshold they give, and its rates."""
    from .reader.refusal import fit, threshold_for

    fold = fold_of(list(dict.fromkeys(groups)), cv)
    oof = np.zeros(len(y))
    for f in range(cv):
        test = np.array([fold[g] == f for g in groups])
        if test.any() and (~test).any():
            model = fit(x[~test], y[~test])
            oof[test] = [model.probability(row) for row in x[test]]
    t = threshold_for(oof[y == 1].tolist(), most_refused)
    return {
        "threshold": round(t, 4),
        "false_refusals": round(float((oof[y == 1] < t).mean()), 4),
        "refused_removed": round(float((oof[y == 0] < t).mean()), 4),
        "answerable": int((y == 1).sum()),
        "removed": int((y == 0).sum()),
        "folds": cv,
    }


def train(
    specs,
    settings,
    *,
    out=None,
    folds=8,
    cv=5,
    limit=None,
    progress=True,
    cache=DEFAULT_CACHE,
    most_refused: float = MOST_REFUSED,
    save_features: str | Path | None = None,
    news: str | Path | None = None,
    english: str | Path | None = None,
):
    """Fit the refusal model for the reader ``settings.reader`` names and write it into
    that weights file's header (or ``out``, a copy); returns (its header entry, the
    cross-validated scores). ``english`` (English wordings of the files' questions,
    ``collect``): the English model, header entry ``refusal_en``."""
    import shutil

    from .embed import load_encoder
    from .reader import weights
    from .reader.refusal import ENGLISH_FEATURES, FEATURES, fit

    path = weights.resolve(settings.reader)
    if path is None:
        raise InputError("rag train refusal needs reader weights, not --reader none")
    encoder = load_encoder(settings.encoder)
    xs, ys, gs = [], [], []
    for spec in specs:
        x, y, g = collect(
            _load_set(spec, news),
            settings,
            encoder,
            folds=folds,
            limit=limit,
            progress=progress,
            cache=cache,
            english=english,
        )
        xs.append(x)
        ys.append(y)
        gs.extend(f"{spec}#{a}" for a in g)
    x, y = np.vstack(xs), np.concatenate(ys)
    if save_features:
        np.savez(save_features, x=x, y=y, groups=np.array(gs))
    scores = cross_validate(x, y, gs, cv=cv, most_refused=most_refused)
    model = fit(x, y)
    data = {}
    for spec in specs:
        p = Path(spec.partition("@")[0])
        data[spec] = hashlib.sha256(p.read_bytes()).hexdigest()
        if is_news_set(p):  # its text is the news file's
            p = Path(news) if news is not None else DEFAULT_NEWS
            data[p.name] = hashlib.sha256(p.read_bytes()).hexdigest()
    if english:
        data[Path(english).name] = hashlib.sha256(Path(english).read_bytes()).hexdigest()
    header = {
        **model.to_header(ENGLISH_FEATURES if english else FEATURES),
        "threshold": scores["threshold"],
        "data": data,
        "encoder": encoder.id,
        "read_k": settings.read_k,
        "most_refused": most_refused,
        "scores": {"cv": scores},
    }
    target = Path(out) if out else path
    if out:
        shutil.copyfile(path, target)
    weights.set_entry(target, "refusal_en" if english else "refusal", header)
    return header, scores
