"""Subword tokenizers trained here with Hugging Face `tokenizers`, for projects that train from scratch.

- "bpe": byte-level BPE (GPT-2 style). Every string encodes and decodes back exactly — nothing is unknown —
  which is what a text generator or a translator's output side needs.
- "wordpiece": BERT-style WordPiece over lowercased, accent-stripped words with an [UNK] token, for classifiers.

`train_subword_tokenizer` returns a `tokenizers.Tokenizer`; `as_transformers` wraps one for code that expects a
transformers tokenizer (padding, attention masks, batch encode). Save with `tok.save(path)` (one JSON file) and
read back with `tokenizers.Tokenizer.from_file(path)`.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..errors import UserError

SPECIAL_TOKENS = {"bpe": ["<pad>", "<s>", "</s>", "<unk>"], "wordpiece": ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]}


def train_subword_tokenizer(texts: Iterable[str], kind: str = "bpe", vocab_size: int = 8000, min_frequency: int = 2,
                            special_tokens: list[str] | None = None):
    """A tokenizer of `kind` trained on `texts` (any iterable of strings; streamed, not held twice)."""
    try:
        from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers
    except ImportError:
        raise UserError("subword tokenizers need the tokenizers package: pip install 'genai-roadmap[nlp]'") from None
    specials = special_tokens if special_tokens is not None else SPECIAL_TOKENS.get(kind, [])
    if kind == "bpe":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=min_frequency, special_tokens=specials,
                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    elif kind == "wordpiece":
        unk = next((t for t in specials if "UNK" in t.upper()), "[UNK]")
        tok = Tokenizer(models.WordPiece(unk_token=unk))
        tok.normalizer = normalizers.BertNormalizer(lowercase=True, strip_accents=True)
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece()
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            special_tokens=specials, show_progress=False)
    else:
        raise UserError(f"unknown subword tokenizer {kind!r}; choose bpe or wordpiece")
    tok.train_from_iterator(texts, trainer=trainer)
    return tok


def as_transformers(tok, kind: str = "bpe"):
    """The trained tokenizer as a transformers PreTrainedTokenizerFast with its special tokens named."""
    from transformers import PreTrainedTokenizerFast

    names = {"bpe": dict(pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"),
             "wordpiece": dict(pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]",
                               mask_token="[MASK]")}[kind]
    vocab = tok.get_vocab()
    return PreTrainedTokenizerFast(tokenizer_object=tok, **{k: v for k, v in names.items() if v in vocab})
