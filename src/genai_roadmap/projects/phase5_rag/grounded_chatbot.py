"""5.1.2 grounded-chatbot — a multi-turn chat over a knowledge base that cites its passages and abstains.

Roadmap: "Create a knowledge-grounded chatbot that uses retrieval techniques to fetch relevant information from a
knowledge base and provides factually accurate responses."

The knowledge base is SQuAD-open (retrieval.corpus: the SQuAD v1.1 dev paragraphs + Wikipedia distractor
articles, ~100-word passages; the same corpus and cached embeddings as 5.1.1's cpu preset). The bot
(retrieval.chat.ChatBot) retrieves the top-k passages (MiniLM + FAISS flat), reads them with the extractive
reader (retrieval.reader, fine-tuned on the TRAIN articles' questions only), answers with the span and the
number of the passage it came from, keeps the conversation's topic, and rewrites follow-ups ("when was it
founded?") into standalone questions.

Measured (articles from split_articles(seed): the reader never saw their questions):
- abstention: half of the validation and half of the test articles are REMOVED from the index (their SQuAD
  passages and any Wikipedia passage of the same title). Their questions are unanswerable; the questions of the
  other half are answerable. The evidence signal (reader span score, its margin over the no-answer score,
  retrieval score, or all three weighted by a logistic regression fitted on validation) and its threshold are
  chosen on the validation questions (maximising the smaller of abstention rate and answer rate); the test
  questions report the abstention rate on removed articles and the answer rate on present ones (target: both
  >= 80%), and SQuAD EM/F1 of the answers given;
- grounded-answer rate: answers whose text is found in the passage they cite (normalised token sequence, as
  metrics.qa's DPR containment) — for the extractive answers and for SmolLM2-phrased answers on a sample;
- a scripted multi-turn conversation shows the rewrite at work (in the report and metrics).

Result (cpu preset, seed 0, 2026-12-02; 6,631 passages, 787 of them removed with 6 articles; 150 questions per
group): on validation the smaller of abstain / answer rate was reader span score .793, its margin over the
no-answer score .847, retrieval score .907, both (logistic weights span -0.006, no-answer -0.379, retrieval
18.1) .927 -> "both" chosen. Test: abstains on 86.0% of removed-article questions and answers 86.0% of present
ones (target both >= 80%: met); answered EM 38.0 / F1 49.3 over 129 (the gold passage is in the top 3 for 70.7%
of present questions); extractive answers grounded 100%; SmolLM2-phrased answers on 5: cite 100%, grounded 20%
(it rewrites the span into a sentence). The script rewrites every follow-up ("When was it founded?" -> "When
was Harvard University founded?"; the reader then answers "1900", a wrong span of a right passage). 56 s wall
with the embeddings and the reader cached (5.1.1 trains and embeds them).
                                                                             roadmap run 5.1.2
    roadmap chat 5.1.2                          # talk to it (the index and reader of the latest run)
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...config import param
from ...errors import UserError
from ...metrics.qa import has_answer, normalized_passage, squad_scores
from ...retrieval.chat import SIGNALS, evidence_features, evidence_score
from ...retrieval.reader import ReaderConfig
from ...runs import RunContext
from ...viz.plots import new_figure, save
from ...viz.tabular import Report

SCRIPT = ("Who won Super Bowl 50?", "Where was it played?", "What kind of university is Harvard?",
          "When was it founded?", "How large is its endowment?")


@dataclass
class Config:
    encoder: str = param("sentence-transformers/all-MiniLM-L6-v2", "bi-encoder (hub name)")
    distractor_fraction: float = param(0.1, "share of the Wikipedia distractor articles in the knowledge base "
                                            "(0.1: 5.1.1's cpu corpus and cached embeddings)", min=0.0, max=1.0)
    k: int = param(3, "passages retrieved and read per question", min=1, max=20)
    questions_per_group: int = param(150, "questions per (split, removed/present) group, seeded", min=4)
    signals: list[str] = param(list(SIGNALS), "evidence signals compared on validation (reader_margin: span "
                               "score less no-answer score; both: logistic-regression weights of span, no-answer "
                               "and retrieval score, fitted on validation)", choices=SIGNALS)
    reader_questions: int = param(ReaderConfig.max_questions, "training questions of the reader (train articles "
                                  "only; cached, shared with 5.1.1 / 5.2.2)", min=16)
    reader_epochs: int = param(ReaderConfig.epochs, "reader fine-tuning epochs", min=1)
    gen_samples: int = param(5, "answered test questions also phrased by the generator (grounded rate)", min=0)
    generator: str = param("HuggingFaceTB/SmolLM2-135M-Instruct", "generator for the phrased answers (hub name)")
    max_new_tokens: int = param(40, "generator answer length limit", min=1)
    save_index: bool = param(True, "save the full index in the run folder (for `roadmap chat 5.1.2`)")


PRESETS = {"smoke": {"distractor_fraction": 0.0, "k": 2, "questions_per_group": 6, "signals": ["reader"],
                     "reader_questions": 48, "gen_samples": 1, "max_new_tokens": 6, "save_index": True},
           "cpu": {}, "full": {"distractor_fraction": 1.0, "questions_per_group": 500, "gen_samples": 50}}


def dataset_of(cfg: Config) -> str:
    return "squad_v1.1_dev, wikipedia_passages"


def removal_plan(split, seed: int) -> dict[str, set[str]]:
    """Half of the val and half of the test articles (seeded) are taken out of the index."""
    rng = np.random.default_rng(seed + 1)
    plan = {}
    for name, titles in (("val", split.val), ("test", split.test)):
        order = [titles[i] for i in rng.permutation(len(titles))]
        plan[f"{name}_removed"] = set(order[:len(order) // 2 or 1])
        plan[f"{name}_present"] = set(order[len(order) // 2 or 1:])
    return plan


def grounded(answer: str, passage: str) -> bool:
    """The answer (citations removed, SQuAD-normalised) occurs as a token sequence in the cited passage."""
    from ...retrieval.generator import parse_citations

    text = parse_citations(answer, 99)[0]
    return bool(text.strip()) and has_answer(normalized_passage(passage), [text])


def score_questions(bot, questions, say) -> pd.DataFrame:
    rows = []
    for n, q in enumerate(questions):
        hits, span, _ = bot.evidence(q.question)
        rows.append({"qid": q.qid, "article": q.article, **dict(zip(FEATURES, evidence_features(span, hits),
                                                                     strict=True)),
                     "reader_margin_score": evidence_score("reader_margin", span, hits),
                     "answer": span.text if span else "",
                     "passage": hits[span.passage].text if span else "", "gold": q.answers,
                     "gold_retrieved": any(h.id.startswith(q.paragraph_id + ":") for h in hits)})
        if n % 50 == 0:
            say(f"  read {n + 1}/{len(questions)}")
    return pd.DataFrame(rows)


FEATURES = ["reader_score", "null_score", "retrieval_score"]


def fit_mix(val: pd.DataFrame) -> tuple[float, float, float]:
    """Weights of span, no-answer and retrieval score in a logistic regression that tells present from removed
    articles' questions on validation (standardised inputs; the intercept is left to the threshold)."""
    from sklearn.linear_model import LogisticRegression

    x = val[FEATURES].to_numpy(float)
    ok = np.isfinite(x).all(axis=1)
    mean, std = x[ok].mean(axis=0), x[ok].std(axis=0) + 1e-12
    model = LogisticRegression().fit((x[ok] - mean) / std, ~val["removed"].to_numpy()[ok])
    w = model.coef_[0] / std
    return float(w[0]), float(w[1]), float(w[2])


def choose(val: pd.DataFrame, signal: str) -> tuple[float, float]:
    """(threshold, min(abstain rate, answer rate)) maximising the smaller rate on validation."""
    scores = val[f"{signal}_score"].to_numpy()
    removed = val["removed"].to_numpy()
    best = (-np.inf, -1.0)
    for t in np.unique(scores):
        abstain = float((scores[removed] < t).mean())
        answer = float((scores[~removed] >= t).mean())
        if min(abstain, answer) > best[1]:
            best = (float(t), min(abstain, answer))
    return best


def run(cfg: Config, ctx: RunContext) -> dict:
    from ...retrieval.chat import ChatBot, evidence_mix
    from ...retrieval.corpus import squad_open_corpus
    from ...retrieval.dense import load_encoder, passage_embeddings
    from ...retrieval.reader import load_reader, save_reader
    from ...retrieval.retrievers import DenseRetriever
    from ...retrieval.squad import load_squad_dev, split_articles
    from ...retrieval.stores import FaissStore

    t0 = time.perf_counter()
    split = split_articles(ctx.seed)
    plan = removal_plan(split, ctx.seed)
    squad = load_squad_dev()
    articles = None
    if ctx.preset == "smoke":  # a few articles only: two val, two test, and Super Bowl 50 for the script
        articles = sorted(set(split.val[:2]) | set(split.test[:2]) | {"Super_Bowl_50"})
        plan = removal_plan(type(split)(split.train, tuple(sorted(set(split.val[:2]))),
                                        tuple(sorted(set(split.test[:2]))), ctx.seed), ctx.seed)
    corpus = squad_open_corpus(cfg.distractor_fraction, 0, articles=articles)
    encoder = load_encoder(cfg.encoder)
    vectors, info = passage_embeddings(encoder, corpus, progress=False, say=ctx.say)
    ctx.say(f"knowledge base: {len(corpus):,} passages (embeddings cache hit: {info.get('cache_hit')})")
    reader = load_reader(ReaderConfig(max_questions=cfg.reader_questions, epochs=cfg.reader_epochs, seed=ctx.seed),
                         say=ctx.say)
    ctx.say(f"reader: {reader.info.get('train_questions')} training questions, cache hit {reader.info['cache_hit']}")

    # The index without the removed articles: their SQuAD passages and same-titled Wikipedia passages.
    removed = plan["val_removed"] | plan["test_removed"]
    removed_titles = {t.replace("_", " ").lower() for t in removed}
    keep = [i for i, (p, t) in enumerate(zip(corpus.parents, corpus.titles, strict=True))
            if not (p.split(":")[1] in removed if p.startswith("squad:") else t.replace("_", " ").lower()
                    in removed_titles)]
    sub = corpus.subset(keep)
    store = FaissStore(encoder.dim, "flat")
    store.add(vectors[keep])
    retriever = DenseRetriever(sub, encoder, store)
    ctx.say(f"removed {len(removed)} articles ({len(corpus) - len(keep)} passages) from the index")

    rng = np.random.default_rng(ctx.seed)
    groups = {}
    for name, titles in plan.items():
        pool = squad.questions_of(titles)
        groups[name] = [pool[i] for i in np.sort(rng.permutation(len(pool))[:cfg.questions_per_group])]
    bot = ChatBot(retriever, reader, k=cfg.k)
    start = time.perf_counter()
    frames = []
    for name, qs in groups.items():
        ctx.say(f"{name}: {len(qs)} questions")
        df = score_questions(bot, qs, ctx.say)
        df["split"], df["removed"] = name.split("_")[0], name.endswith("removed")
        frames.append(df)
    table = pd.concat(frames, ignore_index=True)
    read_s = time.perf_counter() - start
    mix = (1.0, 0.0, 0.0)
    if "both" in cfg.signals:
        mix = fit_mix(table[table["split"] == "val"])
        table["both_score"] = evidence_mix(table[FEATURES].to_numpy(float), mix)
    val, test = table[table["split"] == "val"], table[table["split"] == "test"]
    choices = {s: choose(val, s) for s in cfg.signals}
    signal = max(choices, key=lambda s: choices[s][1])
    threshold = choices[signal][0]
    ctx.say("validation: " + ", ".join(f"{s} threshold {t:.3f} -> min rate {r:.3f}" for s, (t, r) in choices.items()))
    answered = test[f"{signal}_score"] >= threshold
    abstain_rate = float((~answered[test["removed"]]).mean())
    answer_rate = float(answered[~test["removed"]].mean())
    given = test[answered & ~test["removed"]]
    em_f1 = squad_scores(given["answer"].tolist(), given["gold"].tolist())
    all_present = test[~test["removed"]]
    em_f1_all = squad_scores(all_present["answer"].tolist(), all_present["gold"].tolist())
    extractive_grounded = float(np.mean([grounded(a, p) for a, p in zip(given["answer"], given["passage"],
                                                                           strict=True)])) if len(given) else 0.0
    ctx.say(f"test: abstains on {abstain_rate:.1%} of removed-article questions, answers {answer_rate:.1%} of "
            f"present ones; EM {em_f1['em']:.1f} / F1 {em_f1['f1']:.1f} on the answered")

    metrics = {"test_abstain_rate_removed": abstain_rate, "test_answer_rate_present": answer_rate,
               "test_min_rate": min(abstain_rate, answer_rate), "signal": signal, "threshold": threshold,
               "mix": mix if signal == "both" else None,
               "val_choices": {s: {"threshold": t, "min_rate": r} for s, (t, r) in choices.items()},
               "test_answered_em": em_f1["em"], "test_answered_f1": em_f1["f1"], "test_answered_n": em_f1["n"],
               "test_present_em_all": em_f1_all["em"], "test_present_f1_all": em_f1_all["f1"],
               "test_gold_in_top_k_present": float(all_present["gold_retrieved"].mean()),
               "extractive_grounded_rate": extractive_grounded,
               "protocols": {"abstention": "questions of articles removed from the index (unanswerable) vs of "
                                           "articles present; split_articles test articles, threshold from val",
                             "em_f1": "SQuAD v1.1 official normalisation, %, over the answered present questions",
                             "grounded": "answer text (no citation marks, SQuAD-normalised) occurs as a token "
                                         "sequence in the passage it cites"},
               "n_passages": len(corpus), "n_passages_indexed": len(keep), "removed_articles": sorted(removed),
               "reader": {k: v for k, v in reader.info.items() if k != "config"}, "read_s": round(read_s, 1),
               "ms_per_question": round(1000 * read_s / max(1, len(table)), 1)}

    bot.threshold, bot.signal, bot.mix = threshold, signal, mix
    if cfg.gen_samples and len(given):
        metrics.update(phrased_answers(bot, given, groups, cfg, ctx))
    full_store = FaissStore(encoder.dim, "flat")
    full_store.add(vectors)
    script = scripted_chat(ChatBot(DenseRetriever(corpus, encoder, full_store), reader, threshold, cfg.k, signal,
                                   mix))
    metrics["script"] = script
    for turn in script:
        ctx.say(f"user: {turn['user']}  ->  [{turn['standalone']}]  {turn['reply'][:80]}")

    plot_scores(ctx.plots / "evidence_scores.png", table, signal, threshold)
    if cfg.save_index:
        from ...retrieval.index import build_index

        build_index(corpus, ctx.dir / "index", cfg.encoder, progress=False, say=ctx.say)
    save_reader(reader, ctx.dir / "model")
    from ...io import write_json

    write_json(ctx.dir / "model" / "chat.json", {"threshold": threshold, "signal": signal, "mix": mix, "k": cfg.k,
                                                 "generator": cfg.generator})
    metrics["wall_s"] = round(time.perf_counter() - t0, 1)
    write_report(ctx, cfg, metrics, table)
    return metrics


def phrased_answers(bot, given: pd.DataFrame, groups, cfg: Config, ctx: RunContext) -> dict:
    """SmolLM2 answers (with citations) for a seeded sample of answered test questions: how often is what it
    says found in the passage it cites?"""
    from ...retrieval.generator import Generator, Passage

    by_id = {q.qid: q for qs in groups.values() for q in qs}
    gen = Generator(cfg.generator, max_new_tokens=cfg.max_new_tokens, seed=ctx.seed)
    pick = given.sample(n=min(cfg.gen_samples, len(given)), random_state=ctx.seed)
    ok, cited, rows = [], [], []
    for qid in pick["qid"]:
        q = by_id[qid]
        hits = bot.retriever.retrieve(q.question, bot.k)
        answer = gen.answer(q.question, [Passage(h.title, h.text) for h in hits])
        cited.append(bool(answer.citations))
        ok.append(any(grounded(answer.text, hits[n - 1].text) for n in answer.citations))
        rows.append({"question": q.question, "answer": answer.raw, "grounded": ok[-1]})
    return {"generator_grounded_rate": float(np.mean(ok)), "generator_citation_rate": float(np.mean(cited)),
            "generator_samples": rows}


def scripted_chat(bot) -> list[dict]:
    out = []
    for user in SCRIPT:
        reply = bot.ask(user)
        out.append({"user": user, "standalone": reply.standalone, "reply": reply.text,
                    "abstained": reply.abstained, "topic": bot.topic})
    return out


def plot_scores(path: Path, table: pd.DataFrame, signal: str, threshold: float) -> None:
    fig, ax = new_figure(size=(6, 3.8))
    test = table[table["split"] == "test"]
    for removed, label in ((False, "article present (answerable)"), (True, "article removed (unanswerable)")):
        scores = test.loc[test["removed"] == removed, f"{signal}_score"]
        ax.hist(scores[np.isfinite(scores)], bins=30, alpha=0.6, label=label)  # -inf: nothing retrieved
    ax.axvline(threshold, color="k", ls="--", label=f"threshold {threshold:.2f} (from validation)")
    ax.set(xlabel=f"{signal} evidence score", ylabel="test questions", title="answer or abstain")
    ax.legend(fontsize=8)
    save(fig, path)


def write_report(ctx: RunContext, cfg: Config, m: dict, table: pd.DataFrame) -> None:
    report = Report("Knowledge-grounded chatbot — SQuAD-open")
    report.text(f"{m['n_passages']:,} passages; {len(m['removed_articles'])} articles removed from the index "
                f"({m['n_passages_indexed']:,} indexed). Reader trained on {m['reader'].get('train_questions')} "
                f"questions of the train articles.")
    report.heading("Answer or abstain (test articles)").text(
        f"Signal {m['signal']} with threshold {m['threshold']:.3f} (chosen on validation). Abstains on "
        f"{m['test_abstain_rate_removed']:.1%} of questions whose article was removed; answers "
        f"{m['test_answer_rate_present']:.1%} of questions whose article is present (target: both >= 80%). "
        f"Answered: EM {m['test_answered_em']:.1f}, F1 {m['test_answered_f1']:.1f} over {m['test_answered_n']}; "
        f"gold passage in the top {cfg.k} for {m['test_gold_in_top_k_present']:.1%} of present questions."
    ).image(ctx.plots / "evidence_scores.png")
    report.heading("Grounded answers").text(
        f"Extractive answers found in their cited passage: {m['extractive_grounded_rate']:.1%} (by construction a "
        f"span of it; the check guards the offsets)." + (
            f" SmolLM2-phrased answers: {m['generator_grounded_rate']:.1%} grounded, "
            f"{m['generator_citation_rate']:.1%} with a citation, over {len(m['generator_samples'])} questions."
            if "generator_grounded_rate" in m else ""))
    report.heading("A scripted conversation").table(pd.DataFrame(m["script"]), index=False)
    report.write(ctx.dir)


def summarize(m: dict) -> str:
    return (f"abstains on {m['test_abstain_rate_removed']:.1%} of removed-article questions, answers "
            f"{m['test_answer_rate_present']:.1%} of present ones ({m['signal']} score); answered EM "
            f"{m['test_answered_em']:.1f} / F1 {m['test_answered_f1']:.1f}")


# --- using it: roadmap chat 5.1.2 / roadmap sample 5.1.2 "question" -------------------------------------------------

@dataclass
class SampleOptions:
    k: int = param(0, "passages per question (0 = the run's)", min=0, max=20)
    generate: bool = param(False, "phrase the answer with the generator (slower)")


def load_trained(run_dir: Path, cfg: Config):
    from ...retrieval.chat import ChatBot
    from ...retrieval.index import open_index
    from ...retrieval.reader import reader_from_folder

    meta = __import__("json").loads((run_dir / "model" / "chat.json").read_text(encoding="utf-8"))
    if not (run_dir / "index").exists():
        raise UserError(f"{run_dir} has no saved index (run with --set save_index=true)")
    retriever = open_index(run_dir / "index").retriever("dense")
    bot = ChatBot(retriever, reader_from_folder(run_dir / "model"), meta["threshold"], meta["k"], meta["signal"],
                  tuple(meta.get("mix", (1.0, 0.0, 0.0))))
    bot.generator_name = meta["generator"]
    return bot


def sample(bot, inputs: list[str], opts: SampleOptions, out_dir: Path) -> list[dict]:
    """Each input is one turn of the same conversation (follow-ups are rewritten)."""
    if not inputs:
        raise UserError("give a question: roadmap sample 5.1.2 \"Who won Super Bowl 50?\" (or --file FILE)")
    if opts.k:
        bot.k = opts.k
    if opts.generate and bot.generator is None:
        from ...retrieval.generator import Generator

        bot.generator = Generator(bot.generator_name, max_new_tokens=60)
    out = []
    for text in inputs:
        reply = bot.ask(text)
        out.append({"question": text, "standalone": reply.standalone, "answer": reply.text,
                    "abstained": reply.abstained, "score": round(reply.score, 3),
                    "sources": [f"[{n}] {reply.sources[n - 1].title}" for n in reply.cited]})
    return out
