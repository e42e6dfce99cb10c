"""A generator that answers a question from retrieved passages and cites them: "... in 1842 [2]."

The passages are numbered in the prompt ([1] title: text, [2] ...), the model is asked for a short answer
that cites the passages it used, and the citations are parsed out of what it writes. Any causal LM works
through its chat template (SmolLM2-135M-Instruct offline, the default), and any T5-style encoder-decoder by
hub name (`google/flan-t5-base`, `t5-small`) through a plain prompt — the same code for both:

    gen = Generator("HuggingFaceTB/SmolLM2-135M-Instruct", max_new_tokens=48)
    answer = gen.answer("When was the bank founded?", [Passage("History", "The bank was founded in 1842."), ...])
    answer.text, answer.citations        # "The bank was founded in 1842.", [1]
    for piece in gen.stream(question, passages):   # text as it is generated; the pieces join to the answer
        print(piece, end="", flush=True)

Decoding runs through genai_roadmap.nn.generate (the `decode_step` protocol, greedy by default) with the
model's KV cache, so streaming is the same loop as everything else in the package. A tiny model does not
always cite: `attribute(answer, passages)` names the passage whose words the answer overlaps most — a
citation added after the fact, and reported as such, never mixed with the ones the model wrote.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from ..errors import UserError

DEFAULT_GENERATOR = "HuggingFaceTB/SmolLM2-135M-Instruct"
SYSTEM = ("You answer questions using only the numbered passages. Give a short answer and cite the passages you "
          "used with their numbers in brackets, like [1]. If the passages do not contain the answer, say you "
          "don't know.")
CITATION = re.compile(r"\[(\d+(?:\s*,\s*\d+)*)\]")


@dataclass
class Passage:
    title: str
    text: str
    id: str = ""


@dataclass
class Answer:
    text: str  # the answer with its citation marks removed
    citations: list[int]  # passage numbers (1-based) the model cited, in order of first mention, valid ones only
    raw: str  # what the model wrote
    n_tokens: int = 0
    invalid_citations: list[int] = field(default_factory=list)  # numbers cited that name no passage


def parse_citations(raw: str, n_passages: int) -> tuple[str, list[int], list[int]]:
    """(text without citation marks, valid cited numbers in order of first mention, invalid numbers).
    Accepts [1], [1, 3] and [1][2]; a number outside 1..n_passages is invalid (a hallucinated source)."""
    cited, invalid = [], []
    for group in CITATION.findall(raw):
        for number in (int(n) for n in group.split(",")):
            target = cited if 1 <= number <= n_passages else invalid
            if number not in target:
                target.append(number)
    text = CITATION.sub("", raw)
    text = re.sub(r"\s+([.,;:!?])", r"\1", re.sub(r"\s+", " ", text)).strip()
    return text, cited, invalid


def attribute(answer: str, passages: Sequence[Passage]) -> int | None:
    """The 1-based number of the passage sharing the most answer words (None when it shares none)."""
    words = set(re.findall(r"\w+", answer.lower()))
    if not words or not passages:
        return None
    overlap = [len(words & set(re.findall(r"\w+", p.text.lower()))) / len(words) for p in passages]
    best = max(range(len(passages)), key=lambda i: overlap[i])
    return best + 1 if overlap[best] > 0 else None


def number_passages(passages: Sequence[Passage], max_words: int = 120) -> str:
    """The context block of the prompt: one numbered passage per line, each cut to max_words words."""
    lines = []
    for i, p in enumerate(passages, 1):
        words = p.text.split()
        text = " ".join(words[:max_words]) + (" ..." if len(words) > max_words else "")
        lines.append(f"[{i}] {p.title}: {text}" if p.title else f"[{i}] {text}")
    return "\n".join(lines)


class CausalStep(torch.nn.Module):
    """A transformers causal LM as a `Decoder` (nn.generate): its KV cache is the state. `first_allowed`, when
    given, limits the first token to those ids (the passage numbers after a forced "[")."""

    def __init__(self, model, first_allowed: list[int] | None = None) -> None:
        super().__init__()
        self.model, self.first_allowed = model, first_allowed

    def decode_step(self, tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        # logits_to_keep=1: the prompt's other positions need no 49k-way logits.
        out = self.model(input_ids=tokens, cache=state, use_cache=True, logits_to_keep=1)
        logits = out.logits[:, -1]
        if state is None and self.first_allowed:
            mask = torch.full_like(logits, float("-inf"))
            mask[:, self.first_allowed] = 0.0
            logits = logits + mask
        return logits, out.cache


class Seq2SeqStep(torch.nn.Module):
    """A transformers encoder-decoder (T5) as a `Decoder`: the encoder runs once on the prompt, whose output
    travels in the state beside the decoder's cache; the "prompt" tokens given to nn.generate are the decoder
    start token."""

    def __init__(self, model, input_ids: torch.Tensor) -> None:
        super().__init__()
        self.model, self.input_ids = model, input_ids

    def decode_step(self, tokens: torch.Tensor, state: Any) -> tuple[torch.Tensor, Any]:
        if state is None:
            state = (self.model.get_encoder()(input_ids=self.input_ids), None)
        encoded, cache = state
        out = self.model(encoder_outputs=encoded, decoder_input_ids=tokens, cache=cache, use_cache=True)
        return out.logits[:, -1], (encoded, out.cache)


class Generator:
    """Retrieval-augmented answers with citations from a causal LM or a T5-style model, by hub name."""

    def __init__(self, name: str = DEFAULT_GENERATOR, max_new_tokens: int = 64, temperature: float = 0.0,
                 max_passage_words: int = 120, max_prompt_tokens: int = 1536, system: str = SYSTEM,
                 cite_first: bool = True, one_paragraph: bool = True, seed: int = 0) -> None:
        from .. import hub

        self.name, self.max_new_tokens, self.temperature = name, max_new_tokens, temperature
        self.max_passage_words, self.max_prompt_tokens, self.system = max_passage_words, max_prompt_tokens, system
        self.tokenizer = hub.load_tokenizer(name)
        config = _config(name)
        self.seq2seq = bool(getattr(config, "is_encoder_decoder", False))
        self.model, self.source = hub.load_language_model(name, "seq2seq-lm" if self.seq2seq else "causal-lm")
        self.model.eval()
        self.eos_id = self.tokenizer.eos_token_id
        # A 135M model rarely writes "[n]" when only asked to: with cite_first the answer is started with "[",
        # so the model's first choice is which passage to cite (its own choice, from its logits over numbers).
        self.prefix = "[" if cite_first and not self.seq2seq else ""
        self.one_paragraph = one_paragraph  # stop at the first line break after some text (a tiny model lists on)
        self.seed = seed

    def prompt(self, question: str, passages: Sequence[Passage]) -> str:
        """The prompt as text: the chat template for an instruct causal LM, a plain instruction for T5."""
        context = number_passages(passages, self.max_passage_words)
        if self.seq2seq:
            return f"Answer the question using the passages and cite them like [1].\n{context}\nQuestion: {question}"
        user = f"Passages:\n{context}\n\nQuestion: {question}"
        if getattr(self.tokenizer, "chat_template", None):
            messages = [{"role": "system", "content": self.system}, {"role": "user", "content": user}]
            text = self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        else:
            text = f"{self.system}\n\n{user}\nAnswer: "
        return text + self.prefix

    def _ids(self, question: str, passages: Sequence[Passage]) -> torch.Tensor:
        if not question.strip():
            raise UserError("the question is empty")
        ids = self.tokenizer(self.prompt(question, passages), return_tensors="pt",
                             add_special_tokens=self.seq2seq)["input_ids"]
        if ids.shape[1] > self.max_prompt_tokens:
            raise UserError(f"the prompt is {ids.shape[1]} tokens, more than max_prompt_tokens="
                            f"{self.max_prompt_tokens}: ask a shorter question or retrieve fewer passages")
        return ids

    def _number_ids(self, n: int) -> list[int] | None:
        """Token ids of "1".."n" when each is one token (else no constraint)."""
        ids = [self.tokenizer.convert_tokens_to_ids(str(i)) for i in range(1, n + 1)]
        unk = self.tokenizer.unk_token_id
        return ids if n and all(isinstance(i, int) and i != unk for i in ids) else None

    def stream_ids(self, question: str, passages: Sequence[Passage]) -> Iterator[int]:
        """Token ids of the answer, one at a time as they are chosen (eos not included)."""
        from ..nn.generate import stream

        ids = self._ids(question, passages)
        if self.seq2seq:
            step = Seq2SeqStep(self.model, ids)
            start = torch.tensor([[self.model.config.decoder_start_token_id]])
        else:
            step, start = CausalStep(self.model, self._number_ids(len(passages)) if self.prefix else None), ids
        gen = torch.Generator().manual_seed(self.seed)
        for token in stream(step, start, self.max_new_tokens, temperature=self.temperature, eos_id=self.eos_id,
                            generator=gen):
            if self.eos_id is not None and int(token[0]) == self.eos_id:
                return
            yield int(token[0])

    def stream(self, question: str, passages: Sequence[Passage]) -> Iterator[str]:
        """The answer as text pieces while it is generated; "".join(pieces) equals the decoded answer. A piece
        is yielded once its characters are complete (a token that ends inside a character waits for the next)."""
        ids: list[int] = []
        shown = ""
        if self.prefix:
            yield self.prefix
        for token in self.stream_ids(question, passages):
            ids.append(token)
            text = self.tokenizer.decode(ids, skip_special_tokens=True)
            if text.endswith("\ufffd"):
                continue
            if self.one_paragraph and "\n" in text.strip():
                text = text[:text.index("\n", len(text) - len(text.lstrip()))]
                if text.startswith(shown) and text != shown:
                    yield text[len(shown):]
                shown = text
                break
            if text.startswith(shown):
                piece, shown = text[len(shown):], text
                if piece:
                    yield piece
        else:
            final = self.tokenizer.decode(ids, skip_special_tokens=True)
            if final != shown and final.startswith(shown):
                yield final[len(shown):]
        self.last_n_tokens = len(ids)

    def answer(self, question: str, passages: Sequence[Passage]) -> Answer:
        raw = "".join(self.stream(question, passages)).strip()  # the forced prefix included
        text, cited, invalid = parse_citations(raw, len(passages))
        return Answer(text, cited, raw, self.last_n_tokens, invalid)


def _config(name: str):
    from transformers import AutoConfig

    from .. import hub

    found = hub.resolve(name)
    try:
        return AutoConfig.from_pretrained(found.path)
    except (OSError, ValueError) as exc:
        raise UserError(f"could not read the config of {name!r} from {found.path}: {str(exc).splitlines()[0]}"
                        ) from None
