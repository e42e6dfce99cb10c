"""Classic preprocessing steps on token lists: stop words, stemming (Porter, Snowball), lemmatisation.

Stop words are scikit-learn's English list (318 words), so a TF-IDF here and sklearn's `stop_words="english"`
drop the same tokens. Porter is nltk's implementation (needs no downloaded data); Snowball ("Porter2") is the
snowballstemmer package. Lemmas come from simplemma (a dictionary lookup that works offline), or from spaCy
when the user has installed it with an English model (e.g. `python -m spacy download en_core_web_sm`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache, lru_cache

from ..errors import UserError

NLP_EXTRA = "pip install 'genai-roadmap[nlp]'"


def stop_words() -> frozenset[str]:
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return ENGLISH_STOP_WORDS


def remove_stop_words(tokens: Sequence[str]) -> list[str]:
    stops = stop_words()
    return [t for t in tokens if t.lower() not in stops]


@cache
def stemmer(kind: str) -> Callable[[str], str]:
    """A word -> stem function; memoised (one cache per kind for the process), because a corpus repeats its
    words many times."""
    if kind == "porter":
        from nltk.stem import PorterStemmer

        return lru_cache(maxsize=None)(PorterStemmer().stem)
    if kind == "snowball":
        try:
            import snowballstemmer
        except ImportError:
            raise UserError(f"the Snowball stemmer needs snowballstemmer: {NLP_EXTRA}") from None
        return lru_cache(maxsize=None)(snowballstemmer.stemmer("english").stemWord)
    raise UserError(f"unknown stemmer {kind!r}; choose porter or snowball")


def lemmatizer(kind: str = "simplemma", spacy_model: str = "en_core_web_sm") -> Callable[[Sequence[str]], list[str]]:
    """A tokens -> lemmas function. simplemma looks each word up; spaCy tags the sequence (POS-aware lemmas)."""
    if kind == "simplemma":
        try:
            import simplemma
        except ImportError:
            raise UserError(f"lemmatisation needs simplemma: {NLP_EXTRA}") from None
        lemma = lru_cache(maxsize=None)(lambda w: simplemma.lemmatize(w, lang="en").lower())
        return lambda tokens: [lemma(t) for t in tokens]
    if kind == "spacy":
        try:
            import spacy

            nlp = spacy.load(spacy_model, disable=["parser", "ner"])
        except ImportError:
            raise UserError("lemmatizer=spacy needs spaCy: pip install spacy, then "
                            f"python -m spacy download {spacy_model}") from None
        except OSError:
            raise UserError(f"spaCy model {spacy_model!r} is not installed: python -m spacy download "
                            f"{spacy_model} (or use lemmatizer=simplemma, which works offline)") from None

        def lemmas(tokens: Sequence[str]) -> list[str]:
            from spacy.tokens import Doc

            return [t.lemma_.lower() for t in nlp(Doc(nlp.vocab, words=list(tokens)))]
        return lemmas
    raise UserError(f"unknown lemmatizer {kind!r}; choose simplemma or spacy")
