"""Recurrent models: an LSTM language model trained with truncated BPTT, and a bidirectional LSTM classifier
over packed padded sequences. Also the batches truncated BPTT needs: contiguous token streams.

    model = LSTMLanguageModel(vocab_size=65, embed_dim=64, hidden=512, layers=2, dropout=0.2)
    logits, state = model(tokens)                 # tokens [B, T] -> logits [B, T, V], state (h, c) [B, L, H]
    logits, state = model(next_tokens, state)     # carried across consecutive chunks (truncated BPTT)
    logits, state = model.decode_step(tokens, state)   # the genai_roadmap.nn.generate protocol: logits [B, V]

    clf = BiLSTMClassifier(vocab_size=30000, num_classes=2)
    logits = clf(input_ids, lengths)              # right-padded [B, T] + true lengths [B] -> [B, K]

The recurrent state is kept batch-first ([B, layers, hidden]) rather than torch's [layers, B, hidden], so beam
search and `reorder_state` can select rows of it like any other decoding state.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pad_packed_sequence

from ..data.batches import batch_generator
from ..data.text_batches import pack

State = tuple[torch.Tensor, torch.Tensor]  # (h, c), each [B, layers, hidden]


def detach_state(state: State | None) -> State | None:
    """Cut the graph between chunks: gradients stop at the chunk boundary, the values carry on (TBPTT)."""
    return None if state is None else (state[0].detach(), state[1].detach())


class LSTMLanguageModel(nn.Module):
    """Embedding -> multi-layer LSTM (dropout between layers) -> dropout -> linear head over the vocabulary."""

    def __init__(self, vocab_size: int, embed_dim: int = 64, hidden: int = 512, layers: int = 2,
                 dropout: float = 0.2) -> None:
        super().__init__()
        self.vocab_size, self.hidden, self.layers = vocab_size, hidden, layers
        self.embed = nn.Embedding(vocab_size, embed_dim)
        self.lstm = nn.LSTM(embed_dim, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden, vocab_size)

    def forward(self, tokens: torch.Tensor, state: State | None = None) -> tuple[torch.Tensor, State]:
        x = self.drop(self.embed(tokens))  # [B, T, E]
        torch_state = None if state is None else tuple(s.transpose(0, 1).contiguous() for s in state)
        out, (h, c) = self.lstm(x, torch_state)  # out [B, T, H]; h, c [L, B, H]
        return self.head(self.drop(out)), (h.transpose(0, 1), c.transpose(0, 1))  # [B, T, V]

    def decode_step(self, tokens: torch.Tensor, state: State | None) -> tuple[torch.Tensor, State]:
        logits, state = self(tokens, state)
        return logits[:, -1], state


def tbptt_step(carry: bool = True):
    """A training / evaluation step over `StreamBatches` for a model `(tokens, state) -> (logits, state)`: the
    hidden state left by one chunk starts the next (detached), and restarts at each batch with `reset`.
    carry=False starts every chunk from zero (for models without a state, or as the ablation). Each step
    function holds its own state: make one for training and one for evaluation."""
    held: dict[str, State | None] = {"state": None}

    def step(model: nn.Module, batch: dict[str, torch.Tensor], trainer=None) -> dict[str, torch.Tensor]:
        if not carry or bool(batch["reset"]):
            held["state"] = None
        logits, state = model(batch["input_ids"], held["state"])  # [B, T, V]
        held["state"] = detach_state(state)
        labels = batch["labels"]
        loss = F.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), labels.reshape(-1))
        return {"loss": loss, "weight": labels.numel()}  # per-token mean over the epoch

    return step


class BiLSTMClassifier(nn.Module):
    """Embedding -> bidirectional LSTM over the packed sequence -> [last forward state, last backward state,
    max over time of the outputs] -> dropout -> linear. Packing means padding never enters the recurrence, and
    the max is taken over real positions only, so the logits do not depend on how much padding a batch has."""

    def __init__(self, vocab_size: int, num_classes: int, embed_dim: int = 128, hidden: int = 128, layers: int = 1,
                 dropout: float = 0.3, pad_id: int = 0) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
        self.lstm = nn.LSTM(embed_dim, hidden, layers, batch_first=True, bidirectional=True,
                            dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(4 * hidden, num_classes)

    def features(self, input_ids: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:  # -> [B, 4H]
        x = self.drop(self.embed(input_ids))  # [B, T, E]
        out, (h, _) = self.lstm(pack(x, lengths))  # h [2L, B, H]: the last layer's forward / backward are -2, -1
        out, _ = pad_packed_sequence(out, batch_first=True, padding_value=float("-inf"))  # [B, T', 2H]
        pooled = out.max(dim=1).values  # padding is -inf, so only real positions count
        return torch.cat([h[-2], h[-1], pooled], dim=1)

    def forward(self, input_ids: torch.Tensor, lengths: torch.Tensor, **_: torch.Tensor) -> torch.Tensor:
        return self.head(self.drop(self.features(input_ids, lengths)))  # [B, K]


class StreamBatches:
    """Truncated-BPTT batches over one long token sequence: the tokens are cut into `batch_size` contiguous
    streams (row b of every batch continues row b of the previous batch), read `seq_len` tokens at a time.
    A batch is {"input_ids": [B, T], "labels": [B, T] (the next tokens), "reset": bool scalar}; `reset` marks the
    first chunk of an epoch, where the carried hidden state must start again from zero.

    With `shuffle`, each epoch starts the streams at a random offset in [0, seq_len) (seeded by (seed, epoch)),
    so chunk boundaries fall in different places every epoch; the order is otherwise fixed, since carrying the
    state needs the chunks in order. Like the other batch classes, `epoch(e, start)` is a pure function of
    (seed, e), so a resumed run sees the same batches (its hidden state restarts from zero at the resume point).
    """

    def __init__(self, ids: torch.Tensor, batch_size: int, seq_len: int, *, shuffle: bool = False,
                 seed: int = 0) -> None:
        self.ids = torch.as_tensor(ids, dtype=torch.long).reshape(-1)
        self.batch_size, self.seq_len, self.shuffle, self.seed = batch_size, seq_len, shuffle, seed
        usable = len(self.ids) - (seq_len if shuffle else 0) - 1  # room for the offset and the last label
        self.stream_len = usable // batch_size
        if self.stream_len < seq_len:
            raise ValueError(f"{len(self.ids)} tokens are too few for {batch_size} streams of at least "
                             f"{seq_len + 1} tokens")

    def __len__(self) -> int:
        return self.stream_len // self.seq_len

    @property
    def tokens_per_epoch(self) -> int:
        return len(self) * self.batch_size * self.seq_len

    def streams(self, epoch: int) -> torch.Tensor:
        """[B, stream_len + 1]: row b is one contiguous stretch of the text (one extra token for the labels)."""
        offset = int(torch.randint(self.seq_len, (1,), generator=batch_generator(self.seed, epoch))) \
            if self.shuffle else 0
        starts = offset + torch.arange(self.batch_size) * self.stream_len
        return self.ids[starts[:, None] + torch.arange(self.stream_len + 1)]

    def epoch(self, epoch: int = 0, start: int = 0) -> Iterator[dict[str, torch.Tensor]]:
        data, t = self.streams(epoch), self.seq_len
        for i in range(start, len(self)):
            yield {"input_ids": data[:, i * t:(i + 1) * t], "labels": data[:, i * t + 1:(i + 1) * t + 1],
                   "reset": torch.tensor(i == start)}

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return self.epoch(0)
