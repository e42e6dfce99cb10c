"""3.2.1 lstm-textgen and 3.2.2 lstm-sentiment: smoke runs on the real corpora asserting what training must do
(loss falls, accuracy above chance, files written), and the `roadmap sample` hooks on the trained run folders."""

from __future__ import annotations

import json
import math

import pytest

from genai_roadmap import registry
from genai_roadmap.errors import UserError
from genai_roadmap.projects.phase3_nlp import lstm_sentiment, lstm_textgen
from genai_roadmap.runs import execute


def run(tmp_path, project, **overrides):
    return execute(registry.get(project), preset="smoke", overrides=overrides, out=tmp_path, quiet=True)


@pytest.fixture(scope="module")
def textgen_run(tmp_path_factory):
    if not __import__("os").environ.get("ROADMAP_DATA_DIR"):
        pytest.skip("ROADMAP_DATA_DIR is not set: real-data test skipped")
    return run(tmp_path_factory.mktemp("textgen"), "3.2.1")


@pytest.mark.realdata
def test_textgen_smoke_learns_shakespeare_and_compares_with_a_transformer(textgen_run):
    run_dir, m = textgen_run
    uniform = math.log(m["vocab_size"])
    assert m["train_loss_first"] > uniform - 0.3 and m["train_loss_last"] < m["train_loss_first"] - 1.2
    assert m["val_loss"] < uniform - 1.5 and m["val_loss_ctx32"] < uniform - 1.5
    assert m["val_loss"] <= m["val_loss_ctx32"] + 0.02  # carried context never hurts much, usually helps
    assert m["val_perplexity"] == pytest.approx(math.exp(m["val_loss"]))
    lstm, tf = m["comparison"]
    assert tf["model"].startswith("Transformer") and tf["val_loss_ctx32"] < uniform - 0.8
    assert tf["train_s"] == pytest.approx(lstm["train_s"], rel=0.5)  # the same wall-clock budget
    assert m["tokens_per_s"] > 0 and m["evals"], "tokens/s and the periodic validations are recorded"
    assert "ROMEO:" in (run_dir / "samples.md").read_text()
    assert (run_dir / "plots" / "loss_curves.png").stat().st_size > 5000
    assert "LSTM or Transformer" in (run_dir / "report.md").read_text()


@pytest.mark.realdata
def test_textgen_sample_hook_continues_a_prompt(textgen_run, tmp_path):
    run_dir, _ = textgen_run
    trained = lstm_textgen.load_trained(run_dir)
    opts = lstm_textgen.SampleOptions(temperature=0.8, length=40, seed=1)
    first, again = (lstm_textgen.sample(trained, ["ROMEO:"], opts, tmp_path) for _ in range(2))
    assert first == again and first[0].startswith("ROMEO:") and len(first[0]) == len("ROMEO:") + 40
    greedy = lstm_textgen.sample(trained, ["ROMEO:", ""], lstm_textgen.SampleOptions(temperature=0, length=20),
                                 tmp_path)
    assert len(greedy) == 2 and greedy[1].startswith("\n")
    with pytest.raises(UserError, match="not in the model's vocabulary"):
        lstm_textgen.sample(trained, ["ROMEO: ✓"], opts, tmp_path)
    with pytest.raises(UserError, match="no trained model"):
        lstm_textgen.load_trained(tmp_path)


def test_textgen_time_budget_ends_training_early(tmp_path):
    """budget_s ends the fit by wall clock; the tiny budget here stops it after the first update."""
    corpus = ("To be, or not to be, that is the question. " * 400)
    codec = lstm_textgen.CharCodec(sorted(set(corpus)))
    from genai_roadmap.nn.recurrent import LSTMLanguageModel, StreamBatches, tbptt_step
    from genai_roadmap.train import Trainer, build_optimizer

    model = LSTMLanguageModel(len(codec.chars), 8, 16, 1, 0.0)
    trainer = Trainer(model, build_optimizer(model, "adamw", 1e-2), epochs=50, step=tbptt_step(),
                      callbacks=[lstm_textgen.TimeBudget(1e-6)], progress=False)
    trainer.fit(StreamBatches(codec.encode(corpus), 4, 16))
    assert trainer.step == 1


@pytest.fixture(scope="module")
def sentiment_run(tmp_path_factory):
    if not __import__("os").environ.get("ROADMAP_DATA_DIR"):
        pytest.skip("ROADMAP_DATA_DIR is not set: real-data test skipped")
    return run(tmp_path_factory.mktemp("sentiment"), "3.2.2")


@pytest.mark.realdata
def test_sentiment_smoke_beats_chance_on_imdb(sentiment_run):
    run_dir, m = sentiment_run
    assert (m["n_train"], m["n_val"], m["n_test"]) == (1700, 300, 500)
    assert m["train_loss_last_epoch"] < m["train_loss_first_epoch"] - 0.05
    assert m["test_acc"] > 0.56 and m["tfidf_lr_test_acc"] > 0.7  # chance: 0.5 (balanced)
    assert m["tokens_per_s"] > 0 and m["truncated_fraction"] > 0.5  # smoke cuts reviews to 64 tokens
    report = (run_dir / "report.md").read_text()
    assert "## Most confidently wrong test reviews" in report and report.count("\n| pos | neg |") + report.count(
        "\n| neg | pos |") == 5
    assert {"loss.png", "accuracy.png", "confusion.png", "accuracy_by_length.png"} <= {
        p.name for p in (run_dir / "plots").glob("*.png")}


@pytest.mark.realdata
def test_sentiment_sample_hook_labels_reviews(sentiment_run, tmp_path):
    run_dir, _ = sentiment_run
    trained = lstm_sentiment.load_trained(run_dir)
    out = lstm_sentiment.sample(trained, ["what a great film", "", "dull , boring and far too long"],
                                None, tmp_path)
    assert [o["text"] for o in out] == ["what a great film", "dull , boring and far too long"]
    assert all(o["label"] in ("neg", "pos") and 0.5 <= o["probability"] <= 1 for o in out)
    with pytest.raises(UserError, match="give a review"):
        lstm_sentiment.sample(trained, [" "], None, tmp_path)


def _reviews_csv(tmp_path, n=240):
    import numpy as np

    rng = np.random.default_rng(0)
    words = {"up": "wonderful brilliant loved superb moving delightful", "down": "awful boring hated dull weak mess"}
    filler = ["the", "film", "was", "a", "and", "it", "this", "movie", "plot", "actors", "story", "scene"]
    rows = ["review,mood"]
    for i in range(n):
        mood = ("up", "down")[i % 2]
        ws = list(rng.choice(words[mood].split(), 3)) + list(rng.choice(filler, 9))
        rng.shuffle(ws)
        rows.append(f"\"{' '.join(ws)}\",{mood}")
    path = tmp_path / "reviews.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_sentiment_on_a_user_csv(tmp_path):
    path = _reviews_csv(tmp_path)
    run_dir, m = run(tmp_path, "3.2.2", csv=str(path), text_col="review", label_col="mood", n_train=0, n_test=0,
                     val_size=40, baseline=False, epochs=6)
    assert m["classes"] == ["down", "up"] and m["n_test"] == 48 and m["n_train"] == 192 - 40
    assert m["test_acc"] >= 0.9  # three sentiment words in twelve: easy when the model works
    assert json.loads((run_dir / "config.json").read_text())["config"]["csv"] == str(path)
    with pytest.raises(UserError, match="no column 'text'"):
        run(tmp_path, "3.2.2", csv=str(path))
