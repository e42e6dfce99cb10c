"""genai_roadmap.text: the regex tokenizer, preprocessing steps, TF-IDF against scikit-learn, subword
tokenizers trained with HF `tokenizers`, averaged word vectors."""

from __future__ import annotations

import numpy as np
import pytest

from genai_roadmap.errors import UserError
from genai_roadmap.text import ngrams, sentences, word_tokenize, words
from genai_roadmap.text.embeddings import average_word_vectors
from genai_roadmap.text.preprocess import lemmatizer, remove_stop_words, stemmer
from genai_roadmap.text.tfidf import TfidfVectorizer, sklearn_like_analyzer

DOCS = [
    "Quarterly profits at US media giant TimeWarner jumped 76% to $1.13bn (£600m) for the three months.",
    "The firm said it would buy back shares; shares rose 2.5% on Monday.",
    "Chelsea won the cup final, and the fans celebrated the win all night.",
    "Mobile phones are the new cameras, say analysts. Phones sold well in 2004.",
    "The minister said the election would be held in May, the party confirmed.",
    "A film about a boxer won the award; the film's director thanked the cast.",
    "Shares in the mobile firm fell after profits missed forecasts.",
    "",  # an empty document must stay a zero row, not NaN
]


def test_word_tokenize_keeps_numbers_urls_and_inner_punctuation_whole():
    text = "Profits jumped 76% to $1.13bn (£600m), it's state-of-the-art: see https://bbc.co.uk/news. Mail a.b@c.org!"
    assert word_tokenize(text) == [
        "Profits", "jumped", "76", "%", "to", "$", "1.13bn", "(", "£", "600m", ")", ",", "it's", "state-of-the-art",
        ":", "see", "https://bbc.co.uk/news", ".", "Mail", "a.b@c.org", "!"]
    # every non-space character lands in exactly one token
    assert "".join(word_tokenize(text)) == text.replace(" ", "")
    assert words("It's 2004, Phones SOLD well!") == ["it's", "phones", "sold", "well"]


def test_ngrams_and_sentences():
    assert ngrams(["a", "b", "c"], 1, 2) == ["a", "b", "c", "a b", "b c"]
    assert ngrams(["a", "b", "c"], 2, 3) == ["a b", "b c", "a b c"]
    with pytest.raises(ValueError):
        ngrams(["a"], 2, 1)
    assert sentences("He said so. Then he left! \"Why?\" she asked.\n\nNew part") == [
        "He said so.", "Then he left!", "\"Why?\" she asked.", "New part"]


def test_stop_words_stemmers_and_lemmas():
    assert remove_stop_words(["The", "firm", "said", "it", "would", "buy"]) == ["firm", "said", "buy"]
    porter, snowball = stemmer("porter"), stemmer("snowball")
    assert [porter(w) for w in ("running", "generously", "fairly")] == ["run", "gener", "fairli"]
    # Snowball (Porter2) fixes Porter's known over-stemmings
    assert [snowball(w) for w in ("running", "generously", "fairly")] == ["run", "generous", "fair"]
    lemmas = lemmatizer("simplemma")(["mice", "went", "better", "cameras"])
    assert lemmas[0] == "mouse" and lemmas[1] == "go" and lemmas[3] == "camera"
    with pytest.raises(UserError, match="unknown stemmer"):
        stemmer("lancaster")


@pytest.mark.parametrize("settings", [
    dict(),
    dict(stop=True, ngram_range=(1, 2), min_df=2, sublinear_tf=True),
    dict(ngram_range=(1, 2), max_df=0.5, max_features=25, smooth_idf=False),
    dict(min_df=0.2, max_features=10, sublinear_tf=True),
])
def test_tfidf_equals_sklearn(settings):
    from sklearn.feature_extraction.text import TfidfVectorizer as SkTfidf

    analyzer_args = {k: settings.pop(k) for k in ("stop", "ngram_range") if k in settings}
    ours = TfidfVectorizer(sklearn_like_analyzer(**analyzer_args), **settings)
    sk = SkTfidf(stop_words="english" if analyzer_args.get("stop") else None,
                 ngram_range=analyzer_args.get("ngram_range", (1, 1)), **settings)
    a, b = ours.fit_transform(DOCS), sk.fit_transform(DOCS)
    assert list(ours.get_feature_names_out()) == list(sk.get_feature_names_out())
    assert a.shape == b.shape and abs(a - b).max() <= 1e-9
    assert np.allclose(ours.idf_, sk.idf_, atol=1e-12)
    new = ["Profits and shares of the mobile firm", "an unseen sentence entirely"]
    assert abs(ours.transform(new) - sk.transform(new)).max() <= 1e-9
    assert np.isfinite(a.toarray()).all()


def test_tfidf_with_a_custom_analyzer_matches_sklearn_given_the_same_callable():
    from sklearn.feature_extraction.text import TfidfVectorizer as SkTfidf

    stem = stemmer("snowball")

    def analyzer(doc):
        return ngrams([stem(w) for w in remove_stop_words(words(doc))], 1, 2)
    a = TfidfVectorizer(analyzer, min_df=1, sublinear_tf=True).fit_transform(DOCS)
    b = SkTfidf(analyzer=analyzer, min_df=1, sublinear_tf=True).fit_transform(DOCS)
    assert abs(a - b).max() <= 1e-9


@pytest.mark.parametrize("kind", ["bpe", "wordpiece"])
def test_subword_tokenizers_train_and_round_trip(kind):
    pytest.importorskip("tokenizers")
    from genai_roadmap.text.subword import as_transformers, train_subword_tokenizer

    corpus = [d for d in DOCS if d] * 20
    tok = train_subword_tokenizer(corpus, kind=kind, vocab_size=300, min_frequency=2)
    assert 100 < tok.get_vocab_size() <= 300
    text = "Shares in the mobile firm rose."
    ids = tok.encode(text).ids
    assert len(ids) < len(text)  # merges happened: fewer tokens than characters
    if kind == "bpe":
        unseen = "Zebra café ☕ — naïve!"
        assert tok.decode(tok.encode(unseen).ids) == unseen  # byte-level: nothing is unknown
    else:
        assert tok.decode(ids) == text.lower()  # the WordPiece decoder rejoins ## pieces and punctuation
        assert tok.token_to_id("[UNK]") in tok.encode("☕").ids
    batch = as_transformers(tok, kind)(["a firm", "the mobile firm rose"], padding=True)
    assert len(batch["input_ids"][0]) == len(batch["input_ids"][1]) and 0 in batch["attention_mask"][0]


def test_average_word_vectors_means_known_tokens_only():
    class Vectors:
        key_to_index = {"a": 0, "b": 1}
        vectors = np.array([[1.0, 0.0], [0.0, 3.0]])
    out = average_word_vectors([["a", "b", "zzz"], ["zzz"], ["b"]], Vectors())
    assert np.allclose(out, [[0.5, 1.5], [0, 0], [0, 3]])
