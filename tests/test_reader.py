"""The extractive reader: span decoding against hand-made logits, answer labels across doc-stride windows, and a
tiny fine-tune of MiniLM that must then find the answer span in passages it has not seen."""

from __future__ import annotations

import numpy as np
import pytest

from genai_roadmap.retrieval.reader import (
    ReaderConfig,
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
