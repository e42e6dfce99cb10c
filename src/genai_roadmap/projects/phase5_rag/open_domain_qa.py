"""5.2.2 open-domain-qa — retrieve (hybrid) -> re-rank -> read a short answer -> generate a detailed, cited one.

Roadmap: "Implement an open-domain question-answering system where the retriever fetches relevant passages from
a large corpus (e.g., Wikipedia) and the generator provides detailed answers."

The corpus is SQuAD-open (retrieval.corpus; the same passages and cached embeddings as 5.1.1's cpu preset),
saved as an index in the run folder (retrieval.index) so `roadmap ask "question"` answers from it later. Per
question: BM25 and MiniLM dense retrieval fused by reciprocal rank (top `depth`); re-ranking by a cross-encoder
when one resolves by name (`--set reranker=cross-encoder/ms-marco-MiniLM-L-6-v2`, online), else by the
extractive reader itself — every candidate is read and the passages are ordered by their best span score; the
best span is the short answer; SmolLM2 writes the detailed answer from the top `gen_passages` re-ranked passages
with citations [n]. Scored on a seeded sample of held-out questions (test articles of split_articles; the
reader never saw them): SQuAD EM/F1 of the short answer and of the generated one, and the latency of each
stage (embed query, search, fuse, read/re-rank, generate) on this machine.

The reader's passage score is span score - null_weight * no-answer score - rank_weight * ln(rank), with the
weights 5.1.1 chose on its validation questions (1 and 2; its k was 10, this depth).

Result (cpu preset, seed 0, 2026-12-02; 6,631 passages, the reader shared with 5.1.1): short answer EM 43.3 / F1
57.4 on 60 held-out test-article questions (a small sample: +-12.5 points at 95%; 5.1.1 reads 300 from its
weighted-fusion list at EM 50.7); the gold passage is among the 3 the generator reads for 86.7%. SmolLM2-135M's
detailed answers on 10: cite 100%, EM 0.0 / F1 5.1, none contains a gold answer string — at 135M parameters it
copies a cited passage's sentence rather than answering (a bigger generator by hub name online). Latency per
question on 2 cores (mean ms): embed query 14.6, dense search 0.5, BM25 0.8, fusion 0.1, read + re-rank 10
passages 134.8, generate 3,375. 50 s wall with the index and the reader cached.
                                                                             roadmap run 5.2.2
    roadmap ask "Which NFL team won Super Bowl 50?"
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...config import param
from ...errors import UserError
from ...metrics.qa import squad_scores
from ...retrieval.reader import ReaderConfig
from ...runs import RunContext
from ...viz.plots import new_figure, save
from ...viz.tabular import Report

STAGES = ("embed_query", "dense_search", "bm25_search", "fuse", "read_rerank", "generate")


@dataclass
class Config:
    encoder: str = param("sentence-transformers/all-MiniLM-L6-v2", "bi-encoder (hub name)")
    distractor_fraction: float = param(0.1, "share of the Wikipedia distractor articles indexed (0.1: 5.1.1's cpu "
                                            "corpus and cached embeddings)", min=0.0, max=1.0)
    depth: int = param(10, "fused candidates re-ranked (and read) per question", min=1, max=100)
    reranker: str = param("", "cross-encoder hub name for re-ranking (empty: re-rank by the reader's span score)")
    null_weight: float = param(1.0, "reader ranking: span score - null_weight * no-answer score - rank_weight * "
                               "ln(retrieval rank) (defaults: 5.1.1's choice on its validation questions)", min=0)
    rank_weight: float = param(2.0, "see null_weight", min=0)
    gen_passages: int = param(3, "re-ranked passages the generator reads", min=1, max=10)
    n_questions: int = param(60, "held-out test questions scored (seeded sample)", min=1)
    gen_samples: int = param(10, "of those, answered in full by the generator too", min=0)
    generator: str = param("HuggingFaceTB/SmolLM2-135M-Instruct", "generator (hub name: causal LM or T5)")
    max_new_tokens: int = param(60, "detailed-answer length limit", min=1)
    reader_questions: int = param(ReaderConfig.max_questions, "training questions of the reader (train articles "
                                  "only; cached, shared with 5.1.1 / 5.1.2)", min=16)
    reader_epochs: int = param(ReaderConfig.epochs, "reader fine-tuning epochs", min=1)


PRESETS = {"smoke": {"distractor_fraction": 0.0, "depth": 3, "gen_passages": 2, "n_questions": 3,
                     "gen_samples": 1, "max_new_tokens": 6, "reader_questions": 48},
           "cpu": {}, "full": {"distractor_fraction": 1.0, "n_questions": 1000, "gen_samples": 100}}


def dataset_of(cfg: Config) -> str:
    return "squad_v1.1_dev, wikipedia_passages"


@dataclass
class Pipeline:
    index: object  # retrieval.index.Index
    dense: object
    bm25: object
    reader: object
    generator: object | None
    reranker: object | None
    depth: int
    gen_passages: int
    null_weight: float = 0.0
    rank_weight: float = 0.0
    generator_name: str = ""  # loaded on the first question that asks for a detailed answer
    max_new_tokens: int = 60

    def answer(self, question: str, generate: bool = True) -> dict:
        """{"short", "detailed", "citations", "passages", "times"} for one question; times in ms per stage."""
        from ...retrieval.generator import Passage
        from ...retrieval.hybrid import rrf_fuse
        from ...retrieval.retrievers import check_question

        question = check_question(question)
        t = {}
        clock = time.perf_counter()
        qvec = self.dense.encoder.encode_queries([question])
        t["embed_query"] = time.perf_counter() - clock
        clock = time.perf_counter()
        d_idx, _ = self.dense.store.search(qvec, self.depth)
        t["dense_search"] = time.perf_counter() - clock
        clock = time.perf_counter()
        b_idx, _ = self.bm25.search([question], self.depth)
        t["bm25_search"] = time.perf_counter() - clock
        clock = time.perf_counter()
        fused = [int(i) for i in rrf_fuse([d_idx, b_idx], self.depth)[0][0] if i >= 0]
        t["fuse"] = time.perf_counter() - clock
        corpus = self.index.corpus
        clock = time.perf_counter()
        texts = [corpus.texts[i] for i in fused]
        best = self.reader.read_each([question], [texts])[0]  # each passage's best span orders the passages
        score = [s.ranked(self.null_weight, self.rank_weight) if s else -np.inf for s in best]
        if self.reranker is not None:
            order_idx = self.reranker.rerank([question], np.array([fused]), corpus)[0][0]
            order = [fused.index(int(i)) for i in order_idx if i >= 0]
        else:
            order = sorted(range(len(fused)), key=lambda p: -score[p])
        t["read_rerank"] = time.perf_counter() - clock
        top_span = best[int(np.argmax(score))] if best else None
        short = top_span.text if top_span else ""
        top = [fused[p] for p in order[:self.gen_passages]]
        result = {"short": short, "detailed": "", "citations": [],
                  "passages": [{"id": corpus.ids[i], "title": corpus.titles[i]} for i in top]}
        if generate and self.generator is None and self.generator_name:
            from ...retrieval.generator import Generator

            self.generator = Generator(self.generator_name, max_new_tokens=self.max_new_tokens)
        if generate and self.generator is not None:
            clock = time.perf_counter()
            ans = self.generator.answer(question, [Passage(corpus.titles[i], corpus.texts[i]) for i in top])
            t["generate"] = time.perf_counter() - clock
            result.update(detailed=ans.raw, detailed_text=ans.text, citations=ans.citations)
        result["times"] = {k: 1000 * v for k, v in t.items()}
        return result


def build_pipeline(index, cfg: Config, reader, say) -> Pipeline:
    from ...retrieval.generator import Generator

    reranker = None
    if cfg.reranker:
        from ...retrieval.hybrid import CrossEncoderReranker

        reranker = CrossEncoderReranker(cfg.reranker)  # offline without the model: hub's one-line UserError
    generator = Generator(cfg.generator, max_new_tokens=cfg.max_new_tokens) if cfg.gen_samples else None
    index.bm25.analyzer("warm up")  # its first call imports nltk and scikit-learn: not the first question's latency
    return Pipeline(index, index.retriever("dense"), index.bm25, reader, generator, reranker, cfg.depth,
                    cfg.gen_passages, cfg.null_weight, cfg.rank_weight, cfg.generator, cfg.max_new_tokens)


def run(cfg: Config, ctx: RunContext) -> dict:
    from ...retrieval.corpus import squad_open_corpus
    from ...retrieval.index import ensure_index
    from ...retrieval.reader import load_reader, save_reader
    from ...retrieval.squad import load_squad_dev, split_articles

    t0 = time.perf_counter()
    split = split_articles(ctx.seed)
    # smoke: the same few articles as 5.1.2's smoke (their embeddings are cached once for both)
    articles = None if ctx.preset != "smoke" else sorted(set(split.val[:2]) | set(split.test[:2]) | {"Super_Bowl_50"})
    index, rebuilt = ensure_index(lambda: squad_open_corpus(cfg.distractor_fraction, 0, articles=articles),
                                  ctx.dir / "index", cfg.encoder, say=ctx.say, progress=False)
    ctx.say(f"index: {len(index.corpus):,} passages (built now: {rebuilt})")
    reader = load_reader(ReaderConfig(max_questions=cfg.reader_questions, epochs=cfg.reader_epochs, seed=ctx.seed),
                         say=ctx.say)
    pipe = build_pipeline(index, cfg, reader, ctx.say)
    pool = load_squad_dev().questions_of(split.test if articles is None else split.test[:2])
    pick = np.sort(np.random.default_rng(ctx.seed).permutation(len(pool))[:cfg.n_questions])
    questions = [pool[i] for i in pick]
    rows, gen_rows = [], []
    for n, q in enumerate(questions):
        out = pipe.answer(q.question, generate=n < cfg.gen_samples)
        rows.append({"question": q.question, "short": out["short"], "gold": q.answers, **out["times"],
                     "gold_in_context": any(p["id"].startswith(q.paragraph_id + ":") for p in out["passages"])})
        if "detailed_text" in out:
            gen_rows.append({"question": q.question, "detailed": out["detailed"], "text": out["detailed_text"],
                             "gold": q.answers, "citations": out["citations"]})
        if n % 10 == 0:
            ctx.say(f"  {n + 1}/{len(questions)}: {q.question} -> {out['short']!r}")
    df = pd.DataFrame(rows)
    short = squad_scores(df["short"].tolist(), df["gold"].tolist())
    metrics = {"test_em": short["em"], "test_f1": short["f1"], "n_questions": short["n"],
               "gold_in_generator_context": float(df["gold_in_context"].mean()),
               "protocol": "SQuAD v1.1 EM/F1 (%) of the short answer, held-out test articles (split_articles), "
                           "seeded sample; corpus SQuAD-open with this distractor fraction",
               "reranker": cfg.reranker or "reader span score (no cross-encoder offline)",
               "n_passages": len(index.corpus)}
    latency = pd.DataFrame({s: df[s] for s in STAGES if s in df}).describe(percentiles=[0.5, 0.9]).T[
        ["mean", "50%", "90%"]].rename(columns={"50%": "p50", "90%": "p90"})
    metrics["latency_ms"] = latency.round(1).to_dict(orient="index")
    if gen_rows:
        g = pd.DataFrame(gen_rows)
        gs = squad_scores(g["text"].tolist(), g["gold"].tolist())
        metrics.update(gen_em=gs["em"], gen_f1=gs["f1"], gen_n=gs["n"],
                       gen_citation_rate=float((g["citations"].str.len() > 0).mean()),
                       gen_answer_recall=float(np.mean([any(a.lower() in t.lower() for a in gold)
                                                        for t, gold in zip(g["text"], g["gold"], strict=True)])))
    ctx.say(f"short answer EM {short['em']:.1f} / F1 {short['f1']:.1f} over {short['n']} test questions")
    fig, ax = new_figure(size=(6, 3.6))
    ax.barh(latency.index[::-1], latency["mean"][::-1], color="C0")
    ax.set(xscale="log", xlabel="mean ms per question (log)", title="latency per stage (this machine)")
    save(fig, ctx.plots / "latency_per_stage.png")
    save_reader(reader, ctx.dir / "model")
    from ...io import write_json

    write_json(ctx.dir / "model" / "qa.json", {k: getattr(cfg, k) for k in (
        "depth", "reranker", "gen_passages", "generator", "max_new_tokens", "null_weight", "rank_weight")})
    metrics["wall_s"] = round(time.perf_counter() - t0, 1)
    report = Report("Open-domain QA over SQuAD-open")
    report.text(metrics["protocol"] + f". Re-ranking: {metrics['reranker']}.")
    report.heading("Answers").text(f"Short answer EM {short['em']:.1f}, F1 {short['f1']:.1f} ({short['n']} "
                                   f"questions)." + (f" Generated answers: EM {metrics['gen_em']:.1f}, F1 "
                                                     f"{metrics['gen_f1']:.1f}, contain a gold answer "
                                                     f"{metrics['gen_answer_recall']:.0%}, cite "
                                                     f"{metrics['gen_citation_rate']:.0%} ({metrics['gen_n']})."
                                                     if gen_rows else ""))
    if gen_rows:
        report.table(pd.DataFrame(gen_rows)[["question", "detailed"]].head(6), index=False)
    report.heading("Latency per stage (ms)").table(latency, ".1f").image(ctx.plots / "latency_per_stage.png")
    report.write(ctx.dir)
    return metrics


def summarize(m: dict) -> str:
    gen = f"; generated EM {m['gen_em']:.1f} / F1 {m['gen_f1']:.1f}" if "gen_em" in m else ""
    return f"short-answer EM {m['test_em']:.1f} / F1 {m['test_f1']:.1f} on {m['n_questions']} held-out questions{gen}"


# --- roadmap ask "question" / roadmap sample 5.2.2 "question" ------------------------------------------------------

@dataclass
class SampleOptions:
    generate: bool = param(True, "also write the detailed, cited answer (slower)")


def load_trained(run_dir: Path, cfg: Config) -> Pipeline:
    import json

    from ...retrieval.index import open_index
    from ...retrieval.reader import reader_from_folder

    meta = json.loads((run_dir / "model" / "qa.json").read_text(encoding="utf-8"))
    cfg = type(cfg)(**{**cfg.__dict__, **meta, "gen_samples": 0})  # the generator loads when first asked
    return build_pipeline(open_index(run_dir / "index"), cfg, reader_from_folder(run_dir / "model"), print)


def sample(pipe: Pipeline, inputs: list[str], opts: SampleOptions, out_dir: Path) -> list[dict]:
    if not inputs:
        raise UserError("give a question: roadmap ask \"Which NFL team won Super Bowl 50?\"")
    out = []
    for question in inputs:
        r = pipe.answer(question, generate=opts.generate)
        out.append({"question": question, "answer": r["short"], "detailed": r["detailed"],
                    "sources": [f"[{i + 1}] {p['title']}" for i, p in enumerate(r["passages"])],
                    "ms": {k: round(v) for k, v in r["times"].items()}})
    return out
