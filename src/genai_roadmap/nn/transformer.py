"""Transformer blocks, written out: multi-head attention with padding and causal masks, pre-norm blocks,
sinusoidal positions, an encoder, a decoder with a KV cache, and the two models built from them.

    model = Seq2SeqTransformer(vocab_size=8000, d_model=256, n_heads=4, n_encoder=3, n_decoder=3, pad_id=0)
    logits = model(src, src_mask, tgt_in)                 # [B, T, V]: teacher forcing
    state = model.encode(src, src_mask)                   # memory + cross-attention keys + an empty cache
    ids = beam_search(model, bos[:, None], 4, 60, eos_id=eos, state=state)   # genai_roadmap.nn.generate

    lm = DecoderOnlyLM(vocab=65, d_model=128, n_heads=4, n_layers=4, block_size=128, dropout=0.1)
    logits = lm(tokens)                                   # [B, T, V]
    ids = generate(lm, prompt, 200, temperature=0.8)      # decode_step with a KV cache

Masks are booleans with True = "may attend" (what `F.scaled_dot_product_attention` takes). A key mask
[B, S] marks real tokens (1) and padding (0); `causal` lets query i see keys up to its own absolute position,
which with a cache of P earlier tokens is key j <= P + i. The attention kernel is PyTorch's fused
`scaled_dot_product_attention`; `attention_reference` is the same computation written as softmax(QK^T/sqrt(d))V,
which the tests hold the kernel to, and which `keep_weights` uses to expose attention maps for plots.

The generation protocol is nn/generate.py's `decode_step(tokens, state) -> (logits [B, V], state)`; a state
is a dict of batch-first tensors (lists of per-layer (k, v) pairs inside), so beam search can reorder it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

KV = tuple[torch.Tensor, torch.Tensor]  # keys, values: [B, H, S, d_head] each


# ---- attention ---------------------------------------------------------------------------------------------

def attention_mask(key_mask: torch.Tensor | None, n_queries: int, n_keys: int, causal: bool,
                   device: torch.device) -> torch.Tensor | None:
    """Boolean mask [B or 1, 1, T, S] (True = attend) from a key mask [B, S] (1 = real token) and/or causality.
    With causality the T queries are the last T positions of the S keys (a cache holds the S - T before)."""
    mask = None
    if causal:
        offset = n_keys - n_queries
        q_pos = torch.arange(n_queries, device=device)[:, None] + offset
        mask = (torch.arange(n_keys, device=device)[None, :] <= q_pos)[None, None]  # [1, 1, T, S]
    if key_mask is not None:
        keys = key_mask.bool()[:, None, None, :]  # [B, 1, 1, S]
        mask = keys if mask is None else mask & keys
    return mask


def attention_reference(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor,
                        mask: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax(QK^T / sqrt(d)) V by hand: (output [B, H, T, d], weights [B, H, T, S]). Same as the kernel."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = scores.softmax(-1)
    return weights @ v, weights


class MultiHeadAttention(nn.Module):
    """Self-attention (source=None) or cross-attention over `source`, with an optional cache of past keys."""

    def __init__(self, d_model: int, n_heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model {d_model} is not divisible by n_heads {n_heads}")
        self.n_heads, self.d_head, self.dropout = n_heads, d_model // n_heads, dropout
        self.query = nn.Linear(d_model, d_model)
        self.key_value = nn.Linear(d_model, 2 * d_model)  # one matmul for both
        self.out = nn.Linear(d_model, d_model)
        self.keep_weights = False  # set True to store the attention map of the next call (plots)
        self.weights: torch.Tensor | None = None  # [B, H, T, S] when keep_weights

    def split_heads(self, x: torch.Tensor) -> torch.Tensor:  # [B, T, D] -> [B, H, T, d_head]
        return x.unflatten(-1, (self.n_heads, self.d_head)).transpose(1, 2)

    def keys_values(self, source: torch.Tensor) -> KV:  # [B, S, D] -> two [B, H, S, d_head]
        k, v = self.key_value(source).chunk(2, dim=-1)
        return self.split_heads(k), self.split_heads(v)

    def forward(self, x: torch.Tensor, source: torch.Tensor | None = None, *, key_mask: torch.Tensor | None = None,
                causal: bool = False, past: KV | None = None, kv: KV | None = None) -> tuple[torch.Tensor, KV]:
        """x [B, T, D] -> ([B, T, D], the (k, v) attended over). `kv` gives precomputed keys/values (a cached
        encoder memory); `past` is prepended to this call's keys (the decoder's self-attention cache)."""
        q = self.split_heads(self.query(x))
        k, v = kv if kv is not None else self.keys_values(x if source is None else source)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        if causal and key_mask is None and q.shape[2] == k.shape[2] and not self.keep_weights:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True,  # no cache: the kernel's own mask
                                               dropout_p=self.dropout if self.training else 0.0)
            return self.out(y.transpose(1, 2).flatten(2)), (k, v)
        mask = attention_mask(key_mask, q.shape[2], k.shape[2], causal, x.device)
        if self.keep_weights:
            y, self.weights = attention_reference(q, k, v, mask)
        else:
            y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                               dropout_p=self.dropout if self.training else 0.0)
        return self.out(y.transpose(1, 2).flatten(2)), (k, v)


# ---- blocks ------------------------------------------------------------------------------------------------

class FeedForward(nn.Module):
    def __init__(self, d_model: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Dropout(dropout), nn.Linear(d_ff, d_model))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class Block(nn.Module):
    """Pre-norm block: x + attn(LN(x)) [+ x + cross(LN(x), memory)] + x + ff(LN(x)). Pre-norm keeps the
    residual path an identity, so it trains without the careful warmup post-norm needs."""

    def __init__(self, d_model: int, n_heads: int, d_ff: int, dropout: float, cross: bool = False) -> None:
        super().__init__()
        self.norm1, self.attn = nn.LayerNorm(d_model), MultiHeadAttention(d_model, n_heads, dropout)
        self.cross = MultiHeadAttention(d_model, n_heads, dropout) if cross else None
        self.norm_cross = nn.LayerNorm(d_model) if cross else None
        self.norm2, self.ff = nn.LayerNorm(d_model), FeedForward(d_model, d_ff, dropout)
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, *, key_mask: torch.Tensor | None = None, causal: bool = False,
                past: KV | None = None, memory_kv: KV | None = None,
                memory_mask: torch.Tensor | None = None) -> tuple[torch.Tensor, KV]:
        """x [B, T, D] -> ([B, T, D], this layer's self-attention (k, v) including `past`: the new cache)."""
        h, cache = self.attn(self.norm1(x), key_mask=key_mask, causal=causal, past=past)
        x = x + self.drop(h)
        if self.cross is not None:
            h, _ = self.cross(self.norm_cross(x), key_mask=memory_mask, kv=memory_kv)
            x = x + self.drop(h)
        return x + self.drop(self.ff(self.norm2(x))), cache


def sinusoidal_positions(n: int, d_model: int) -> torch.Tensor:
    """[n, d_model]: sin on even, cos on odd dimensions, wavelengths 2π … 10000·2π (Vaswani et al. 2017)."""
    pos = torch.arange(n, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, d_model, 2, dtype=torch.float32) * (-math.log(10000.0) / d_model))
    table = torch.zeros(n, d_model)
    table[:, 0::2] = torch.sin(pos * freq)
    table[:, 1::2] = torch.cos(pos * freq[: d_model // 2])
    return table


class Embedding(nn.Module):
    """Token embedding * sqrt(d) + sinusoidal position (from `offset`), then dropout. The sqrt(d) scale with an
    N(0, 1/d) init gives unit-scale embeddings that the fixed positions do not drown."""

    def __init__(self, vocab_size: int, d_model: int, max_len: int, dropout: float) -> None:
        super().__init__()
        self.tokens = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.tokens.weight, std=d_model ** -0.5)
        self.register_buffer("positions", sinusoidal_positions(max_len, d_model), persistent=False)
        self.scale, self.drop = math.sqrt(d_model), nn.Dropout(dropout)

    def forward(self, ids: torch.Tensor, offset: int = 0) -> torch.Tensor:  # [B, T] -> [B, T, D]
        if offset + ids.shape[1] > self.positions.shape[0]:
            raise ValueError(f"sequence of {offset + ids.shape[1]} tokens is longer than max_len "
                             f"{self.positions.shape[0]}")
        return self.drop(self.tokens(ids) * self.scale + self.positions[offset: offset + ids.shape[1]])


# ---- encoder-decoder -----------------------------------------------------------------------------------------

class Encoder(nn.Module):
    """Blocks of padding-masked self-attention over embedded source tokens."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(Block(d_model, n_heads, d_ff, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)  # pre-norm leaves the last residual un-normalised

    def forward(self, x: torch.Tensor, src_mask: torch.Tensor) -> torch.Tensor:  # [B, S, D] -> [B, S, D]
        for layer in self.layers:
            x, _ = layer(x, key_mask=src_mask)
        return self.norm(x)


class Decoder(nn.Module):
    """Causal self-attention (with a per-layer KV cache) + cross-attention over the encoder's memory."""

    def __init__(self, n_layers: int, d_model: int, n_heads: int, d_ff: int, dropout: float) -> None:
        super().__init__()
        self.layers = nn.ModuleList(Block(d_model, n_heads, d_ff, dropout, cross=True) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)

    def memory_kv(self, memory: torch.Tensor) -> list[KV]:
        """Each layer's cross-attention keys/values of the memory: computed once per sentence, not per token."""
        return [layer.cross.keys_values(memory) for layer in self.layers]

    def forward(self, x: torch.Tensor, memory_kv: list[KV], memory_mask: torch.Tensor,
                cache: list[KV] | None = None) -> tuple[torch.Tensor, list[KV]]:
        """x [B, T, D] (embedded tokens after the P cached ones) -> (hidden [B, T, D], the cache + these T)."""
        new_cache = []
        for i, layer in enumerate(self.layers):
            x, kv = layer(x, causal=True, past=None if cache is None else cache[i], memory_kv=memory_kv[i],
                          memory_mask=memory_mask)
            new_cache.append(kv)
        return self.norm(x), new_cache


class Seq2SeqTransformer(nn.Module):
    """Encoder-decoder Transformer (Vaswani et al. 2017, pre-norm) over one shared vocabulary: the source and
    target embeddings and the output projection are one matrix (Press & Wolf 2017), which a shared BPE
    vocabulary allows and which helps a small corpus."""

    def __init__(self, vocab_size: int, d_model: int = 256, n_heads: int = 4, n_encoder: int = 3,
                 n_decoder: int = 3, d_ff: int | None = None, dropout: float = 0.1, max_len: int = 256,
                 pad_id: int = 0) -> None:
        super().__init__()
        d_ff = d_ff or 4 * d_model
        self.pad_id = pad_id
        self.embed = Embedding(vocab_size, d_model, max_len, dropout)
        self.encoder = Encoder(n_encoder, d_model, n_heads, d_ff, dropout)
        self.decoder = Decoder(n_decoder, d_model, n_heads, d_ff, dropout)
        for name, p in self.named_parameters():
            if p.dim() == 2 and "embed" not in name:
                nn.init.xavier_uniform_(p)

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:  # [..., D] -> [..., V] through the tied embedding
        return hidden @ self.embed.tokens.weight.T

    def forward(self, src: torch.Tensor, src_mask: torch.Tensor, tgt: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: src [B, S], src_mask [B, S] (1 = real), tgt [B, T] (bos + target) -> [B, T, V]."""
        memory = self.encoder(self.embed(src), src_mask)
        hidden, _ = self.decoder(self.embed(tgt), self.decoder.memory_kv(memory), src_mask)
        return self.logits(hidden)

    def encode(self, src: torch.Tensor, src_mask: torch.Tensor | None = None) -> dict[str, Any]:
        """The start state of decoding: the memory's cross-attention keys per layer, its mask, no cache yet."""
        if src_mask is None:
            src_mask = src != self.pad_id
        memory = self.encoder(self.embed(src), src_mask)
        return {"memory_kv": self.decoder.memory_kv(memory), "memory_mask": src_mask.bool(), "cache": None}

    def decode_step(self, tokens: torch.Tensor, state: dict[str, Any]) -> tuple[torch.Tensor, dict[str, Any]]:
        """tokens [B, t] not yet seen -> (next-token logits [B, V], state with the self-attention cache grown)."""
        cache = state["cache"]
        x = self.embed(tokens, offset=0 if cache is None else cache[0][0].shape[2])
        hidden, cache = self.decoder(x, state["memory_kv"], state["memory_mask"], cache)
        return self.logits(hidden[:, -1]), {**state, "cache": cache}

    @torch.no_grad()
    def cross_attention(self, src: torch.Tensor, src_mask: torch.Tensor, tgt: torch.Tensor,
                        layer: int = -1) -> torch.Tensor:
        """Attention weights [B, H, T, S] of one decoder layer's cross-attention (default the last), when the
        decoder reads `tgt` (bos + a translation): which source tokens each target position looked at."""
        attn = self.decoder.layers[layer].cross
        attn.keep_weights = True
        try:
            self(src, src_mask, tgt)
        finally:
            attn.keep_weights = False
        weights, attn.weights = attn.weights, None
        return weights


# ---- decoder-only language model ----------------------------------------------------------------------------

class DecoderOnlyLM(nn.Module):
    """GPT-style language model: learned positions, pre-norm causal blocks, the head tied to the embedding.
    forward(tokens [B, T]) -> logits [B, T, V]; decode_step with a KV cache. Past `block_size` tokens the
    cache is dropped and the last block_size tokens are re-encoded (learned positions stop at block_size)."""

    def __init__(self, vocab: int, d_model: int = 128, n_heads: int = 4, n_layers: int = 4,
                 block_size: int = 128, dropout: float = 0.1) -> None:
        super().__init__()
        self.block_size = block_size
        self.tokens = nn.Embedding(vocab, d_model)
        self.positions = nn.Embedding(block_size, d_model)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(Block(d_model, n_heads, 4 * d_model, dropout) for _ in range(n_layers))
        self.norm = nn.LayerNorm(d_model)
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:  # GPT-2's: N(0, 0.02) weights, zero biases
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def hidden(self, tokens: torch.Tensor, cache: list[KV] | None = None) -> tuple[torch.Tensor, list[KV]]:
        offset = 0 if cache is None else cache[0][0].shape[2]
        if offset + tokens.shape[1] > self.block_size:
            raise ValueError(f"{offset + tokens.shape[1]} tokens exceed block_size {self.block_size}")
        pos = torch.arange(offset, offset + tokens.shape[1], device=tokens.device)
        x = self.drop(self.tokens(tokens) + self.positions(pos))
        new_cache = []
        for i, layer in enumerate(self.layers):
            x, kv = layer(x, causal=True, past=None if cache is None else cache[i])
            new_cache.append(kv)
        return self.norm(x), new_cache

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:  # [B, T] -> [B, T, V]
        hidden, _ = self.hidden(tokens)
        return hidden @ self.tokens.weight.T

    def decode_step(self, tokens: torch.Tensor, state: dict[str, Any] | None) -> tuple[torch.Tensor, dict[str, Any]]:
        """state: {"tokens": all tokens so far [B, T], "cache": per-layer (k, v)} or None on the first call."""
        seen = tokens if state is None else torch.cat([state["tokens"], tokens], dim=1)
        cache = None if state is None else state["cache"]
        if seen.shape[1] > self.block_size:  # window slides: positions shift, so the cache is stale
            hidden, cache = self.hidden(seen[:, -self.block_size:])
        else:
            hidden, cache = self.hidden(tokens, cache)
        return hidden[:, -1] @ self.tokens.weight.T, {"tokens": seen, "cache": cache}
