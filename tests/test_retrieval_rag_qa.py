"""5.1.1 rag-qa smoke run on a tiny SQuAD-open (1 article + a few distractor articles): retrieval far above
chance, our BM25 = bm25s, hybrid not below the weaker retriever, the saved index answers `sample`."""

import numpy as np
import pytest

from genai_roadmap import registry
from genai_roadmap.runs import execute


@pytest.mark.realdata
def test_smoke_run_and_sample(tmp_path, need_data):
    run_dir, m = execute(registry.get("5.1.1"), preset="smoke", out=tmp_path, quiet=True)
    n = m["n_passages"]
    for name in ("bm25", "dense", "hybrid_rrf"):
        # chance of one gold passage among n in the top 5 is 5/n (~2% here)
        assert m[f"{name}_gold_recall@5"] > max(0.5, 10 * 5 / n), name
        assert m[f"{name}_top20"] >= m[f"{name}_top5"] >= m[f"{name}_top1"]
    assert m["hybrid_rrf_top5"] >= min(m["bm25_top5"], m["dense_top5"])
    assert m["bm25_top10_same_scores_as_bm25s"] > 0.99
    assert (run_dir / "plots" / "topk_answer_recall.png").is_file() and (run_dir / "report.md").is_file()

    module = registry.get("5.1.1").load()
    index = module.load_trained(run_dir, module.Config())
    out = module.sample(index, ["Who won Super Bowl 50?", "What is a chloroplast?"],
                        module.SampleOptions(k=2, retriever="bm25"), tmp_path)
    assert len(out) == 2 and len(out[0]["passages"]) == 2
    assert np.all([p["rank"] for p in out[0]["passages"]] == [1, 2])


class AnswerSpotter:
    """A stand-in reader that finds a question's answer exactly when its passage holds it (score 1), else reads
    a wrong span (score 0): end-to-end EM then equals the answer recall of the passages it is given."""

    def __init__(self, questions):
        self.answers = {q.question: q.answers[0] for q in questions}
        self.info = {"train_questions": 0}

    def read_each(self, questions, passage_lists):
        from genai_roadmap.retrieval.reader import Span

        return [[Span(self.answers[q], 1.0, p, 0, 1) if self.answers[q] in text else Span("wrong", 0.0, p, 0, 1)
                 for p, text in enumerate(texts)] for q, texts in zip(questions, passage_lists, strict=True)]


@pytest.mark.realdata
def test_end_to_end_reads_the_k_chosen_on_validation_and_the_gold_paragraph(need_data, monkeypatch):
    import types

    from genai_roadmap.projects.phase5_rag import rag_qa
    from genai_roadmap.retrieval import reader as reader_mod
    from genai_roadmap.retrieval.retrievers import Hit
    from genai_roadmap.retrieval.squad import load_squad_dev

    squad = load_squad_dev()
    text = {p.paragraph_id: p.text for p in squad.paragraphs}
    qs = [q for q in squad.questions if q.answers[0] in text[q.paragraph_id]][:40]
    monkeypatch.setattr(reader_mod, "load_reader", lambda cfg, say: AnswerSpotter(qs))

    def hits(q):  # the gold paragraph third, behind two passages without the answer
        wrong = [t for t in text.values() if q.answers[0] not in t][:2]
        return [Hit(r + 1, r, f"p{r}", "t", t, 1.0, "squad") for r, t in enumerate([*wrong, text[q.paragraph_id]])]

    cfg = rag_qa.Config(e2e_questions=15, reader_ks=[1, 3, 5], reader_rank_weights=[0.0, 1.0],
                        reader_null_weights=[0.0], generator_questions=0)
    ctx = types.SimpleNamespace(seed=0, say=lambda message: None)
    out = rag_qa.answer_from_passages((qs[:20], [hits(q) for q in qs[:20]]), (qs[20:], [hits(q) for q in qs[20:]]),
                                      cfg, ctx)
    assert {c: v for c, v in out["val_reader_em_by_k_null_rank_weight"].items() if c.endswith(",0.0,0.0")} == {
        "1,0.0,0.0": 0.0, "3,0.0,0.0": 100.0, "5,0.0,0.0": 100.0}
    assert out["reader_k"] == 3 and out["reader_rank_weight"] == 0.0, "the smallest k and weight with the best EM"
    assert out["test_reader_em"] == 100.0 and out["test_reader_gold_em"] == 100.0
    assert out["test_reader_questions"] == 15
    # a rank weight large enough overrules the reader's score: the top-ranked passage's (wrong) span wins
    cfg.reader_rank_weights = [1e6]
    assert rag_qa.answer_from_passages((qs[:20], [hits(q) for q in qs[:20]]), (qs[20:], [hits(q) for q in qs[20:]]),
                                       cfg, ctx)["test_reader_em"] == 0.0
    cfg.reader_ks, cfg.reader_rank_weights = [1], [0.0]
    out = rag_qa.answer_from_passages((qs[:20], [hits(q) for q in qs[:20]]), (qs[20:], [hits(q) for q in qs[20:]]),
                                      cfg, ctx)
    assert out["test_reader_em"] == 0.0 and out["test_reader_gold_em"] == 100.0
