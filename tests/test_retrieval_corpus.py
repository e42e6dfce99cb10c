"""Passages, the SQuAD split, the SQuAD-open corpus and a user's folder."""

import json

import numpy as np
import pytest

from genai_roadmap.errors import UserError
from genai_roadmap.retrieval.corpus import corpus_from_folder, split_passages, squad_duplicates


def test_split_passages_balanced_and_faithful():
    text = " ".join(f"w{i}" for i in range(230))
    pieces = split_passages(text, 100)
    assert [len(p.split()) for _, p in pieces] == [77, 76, 77]
    assert all(text[start:start + len(p)] == p for start, p in pieces)  # offsets point into the original
    assert split_passages("   ") == [] and len(split_passages("one two", 100)) == 1


def test_duplicates_of_squad_are_found():
    squad = ["The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, "
             "a region in France."]
    wiki = [squad[0].upper().replace(",", ""),  # same text, other case and punctuation
            "Another revision: The Normans were the people who in the 10th and 11th centuries gave their name "
            "to Normandy, a region in northern France.",
            "Warsaw is the capital and largest city of Poland, on the Vistula river in east-central Poland."]
    assert squad_duplicates(wiki, squad).tolist() == [True, True, False]


def test_folder_corpus_and_bad_input(tmp_path):
    (tmp_path / "a.md").write_text("# Returns\n\nYou can return items within 30 days.\n\n" + "word " * 250)
    (tmp_path / "b.jsonl").write_text(json.dumps({"id": "x", "title": "Cards", "text": "Lost card? Call us."})
                                      + "\n")
    (tmp_path / "notes.csv").write_text("ignored")
    c = corpus_from_folder(tmp_path)
    assert c.titles[0] == "Returns" and c.notes["skipped_files"] == 1
    assert max(len(t.split()) for t in c.texts) <= 100 and len(set(c.ids)) == len(c)
    assert "b.jsonl:x:0:0" in c.ids
    (tmp_path / "img.txt").write_bytes(b"\x89PNG\x00\x00binary")
    with pytest.raises(UserError, match="binary"):
        corpus_from_folder(tmp_path)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UserError, match="empty"):
        corpus_from_folder(empty)
    (empty / "bad.jsonl").write_text("{not json}\n")
    with pytest.raises(UserError, match="line 1"):
        corpus_from_folder(empty)


@pytest.fixture(scope="module")
def squad():
    from genai_roadmap.retrieval.squad import load_squad_dev

    try:
        return load_squad_dev()
    except Exception as exc:
        pytest.skip(f"SQuAD dev not available: {exc}")


def test_squad_counts_and_article_split(squad):
    from genai_roadmap.retrieval.squad import split_articles

    assert (len(squad.articles), len(squad.paragraphs), len(squad.questions)) == (48, 2067, 10570)
    split = split_articles(seed=0)
    parts = [set(split.train), set(split.val), set(split.test)]
    assert sum(map(len, parts)) == 48 and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert split_articles(seed=0) == split and split_articles(seed=1).test != split.test
    test_q = {q.qid for q in squad.questions_of(split.test)}
    assert test_q and not test_q & {q.qid for q in squad.questions_of(split.train)}


@pytest.mark.slow
def test_squad_open_gold_passage_unique(squad):
    from genai_roadmap.retrieval.corpus import normalise, squad_open_corpus

    c = squad_open_corpus(distractor_fraction=0.1, seed=0)
    assert c.sources.count("squad") >= 2067 and c.sources.count("wikipedia") > 1000
    assert len(set(c.ids)) == len(c)
    squad_norm = {" ".join(normalise(t)) for t, s in zip(c.texts, c.sources, strict=True) if s == "squad"}
    wiki_norm = {" ".join(normalise(t)) for t, s in zip(c.texts, c.sources, strict=True) if s == "wikipedia"}
    assert not squad_norm & wiki_norm
    # the subset keeps whole articles and is seeded
    assert squad_open_corpus(distractor_fraction=0.1, seed=0).fingerprint() == c.fingerprint()
    assert np.mean([len(t.split()) for t in c.texts]) < 100
