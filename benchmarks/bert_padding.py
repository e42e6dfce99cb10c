"""Training-step speed of a BERT classifier with length-bucketed dynamic padding against padding to a fixed length.

    PYTHONPATH=src ROADMAP_DATA_DIR=... python benchmarks/bert_padding.py [--dataset sms_spam|imdb]
        [--model sentence-transformers/all-MiniLM-L6-v2] [--max-length 64] [--batch-size 32] [--batches 8]
        [--repeats 3] [--seed 0]

The same texts (a seeded random sample of `batches * batch_size` training texts) go through forward + backward
of project 3.3.1's classifier (genai_roadmap.projects.phase3_nlp.bert_classifier.padding_speed) three ways:
every batch padded to `max_length` (fixed), each random batch padded to its own longest text (dynamic), and the
texts regrouped by length before dynamic padding (bucketed: what the project trains with). The variants take
turns batch by batch, so a busy neighbour slows them alike; each repeat draws a new sample (seed + repeat) and
the ratios are medians over repeats. The optimizer step is left out: it costs the same whatever the padding.
Prints one JSON object; absolute times move with the machine's load, the ratios much less.
"""

from __future__ import annotations

import argparse
import json
import platform

import numpy as np
import torch


def main() -> None:
    from genai_roadmap import hub
    from genai_roadmap.data.text import load_imdb, load_sms_spam
    from genai_roadmap.projects.phase3_nlp.bert_classifier import DEFAULT_MODEL, BertClassifier, padding_speed

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=("sms_spam", "imdb"), default="sms_spam")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    data = load_sms_spam(args.seed) if args.dataset == "sms_spam" else load_imdb("train", args.seed)
    encoder, found = hub.load_language_model(args.model)
    tokenizer = hub.load_tokenizer(args.model)
    torch.manual_seed(args.seed)
    model = BertClassifier(encoder, len(data.classes))
    ids = tokenizer(data.texts, truncation=True, max_length=args.max_length)["input_ids"]
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    runs = [padding_speed(model, ids, data.labels, args.batch_size, args.max_length, tokenizer.pad_token_id or 0,
                          args.batches, args.seed + r, device) for r in range(args.repeats)]
    print(json.dumps({
        "dataset": args.dataset, "model": args.model, "model_source": found.source, "max_length": args.max_length,
        "batch_size": args.batch_size, "batches": args.batches, "repeats": args.repeats, "device": str(device),
        "threads": torch.get_num_threads(), "machine": platform.machine(),
        "median_speedup_bucketed_vs_fixed": float(np.median([r["speedup_bucketed_vs_fixed"] for r in runs])),
        "median_speedup_dynamic_vs_fixed": float(np.median([r["speedup_dynamic_vs_fixed"] for r in runs])),
        "padding_share": {k: runs[0][k]["padding_share"] for k in ("fixed", "dynamic", "bucketed")},
        "runs": runs}, indent=2))


if __name__ == "__main__":
    main()
