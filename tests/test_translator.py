"""3.3.2 translator: the split never puts one English sentence on both sides; pair batches teacher-force
correctly; a toy set is memorised exactly (BLEU 100) through the project's own step, batches and decoding; a smoke
run on real fra-eng writes its model, plots and report, and the `roadmap sample` hooks translate with it."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from genai_roadmap import registry
from genai_roadmap.errors import UserError
from genai_roadmap.metrics.text import bleu
from genai_roadmap.nn.transformer import Seq2SeqTransformer
from genai_roadmap.projects.phase3_nlp import translator as tr
from genai_roadmap.runs import execute
from genai_roadmap.text.subword import train_subword_tokenizer


def test_split_keeps_every_english_sentence_on_one_side():
    english = [f"Sentence number {i}." for i in range(200)]
    rows = [(e, f"Phrase {i} ({k}).") for i, e in enumerate(english) for k in range(1 + i % 3)]
    rows += [("  sentence NUMBER 7. ", "Variante."), ("Sentence number  8.", "Autre.")]  # same key as 7 and 8
    df = pd.DataFrame(rows, columns=["en", "fr"])
    split = tr.split_by_sentence(df, n_test=30, n_val=20, seed=0)
    keys = {name: set(part["en"].map(tr.sentence_key)) for name, part in split.items()}
    assert len(keys["test"]) == 30 and len(keys["val"]) == 20
    assert not keys["train"] & keys["test"] and not keys["train"] & keys["val"] and not keys["val"] & keys["test"]
    assert sum(len(p) for p in split.values()) == len(df)
    for i in (7, 8):  # the case / spacing variants went wherever their sentence went
        side = [n for n, k in keys.items() if f"sentence number {i}." in k]
        assert len(side) == 1 and len(split[side[0]][split[side[0]]["en"].map(tr.sentence_key)
                                                      == f"sentence number {i}."]) == 1 + i % 3 + 1
    again = tr.split_by_sentence(df, n_test=30, n_val=20, seed=0)
    assert again["test"].equals(split["test"])  # seeded: the test set is fixed
    assert not tr.split_by_sentence(df, n_test=30, n_val=20, seed=1)["test"].equals(split["test"])
    with pytest.raises(UserError, match="distinct English sentences"):
        tr.split_by_sentence(df, n_test=150, n_val=60, seed=0)


def test_pair_batches_teacher_forcing_layout():
    ids = {"pad": 0, "bos": 1, "eos": 2}
    src = [[5, 6, 2], [7, 2], [8, 9, 10, 2]]
    tgt = [[11, 12], [13, 14, 15], [16]]
    batches = tr.PairBatches(src, tgt, ids, batch_size=3)
    (batch,) = list(batches)
    rows = batch["index"].tolist()
    for r, i in enumerate(rows):
        n = len(tgt[i])
        assert batch["tgt_in"][r, : n + 1].tolist() == [1, *tgt[i]]
        assert batch["labels"][r, : n + 1].tolist() == [*tgt[i], 2]
        assert (batch["labels"][r, n + 1:] == -100).all()
        assert batch["src"][r, : len(src[i])].tolist() == src[i] and batch["src_mask"][r].sum() == len(src[i])
    assert batches.tokens() == 9 + 9
    shuffled = tr.PairBatches(src * 20, tgt * 20, ids, batch_size=4, shuffle=True, seed=3)
    first = [b["index"].tolist() for b in shuffled.epoch(1)]
    assert first == [b["index"].tolist() for b in shuffled.epoch(1)] != [b["index"].tolist() for b in shuffled.epoch(2)]


def test_memorises_a_toy_set_exactly():
    """Through the project's own step, batches and Translator: six pairs learned by heart decode exactly."""
    pairs = [("I am cold.", "J'ai froid."), ("Tom is here.", "Tom est ici."),
             ("We are late.", "Nous sommes en retard."), ("She sings.", "Elle chante."),
             ("Open the door.", "Ouvre la porte."), ("I love cats.", "J'adore les chats.")]
    specials = [tr.PAD, tr.BOS, tr.EOS, tr.UNK]
    tok = train_subword_tokenizer([t for p in pairs for t in p] * 3, "bpe", 300, special_tokens=specials)
    torch.manual_seed(0)
    model = Seq2SeqTransformer(tok.get_vocab_size(), d_model=64, n_heads=4, n_encoder=1, n_decoder=1, dropout=0.0,
                               max_len=64, pad_id=tok.token_to_id(tr.PAD))
    translator = tr.Translator(model, tok, 64)
    english, french = [p[0] for p in pairs], [p[1] for p in pairs]
    batches = tr.PairBatches(translator.encode(english), [tok.encode(f).ids for f in french], translator.ids,
                             batch_size=6)
    step = tr.translation_step(0.0)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    untrained = translator.translate(english)
    losses = []
    for _ in range(150):
        model.train()
        out = step(model, next(iter(batches)))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert losses[-1] < 0.05 * losses[0]
    assert translator.translate(english) == french
    assert translator.translate(english, beam=4) == french
    assert bleu(translator.translate(english), french)["bleu"] == pytest.approx(100.0)
    assert bleu(untrained, french)["bleu"] < 5


@pytest.mark.realdata
def test_smoke_run_and_sample_hooks(tmp_path, need_data):
    run_dir, m = execute(registry.get("3.3.2"), preset="smoke", out=tmp_path, quiet=True)
    hist = m["history"]
    assert hist[-1]["train_loss"] < 0.8 * hist[0]["train_loss"]  # it learns
    assert m["n_test_sentences"] == 30 and m["n_test_pairs"] >= 30 and m["n_val_sentences"] == 20
    assert 0 <= m["sacrebleu"] <= 100 and m["chrf"] > 0 and m["train_tokens_per_s"] > 0
    assert m["sacrebleu"] in (m["test_bleu_greedy"], m["test_bleu_beam"])
    assert m["ms_per_sentence_beam_single"] > 0 and m["ms_per_sentence_greedy_single"] > 0
    plots = {p.name for p in (run_dir / "plots").glob("*.png") if p.stat().st_size > 2000}
    assert {"cross_attention.png", "greedy_vs_beam.png"} <= plots
    assert "## Sample translations" in (run_dir / "report.md").read_text()
    assert json.loads((run_dir / "metrics.json").read_text())["sacrebleu"] == m["sacrebleu"]

    module = registry.get("3.3.2").load()
    cfg = module.Config(**json.loads((run_dir / "config.json").read_text()).get("config", {}))
    model = module.load_trained(run_dir, cfg)
    translator, chosen = model
    out = module.sample(model, ["I am cold.", "  ", "Where is the station?"], module.SampleOptions(beam=1), tmp_path)
    assert len(out) == 2 and all(isinstance(s, str) for s in out)
    # the reloaded weights translate the test sentences exactly as the run did
    english = m["samples"][0]["english"]
    assert module.sample(model, [english], module.SampleOptions(beam=1), tmp_path) == [m["samples"][0]["greedy"]]
    assert module.sample(model, [english], module.SampleOptions(beam=4, length_penalty=1.0), tmp_path) == [
        m["samples"][0]["beam 4"]]
    with pytest.raises(UserError, match="English sentences"):
        module.sample(model, [], module.SampleOptions(), tmp_path)
    with pytest.raises(UserError, match="no trained translator"):
        module.load_trained(tmp_path, cfg)
