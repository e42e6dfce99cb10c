"""Generation: sampled frequencies match a constructed next-token distribution; top-k=1 and beam 1 equal greedy;
a carried hidden state equals recomputation; beam search beats greedy where greedy is myopic; streaming is lazy."""

import pytest
import torch
from torch import nn

from genai_roadmap.nn.generate import Recompute, beam_search, generate, greedy, stream


class Table(nn.Module):
    """A Decoder whose next-token distribution depends only on the last token: probs[last] (rows sum to 1)."""

    def __init__(self, probs):
        super().__init__()
        self.logits = torch.tensor(probs).clamp(min=1e-12).log()
        self.calls = 0

    def decode_step(self, tokens, state):
        self.calls += 1
        return self.logits[tokens[:, -1]], None


class GRULM(nn.Module):
    """A small GRU language model: carries its hidden state (batch first: [B, H]) between calls."""

    def __init__(self, vocab=11, dim=16):
        super().__init__()
        self.emb, self.out = nn.Embedding(vocab, dim), nn.Linear(dim, vocab)
        self.gru = nn.GRU(dim, dim, batch_first=True)

    def forward(self, tokens):  # [B, T] -> [B, T, V]
        return self.out(self.gru(self.emb(tokens))[0])

    def decode_step(self, tokens, state):
        h0 = None if state is None else state["h"].transpose(0, 1).contiguous()  # GRU wants [1, B, H]
        out, h = self.gru(self.emb(tokens), h0)
        return self.out(out[:, -1]), {"h": h.transpose(0, 1)}


FIRST = [0.5, 0.3, 0.15, 0.05]


@pytest.mark.parametrize(("options", "expected"), [
    ({}, FIRST),
    ({"temperature": 0.5}, [p * p / sum(q * q for q in FIRST) for p in FIRST]),
    ({"top_k": 2}, [0.625, 0.375, 0, 0]),
    ({"top_p": 0.7}, [0.625, 0.375, 0, 0]),  # the two most likely tokens reach 0.8 >= 0.7
    ({"top_p": 0.85}, [0.5 / 0.95, 0.3 / 0.95, 0.15 / 0.95, 0]),
])
def test_sampling_frequencies_follow_the_constructed_distribution(options, expected):
    model = Table([FIRST] * 4)
    n = 40_000
    out = generate(model, torch.zeros(n, 1, dtype=torch.long), 1, generator=torch.Generator().manual_seed(0),
                   **options)
    freq = torch.bincount(out[:, 1], minlength=4).float() / n
    assert freq.tolist() == pytest.approx(expected, abs=0.01)


def test_top_k_one_and_beam_one_equal_greedy():
    torch.manual_seed(0)
    model = GRULM()
    prompt = torch.randint(0, 11, (3, 4))
    best = greedy(model, prompt, 12)
    assert best.shape == (3, 16)
    assert torch.equal(generate(model, prompt, 12, top_k=1, generator=torch.Generator().manual_seed(1)), best)
    for row in range(3):
        assert torch.equal(beam_search(model, prompt[row:row + 1], 1, 12), best[row:row + 1])


def test_carried_hidden_state_equals_recomputing_the_whole_sequence():
    torch.manual_seed(0)
    model = GRULM()
    prompt = torch.randint(0, 11, (2, 5))
    assert torch.equal(greedy(model, prompt, 10), greedy(Recompute(model), prompt, 10))
    sampled = generate(model, prompt, 10, temperature=1.3, generator=torch.Generator().manual_seed(3))
    again = generate(Recompute(model), prompt, 10, temperature=1.3, generator=torch.Generator().manual_seed(3))
    assert torch.equal(sampled, again)


def test_beam_search_finds_what_greedy_misses():
    # from 0: token 1 (0.6) or 2 (0.4); after 1 four tokens at 0.25, after 2 token 3 at 0.9 -> 0.36 > 0.15
    probs = [[0, 0.6, 0.4, 0, 0], [0.25, 0.25, 0.25, 0.25, 0], [0, 0, 0, 0.9, 0.1], [0.2] * 5, [0.2] * 5]
    model = Table(probs)
    start = torch.zeros(1, 1, dtype=torch.long)
    assert greedy(model, start, 2).tolist() == [[0, 1, 0]]
    assert beam_search(model, start, 2, 2).tolist() == [[0, 2, 3]]


def test_beam_search_over_a_batch_equals_each_prompt_alone_with_a_state():
    torch.manual_seed(0)
    model = GRULM()
    prompts = torch.randint(0, 11, (3, 3))
    # a seq2seq-like start: the state (an "encoder" summary) is given, the prompt is one start token each
    _, state = model.decode_step(prompts, None)
    start = torch.zeros(3, 1, dtype=torch.long)
    together = beam_search(model, start, 4, 8, state=state, eos_id=10)
    for i in range(3):
        alone = beam_search(model, start[i:i + 1], 4, 8, state={"h": state["h"][i:i + 1]}, eos_id=10)
        assert torch.equal(together[i:i + 1, :alone.shape[1]], alone)


def test_beam_search_prefers_higher_probability_among_finished():
    torch.manual_seed(1)
    model = GRULM()
    prompt = torch.randint(0, 11, (1, 3))

    def logp(seq):  # the model's log-probability of a continuation
        with torch.no_grad():
            lp = model(seq[:, :-1]).log_softmax(-1)
        return sum(lp[0, t - 1, seq[0, t]].item() for t in range(prompt.shape[1], seq.shape[1]))

    assert logp(beam_search(model, prompt, 5, 6)) >= logp(greedy(model, prompt, 6)) - 1e-6


def test_stream_yields_each_token_as_it_is_chosen_and_stops_at_eos():
    probs = [[0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1], [0, 0, 0, 1]]  # 0 -> 1 -> 2 -> 3 (eos)
    model = Table(probs)
    tokens = stream(model, torch.zeros(1, 1, dtype=torch.long), 50, temperature=0, eos_id=3)
    assert int(next(tokens)) == 1 and model.calls == 1  # lazy: one model call per token taken
    assert [int(t) for t in tokens] == [2, 3] and model.calls == 3
    assert torch.is_grad_enabled()  # the caller's grad mode is untouched between tokens
