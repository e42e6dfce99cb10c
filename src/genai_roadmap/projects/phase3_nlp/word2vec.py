"""3.1.2 word2vec — skip-gram with negative sampling written out in PyTorch, beside gensim on the same corpus.

Roadmap: "Train a Word2Vec model on a corpus of text and visualize word vectors to see how semantically similar
words cluster together."

What it does: a 14.1M-word corpus from the Wikipedia passages (24.7k paragraphs), the 50k IMDB reviews (train +
test texts, no labels) and the 13 Gutenberg books (by paragraph), tokenised with genai_roadmap.text.words
(lowercase) and cached; then skip-gram with negative sampling from genai_roadmap.text.word2vec (subsampling
sample=1e-3, unigram^0.75 noise, reduced windows, linear learning-rate decay, in-place sparse row updates,
Hogwild worker threads) and, in the same run, gensim's Word2Vec with the same settings and as many workers as our
threads. Both are scored on the Google analogy set (questions-words.txt from gensim's test data) by gensim's
`evaluate_word_analogies` with restrict_vocab=30000 (a question counts only when its four words are among the
30k most frequent words; 3CosAdd over those 30k; case-insensitive), reported overall and semantic / syntactic;
training speed in effective words/s (words left after subsampling / training wall time) for both, measured the
same way in the same process. Plots: the loss curve, analogy accuracy by section, a PCA and a t-SNE map of word
groups (countries, capitals, numbers, verbs, family, colours) for both models; nearest-neighbour tables.

Result (cpu preset, seed 0, `roadmap run 3.1.2`, 631 s wall; the machine also ran one single-thread job):
corpus 14,136,648 words in 91,992 documents (cached tokens), vocabulary 55,710 words (min_count 5); 3 epochs of
31.66M effective words each model. Ours: 145 s = 218k words/s, loss 3.38 -> 2.43 per pair; gensim: 290 s =
109k words/s — ours at 2.0x gensim's speed with the same 2 threads. Google analogies (11,547 questions within the
30k most frequent words): ours 22.6% (semantic 14.2%, syntactic 24.7%), gensim 21.4% (13.2% / 23.4%): a gap of
-1.2 points (ours ahead), inside the 3-point target. Far below Mikolov et al.'s 53.3%, which took 783M words
(55x this corpus) and 300 dimensions. Scoring both models took 182 s of the wall time.
                                                                             roadmap run 3.1.2
"""

from __future__ import annotations

import re
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ...config import param
from ...data.store import cache_dir
from ...errors import UserError
from ...runs import RunContext
from ...text.word2vec import Corpus, SkipGram, WordVectors
from ...viz.plots import curves, new_figure, save
from ...viz.tabular import Report

SOURCES = ("wikipedia", "imdb", "gutenberg")
MAX_DOC_WORDS = 10_000  # gensim trains on at most 10,000 words of a sentence: longer documents are split
GROUPS = {
    "countries": ["france", "germany", "italy", "spain", "japan", "china", "russia", "india", "canada", "egypt"],
    "capitals": ["paris", "berlin", "rome", "madrid", "tokyo", "beijing", "moscow", "delhi", "ottawa", "cairo"],
    "numbers": ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"],
    "verbs": ["run", "walk", "eat", "write", "read", "speak", "sing", "swim", "drive", "fly"],
    "family": ["mother", "father", "sister", "brother", "son", "daughter", "wife", "husband", "uncle", "aunt"],
    "colours": ["red", "blue", "green", "yellow", "black", "white", "brown", "purple", "orange", "pink"],
}


@dataclass
class Config:
    sources: list[str] = param(list(SOURCES), "texts the corpus is built from", choices=SOURCES)
    max_words: int = param(0, "use a seeded random subset of documents with about this many words (0 = all)",
                           min=0)
    min_count: int = param(5, "words seen fewer times are dropped (both models)", min=1)
    dim: int = param(100, "vector size", min=2, max=1000)
    window: int = param(5, "largest context reach either side (each word draws 1..window)", min=1, max=20)
    negative: int = param(5, "noise words per (word, context) pair", min=1, max=30)
    sample: float = param(1e-3, "subsampling threshold for frequent words (0 = off)", min=0, max=1)
    epochs: int = param(3, "passes over the corpus", min=1)
    lr: float = param(0.025, "learning rate at the start (falls linearly to min_lr)", gt=0)
    min_lr: float = param(1e-4, "learning rate at the end", min=0)
    batch_size: int = param(4096, "about this many (word, context) pairs per SGD step", min=16)
    threads: int = param(2, "our worker threads = gensim's workers", min=1, max=64)
    gensim: bool = param(True, "train gensim's Word2Vec on the same corpus and settings beside ours")
    restrict_vocab: int = param(30000, "analogy questions use only the most frequent words (gensim's protocol)",
                                min=100)
    neighbours: list[str] = param(["king", "france", "london", "film", "good", "three", "music", "computer"],
                                  "words whose nearest neighbours are tabled")
    tsne: bool = param(True, "also draw a t-SNE map (a few seconds) beside the PCA one")


PRESETS = {"smoke": {"sources": ["wikipedia"], "max_words": 200_000, "min_count": 3, "dim": 50, "epochs": 5,
                     "restrict_vocab": 5000, "tsne": False},
           "cpu": {},
           "full": {"epochs": 10, "dim": 300}}


def dataset_of(cfg: Config) -> str:
    names = {"wikipedia": "wikipedia_passages", "imdb": "imdb", "gutenberg": "gutenberg_books"}
    return ", ".join(names[s] for s in cfg.sources) + (f" (~{cfg.max_words:,} words)" if cfg.max_words else "")


def documents(source: str) -> list[str]:
    """The raw texts of a source: Wikipedia paragraphs, IMDB reviews (train + test), Gutenberg paragraphs."""
    from ...data.text import load_gutenberg_books, load_imdb, load_wikipedia_passages

    if source == "wikipedia":
        return list(load_wikipedia_passages()["paragraph"])
    if source == "imdb":
        return load_imdb("train").texts + load_imdb("test").texts
    return [p for book in load_gutenberg_books().values() for p in re.split(r"\n\s*\n", book) if p.strip()]


def build_corpus(cfg: Config, seed: int, say=print) -> tuple[Corpus, dict]:
    """Tokenised documents of the chosen sources; the whole corpus is cached (tokenising 14M words takes about
    a minute), a max_words subset is drawn at random from the documents of all sources."""
    from ...text.tokenize import words

    key = "-".join(sorted(cfg.sources))
    path = cache_dir() / "word2vec" / f"corpus-{key}-v1.npz"
    if not cfg.max_words and path.is_file():
        return Corpus.load(path), {"cached": str(path)}
    texts = [t for s in cfg.sources for t in documents(s)]
    if cfg.max_words:
        order = np.random.default_rng(seed).permutation(len(texts))
        sizes = np.array([len(texts[i].split()) for i in order])
        texts = [texts[i] for i in order[:int(np.searchsorted(np.cumsum(sizes), cfg.max_words)) + 1]]
    start = time.perf_counter()
    docs = []
    for text in texts:
        tokens = words(text)
        docs += [tokens[i:i + MAX_DOC_WORDS] for i in range(0, len(tokens), MAX_DOC_WORDS)]
    corpus = Corpus.from_token_lists(docs)
    info = {"tokenise_s": round(time.perf_counter() - start, 2)}
    if not cfg.max_words:
        corpus.save(path)
        info["cached"] = str(path)
    say(f"tokenised {corpus.n_tokens:,} words in {len(docs):,} documents ({info['tokenise_s']} s)")
    return corpus, info


def train_gensim(corpus: Corpus, cfg: Config, seed: int):
    from gensim.models import Word2Vec

    sentences = corpus.token_lists()
    model = Word2Vec(vector_size=cfg.dim, window=cfg.window, min_count=cfg.min_count, sample=cfg.sample, sg=1,
                     negative=cfg.negative, alpha=cfg.lr, min_alpha=cfg.min_lr, epochs=cfg.epochs,
                     workers=cfg.threads, seed=seed, hashfxn=lambda s: zlib.crc32(s.encode()))
    model.build_vocab(sentences)
    start = time.perf_counter()
    effective, raw = model.train(sentences, total_examples=model.corpus_count, epochs=cfg.epochs)
    seconds = time.perf_counter() - start
    return model.wv, {"effective_words": effective, "raw_words": raw, "train_s": round(seconds, 2),
                      "words_per_s": round(effective / seconds, 1)}


def analogy_scores(kv, restrict_vocab: int) -> dict:
    """gensim's evaluate_word_analogies on the Google set: overall, semantic (the 5 non-"gram" sections) and
    syntactic accuracy, questions answered, and accuracy per section."""
    from gensim.test.utils import datapath

    _, sections = kv.evaluate_word_analogies(datapath("questions-words.txt"), restrict_vocab=restrict_vocab,
                                             case_insensitive=True)
    per = {s["section"]: (len(s["correct"]), len(s["correct"]) + len(s["incorrect"])) for s in sections}
    total = per.pop("Total accuracy")
    sem = [v for k, v in per.items() if not k.startswith("gram")]
    syn = [v for k, v in per.items() if k.startswith("gram")]

    def acc(pairs):
        right, n = sum(p[0] for p in pairs), sum(p[1] for p in pairs)
        return right / n if n else 0.0

    return {"acc": acc([total]), "semantic": acc(sem), "syntactic": acc(syn), "questions": total[1],
            "by_section": {k: acc([v]) for k, v in per.items()}}


def as_keyed_vectors(vectors: WordVectors, order: list[str] | None = None):
    """Our vectors as gensim KeyedVectors (in gensim's word order when given, so restrict_vocab picks the same
    30k words for both models)."""
    from gensim.models import KeyedVectors

    order = order or vectors.words
    kv = KeyedVectors(vectors.vectors.shape[1])
    kv.add_vectors(order, vectors.vectors[[vectors.index[w] for w in order]])
    return kv


def neighbour_table(models: dict[str, WordVectors], words: list[str], topn: int = 8) -> pd.DataFrame:
    rows = {}
    for word in words:
        if all(word in m for m in models.values()):
            rows[word] = {name: ", ".join(w for w, _ in m.most_similar([word], topn=topn))
                          for name, m in models.items()}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("word")


def word_maps(path: Path, models: dict[str, WordVectors], seed: int, tsne: bool) -> list[str]:
    """PCA (and t-SNE) of the word groups, one row per model, coloured by group."""
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    chosen = [(g, w) for g, ws in GROUPS.items() for w in ws if all(w in m for m in models.values())]
    methods = ["PCA", "t-SNE"] if tsne else ["PCA"]
    fig, axes = new_figure(ncols=len(methods), nrows=len(models), size=(6.2 * len(methods), 5.2 * len(models)))
    axes = np.array(axes).reshape(len(models), len(methods))
    groups = list(GROUPS)
    for row, (name, m) in enumerate(models.items()):
        x = m.unit[[m.index[w] for _, w in chosen]]
        for col, method in enumerate(methods):
            xy = (PCA(2, random_state=seed).fit_transform(x) if method == "PCA" else
                  TSNE(2, perplexity=min(15, len(x) - 1), init="pca", random_state=seed).fit_transform(x))
            ax = axes[row, col]
            for (group, word), (px, py) in zip(chosen, xy, strict=True):
                ax.scatter(px, py, color=f"C{groups.index(group)}", s=18)
                ax.annotate(word, (px, py), fontsize=7, xytext=(2, 2), textcoords="offset points")
            for g in groups:
                ax.scatter([], [], color=f"C{groups.index(g)}", label=g)
            ax.set_title(f"{name}: {method}")
            ax.set_xticks([])
            ax.set_yticks([])
        axes[row, 0].legend(fontsize=7, loc="best")
    save(fig, path)
    return [w for _, w in chosen]


def group_cohesion(vectors: WordVectors) -> float:
    """Mean cosine between words of the same group minus mean cosine between words of different groups (of
    GROUPS, words in the vocabulary): > 0 when the groups cluster, about 0 for random vectors."""
    chosen = [(g, vectors.index[w]) for g, ws in GROUPS.items() for w in ws if w in vectors]
    group = np.array([g for g, _ in chosen])
    x = vectors.unit[[i for _, i in chosen]]
    sims, same = x @ x.T, group[:, None] == group[None, :]
    off_diagonal = ~np.eye(len(x), dtype=bool)
    return float(sims[same & off_diagonal].mean() - sims[~same].mean())


def run(cfg: Config, ctx: RunContext) -> dict:
    if cfg.min_lr > cfg.lr:
        raise UserError(f"min_lr ({cfg.min_lr}) must not exceed lr ({cfg.lr})")
    clock = time.perf_counter()
    full, corpus_info = build_corpus(cfg, ctx.seed, ctx.say)
    corpus_info["corpus_s"] = round(time.perf_counter() - clock, 2)
    corpus = full.restricted(cfg.min_count)
    if len(corpus.words) < 10:
        raise UserError(f"only {len(corpus.words)} words occur {cfg.min_count}+ times: use more text or a lower "
                        "min_count")
    ctx.say(f"corpus: {full.n_tokens:,} words, {full.n_docs:,} documents; vocabulary {len(corpus.words):,} words "
            f"seen {cfg.min_count}+ times ({corpus.n_tokens:,} of the tokens)")

    model = SkipGram(len(corpus.words), cfg.dim, seed=ctx.seed)

    def progress(done: float, loss: float) -> None:
        ctx.log(event="train", done=round(done, 4), loss=round(loss, 5))

    stats = model.train(corpus, cfg.epochs, cfg.window, cfg.negative, cfg.sample, cfg.lr, cfg.min_lr,
                        cfg.batch_size, threads=cfg.threads, progress=progress)
    ours = WordVectors(corpus.words, model.input_vectors.numpy())
    ours.save(ctx.dir / "model")
    ctx.say(f"ours: {stats.effective_words:,} effective words in {stats.seconds:.1f} s = "
            f"{stats.words_per_s:,.0f} words/s, final loss {stats.loss_curve[-1][1]:.3f} per pair")

    models, speed = {"ours (PyTorch)": ours}, {"ours (PyTorch)": stats.words_per_s}
    metrics: dict = {}
    if cfg.gensim:
        gkv, g = train_gensim(corpus, cfg, ctx.seed)
        models["gensim"] = WordVectors(list(gkv.index_to_key), gkv.vectors)
        speed["gensim"] = g["words_per_s"]
        ctx.say(f"gensim: {g['effective_words']:,} effective words in {g['train_s']} s = "
                f"{g['words_per_s']:,.0f} words/s")
        if set(gkv.index_to_key) != set(corpus.words):
            raise RuntimeError("gensim's vocabulary differs from ours: the comparison would not be like for like")
        clock = time.perf_counter()
        scores = {"ours (PyTorch)": analogy_scores(as_keyed_vectors(ours, list(gkv.index_to_key)),
                                                   cfg.restrict_vocab),
                  "gensim": analogy_scores(gkv, cfg.restrict_vocab)}
        metrics.update({f"gensim_{k}": v for k, v in g.items()})
    else:
        clock = time.perf_counter()
        scores = {"ours (PyTorch)": analogy_scores(as_keyed_vectors(ours), cfg.restrict_vocab)}
    eval_s = round(time.perf_counter() - clock, 2)
    cohesion = {name: group_cohesion(m) for name, m in models.items()}
    for name, s in scores.items():
        ctx.say(f"{name}: analogy accuracy {s['acc']:.4f} (semantic {s['semantic']:.4f}, syntactic "
                f"{s['syntactic']:.4f}) on {s['questions']:,} questions")

    # Plots: loss, accuracy by section, word maps.
    curves(ctx.plots / "loss.png", {"ours: mean loss per pair": [loss for _, loss in stats.loss_curve]},
           x=[done * cfg.epochs for done, _ in stats.loss_curve], xlabel="epoch",
           ylabel="-log s(pos) - sum log s(-noise)", title="SGNS training loss (per chunk of ~250k words)")
    sections = list(scores["ours (PyTorch)"]["by_section"])
    fig, ax = new_figure(size=(7, 5))
    for i, (name, s) in enumerate(scores.items()):
        ax.barh(np.arange(len(sections)) + 0.4 * i, [s["by_section"][k] for k in sections], height=0.4, label=name)
    ax.set_yticks(np.arange(len(sections)) + 0.2, sections, fontsize=8)
    ax.set(xlabel=f"accuracy (questions within the {cfg.restrict_vocab:,} most frequent words)",
           title="Google analogies by section")
    ax.legend()
    save(fig, ctx.plots / "analogy_by_section.png")
    mapped = word_maps(ctx.plots / "word_map.png", models, ctx.seed, cfg.tsne)
    table = neighbour_table(models, cfg.neighbours)
    analogies = {}
    for a, b, c in [("man", "king", "woman"), ("france", "paris", "germany"), ("good", "better", "bad")]:
        if all(w in ours for w in (a, b, c)):
            analogies[f"{b} - {a} + {c}"] = {name: ", ".join(w for w, _ in m.most_similar([b, c], [a], topn=3))
                                             for name, m in models.items()}

    ratio = speed["ours (PyTorch)"] / speed["gensim"] if "gensim" in speed else None
    gap = scores["gensim"]["acc"] - scores["ours (PyTorch)"]["acc"] if "gensim" in scores else None
    side = pd.DataFrame({name: {"analogy accuracy": s["acc"], "semantic": s["semantic"], "syntactic": s["syntactic"],
                                "questions": s["questions"], "effective words/s": speed[name],
                                "word-group cohesion": cohesion[name]}
                         for name, s in scores.items()})
    report = Report("Word2Vec: skip-gram with negative sampling, ours vs gensim")
    report.text(f"Corpus {full.n_tokens:,} words ({dataset_of(cfg)}), vocabulary {len(corpus.words):,} "
                f"(min_count {cfg.min_count}); dim {cfg.dim}, window {cfg.window}, {cfg.negative} noise words, "
                f"sample {cfg.sample:g}, {cfg.epochs} epochs, lr {cfg.lr:g} -> {cfg.min_lr:g}, {cfg.threads} "
                "threads each. Timings are wall time on a machine shared with other jobs: compare them only "
                "within this run.")
    report.heading("Side by side").table(side, ".4f").text(
        "Google analogy set, gensim's evaluate_word_analogies, restrict_vocab="
        f"{cfg.restrict_vocab:,} (questions whose words are all among the most frequent), 3CosAdd, "
        "case-insensitive. Effective words = words left after subsampling, over training wall time. Word-group "
        "cohesion: mean cosine within the groups of the map below minus mean cosine across groups."
        + (f" Gap (gensim - ours) {gap:+.4f}; speed ratio ours/gensim {ratio:.2f}." if gap is not None else ""))
    report.image(ctx.plots / "analogy_by_section.png").image(ctx.plots / "loss.png")
    report.heading("Nearest neighbours (cosine)").table(table)
    if analogies:
        report.heading("Analogies (b - a + c)").table(pd.DataFrame(analogies).T.rename_axis("query"))
    report.heading("Word groups in 2-D").image(ctx.plots / "word_map.png")
    report.write(ctx.dir)

    mine = scores["ours (PyTorch)"]
    metrics.update({
        "analogy_acc": mine["acc"], "analogy_semantic": mine["semantic"], "analogy_syntactic": mine["syntactic"],
        "analogy_questions": mine["questions"], "analogy_by_section": mine["by_section"],
        "words_per_s": round(stats.words_per_s, 1), "train_s": round(stats.seconds, 2),
        "effective_words": stats.effective_words, "pairs": stats.pairs, "final_loss": stats.loss_curve[-1][1],
        "first_loss": stats.loss_curve[0][1], "corpus_words": full.n_tokens, "corpus_docs": full.n_docs,
        "vocab_size": len(corpus.words), "corpus": corpus_info, "eval_s": eval_s,
        "group_cohesion": cohesion["ours (PyTorch)"], "gensim_group_cohesion": cohesion.get("gensim"),
        "mapped_words": len(mapped),
        "neighbours": table.to_dict(orient="index"), "analogies": analogies,
        "eval_protocol": f"Google analogies (gensim questions-words.txt), evaluate_word_analogies restrict_vocab="
                         f"{cfg.restrict_vocab}, case-insensitive, 3CosAdd; words/s = effective words / train wall s"})
    if gap is not None:
        metrics.update({"gensim_analogy_acc": scores["gensim"]["acc"],
                        "gensim_analogy_semantic": scores["gensim"]["semantic"],
                        "gensim_analogy_syntactic": scores["gensim"]["syntactic"],
                        "gensim_analogy_by_section": scores["gensim"]["by_section"],
                        "analogy_gap_vs_gensim": gap, "speed_ratio_vs_gensim": ratio})
    return metrics


def summarize(m: dict) -> str:
    if "analogy_gap_vs_gensim" not in m:
        return f"analogies {m['analogy_acc']:.3f} at {m['words_per_s']:,.0f} words/s"
    return (f"analogies ours {m['analogy_acc']:.3f} vs gensim {m['gensim_analogy_acc']:.3f} "
            f"(restrict 30k); {m['speed_ratio_vs_gensim']:.2f}x gensim's words/s")


# Using the trained vectors: `roadmap sample 3.1.2 king`, `roadmap sample 3.1.2 "king - man + woman"`.

@dataclass
class SampleOptions:
    topn: int = param(10, "how many words to show", min=1, max=100)
    restrict_vocab: int = param(0, "search only the most frequent words (0 = the whole vocabulary)", min=0)


def load_trained(run_dir: Path, cfg: Config) -> WordVectors:
    folder = Path(run_dir) / "model"
    if not (folder / "vectors.safetensors").is_file():
        raise UserError(f"{run_dir} holds no trained vectors (model/vectors.safetensors)")
    return WordVectors.load(folder)


def parse_query(text: str) -> tuple[list[str], list[str]]:
    """'king - man + woman' -> (['king', 'woman'], ['man']); a single word -> (['word'], []). A '-' operator
    needs spaces around it (hyphenated words stay whole)."""
    tokens = text.lower().replace("+", " + ").split()
    ops = {"+", "-"}
    if (not tokens or len(tokens) % 2 == 0 or any(t in ops for t in tokens[::2])
            or any(t not in ops for t in tokens[1::2])):
        raise UserError(f"cannot read {text!r}: give one word or 'a - b + c'")
    positive, negative = [tokens[0]], []
    for op, term in zip(tokens[1::2], tokens[2::2], strict=True):
        (positive if op == "+" else negative).append(term)
    return positive, negative


def sample(model: WordVectors, inputs: list[str], opts: SampleOptions, out_dir: Path) -> list[dict]:
    if not inputs:
        raise UserError("give a word (nearest words) or 'a - b + c' (an analogy)")
    out = []
    for text in inputs:
        positive, negative = parse_query(text)
        missing = [w for w in positive + negative if w not in model]
        if missing:
            raise UserError(f"not in the vocabulary: {', '.join(missing)}")
        found = model.most_similar(positive, negative, topn=opts.topn, restrict_vocab=opts.restrict_vocab or None)
        out.append({"query": text, "nearest": [[w, round(s, 4)] for w, s in found]})
    return out
