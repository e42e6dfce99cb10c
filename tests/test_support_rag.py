"""5.2.1 support-rag: the handoff threshold rule on constructed confidences, the FAQ grouping, and a smoke run on
the real customer-support data whose saved bot then routes, answers and hands off through the sample hooks."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from genai_roadmap import registry
from genai_roadmap.config import build_config
from genai_roadmap.errors import UserError
from genai_roadmap.projects.phase5_rag import support_rag as S
from genai_roadmap.runs import execute


def test_threshold_is_the_lowest_that_reaches_the_kept_accuracy():
    conf = np.array([0.95, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3])
    correct = np.array([1, 1, 1, 1, 0, 1, 0, 0], dtype=bool)
    assert S.choose_threshold(conf, correct, 1.0) == 0.7  # the 4 most confident are all right
    assert S.choose_threshold(conf, correct, 5 / 6) == 0.5  # 5 of the top 6
    assert S.choose_threshold(conf, np.ones(8, dtype=bool), 0.99) == 0.0  # nothing to hand off
    never = S.choose_threshold(conf, np.zeros(8, dtype=bool), 0.5)
    assert never > conf.max()  # nothing reaches it: everything goes to a human
    stats = S.handoff_stats(conf, correct, 0.7)
    assert stats == {"handoff_rate": 0.5, "kept_acc": 1.0}


def test_faq_is_indexed_by_distinct_answers_and_questions_keep_all_theirs():
    rows = pd.DataFrame({"question": ["q1", "q2", "q1", "q3"], "answer": ["a", "b", "c", "a"],
                         "category": ["x", "y", "x", "x"]})
    faq = S.build_faq(rows)
    assert faq.corpus.texts == ["a", "b", "c"] and faq.corpus.titles == ["q1", "q2", "q1"]
    assert faq.questions == ["q1", "q2", "q3"] and faq.gold == [{0, 2}, {1}, {0}]
    ranked = np.array([[2, 0, 1], [0, 1, 2], [1, 2, 0]])
    table = S.retrieval_table(faq, {"r": ranked})
    assert table.loc[0, "recall@1"] == pytest.approx(1 / 3) and table.loc[0, "MRR@10"] == pytest.approx(
        (1 + 1 / 2 + 1 / 3) / 3)


@pytest.mark.realdata
def test_smoke_run_then_the_bot_routes_answers_and_hands_off(tmp_path, need_data):
    run_dir, m = execute(registry.get("5.2.1"), preset="smoke", out=tmp_path, quiet=True)
    assert m["faq_recall@1"] >= 0.5 and m["faq_recall@5"] >= m["faq_recall@1"]
    assert m["faq_recall@1"] <= m["faq_mrr@10"] <= m["faq_recall@5"] + 1e-9
    assert m["banking77_test_acc"] > 0.3  # 77 intents: chance is 1.3%
    if m["banking77_test_handoff_rate"] > 0:
        assert m["banking77_test_kept_acc"] >= m["banking77_test_acc"]
    assert m["gen_samples"] == 1 and 0 <= m["gen_answer_f1"] <= 100 and m["top1_answer_f1"] > 0
    assert {p.name for p in (run_dir / "plots").glob("*.png")} >= {"faq_recall_at_k.png", "handoff_tradeoff.png"}
    assert json.loads((run_dir / "metrics.json").read_text())["test_intent_acc"] == m["banking77_test_acc"]

    cfg = build_config(S.Config, S.PRESETS, "smoke", {})
    bot = S.load_trained(run_dir, cfg)
    opts = S.SampleOptions()
    kept = S.sample(bot, ["I lost my card", "How do I open a savings account?"],
                    S.SampleOptions(threshold=0.0), tmp_path)
    faq_answers = set(bot.answers)
    for out in kept:
        assert not out["handoff"] and out["reply"] in faq_answers
        assert out["intent"] in bot.heads["banking77"][2] and 0 < out["confidence"] <= 1
    handed = S.sample(bot, ["I lost my card"], S.SampleOptions(threshold=1.0), tmp_path)
    assert handed[0]["handoff"] and handed[0]["reply"] == S.HANDOFF
    assert opts.threshold < 0  # default: the validation-chosen threshold
    with pytest.raises(UserError):
        S.sample(bot, [], opts, tmp_path)
    with pytest.raises(UserError):
        S.sample(bot, ["hi"], S.SampleOptions(intents="bitext"), tmp_path)  # smoke trains banking77 only
