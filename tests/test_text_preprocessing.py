"""3.1.1 text-preprocessing: a smoke run on real BBC articles and a run on a user's CSV, asserting what the
steps must do (vocabulary shrinks, TF-IDF = sklearn, a classifier far above chance), not just that it ran."""

from __future__ import annotations

import json

import numpy as np
import pytest

from genai_roadmap import registry
from genai_roadmap.errors import UserError
from genai_roadmap.runs import execute


def run(tmp_path, preset="smoke", **overrides):
    return execute(registry.get("3.1.1"), preset=preset, overrides=overrides, out=tmp_path, quiet=True)


@pytest.mark.realdata
def test_smoke_on_bbc_news(tmp_path, need_data):
    run_dir, m = run(tmp_path)
    assert m["n_train"] + m["n_test"] == 300 and m["classes"] == ["business", "entertainment", "politics", "sport",
                                                                   "tech"]
    assert m["test_acc"] >= 0.8 and m["cv_acc"] >= 0.8  # chance is about 0.23
    assert m["tfidf_max_abs_diff_vs_sklearn"] <= 1e-9
    v = m["vocabulary_per_step"]
    assert v["all tokens (case kept)"] > v["lowercase words"] > v["stop words removed"] > v["Snowball stems"]
    assert v["Porter stems"] < v["stop words removed"] and v["lemmas"] < v["stop words removed"]
    assert v["words + 2..2-grams"] > 3 * v["stop words removed"] > v["... in >= 2 documents"] / 3
    assert len(m["cv_table"]) == 2 and m["chosen_tokens"] in ("words", "stems")
    assert m["word2vec_avg_test_acc"] > 0.4
    assert any(w in m["top_terms"]["sport"] for w in ("game", "match", "team", "play", "win", "player", "cup"))
    plots = {p.name for p in (run_dir / "plots").glob("*.png") if p.stat().st_size > 2000}
    assert plots == {"vocabulary_per_step.png", "cv_accuracy.png", "confusion_matrix.png", "top_terms_per_class.png"}
    report = (run_dir / "report.md").read_text()
    assert "| sentence 1 | Snowball stems |" in report and "## Top terms per class" in report
    assert json.loads((run_dir / "metrics.json").read_text())["test_acc"] == m["test_acc"]


def _user_csv(tmp_path, n=80):
    rng = np.random.default_rng(0)
    topics = {"finance": "shares profits bank market investors rates inflation economy firm",
              "weather": "rain storm sunny forecast winds temperatures cloudy snow showers"}
    filler = ["the", "a", "of", "and", "to", "in", "said", "today", "week", "people", "new"]
    rows = ["message,topic"]
    for i in range(n):
        topic = list(topics)[i % 2]
        ws = list(rng.choice(topics[topic].split(), 4)) + list(rng.choice(filler, 6))
        rng.shuffle(ws)
        rows.append(f"\"{' '.join(ws).capitalize()}.\",{topic}")
    path = tmp_path / "mine.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_user_csv_runs_through_the_same_pipeline(tmp_path):
    path = _user_csv(tmp_path)
    _, m = run(tmp_path, csv=str(path), text_col="message", label_col="topic", embeddings="none",
               variants=["words"], C_grid=[1.0, 10.0])
    assert m["data_source"] == "csv:mine.csv" and m["classes"] == ["finance", "weather"]
    assert m["n_train"] + m["n_test"] == 80 and m["test_acc"] >= 0.9
    assert m["tfidf_max_abs_diff_vs_sklearn"] <= 1e-9 and len(m["cv_table"]) == 2
    assert {"rain", "storm"} & set(m["top_terms"]["weather"]) and "word2vec_avg_test_acc" not in m


def test_user_csv_with_a_wrong_column_is_one_clear_error(tmp_path):
    path = _user_csv(tmp_path)
    with pytest.raises(UserError, match="no column 'text'.*message, topic"):
        run(tmp_path, csv=str(path))
