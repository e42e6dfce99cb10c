"""3.3.1 bert-spam: masks make padding invisible to the classifier, the smoke run learns (validation loss falls,
spam found better than the majority class does), the saved model reloads into the same predictions, and a
user's CSV runs through the same pipeline."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from genai_roadmap import registry
from genai_roadmap.data.text_batches import TextBatches, pad_collate
from genai_roadmap.errors import UserError
from genai_roadmap.projects.phase3_nlp import bert_classifier as bc
from genai_roadmap.runs import execute

pytest.importorskip("transformers")  # the [nlp] extra


def tiny_encoder(seed: int = 0):
    """A randomly initialised 2-layer BERT: the real architecture (attention masks, positions) at toy size."""
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    return BertModel(BertConfig(vocab_size=60, hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=64, max_position_embeddings=64), add_pooling_layer=False)


def toy_sequences(n: int = 12, seed: int = 0) -> list[list[int]]:
    rng = np.random.default_rng(seed)
    return [[2, *rng.integers(5, 60, size=int(rng.integers(1, 20))).tolist(), 3] for _ in range(n)]


@pytest.mark.parametrize("pooling", ["mean", "cls"])
def test_dynamic_padding_gives_the_same_logits_as_fixed_padding(pooling):
    model = bc.BertClassifier(tiny_encoder(), 3, pooling).eval()
    batch = pad_collate(toy_sequences(), pad_id=0)
    width = 40 - batch["input_ids"].shape[1]  # the same texts padded to a fixed length of 40
    fixed_ids = torch.nn.functional.pad(batch["input_ids"], (0, width), value=0)
    fixed_mask = torch.nn.functional.pad(batch["attention_mask"], (0, width), value=0)
    with torch.no_grad():
        dynamic = model(batch["input_ids"], batch["attention_mask"])
        fixed = model(fixed_ids, fixed_mask)
        one_by_one = torch.cat([model(torch.tensor([s]), torch.ones(1, len(s), dtype=torch.long))
                                for s in toy_sequences()])
        unmasked = model(fixed_ids, torch.ones_like(fixed_mask))  # a forgotten mask: padding leaks in
    torch.testing.assert_close(dynamic, fixed, atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(dynamic, one_by_one, atol=1e-5, rtol=1e-4)
    assert (unmasked - fixed).abs().max() > 1e-3


def test_probabilities_come_back_in_the_texts_order_despite_bucketing():
    model = bc.BertClassifier(tiny_encoder(1), 2).eval()
    seqs = toy_sequences(40, seed=1)
    bucketed = TextBatches(seqs, batch_size=8, pad_id=0, bucket=5)
    assert torch.cat(bucketed.batches(0)).tolist() != list(range(40))  # bucketing did reorder them
    got = bc.probabilities(model, bucketed, torch.device("cpu"))
    with torch.no_grad():
        want = torch.cat([torch.softmax(model(torch.tensor([s]), torch.ones(1, len(s), dtype=torch.long)), 1)
                          for s in seqs]).numpy()
    np.testing.assert_allclose(got, want, atol=1e-5)


def test_padding_speed_times_the_same_texts_three_ways():
    model = bc.BertClassifier(tiny_encoder(2), 2)
    seqs = toy_sequences(30, seed=2)
    out = bc.padding_speed(model, seqs, np.arange(30) % 2, 8, 40, 0, 3, 0, torch.device("cpu"))
    assert out["texts"] == 24 and out["batches"] == 3
    assert out["fixed"]["padded_tokens"] == 24 * 40
    assert out["fixed"]["padded_tokens"] > out["dynamic"]["padded_tokens"] >= out["bucketed"]["padded_tokens"]
    assert out["real_tokens"] < out["bucketed"]["padded_tokens"] and all(p.grad is None for p in model.parameters())


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    import os

    if not os.environ.get("ROADMAP_DATA_DIR"):
        pytest.skip("ROADMAP_DATA_DIR is not set: real-data test skipped")
    return execute(registry.get("3.3.1"), preset="smoke", out=tmp_path_factory.mktemp("bert"), quiet=True)


@pytest.mark.realdata
def test_smoke_run_learns_spam_and_writes_its_files(smoke):
    run_dir, m = smoke
    assert m["classes"] == ["ham", "spam"] and m["positive_class"] == "spam"
    assert m["n_train"] + m["n_val"] + m["n_test"] == 360
    grid = m["grid"][0]
    assert m["history"]["0.0002"][-1]["val_loss"] < grid["val_loss_before"]  # fine-tuning lowered the loss
    counts = np.array(m["confusion_matrix"]).sum(1)  # true test texts per class
    majority = counts.max() / counts.sum()
    assert m["spam_f1"] > 0.3 and m["test_acc"] > majority  # the majority class (ham) has spam F1 0
    assert m["train_tokens_per_s"] > 0 and m["padding"]["bucketed"]["padded_tokens"] < m["padding"]["fixed"][
        "padded_tokens"]
    plots = {p.name for p in (run_dir / "plots").glob("*.png") if p.stat().st_size > 2000}
    assert plots == {"confusion_matrix.png", "precision_recall.png", "training_curves.png", "padding_speed.png"}
    assert "## Test split (evaluated once)" in (run_dir / "report.md").read_text()
    assert json.loads((run_dir / "metrics.json").read_text())["spam_f1"] == m["spam_f1"]


@pytest.mark.realdata
def test_saved_model_reloads_and_samples(smoke):
    run_dir, m = smoke
    trained = bc.load_trained(run_dir, None)
    texts = [e["text"] for e in m["examples"]]
    want = np.array([e["probabilities"] for e in m["examples"]])
    np.testing.assert_allclose(trained.predict_proba(texts), want, atol=1e-4)  # every weight saved, head too
    out = bc.sample(trained, ["WINNER!! claim your prize", *texts], bc.SampleOptions(), run_dir)
    assert [o["text"] for o in out][1:] == texts
    for o, p in zip(out[1:], want, strict=True):
        assert o["label"] == m["classes"][int(p.argmax())] and o["probability"] == pytest.approx(p.max(), abs=1e-4)
        assert sum(o["probabilities"].values()) == pytest.approx(1, abs=1e-3)
    strict = bc.sample(trained, texts, bc.SampleOptions(threshold=0.999), run_dir)  # spam only when near-certain
    assert sum(o["label"] == "spam" for o in strict) <= sum(o["label"] == "spam" for o in out[1:])
    with pytest.raises(UserError):
        bc.sample(trained, ["  "], bc.SampleOptions(), run_dir)


def test_load_trained_on_a_folder_without_a_model_is_one_clear_error(tmp_path):
    with pytest.raises(UserError, match="no fine-tuned model"):
        bc.load_trained(tmp_path, None)


def _user_csv(tmp_path, n=60):
    rng = np.random.default_rng(0)
    words = {"urgent": "free prize win cash claim now winner call", "normal": "lunch later see you home dinner ok"}
    rows = ["body,kind"]
    for i in range(n):
        kind = "urgent" if i % 3 == 0 else "normal"
        rows.append(f"\"{' '.join(rng.choice(words[kind].split(), 5))}\",{kind}")
    path = tmp_path / "mine.csv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_user_csv_runs_through_the_same_pipeline(tmp_path):
    path = _user_csv(tmp_path)
    with pytest.raises(UserError, match="no column 'text'"):
        execute(registry.get("3.3.1"), preset="smoke", overrides={"csv": str(path)}, out=tmp_path, quiet=True)
    _, m = execute(registry.get("3.3.1"), preset="smoke", out=tmp_path, quiet=True,
                   overrides={"csv": str(path), "text_col": "body", "label_col": "kind", "max_length": 12,
                              "padding_batches": 0, "batch_size": 8})
    assert m["classes"] == ["normal", "urgent"] and m["positive_class"] == "urgent"  # the rarer of two
    assert m["n_train"] + m["n_val"] + m["n_test"] == 60 and m["padding"] == {}
    assert m["tfidf_test_acc"] == 1.0  # separable by words: the baseline must get it
