"""The retrieval-augmented generator: citations parsed out of what the model writes, the numbered prompt, and
SmolLM2 streaming pieces that join to exactly the answer it returns."""

from __future__ import annotations

import pytest

from genai_roadmap.errors import UserError
from genai_roadmap.retrieval.generator import Generator, Passage, attribute, number_passages, parse_citations


def test_citations_parsed_valid_invalid_and_removed_from_the_text():
    text, cited, invalid = parse_citations("Paris is the capital [2]. It is large [1, 3][2] and old [7].", 3)
    assert cited == [2, 1, 3] and invalid == [7]
    assert text == "Paris is the capital. It is large and old."
    assert parse_citations("no sources here", 2) == ("no sources here", [], [])
    assert parse_citations("[0] zero is not a passage", 2)[1:] == ([], [0])


def test_numbered_context_and_attribution():
    passages = [Passage("Oak", "The oak is a tree."), Passage("", "Paris is the capital of France " + "x " * 200)]
    block = number_passages(passages, max_words=10)
    assert block.splitlines()[0] == "[1] Oak: The oak is a tree."
    assert block.splitlines()[1].startswith("[2] Paris is the capital") and block.endswith(" ...")
    assert attribute("the capital of France", passages) == 2
    assert attribute("zebra", passages) is None


@pytest.fixture(scope="module")
def smollm2():
    return Generator(max_new_tokens=6)


def test_stream_joins_to_the_answer_and_cites_a_passage(smollm2):
    passages = [Passage("Bank", "Savings accounts pay 3% interest per year."),
                Passage("Cards", "A lost card can be blocked in the app under Cards > Block.")]
    pieces = list(smollm2.stream("How do I block a lost card?", passages))
    assert len(pieces) >= 2 and pieces[0] == "["  # the forced citation bracket, then the model's tokens
    answer = smollm2.answer("How do I block a lost card?", passages)
    assert "".join(pieces).strip() == answer.raw  # greedy: the same text both ways
    assert 1 <= answer.n_tokens <= 6
    assert answer.citations and set(answer.citations) <= {1, 2}  # the first token is limited to passage numbers
    assert "<|im_end|>" not in answer.raw and "<|im_start|>" not in answer.raw


def test_prompt_uses_the_chat_template_and_rejects_empty_questions(smollm2):
    prompt = smollm2.prompt("Why?", [Passage("T", "Because.")])
    assert "<|im_start|>system" in prompt and "[1] T: Because." in prompt and prompt.endswith("assistant\n[")
    with pytest.raises(UserError):
        smollm2.answer("   ", [Passage("T", "Because.")])
