"""On-disk indexes: built from a folder, a half-built one detected and rebuilt, never used; the CLI's messages."""

import json

import pytest

from genai_roadmap.cli import main
from genai_roadmap.errors import UserError
from genai_roadmap.retrieval.corpus import corpus_from_folder
from genai_roadmap.retrieval.index import MANIFEST, build_index, ensure_index, index_state, open_index


@pytest.fixture()
def docs(tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "returns.md").write_text("# Returns\n\nYou can return any item within 30 days for a refund.\n")
    (folder / "cards.txt").write_text("If your card is lost or stolen, freeze it in the app and call us.\n")
    (folder / "faq.jsonl").write_text(json.dumps({"id": "fx", "text": "Foreign exchange fees are 1 percent."}))
    return folder


def test_build_open_search(docs, tmp_path):
    build_index(corpus_from_folder(docs), tmp_path / "idx", encoder=None, say=lambda *_: None)
    assert index_state(tmp_path / "idx") == "complete"
    hits = open_index(tmp_path / "idx").retriever("bm25").retrieve("my card was stolen", k=3)
    assert hits[0].title == "cards" and len(hits) == 1  # the other passages share no word with the question
    with pytest.raises(UserError, match="no dense vectors"):
        open_index(tmp_path / "idx").retriever("dense")


def test_half_built_index_is_detected_and_rebuilt(docs, tmp_path):
    idx = tmp_path / "idx"
    build_index(corpus_from_folder(docs), idx, encoder=None, say=lambda *_: None)
    # a build killed after writing the passages but before the manifest
    (idx / MANIFEST).unlink()
    assert index_state(idx) == "incomplete"
    with pytest.raises(UserError, match="incomplete"):
        open_index(idx)
    said = []
    index, rebuilt = ensure_index(lambda: corpus_from_folder(docs), idx, encoder=None, say=said.append)
    assert rebuilt and "half-built" in said[0] and index_state(idx) == "complete"
    # a file truncated after the manifest was written no longer matches it
    (idx / "passages.jsonl").write_text("")
    assert index_state(idx) == "incomplete"
    _, rebuilt = ensure_index(lambda: corpus_from_folder(docs), idx, encoder=None, say=said.append)
    assert rebuilt and len(open_index(idx).corpus) == 3


def test_build_refuses_a_foreign_folder(docs, tmp_path):
    other = tmp_path / "mine"
    other.mkdir()
    (other / "thesis.tex").write_text("do not delete me")
    with pytest.raises(UserError, match="not an index folder"):
        build_index(corpus_from_folder(docs), other, encoder=None, say=lambda *_: None)
    assert (other / "thesis.tex").exists()


def run_cli(argv, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    captured = capsys.readouterr()
    return stop.value.code, captured.out, captured.err


def test_cli_messages(docs, tmp_path, capsys):
    code, out, _ = run_cli(["index", "build", str(docs), "--no-dense"], capsys)
    assert code == 0 and "3 passages" in out
    code, out, _ = run_cli(["index", "search", str(docs / ".roadmap_index"), "refund", "--kind", "bm25", "-k", "1"],
                           capsys)
    assert code == 0 and "Returns" in out
    for argv, message in ((["index", "search", str(tmp_path / "none"), "x"], "no index at"),
                          (["index", "search", str(docs / ".roadmap_index"), "  "], "question is empty"),
                          (["index", "build", str(tmp_path / "none")], "does not exist")):
        code, _, err = run_cli(argv, capsys)
        assert code == 2 and message in err


def test_cli_handles_a_huge_question_and_non_english_text(docs, tmp_path, capsys):
    run_cli(["index", "build", str(docs), "--no-dense"], capsys)
    index = str(docs / ".roadmap_index")
    code, _, err = run_cli(["index", "search", index, " ".join(["refund"] * 10_000), "--kind", "bm25"], capsys)
    assert code == 2 and "10,000 words" in err and "Traceback" not in err
    for text in ("¿Dónde puedo devolver un artículo?", "退款需要多久？", "Возврат денег"):
        code, out, err = run_cli(["index", "search", index, text, "--kind", "bm25", "-k", "1"], capsys)
        assert code == 0 and "Traceback" not in out + err, text  # no match is an answer, not a crash
