"""SQuAD EM / F1 on the official script's tricky cases, and the retrieval metrics."""

import numpy as np
import pytest

from genai_roadmap.metrics.qa import (
    answer_recall_at_k,
    exact_match,
    f1,
    gold_hits,
    gold_recall_at_k,
    has_answer,
    mrr,
    normalize_answer,
    normalized_passage,
    squad_scores,
)


def test_normalisation_like_the_official_script():
    assert normalize_answer("The  Denver Broncos!") == "denver broncos"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert normalize_answer("theater") == "theater"  # articles only as whole words
    assert normalize_answer("U.S.") == "us"  # punctuation removed, not replaced by a space
    assert normalize_answer("\tSanta   Clara\n") == "santa clara"


def test_em_f1_cases():
    assert exact_match("the Broncos", ["Denver Broncos", "Broncos"]) == 1.0  # max over gold answers
    assert exact_match("Denver", ["Denver Broncos"]) == 0.0
    assert f1("Denver", ["Denver Broncos"]) == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert f1("Denver Broncos team", ["Denver Broncos", "the team"]) == pytest.approx(0.8)
    assert f1("", ["Denver"]) == 0.0 and f1("a", ["the"]) == 0.0  # nothing left after normalisation: 0 in v1.1
    assert f1("x b b", ["b b c"]) == pytest.approx(2 / 3) and f1("a b b", ["b b c"]) == pytest.approx(0.8)
    assert f1("b b b", ["b c"]) == pytest.approx(0.4)  # bag of tokens: repeats count once per match
    scores = squad_scores(["Denver Broncos", "1990"], [["Denver Broncos"], ["1991", "in 1990"]])
    assert scores["em"] == 50.0 and scores["n"] == 2 and 50 < scores["f1"] < 100


def test_has_answer_is_token_containment():
    passage = normalized_passage("The party was held in the Art Museum, 1990.")
    assert has_answer(passage, ["art museum"])
    assert has_answer(passage, ["Art"])  # a whole token here
    assert not has_answer(normalized_passage("a big party"), ["art"])  # not inside another word
    assert has_answer(passage, ["Museum, 1990"]) and not has_answer(passage, ["1991"])
    assert not has_answer(passage, ["the"])  # an answer that normalises to nothing never matches


def test_recall_and_mrr():
    ranked = np.array([[3, 1, 2], [0, 2, 1]])
    texts = [normalized_passage(t) for t in ["paris", "berlin", "rome", "madrid"]]
    rec = answer_recall_at_k(ranked, texts, [["Berlin"], ["Madrid"]], ks=(1, 2, 3))
    assert rec == {1: 0.0, 2: 0.5, 3: 0.5}
    gold = [{1}, {0}]
    assert gold_recall_at_k(ranked, gold, ks=(1, 2)) == {1: 0.5, 2: 1.0}
    assert mrr(gold_hits(ranked, gold)) == pytest.approx((1 / 2 + 1) / 2)
