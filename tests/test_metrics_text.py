"""Corpus-level text metrics: the adapters give the libraries' own numbers and reject mismatched inputs."""

import pytest
import sacrebleu

from genai_roadmap.metrics import bleu, chrf, rouge, span_f1

HYPS = ["the cat sat on the mat", "a dog barked loudly at night", "hello there"]
REFS = ["the cat sat on a mat", "the dog barked loudly at night", "hello there friend"]


def test_bleu_and_chrf_are_sacrebleu_corpus_scores():
    assert bleu(HYPS, REFS)["bleu"] == pytest.approx(sacrebleu.corpus_bleu(HYPS, [REFS]).score)
    assert chrf(HYPS, REFS)["chrf"] == pytest.approx(sacrebleu.corpus_chrf(HYPS, [REFS]).score)
    sentence_mean = sum(sacrebleu.sentence_bleu(h, [r]).score for h, r in zip(HYPS, REFS, strict=True)) / 3
    assert bleu(HYPS, REFS)["bleu"] != pytest.approx(sentence_mean)  # corpus-level, not a mean of sentences
    assert bleu(HYPS, HYPS)["bleu"] == pytest.approx(100.0)
    two_refs = bleu(HYPS, [[r, h] for r, h in zip(REFS, HYPS, strict=True)])["bleu"]
    assert two_refs == pytest.approx(100.0)  # a hypothesis equal to one of its references
    with pytest.raises(ValueError):
        bleu(HYPS, REFS[:2])


def test_rouge_f_measures():
    scores = rouge(["the cat sat"], ["the cat ran"], stemmer=False)
    assert scores["rouge1"] == pytest.approx(2 / 3) and scores["rouge2"] == pytest.approx(1 / 2)
    assert rouge(["a b c\nd e"], ["a b c\nd e"])["rougeLsum"] == pytest.approx(1.0)
    with pytest.raises(ValueError):
        rouge(["a"], [])


def test_span_f1_counts_whole_spans():
    true = [["O", "O", "O", "B-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    pred = [["O", "O", "B-MISC", "I-MISC", "I-MISC", "I-MISC", "O"], ["B-PER", "I-PER", "O"]]
    scores = span_f1(true, pred)
    assert scores == {"span_precision": 0.5, "span_recall": 0.5, "span_f1": 0.5}  # the MISC span is off by one
    with pytest.raises(ValueError, match="sequence 1"):
        span_f1(true, [pred[0], ["O"]])


def test_uneven_reference_counts_are_padded_for_sacrebleu():
    hyps = ["Il fait froid.", "Je suis là."]
    refs = [["Il fait froid."], ["Je suis ici.", "Je suis là."]]  # Tatoeba: some sentences have two translations
    assert bleu(hyps, refs)["bleu"] == pytest.approx(100.0)
    near = ["Il fait très froid.", "Je suis bien là."]
    by_hand = sacrebleu.corpus_bleu(near, [["Il fait froid.", "Je suis ici."], [None, "Je suis là."]]).score
    assert bleu(near, refs)["bleu"] == pytest.approx(by_hand) and 0 < by_hand < 100
    assert chrf(hyps, refs)["chrf"] == pytest.approx(100.0)
    with pytest.raises(ValueError, match="non-empty list"):
        bleu(hyps, [["Il fait froid."], []])
