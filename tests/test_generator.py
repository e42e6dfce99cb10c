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


def test_an_encoder_decoder_goes_through_the_same_code(tmp_path):
    """T5-style models (flan-t5, t5-small by name online) take the seq2seq path: the encoder runs once, the
    decoder streams. Here a tiny random T5 with MiniLM's tokenizer stands in for the download."""
    import shutil

    from transformers import T5Config, T5ForConditionalGeneration

    from genai_roadmap import hub

    tok_dir = hub.resolve("sentence-transformers/all-MiniLM-L6-v2").path
    for name in ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        if (tok_dir / name).is_file():
            shutil.copy(tok_dir / name, tmp_path / name)
    config = T5Config(vocab_size=30522, d_model=32, d_ff=64, d_kv=16, num_layers=1, num_decoder_layers=1,
                      num_heads=2, decoder_start_token_id=0, pad_token_id=0, eos_token_id=102)
    T5ForConditionalGeneration(config).save_pretrained(tmp_path)
    gen = Generator(str(tmp_path), max_new_tokens=5, temperature=1.0)  # sampling: a random model's greedy may stall
    assert gen.seq2seq and gen.prefix == ""
    assert gen.prompt("Why?", [Passage("T", "Because.")]).startswith("Answer the question using the passages")
    pieces = list(gen.stream("Why?", [Passage("T", "Because.")]))
    answer = gen.answer("Why?", [Passage("T", "Because.")])  # same seed: the same sample
    assert "".join(pieces).strip() == answer.raw and answer.n_tokens <= 5
