"""genai_roadmap.nn.recurrent: the LSTM language model's carried state and decode_step, the truncated-BPTT
stream batches, and the packed BiLSTM classifier's independence from padding."""

from __future__ import annotations

import pytest
import torch

from genai_roadmap.nn.generate import beam_search, greedy
from genai_roadmap.nn.recurrent import BiLSTMClassifier, LSTMLanguageModel, StreamBatches, tbptt_step
from genai_roadmap.train import Trainer, build_optimizer


def _lm(layers=2):
    torch.manual_seed(0)
    return LSTMLanguageModel(vocab_size=11, embed_dim=8, hidden=16, layers=layers, dropout=0.3).eval()


def test_carried_state_equals_one_pass_over_the_whole_sequence():
    model, x = _lm(), torch.randint(0, 11, (3, 20), generator=torch.Generator().manual_seed(1))
    whole, (h, c) = model(x)
    state, parts = None, []
    for chunk in x.split(7, dim=1):  # chunks of 7, 7, 6 with the state carried
        logits, state = model(chunk, state)
        parts.append(logits)
    torch.testing.assert_close(torch.cat(parts, dim=1), whole)
    torch.testing.assert_close(state[0], h)
    torch.testing.assert_close(state[1], c)
    assert h.shape == (3, 2, 16)  # batch first
    fresh, _ = model(x[:, 7:])  # a zero state is not the same context: the carried state matters
    assert not torch.allclose(fresh, whole[:, 7:], atol=1e-4)


def test_decode_step_logits_equal_the_full_forward():
    model, x = _lm(), torch.randint(0, 11, (2, 9), generator=torch.Generator().manual_seed(2))
    full, _ = model(x)
    logits, state = model.decode_step(x[:, :4], None)  # the prompt at once, then one token at a time
    torch.testing.assert_close(logits, full[:, 3])
    for t in range(4, 9):
        logits, state = model.decode_step(x[:, t:t + 1], state)
        torch.testing.assert_close(logits, full[:, t])


def test_beam_search_reorders_the_batch_first_state():
    model, prompt = _lm(), torch.tensor([[1, 2, 3], [4, 5, 6]])
    torch.testing.assert_close(beam_search(model, prompt, beam_size=1, max_new_tokens=6), greedy(model, prompt, 6))
    beams = beam_search(model, prompt, beam_size=3, max_new_tokens=6)
    assert beams.shape == (2, 9) and torch.equal(beams[:, :3], prompt)


def test_stream_batches_are_contiguous_streams_with_next_token_labels():
    ids = torch.arange(1000)
    batches = StreamBatches(ids, batch_size=4, seq_len=10, shuffle=True, seed=3)
    epoch = list(batches.epoch(1))
    assert len(epoch) == len(batches) and batches.tokens_per_epoch == len(batches) * 40
    assert bool(epoch[0]["reset"]) and not any(bool(b["reset"]) for b in epoch[1:])
    for prev, cur in zip(epoch, epoch[1:], strict=False):
        assert torch.equal(cur["input_ids"][:, 0], prev["input_ids"][:, -1] + 1)  # each row continues its stream
    assert all(torch.equal(b["labels"], b["input_ids"] + 1) for b in epoch)
    starts = [int(next(iter(batches.epoch(e)))["input_ids"][0, 0]) for e in range(6)]
    assert len(set(starts)) > 1 and max(starts) < 10  # a random offset per epoch, within one chunk
    assert [int(b["input_ids"][0, 0]) for b in batches.epoch(1, start=5)] == [
        int(b["input_ids"][0, 0]) for b in epoch[5:]]  # resuming mid-epoch gives the same batches
    with pytest.raises(ValueError):
        StreamBatches(torch.arange(30), batch_size=4, seq_len=10)


def test_tbptt_training_learns_a_sequence_longer_than_a_chunk():
    """A periodic sequence of period 12 read in chunks of 4: the next token is only predictable from context
    beyond the chunk, so the loss falls far below uniform only when the state is carried."""
    torch.manual_seed(0)
    pattern = torch.randperm(12) % 6  # each symbol twice per period: its successor depends on older context
    ids = pattern.repeat(300)
    losses = {}
    for carry in (True, False):
        torch.manual_seed(0)
        model = LSTMLanguageModel(6, embed_dim=8, hidden=32, layers=1, dropout=0.0)
        batches = StreamBatches(ids, batch_size=8, seq_len=4, shuffle=True, seed=0)
        trainer = Trainer(model, build_optimizer(model, "adamw", 1e-2), epochs=6, step=tbptt_step(carry),
                          progress=False)
        trainer.fit(batches)
        losses[carry] = trainer.evaluate(StreamBatches(ids, 4, 4), step=tbptt_step(carry))["loss"]
    assert losses[True] < 0.02 and losses[False] > 0.1, losses  # measured: 0.0006 vs 0.17


def test_packed_bilstm_ignores_padding():
    torch.manual_seed(0)
    model = BiLSTMClassifier(vocab_size=20, num_classes=2, embed_dim=8, hidden=6, pad_id=0).eval()
    seqs = [[3, 4, 5, 6, 7], [8, 9], [10, 11, 12]]
    lengths = torch.tensor([len(s) for s in seqs])

    def padded(width):
        return torch.tensor([s + [0] * (width - len(s)) for s in seqs])

    tight = model(padded(5), lengths)
    torch.testing.assert_close(model(padded(40), lengths), tight)
    alone = torch.cat([model(torch.tensor([s]), torch.tensor([len(s)])) for s in seqs])
    torch.testing.assert_close(alone, tight)  # a review's score does not depend on its batch
    noisy = padded(8)
    noisy[1, 2:] = 13  # garbage in the padding positions changes nothing either
    torch.testing.assert_close(model(noisy, lengths), model(padded(8), lengths))
