"""The grounded chat: follow-up rewriting, conversation memory, citations and abstention, on a toy knowledge base
with BM25 and a rule-based stand-in reader (the real reader is tested in test_reader.py)."""

from __future__ import annotations

import re

import pytest

from genai_roadmap.errors import UserError
from genai_roadmap.projects.phase5_rag.grounded_chatbot import choose, grounded
from genai_roadmap.retrieval.chat import ABSTAIN, ChatBot, rewrite
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
