"""The extractive reader: span decoding against hand-made logits, answer labels across doc-stride windows, and a
tiny fine-tune of MiniLM that must then find the answer span in passages it has not seen."""

from __future__ import annotations

import numpy as np
import pytest

from genai_roadmap.retrieval.reader import (
    ReaderConfig,
    Span,
    answer_positions,
    best_spans,
    fine_tune,
    new_reader,
    windows,
)


def test_best_span_respects_order_length_and_passage_tokens():
    offsets = [None, None, (0, 3), (4, 9), (10, 15), (16, 20), None]  # [CLS] q [p p p p] [SEP]
    start = np.array([9.0, 0, 1, 5, 0, 0, 9])  # [CLS] and [SEP] score high but are not passage tokens
    end = np.array([9.0, 0, 0, 0, 0, 6, 9])
    assert best_spans(start, end, offsets, max_answer_tokens=30) == [(11.0, 4, 20)]
    # the same span is too long at 2 tokens: the best within the limit ends where the next-best end allows
    score, a, b = best_spans(start, end, offsets, max_answer_tokens=2)[0]
    assert (a, b) != (4, 20) and b - a <= 11
    end_before_start = np.array([0.0, 0, 8, 0, 0, 1, 0])  # best end token precedes the best start token
    start2 = np.array([0.0, 0, 0, 0, 0, 8, 0])
    assert best_spans(start2, end_before_start, offsets, 30)[0][1:] == (16, 20)


def test_answer_labels_follow_the_answer_through_strided_windows():
    cfg = ReaderConfig(max_length=40, doc_stride=16)
    reader = new_reader(cfg)
    context = " ".join(f"word{i}" for i in range(60)) + " The treasure is buried under the old oak tree."
    answer = "the old oak tree"
    start_char = context.index(answer)
    win = windows(reader.tokenizer, ["Where is the treasure?"], [context], cfg)
    assert len(win["input_ids"]) > 2 and all(len(x) <= 40 for x in win["input_ids"])
    found = 0
    for w in range(len(win["input_ids"])):
        s, e = answer_positions(win["offsets"][w], start_char, answer)
        if (s, e) == (0, 0):
            continue
        found += 1
        offs = win["offsets"][w]
        assert context[offs[s][0]:offs[e][1]] == answer
    assert found >= 1  # the last window holds the whole answer; windows that cut it point at [CLS]


@pytest.mark.slow
def test_tiny_fine_tune_finds_the_span_in_unseen_passages():
    names = ["Alice", "Bruno", "Chen", "Dmitri", "Elena", "Farah", "Goran", "Hana", "Ivan", "Julia", "Kofi", "Lena"]
    cities = ["Lisbon", "Oslo", "Quito", "Dakar", "Hanoi", "Perth", "Turin", "Accra", "Bergen", "Cusco", "Malmo",
              "Tunis"]
    rng = np.random.default_rng(0)
    qs, ctxs, starts, answers = [], [], [], []
    for i in range(48):
        name, city, other = names[i % 8], cities[i % 8], cities[(i + 3) % 8]
        ctx = f"{name} visited {other} last spring. {name} was born in {city} and still lives there."
        if rng.random() < 0.5:
            ctx = f"{name} was born in {city} and still lives there. Later {name} visited {other}."
        qs.append(f"Where was {name} born?")
        ctxs.append(ctx)
        starts.append(ctx.index(f"born in {city}") + len("born in "))
        answers.append(city)
    reader = new_reader(ReaderConfig(max_length=64, doc_stride=16, batch_size=4, epochs=4, lr=1e-4, warmup=0.1))
    info = fine_tune(reader, qs, ctxs, starts, answers)
    assert info["loss_last_20"] < info["loss_first_20"] / 2
    # names and cities never seen in training
    tests = [("Kofi", "Bergen", "Cusco"), ("Lena", "Tunis", "Malmo"), ("Ivan", "Cusco", "Perth")]
    hits = 0
    for name, city, other in tests:
        spans = reader.read(f"Where was {name} born?", [f"{name} visited {other} in May. {name} was born in "
                                                        f"{city} and still lives there."])
        hits += spans[0].text.strip(" .") == city
    assert hits >= 2


def test_read_each_gives_each_passage_its_own_best_span_as_reading_it_alone_would():
    reader = new_reader(ReaderConfig(max_length=48, doc_stride=16))  # untrained head: arbitrary but fixed logits
    long = " ".join(f"word{i}" for i in range(80)) + " The bell rang at noon."  # several windows
    passages = [long, "The ship left the harbour in May.", "Rain fell all week."]
    each = reader.read_each(["When did it happen?"], [passages])[0]
    alone = [reader.read("When did it happen?", [p])[0] for p in passages]
    assert [(s.text, s.passage) for s in each] == [(a.text, i) for i, a in enumerate(alone)]
    assert np.allclose([s.score for s in each], [a.score for a in alone], atol=1e-3)
    best = reader.read("When did it happen?", passages)[0]
    assert best.score == pytest.approx(max(s.score for s in each), abs=1e-3)
    assert reader.read_each(["q"], [[]]) == [[]]
    third = Span("x", 5.0, 2, 0, 1, null=1.0)  # the third retrieved passage's span
    assert third.ranked() == 5.0 and third.ranked(1.0, 2.0) == pytest.approx(5.0 - 1.0 - 2.0 * np.log(3))


@pytest.mark.realdata
def test_hard_negatives_are_other_train_paragraphs_without_the_answer(need_data):
    from genai_roadmap.metrics.qa import has_answer, normalized_passage
    from genai_roadmap.retrieval.reader import hard_negatives, training_examples, training_questions
    from genai_roadmap.retrieval.squad import load_squad_dev, split_articles

    cfg = ReaderConfig(max_questions=40, negatives=2)
    qs = training_questions(cfg)
    squad = load_squad_dev()
    train = {p.text: p for p in squad.paragraphs if p.article in split_articles(cfg.seed).train}
    own = {p.paragraph_id: p.text for p in squad.paragraphs}
    negatives = hard_negatives(qs, cfg)
    assert sum(len(n) for n in negatives) >= 70, "nearly every question gets its two"
    for q, texts in zip(qs, negatives, strict=True):
        for text in texts:
            assert text in train, "only the train articles' paragraphs"
            assert text != own[q.paragraph_id] and not has_answer(normalized_passage(text), q.answers)
    # the BM25 ranking makes them hard: most share the question's article
    same_article = [train[t].article == q.article for q, texts in zip(qs, negatives, strict=True) for t in texts]
    assert np.mean(same_article) > 0.5
    questions, contexts, starts, answers = training_examples(cfg, qs)
    assert len(questions) == len(qs) + sum(len(n) for n in negatives)
    assert starts[:len(qs)] == [q.answer_starts[0] for q in qs] and set(starts[len(qs):]) == {-1}


def test_a_negative_paragraph_labels_every_window_with_cls():
    cfg = ReaderConfig(max_length=40, doc_stride=16)
    reader = new_reader(cfg)
    context = " ".join(f"word{i}" for i in range(60))
    win = windows(reader.tokenizer, ["Where is the treasure?"], [context], cfg)
    assert len(win["input_ids"]) > 2
    assert {answer_positions(offsets, -1, "") for offsets in win["offsets"]} == {(0, 0)}
