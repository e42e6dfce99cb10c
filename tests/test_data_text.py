"""genai_roadmap.data.text: the text datasets read from the mirror's archives, and a user's CSV."""

from __future__ import annotations

import numpy as np
import pytest

from genai_roadmap.data import text
from genai_roadmap.errors import UserError


def _not_grouped_by_class(labels: np.ndarray) -> bool:
    # A class-sorted list changes label only (k - 1) times; a random order about n(1 - sum of p_k^2) times.
    p = np.bincount(labels) / len(labels)
    return int((labels[1:] != labels[:-1]).sum()) > 0.8 * len(labels) * (1 - (p ** 2).sum())


@pytest.mark.realdata
def test_bbc_news_and_sms_spam(need_data):
    bbc = text.load_bbc_news(seed=0)
    assert len(bbc) == 2225 and bbc.classes == ["business", "entertainment", "politics", "sport", "tech"]
    assert bbc.counts() == {"business": 510, "entertainment": 386, "politics": 417, "sport": 511, "tech": 401}
    assert _not_grouped_by_class(bbc.labels) and all(t.strip() for t in bbc.texts)
    other = text.load_bbc_news(seed=1)
    assert other.texts[:5] != bbc.texts[:5] and sorted(other.texts) == sorted(bbc.texts)
    assert text.load_bbc_news(seed=0).texts[:5] == bbc.texts[:5]  # seeded: the same order again
    sms = text.load_sms_spam()
    assert len(sms) == 5574 and sms.counts() == {"ham": 4827, "spam": 747} and _not_grouped_by_class(sms.labels)


@pytest.mark.realdata
def test_imdb_splits(need_data):
    test = text.load_imdb("test")
    assert len(test) == 25000 and test.counts() == {"neg": 12500, "pos": 12500}
    assert _not_grouped_by_class(test.labels) and not any("<br />" in t for t in test.texts[:500])
    assert len(set(test.texts) & set(text.load_imdb("train").texts[:2000])) < 20  # different reviews
    with pytest.raises(UserError, match="train' or 'test"):
        text.load_imdb("unsup")


@pytest.mark.realdata
def test_corpora(need_data):
    shakespeare = text.load_tiny_shakespeare()
    assert len(shakespeare) == 1115394 and shakespeare.startswith("First Citizen:")
    books = text.load_gutenberg_books()
    assert len(books) == 13 and "Emma Woodhouse" in books["austen-emma"] and "\r" not in books["melville-moby_dick"]
    pairs = text.load_fra_eng(seed=0)
    assert len(pairs) == 167130 and list(pairs.columns) == ["en", "fr"]
    assert text.load_fra_eng(seed=None).iloc[0].tolist() == ["Go.", "Va !"]  # the file's own (length) order
    assert pairs["en"].head(100).str.len().std() > 5  # shuffled: not the file's shortest-first order
    wiki = text.load_wikipedia_passages()
    assert len(wiki) == 24724 and wiki["paragraph"].str.split().str.len().min() >= 20
    assert wiki["doc_id"].str.startswith("enwiki2019_graykode").sum() == 3772
    assert "Anarchism" in set(wiki["title"])


def test_user_csv(tmp_path):
    good = tmp_path / "reviews.csv"
    good.write_text("review,stars\ngreat film,pos\nawful plot,neg\n,pos\nfine acting,pos\n")
    data = text.load_text_classification(csv=str(good), text_col="review", label_col="stars")
    assert len(data) == 3 and data.classes == ["neg", "pos"] and data.source == "csv:reviews.csv"
    assert sorted(data.texts) == ["awful plot", "fine acting", "great film"]
    with pytest.raises(UserError, match="no column 'text'.*review, stars"):
        text.load_text_classification(csv=str(good))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(UserError, match="empty.csv"):
        text.load_text_classification(csv=str(empty))
    one_class = tmp_path / "one.csv"
    one_class.write_text("text,label\na,x\nb,x\n")
    with pytest.raises(UserError, match="one class"):
        text.load_text_csv(one_class)
    with pytest.raises(UserError, match="not found"):
        text.load_text_csv(tmp_path / "nope.csv")
    with pytest.raises(UserError, match="unknown text classification dataset"):
        text.load_text_classification("ag_news")
