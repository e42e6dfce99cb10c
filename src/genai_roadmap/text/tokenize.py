"""A regex word tokenizer (nltk's word_tokenize needs the punkt data, which is not available offline) and
n-grams.

`word_tokenize` keeps together what a reader sees as one token — URLs, e-mail addresses, numbers with
decimals or thousands separators ("1.13bn", "£600m" -> "£", "600m"), words with inner apostrophes or hyphens
("don't", "state-of-the-art") — and splits every other punctuation mark off as its own token.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

TOKEN_PATTERN = re.compile(r"""
    https?://\S+[^\s.,;:!?)\]'"]          # URLs (trailing punctuation stays outside)
  | www\.\S+[^\s.,;:!?)\]'"]
  | [\w.+-]+@[\w-]+(?:\.[\w-]+)+          # e-mail addresses
  | \d+(?:[.,:]\d+)*\w*                   # numbers: 1.13bn, 2,225, 10:30, 21st, 600m
  | \w+(?:['’\-]\w+)*                     # words, with inner apostrophes and hyphens: don't, co-op
  | \S                                    # any other single non-space character: punctuation, symbols
""", re.VERBOSE | re.UNICODE)
WORD = re.compile(r"^\w+(?:['’\-]\w+)*$", re.UNICODE)


def word_tokenize(text: str, lowercase: bool = False) -> list[str]:
    """Tokens of `text` in order (every non-space character lands in exactly one token)."""
    tokens = TOKEN_PATTERN.findall(text)
    return [t.lower() for t in tokens] if lowercase else tokens


def is_word(token: str) -> bool:
    """True for alphabetic/alphanumeric words (not punctuation, not pure numbers)."""
    return bool(WORD.match(token)) and not token.replace(",", "").replace(".", "").isdigit()


def words(text: str, lowercase: bool = True) -> list[str]:
    """Only the word tokens: what a bag-of-words model counts."""
    return [t for t in word_tokenize(text, lowercase) if is_word(t)]


def ngrams(tokens: Sequence[str], n_min: int = 1, n_max: int = 2, sep: str = " ") -> list[str]:
    """Every n-gram for n in [n_min, n_max], unigrams first then bigrams, ... (scikit-learn's order)."""
    if n_min < 1 or n_max < n_min:
        raise ValueError(f"need 1 <= n_min <= n_max, got {n_min}, {n_max}")
    out = list(tokens) if n_min == 1 else []
    for n in range(max(n_min, 2), n_max + 1):
        out += [sep.join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return out


def sentences(text: str) -> list[str]:
    """A simple sentence split: after . ! ? followed by space and a capital / quote / digit, and at blank lines."""
    parts = re.split(r"(?<=[.!?])[\"”']?\s+(?=[\"“'A-Z0-9])|\n\s*\n", text.strip())
    return [p.strip() for p in parts if p and p.strip()]


def vocabulary(docs: Iterable[Sequence[str]]) -> set[str]:
    vocab: set[str] = set()
    for tokens in docs:
        vocab.update(tokens)
    return vocab
