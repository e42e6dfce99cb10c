"""Text processing shared by the language projects: a regex word tokenizer and n-grams (tokenize), stop words,
stemmers and lemmatisers (preprocess), TF-IDF written out (tfidf), subword tokenizers trained with HF
`tokenizers` (subword), and sentence / averaged word embeddings (embeddings)."""

from .tokenize import ngrams, sentences, word_tokenize, words

__all__ = ["ngrams", "sentences", "word_tokenize", "words"]
