"""5.1.2 grounded-chatbot and 5.2.2 open-domain-qa smoke runs on real SQuAD articles (a 48-question reader,
a few articles in the index), then their saved bots answer through the sample hooks. Slow: they fine-tune."""

from __future__ import annotations

import re

import pytest

from genai_roadmap import registry
from genai_roadmap.config import build_config
from genai_roadmap.errors import UserError
from genai_roadmap.projects.phase5_rag import grounded_chatbot as G
from genai_roadmap.projects.phase5_rag import open_domain_qa as Q
from genai_roadmap.runs import execute


@pytest.mark.slow
@pytest.mark.realdata
def test_grounded_chatbot_smoke_then_chat(tmp_path, need_data):
    run_dir, m = execute(registry.get("5.1.2"), preset="smoke", out=tmp_path, quiet=True)
    assert 0 <= m["test_abstain_rate_removed"] <= 1 and 0 <= m["test_answer_rate_present"] <= 1
    assert m["n_passages_indexed"] < m["n_passages"]  # the removed articles are really gone
    assert m["reader"]["train_questions"] == 48 and m["reader"]["answerless_windows"] < m["reader"]["train_windows"]
    script = m["script"]
    assert script[1]["standalone"] != script[1]["user"] or script[0]["abstained"]  # "it" -> the topic
    assert (run_dir / "index" / "manifest.json").is_file() and (run_dir / "plots" / "evidence_scores.png").is_file()

    bot = G.load_trained(run_dir, build_config(G.Config, G.PRESETS, "smoke", {}))
    bot.threshold = float("-inf")  # always answer: the conversation memory is what is tested here
    first, follow = G.sample(bot, ["Who won Super Bowl 50?", "Where was it played?"], G.SampleOptions(), tmp_path)
    assert not first["abstained"] and first["sources"] and re.search(r"\[\d+\]$", first["answer"])
    assert "Super Bowl 50" in follow["standalone"]
    with pytest.raises(UserError):
        G.sample(bot, [], G.SampleOptions(), tmp_path)


@pytest.mark.slow
@pytest.mark.realdata
def test_open_domain_qa_smoke_then_ask(tmp_path, need_data):
    run_dir, m = execute(registry.get("5.2.2"), preset="smoke", out=tmp_path, quiet=True)
    assert m["n_questions"] == 3 and 0 <= m["test_em"] <= m["test_f1"] + 1e-9 <= 100 + 1e-9
    assert set(m["latency_ms"]) >= {"embed_query", "dense_search", "bm25_search", "read_rerank"}
    pipe = Q.load_trained(run_dir, build_config(Q.Config, Q.PRESETS, "smoke", {}))
    out = Q.sample(pipe, ["Which NFL team won Super Bowl 50?"], Q.SampleOptions(generate=False), tmp_path)[0]
    assert out["answer"] and out["sources"][0].startswith("[1] ") and out["detailed"] == ""
