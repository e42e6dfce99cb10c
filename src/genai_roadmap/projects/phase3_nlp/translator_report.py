"""3.3.2's pictures and report: training curves, cross-attention maps, BLEU by sentence length, greedy vs
beam, sample translations. Kept beside translator.py so that file reads as the pipeline."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from ...metrics.text import bleu
from ...runs import RunContext
from ...viz.plots import curves, new_figure, save
from ...viz.tabular import Report

LENGTH_BINS = [(1, 4), (5, 7), (8, 10), (11, 15), (16, 1000)]


def token_labels(tokenizer, ids: list[int]) -> list[str]:
    """Each BPE token as readable text (byte-level pieces decoded one by one; a split accent shows as �)."""
    return [tokenizer.decode([i], skip_special_tokens=False).replace(" ", "·") or "?" for i in ids]


def attention_plot(ctx: RunContext, translator, sentences: list[str], hyp_of: dict[str, str]) -> list:
    """Cross-attention of the last decoder layer (mean over heads) while it reads its own translation."""
    tok, ids = translator.tokenizer, translator.ids
    device = next(translator.model.parameters()).device
    fig, axes = new_figure(ncols=len(sentences), size=(5.2 * len(sentences), 5.0), squeeze=False)
    paths = []
    for ax, sentence in zip(axes[0], sentences, strict=True):
        src = translator.encode([sentence])[0]
        out = tok.encode(hyp_of[sentence]).ids[: translator.max_len - 2]
        tgt_in = [ids["bos"], *out]
        weights = translator.model.cross_attention(torch.tensor([src], device=device),
                                                   torch.ones(1, len(src), dtype=torch.long, device=device),
                                                   torch.tensor([tgt_in], device=device))[0].mean(0)  # [T, S]
        # row t is the step that predicts output token t: label rows by the token they produce
        ax.imshow(weights.cpu().numpy(), cmap="viridis", aspect="auto", vmin=0, vmax=1)
        ax.set_xticks(range(len(src)), token_labels(tok, src), rotation=90, fontsize=8)
        ax.set_yticks(range(len(tgt_in)), token_labels(tok, [*out, ids["eos"]]), fontsize=8)
        ax.set_title(sentence if len(sentence) < 45 else sentence[:42] + "...", fontsize=9)
        paths.append(sentence)
    fig.suptitle("cross-attention, last decoder layer (mean of heads): row = output token, column = source token")
    save(fig, ctx.plots / "cross_attention.png")
    return paths


def bleu_by_length(test_df: pd.DataFrame, test: dict) -> pd.DataFrame:
    words = test_df["en"].str.split().str.len()
    rows = []
    for lo, hi in LENGTH_BINS:
        part = test_df[(words >= lo) & (words <= hi)]
        if len(part) < 5:
            continue
        row = {"English words": f"{lo}-{hi}" if hi < 1000 else f"{lo}+", "pairs": len(part)}
        for name in ("greedy", "beam"):
            row[f"BLEU {name}"] = bleu([test[name]["hyp_of"][e] for e in part["en"]], list(part["fr"]))["bleu"]
        rows.append(row)
    return pd.DataFrame(rows)


def write_report(ctx: RunContext, translator, history: list[dict], evals: list[dict], val_table: list[dict],
                 test: dict, test_df: pd.DataFrame, test_groups: pd.Series, chosen: dict, cfg,
                 rng: np.random.Generator) -> list[dict]:
    # training curves: validation BLEU and loss at every validation, training loss per epoch
    points = [e for e in evals if "val_bleu" in e] + [h | {"step": h["step"]} for h in history if "val_bleu" in h]
    points = sorted({p["step"]: p for p in points}.values(), key=lambda p: p["step"])
    steps = [p["step"] for p in points]
    if points:
        curves(ctx.plots / "val_bleu.png", {"validation BLEU (greedy)": [p["val_bleu"] for p in points]},
               xlabel="update", ylabel="BLEU", title="validation BLEU during training", x=steps)
        curves(ctx.plots / "val_loss.png", {"validation loss (no smoothing)": [p["val_loss"] for p in points]},
               xlabel="update", ylabel="cross-entropy per token", title="validation loss", x=steps)

    by_length = bleu_by_length(test_df, test)
    if len(by_length):
        fig, ax = new_figure(size=(6, 3.8))
        x = np.arange(len(by_length))
        for k, name in enumerate(("greedy", "beam")):
            ax.bar(x + (k - 0.5) * 0.38, by_length[f"BLEU {name}"], 0.38, label=name)
        ax.set_xticks(x, by_length["English words"])
        ax.set(xlabel="English sentence length (words)", ylabel="test BLEU", title="BLEU by sentence length")
        ax.legend()
        save(fig, ctx.plots / "bleu_by_length.png")

    fig, (a1, a2) = new_figure(ncols=2, size=(9, 3.6))
    names = ["greedy", f"beam {cfg.beam}"]
    a1.bar(names, [test["greedy"]["bleu"], test["beam"]["bleu"]], color=["tab:blue", "tab:orange"])
    a1.set(ylabel="test BLEU (1 reference per pair)", title="quality")
    a2.bar(names, [test["greedy"]["ms_per_sentence_single"], test["beam"]["ms_per_sentence_single"]],
           color=["tab:blue", "tab:orange"])
    a2.set(ylabel="ms per sentence (one at a time)", title="latency")
    save(fig, ctx.plots / "greedy_vs_beam.png")

    sents = list(test_groups.index)
    mid = [s for s in sents if 5 <= len(s.split()) <= 10] or sents
    shown = list(rng.choice(mid, size=min(3, len(mid)), replace=False))
    chosen_name = "greedy" if chosen["beam"] == 1 else "beam"
    attention_plot(ctx, translator, shown, test[chosen_name]["hyp_of"])

    picks = list(rng.choice(sents, size=min(12, len(sents)), replace=False))
    samples = [{"english": s, "reference": " | ".join(test_groups[s][:2]), "greedy": test["greedy"]["hyp_of"][s],
                f"beam {cfg.beam}": test["beam"]["hyp_of"][s]} for s in picks]

    report = Report("Transformer English → French (fra-eng)")
    report.text(f"Test: {len(test_df)} pairs of {len(sents)} English sentences never seen in training (split by "
                f"sentence, seed {ctx.seed}). BLEU and chrF by sacreBLEU; 'multi-ref' scores each sentence against "
                "all its French translations at once.")
    table = pd.DataFrame([{"decoding": n, "BLEU": test[k]["bleu"], "chrF": test[k]["chrf"],
                           "BLEU multi-ref": test[k]["bleu_multiref"],
                           "ms/sentence batched": test[k]["ms_per_sentence_batched"],
                           "ms/sentence one at a time": test[k]["ms_per_sentence_single"]}
                          for n, k in (("greedy", "greedy"), (f"beam {cfg.beam}", "beam"))])
    report.heading("Greedy vs beam on the test set").table(table, ".2f", index=False).text(
        f"Chosen on validation: {chosen['decoding']}. Latency measured on this (shared) CPU: compare the two "
        "rows, not across machines.").image(ctx.plots / "greedy_vs_beam.png")
    report.heading("Decoding choice on validation").table(pd.DataFrame(val_table), ".2f", index=False)
    report.heading("Sample translations (random test sentences)").table(pd.DataFrame(samples), index=False)
    report.heading("Cross-attention").image(ctx.plots / "cross_attention.png")
    if len(by_length):
        report.heading("BLEU by sentence length").table(by_length, ".2f", index=False).image(
            ctx.plots / "bleu_by_length.png")
    if points:
        report.heading("Training").image(ctx.plots / "val_bleu.png").image(ctx.plots / "val_loss.png")
    report.write(ctx.dir)
    return samples
