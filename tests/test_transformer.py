"""Transformer blocks: the fused attention kernel equals softmax(QK^T/sqrt(d))V written out (with padding and
causal masks, with a cache offset); future tokens do not change past logits; decoding with the KV cache gives
the full forward's logits; padding does not change the real tokens' outputs; greedy / beam search run on it."""

import math

import pytest
import torch

from genai_roadmap.nn.generate import Recompute, beam_search, greedy
from genai_roadmap.nn.transformer import (
    DecoderOnlyLM,
    MultiHeadAttention,
    Seq2SeqTransformer,
    attention_mask,
    sinusoidal_positions,
)

V, PAD, BOS, EOS = 23, 0, 1, 2


def by_hand(q, k, v, allowed):
    """softmax(QK^T/sqrt(d))V with explicit loops over the batch and heads, -inf where not allowed."""
    out = torch.zeros_like(q)
    for b in range(q.shape[0]):
        for h in range(q.shape[1]):
            scores = q[b, h] @ k[b, h].T / math.sqrt(q.shape[-1])
            scores = torch.where(allowed[b], scores, torch.tensor(float("-inf")))
            out[b, h] = torch.softmax(scores, dim=-1) @ v[b, h]
    return out


@pytest.mark.parametrize("causal,padded,cached", [(False, False, 0), (False, True, 0), (True, False, 0),
                                                  (True, True, 0), (True, True, 3)])
def test_attention_equals_hand_written_softmax(causal, padded, cached):
    torch.manual_seed(0)
    b, t, d, heads = 2, 5, 16, 4
    attn = MultiHeadAttention(d, heads).eval()
    x = torch.randn(b, t, d)
    past = (torch.randn(b, heads, cached, d // heads), torch.randn(b, heads, cached, d // heads)) if cached else None
    s = t + cached
    key_mask = torch.ones(b, s, dtype=torch.long)
    if padded:
        key_mask[1, -2:] = 0  # the second sequence's last two keys are padding
    y, (k, v) = attn(x, key_mask=key_mask if padded else None, causal=causal, past=past)

    q = attn.split_heads(attn.query(x))
    k_new, v_new = attn.keys_values(x)
    if cached:
        k_new, v_new = torch.cat([past[0], k_new], 2), torch.cat([past[1], v_new], 2)
    assert torch.equal(k, k_new) and k.shape == (b, heads, s, d // heads)
    allowed = torch.ones(b, t, s, dtype=torch.bool)
    for i in range(t):  # query i sits at absolute position cached + i
        if causal:
            allowed[:, i, cached + i + 1:] = False
        if padded:
            allowed[1, i, -2:] = False
    expected = attn.out(by_hand(q, k_new, v_new, allowed).transpose(1, 2).flatten(2))
    torch.testing.assert_close(y, expected, atol=1e-5, rtol=1e-5)

    attn.keep_weights = True  # the reference path used for plots gives the same output, and rows sum to 1
    y_ref, _ = attn(x, key_mask=key_mask if padded else None, causal=causal, past=past)
    torch.testing.assert_close(y_ref, y, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(attn.weights.sum(-1), torch.ones(b, heads, t))
    assert (attn.weights.masked_select(~allowed[:, None]) == 0).all()


def test_attention_mask_offsets_causality_by_the_cache():
    mask = attention_mask(None, 2, 5, causal=True, device=torch.device("cpu"))[0, 0]
    assert mask.tolist() == [[True, True, True, True, False], [True, True, True, True, True]]


def test_sinusoidal_positions_formula():
    table = sinusoidal_positions(50, 8)
    assert table[7, 2].item() == pytest.approx(math.sin(7 / 10000 ** (2 / 8)), abs=1e-6)
    assert table[7, 3].item() == pytest.approx(math.cos(7 / 10000 ** (2 / 8)), abs=1e-6)


def seq2seq():
    torch.manual_seed(0)
    return Seq2SeqTransformer(V, d_model=32, n_heads=4, n_encoder=2, n_decoder=2, dropout=0.0, max_len=40,
                              pad_id=PAD).eval()


def test_seq2seq_future_target_tokens_do_not_change_past_logits():
    model = seq2seq()
    src = torch.randint(3, V, (2, 7))
    tgt = torch.randint(3, V, (2, 6))
    changed = tgt.clone()
    changed[:, 4:] = torch.randint(3, V, (2, 2))
    mask = torch.ones_like(src)
    a, b = model(src, mask, tgt), model(src, mask, changed)
    torch.testing.assert_close(a[:, :4], b[:, :4])
    assert not torch.allclose(a[:, 4:], b[:, 4:])  # and the changed positions do change


def test_seq2seq_source_padding_does_not_change_outputs():
    model = seq2seq()
    src = torch.randint(3, V, (1, 6))
    tgt = torch.randint(3, V, (1, 5))
    alone = model(src, torch.ones_like(src), tgt)
    padded_src = torch.cat([src, torch.full((1, 3), PAD)], 1)
    padded_mask = torch.cat([torch.ones(1, 6), torch.zeros(1, 3)], 1).long()
    torch.testing.assert_close(model(padded_src, padded_mask, tgt), alone, atol=1e-5, rtol=1e-5)
    unmasked = model(padded_src, torch.ones_like(padded_src), tgt)  # the mask is what makes it so
    assert not torch.allclose(unmasked, alone, atol=1e-3)
    # a batch of two lengths: each row equals the row run alone
    other = torch.randint(3, V, (1, 9))
    batch_src = torch.cat([padded_src, other])
    batch_mask = torch.cat([padded_mask, torch.ones(1, 9).long()])
    torch.testing.assert_close(model(batch_src, batch_mask, tgt.repeat(2, 1))[:1], alone, atol=1e-5, rtol=1e-5)


def test_seq2seq_cached_decoding_equals_full_forward():
    model = seq2seq()
    src = torch.randint(3, V, (3, 8))
    mask = torch.ones_like(src)
    mask[0, 5:] = 0
    tgt = torch.randint(3, V, (3, 6))
    full = model(src, mask, tgt)  # [B, T, V]
    state = model.encode(src, mask)
    logits, state = model.decode_step(tgt[:, :2], state)  # a two-token prompt first, then one at a time
    torch.testing.assert_close(logits, full[:, 1], atol=1e-5, rtol=1e-5)
    for t in range(2, 6):
        logits, state = model.decode_step(tgt[:, t:t + 1], state)
        torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=1e-5)
    assert state["cache"][0][0].shape == (3, 4, 6, 8)


def test_seq2seq_greedy_and_beam_run_from_the_encoded_state():
    model = seq2seq()
    src = torch.randint(3, V, (2, 6))
    start = torch.full((2, 1), BOS)
    out = greedy(model, start, 10, eos_id=EOS, state=model.encode(src))
    # greedy with the cache equals greedy by recomputing the whole decoder at every step
    recompute = Recompute(lambda tgt: model(src, torch.ones_like(src), tgt))
    torch.testing.assert_close(out, greedy(recompute, start, 10, eos_id=EOS))
    one_beam = beam_search(model, start, 1, 10, eos_id=EOS, state=model.encode(src))
    assert torch.equal(one_beam[:, : out.shape[1]], out[:, : one_beam.shape[1]])
    four = beam_search(model, start, 4, 10, eos_id=EOS, state=model.encode(src))
    assert four.shape[0] == 2 and (four[:, 0] == BOS).all()


def test_seq2seq_cross_attention_maps_and_tied_embeddings():
    model = seq2seq()
    src = torch.randint(3, V, (2, 7))
    mask = torch.ones_like(src)
    mask[1, 4:] = 0
    weights = model.cross_attention(src, mask, torch.randint(3, V, (2, 5)))
    assert weights.shape == (2, 4, 5, 7)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 4, 5))
    assert (weights[1, :, :, 4:] == 0).all()
    names = [n for n, _ in model.named_parameters() if "tokens" in n]
    assert names == ["embed.tokens.weight"]  # one matrix for source, target and output
    assert len(model.state_dict()) == len(set(map(id, model.state_dict().values())))  # no aliases: safetensors


def lm():
    torch.manual_seed(0)
    return DecoderOnlyLM(V, d_model=32, n_heads=4, n_layers=2, block_size=12, dropout=0.0).eval()


def test_decoder_only_causal_and_cached_decoding():
    model = lm()
    tokens = torch.randint(0, V, (2, 10))
    full = model(tokens)
    changed = tokens.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % V
    torch.testing.assert_close(model(changed)[:, :7], full[:, :7])
    logits, state = model.decode_step(tokens[:, :3], None)
    torch.testing.assert_close(logits, full[:, 2], atol=1e-5, rtol=1e-5)
    for t in range(3, 10):
        logits, state = model.decode_step(tokens[:, t:t + 1], state)
        torch.testing.assert_close(logits, full[:, t], atol=1e-5, rtol=1e-5)


def test_decoder_only_generates_past_its_block_size():
    model = lm()
    prompt = torch.randint(0, V, (2, 4))
    out = greedy(model, prompt, 20)  # 24 tokens through a 12-token window
    assert out.shape == (2, 24)
    # the window slides like recomputing the last block_size tokens at every step
    expected = greedy(Recompute(lambda seen: model(seen[:, -model.block_size:])), prompt, 20)
    assert torch.equal(out, expected)
    with pytest.raises(ValueError, match="block_size"):
        model(torch.zeros(1, 13, dtype=torch.long))


def test_train_step_learns_a_copy_task():
    """A few hundred steps of teacher forcing on 'copy the source' drive the loss well below its start."""
    torch.manual_seed(0)
    model = Seq2SeqTransformer(V, d_model=32, n_heads=4, n_encoder=1, n_decoder=1, dropout=0.0, max_len=20)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    losses = []
    for _ in range(150):
        src = torch.randint(3, V, (32, 6))
        tgt = torch.cat([torch.full((32, 1), BOS), src, torch.full((32, 1), EOS)], 1)
        logits = model(src, torch.ones_like(src), tgt[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.flatten(0, 1), tgt[:, 1:].flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]
    model.eval()
    src = torch.randint(3, V, (4, 6))
    out = greedy(model, torch.full((4, 1), BOS), 7, eos_id=EOS, state=model.encode(src))
    assert (out[:, 1:7] == src).float().mean() > 0.9
