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
