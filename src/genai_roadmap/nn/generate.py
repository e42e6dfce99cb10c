"""Generation from autoregressive models: sampling (temperature, top-k, top-p), greedy and beam search,
streaming tokens as they are produced. Shared by every text project (char-RNN, seq2seq, GPT, chat).

A model takes part by implementing one method, `decode_step` (the `Decoder` protocol):

    logits, state = model.decode_step(tokens, state)

`tokens` [B, t] are the tokens the model has not seen yet — the whole prompt on the first call, then the one
token just chosen — and `state` is whatever the model carries between calls: None on the first call (or what
the caller passes, e.g. a seq2seq encoder's output), then a KV cache (a transformer), the hidden state (an
RNN), or the tokens so far (a model that recomputes everything: wrap it in `Recompute`). `logits` [B, V] score
the next token. A state is tensors with the batch first, possibly inside tuples / lists / dicts, so beam search
can reorder it (`reorder_state`).

    ids = generate(model, prompt, max_new_tokens=50, temperature=0.8, top_p=0.95, eos_id=eos)  # [B, T + n]
    ids = greedy(model, prompt, 50, eos_id=eos)
    ids = beam_search(model, start, beam_size=4, max_new_tokens=50, eos_id=eos, state=model.encode(src))
    for token in stream(model, prompt, 200, temperature=0.7):   # token: [B], as soon as it is chosen
        print(tokenizer.decode(token), end="", flush=True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any, Protocol

import torch
from torch import nn


class Decoder(Protocol):
    def decode_step(self, tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        """tokens [B, t] not yet seen, the carried state -> (next-token logits [B, V], the new state)."""


class Recompute(nn.Module):
    """A `Decoder` for a model without a cache: `forward(tokens [B, T]) -> logits [B, T, V]` runs over the
    whole sequence at every step (its state is the tokens so far). Simple, and O(T²) per sequence."""

    def __init__(self, model: nn.Module | Callable[[torch.Tensor], torch.Tensor]) -> None:
        super().__init__()
        self.model = model

    def decode_step(self, tokens: torch.Tensor, state: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        seen = tokens if state is None else torch.cat([state, tokens], dim=1)  # [B, T]
        return self.model(seen)[:, -1], seen


def reorder_state(state: Any, index: torch.Tensor) -> Any:
    """Select rows `index` of every tensor in a state (batch first): beam search's reordering."""
    if torch.is_tensor(state):
        return state.index_select(0, index.to(state.device))
    if isinstance(state, dict):
        return {k: reorder_state(v, index) for k, v in state.items()}
    if isinstance(state, (tuple, list)):
        return type(state)(reorder_state(v, index) for v in state)
    return state  # numbers, None: shared by every row


def filter_logits(logits: torch.Tensor, temperature: float = 1.0, top_k: int = 0, top_p: float = 1.0) -> torch.Tensor:
    """Logits [B, V] scaled by 1/temperature, with everything outside the top k tokens, and outside the
    smallest set whose probability reaches top_p (nucleus), set to -inf. The most likely token always stays."""
    if temperature <= 0:
        raise ValueError("temperature must be > 0 to sample (greedy decoding is temperature=0 in generate)")
    logits = logits.float() / temperature
    if top_k and top_k < logits.shape[-1]:
        kth = logits.topk(top_k, dim=-1).values[..., -1:]  # [B, 1]
        logits = logits.masked_fill(logits < kth, float("-inf"))
    if top_p < 1.0:
        sorted_logits, order = logits.sort(dim=-1, descending=True)
        probs = sorted_logits.softmax(-1)
        before = probs.cumsum(-1) - probs  # probability mass of the tokens ranked above each one
        drop_sorted = before >= top_p
        drop = torch.zeros_like(drop_sorted).scatter(-1, order, drop_sorted)
        logits = logits.masked_fill(drop, float("-inf"))
    return logits


def stream(model: Decoder, tokens: torch.Tensor, max_new_tokens: int, *, temperature: float = 1.0,
           top_k: int = 0, top_p: float = 1.0, eos_id: int | None = None, state: Any = None,
           generator: torch.Generator | None = None) -> Iterator[torch.Tensor]:
    """Yield the next token of every sequence ([B], long) as soon as it is chosen. temperature=0 is greedy.
    A sequence that produced `eos_id` keeps producing it; the stream ends when all have, or after
    `max_new_tokens`. The model is run without gradients (and put back in its training mode afterwards)."""
    was_training = getattr(model, "training", False)
    if isinstance(model, nn.Module):
        model.eval()
    try:
        finished = torch.zeros(tokens.shape[0], dtype=torch.bool, device=tokens.device)
        pending = tokens
        for _ in range(max_new_tokens):
            with torch.no_grad():  # not around the yield: the caller's grad mode must not change
                logits, state = model.decode_step(pending, state)
                if temperature == 0:
                    nxt = logits.argmax(-1)
                else:
                    probs = filter_logits(logits, temperature, top_k, top_p).softmax(-1)
                    nxt = torch.multinomial(probs, 1, generator=generator).squeeze(1)
                if eos_id is not None:
                    nxt = nxt.masked_fill(finished, eos_id)
                    finished |= nxt == eos_id
            yield nxt
            if eos_id is not None and bool(finished.all()):
                return
            pending = nxt[:, None]
    finally:
        if isinstance(model, nn.Module):
            model.train(was_training)


def generate(model: Decoder, tokens: torch.Tensor, max_new_tokens: int, **sampling: Any) -> torch.Tensor:
    """The prompt [B, T] followed by up to `max_new_tokens` tokens: [B, T + n] (see `stream` for options)."""
    new = list(stream(model, tokens, max_new_tokens, **sampling))
    return torch.cat([tokens, torch.stack(new, dim=1)], dim=1) if new else tokens


def greedy(model: Decoder, tokens: torch.Tensor, max_new_tokens: int, *, eos_id: int | None = None,
           state: Any = None) -> torch.Tensor:
    """The most likely token at every step: [B, T + n]."""
    return generate(model, tokens, max_new_tokens, temperature=0, eos_id=eos_id, state=state)


@torch.no_grad()
def beam_search(model: Decoder, tokens: torch.Tensor, beam_size: int, max_new_tokens: int, *,
                eos_id: int | None = None, length_penalty: float = 1.0, state: Any = None) -> torch.Tensor:
    """The highest-scoring continuation of each prompt among `beam_size` hypotheses kept per step: [B, T + n].

    A hypothesis scores the sum of its tokens' log-probabilities divided by (its length ** length_penalty)
    once finished (eos, or the length limit); finished hypotheses are kept while others grow. beam_size=1 is
    greedy decoding."""
    if beam_size < 1:
        raise ValueError(f"beam_size must be >= 1, got {beam_size}")
    was_training = getattr(model, "training", False)
    if isinstance(model, nn.Module):
        model.eval()
    b, k, device = tokens.shape[0], beam_size, tokens.device
    rows = torch.arange(b, device=device).repeat_interleave(k)  # [B*K]: hypothesis -> its prompt
    state = reorder_state(state, rows)
    seqs = tokens[rows]  # [B*K, T]
    scores = torch.full((b, k), float("-inf"), device=device)
    scores[:, 0] = 0.0  # all K start as one hypothesis: only the first may expand at step one
    lengths = torch.zeros(b * k, device=device)
    finished = torch.zeros(b * k, dtype=torch.bool, device=device)
    pending = seqs
    for _ in range(max_new_tokens):
        logits, state = model.decode_step(pending, state)
        logp = logits.float().log_softmax(-1)  # [B*K, V]
        vocab = logp.shape[-1]
        if eos_id is not None:  # a finished hypothesis continues only with eos, at no cost
            stay = torch.full_like(logp, float("-inf"))
            stay[:, eos_id] = 0.0
            logp = torch.where(finished[:, None], stay, logp)
        cand = (scores.reshape(-1, 1) + logp).reshape(b, k * vocab)
        top, flat = cand.topk(k, dim=-1)  # [B, K]
        src = (flat // vocab + torch.arange(b, device=device)[:, None] * k).reshape(-1)  # hypothesis rows
        nxt = (flat % vocab).reshape(-1)
        state = reorder_state(state, src)
        seqs = torch.cat([seqs[src], nxt[:, None]], dim=1)
        was_finished = finished[src]
        lengths = lengths[src] + (~was_finished).float()
        finished = was_finished | ((nxt == eos_id) if eos_id is not None else torch.zeros_like(was_finished))
        scores = top
        if bool(finished.all()):
            break
        pending = nxt[:, None]
    normalised = scores.reshape(-1) / lengths.clamp(min=1) ** length_penalty
    best = normalised.reshape(b, k).argmax(-1) + torch.arange(b, device=device) * k  # [B]
    if isinstance(model, nn.Module):
        model.train(was_training)
    return seqs[best]
