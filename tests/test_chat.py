"""The grounded chat: follow-up rewriting, conversation memory, citations and abstention, on a toy knowledge base
with BM25 and a rule-based stand-in reader (the real reader is tested in test_reader.py)."""

from __future__ import annotations

import re

import pytest

from genai_roadmap.errors import UserError
from genai_roadmap.projects.phase5_rag.grounded_chatbot import choose, fit_mix, grounded
from genai_roadmap.retrieval.chat import ABSTAIN, ChatBot, evidence_mix, rewrite
from genai_roadmap.retrieval.corpus import Corpus
from genai_roadmap.retrieval.reader import Span
from genai_roadmap.retrieval.retrievers import BM25Retriever


def test_rewrite_names_the_topic_in_follow_ups_only():
    assert rewrite("When was it founded?", "Harvard University") == "When was Harvard University founded?"
    assert rewrite("How large is its endowment?", "Harvard University") == \
        "How large is Harvard University's endowment?"
    assert rewrite("And the mascot?", "Harvard University") == "the mascot of Harvard University?"
    assert rewrite("Who founded Yale?", "Harvard University") == "Who founded Yale?"  # standalone already
    assert rewrite("When was it founded?", None) == "When was it founded?"  # nothing to refer to
    assert rewrite("Is Harvard University old? When was it built?", "Harvard University").count("Harvard") == 1


class YearReader:
    """Stand-in reader: the first 4-digit year in a passage mentioning a question word, scored by overlap."""

    def read(self, question, passages, n=1):
        words = set(re.findall(r"\w+", question.lower())) - {"when", "was", "the", "is", "what", "who"}
        spans = []
        for i, p in enumerate(passages):
            year = re.search(r"\b\d{4}\b", p)
            overlap = len(words & set(re.findall(r"\w+", p.lower())))
            if year and overlap:
                spans.append(Span(year.group(), float(overlap), i, year.start(), year.end()))
        return sorted(spans, key=lambda s: -s.score)[:n]


@pytest.fixture
def kb():
    texts = ["Harvard University is a private research university in Cambridge, founded in 1636.",
             "The Eiffel Tower in Paris was completed in 1889 for the World's Fair.",
             "Oxygen is a chemical element with symbol O."]
    return Corpus([f"d{i}" for i in range(3)], ["Harvard_University", "Eiffel_Tower", "Oxygen"], texts,
                  ["toy"] * 3, [f"d{i}" for i in range(3)], [0] * 3)


def test_multi_turn_chat_rewrites_cites_and_abstains(kb):
    bot = ChatBot(BM25Retriever(kb), YearReader(), threshold=2.0, k=2)
    first = bot.ask("When was Harvard University founded?")
    assert not first.abstained and first.text == "1636 [1]" and first.sources[0].title == "Harvard_University"
    assert bot.topic == "Harvard University"
    follow = bot.ask("When was it founded?")
    assert follow.standalone == "When was Harvard University founded?" and follow.text.startswith("1636")
    tower = bot.ask("When was the Eiffel Tower completed?")
    assert tower.text.startswith("1889") and bot.topic == "Eiffel Tower"  # the topic moves on
    unknown = bot.ask("When was the Colosseum opened?")
    assert unknown.abstained and unknown.text == ABSTAIN and unknown.cited == []
    assert bot.topic == "Eiffel Tower"  # an abstention does not change the topic
    assert len(bot.history) == 4
    with pytest.raises(UserError):
        bot.ask("   ")


def test_threshold_choice_and_groundedness():
    import pandas as pd

    val = pd.DataFrame({"reader_score": [9.0, 8.0, 7.0, 3.0, 2.0, 1.0], "removed": [False, False, True,
                                                                                      False, True, True]})
    t, rate = choose(val, "reader")
    assert t == 3.0 and rate == pytest.approx(2 / 3)  # abstains on 2/3 removed, answers all present
    assert grounded("the Denver Broncos [1]", "... the Denver Broncos defeated the Carolina Panthers ...")
    assert not grounded("the Denver Bronc [1]", "... the Denver Broncos defeated ...")
    assert not grounded("[1]", "anything")


def test_both_signals_weighted_on_validation_separate_what_neither_does_alone():
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    present = rng.random(400) < 0.5
    reader = rng.normal(size=400) + present  # each signal alone overlaps a lot between the two groups
    retrieval = rng.normal(size=400) / 10 + present / 10  # on another scale
    null = rng.normal(size=400)  # no information
    val = pd.DataFrame({"reader_score": reader, "null_score": null, "retrieval_score": retrieval,
                        "removed": ~present})
    mix = fit_mix(val)
    assert mix[0] > 0 and mix[2] > 0 and mix[2] / mix[0] == pytest.approx(10, rel=0.3), "undoes the scales"
    assert abs(mix[1]) < mix[0] / 3
    val["both_score"] = evidence_mix(val[["reader_score", "null_score", "retrieval_score"]].to_numpy(), mix)
    assert choose(val, "both")[1] > max(choose(val, "reader")[1], choose(val, "retrieval")[1]) + 0.05
    assert evidence_mix([float("-inf"), 0.0, 0.5], mix) == float("-inf")
    assert evidence_mix([2.0, 1.0, 0.5], (1.0, -1.0, 4.0)) == pytest.approx(3.0)


def test_evidence_scores_of_one_reading():
    from genai_roadmap.retrieval.chat import evidence_score
    from genai_roadmap.retrieval.retrievers import Hit

    span, hits = Span("x", 7.0, 0, 0, 1, null=2.0), [Hit(1, 0, "a", "t", "x", 0.6, "s")]
    assert evidence_score("reader", span, hits) == 7.0 and evidence_score("reader_margin", span, hits) == 5.0
    assert evidence_score("retrieval", span, hits) == 0.6
    assert evidence_score("both", span, hits, (1.0, -1.0, 10.0)) == pytest.approx(11.0)
    assert evidence_score("reader_margin", None, []) == float("-inf") == evidence_score("both", None, hits)
