"""Passages to retrieve from: "SQuAD-open over Wikipedia", or a user's own folder of documents.

The DPR protocol (Karpukhin et al. 2020) retrieves passages of about 100 words. Here every paragraph is cut into
ceil(words / 100) pieces of equal length (a 130-word paragraph gives two of 65, not 100 + 30), keeping the
original spacing; a passage remembers its parent paragraph and its character offset in it, which is how the
gold passage of a SQuAD question (the piece holding its answer) is found.

SQuAD-open here = the 2,067 SQuAD v1.1 dev paragraphs + the paragraphs of the Wikipedia sample (6,702 articles;
5,197 have a paragraph of >= 20 words)
(data.text.load_wikipedia_passages) as distractors. A Wikipedia paragraph that repeats a SQuAD paragraph
(same normalised text, or half of its 8-word shingles found in SQuAD paragraphs) is dropped, so the gold passage
is unique. `distractor_fraction` keeps a seeded random subset of the distractor *articles* (whole articles, so
no article is half-present); 1.0 keeps all.

A user's folder: .txt and .md files (paragraphs at blank lines; short paragraphs such as headings are merged
with the next until ~100 words) and .jsonl files (one JSON object per line with "text", optional "title" and
"id"). Other files are skipped and counted; a binary file, an empty folder or a broken JSONL line is one
UserError naming the file.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import UserError

PASSAGE_WORDS = 100
FOLDER_SUFFIXES = (".txt", ".md", ".jsonl")


@dataclass
class Corpus:
    """Columnar passages: ids[i], titles[i], texts[i], sources[i] ("squad", "wikipedia", a file name),
    parents[i] (the paragraph/document it was cut from) and starts[i] (its character offset in the parent)."""

    ids: list[str]
    titles: list[str]
    texts: list[str]
    sources: list[str]
    parents: list[str]
    starts: list[int]
    name: str = "corpus"
    notes: dict = field(default_factory=dict)  # how it was built: counts, duplicates dropped, subset

    def __len__(self) -> int:
        return len(self.ids)

    def fingerprint(self) -> str:
        """sha256 over ids and texts: the key of everything cached for this corpus (embeddings, indexes)."""
        digest = hashlib.sha256()
        for pid, text in zip(self.ids, self.texts, strict=True):
            digest.update(pid.encode() + b"\x00" + text.encode() + b"\x01")
        return digest.hexdigest()

    def subset(self, index) -> Corpus:
        index = [int(i) for i in index]
        pick = lambda col: [col[i] for i in index]  # noqa: E731
        return Corpus(pick(self.ids), pick(self.titles), pick(self.texts), pick(self.sources), pick(self.parents),
                      pick(self.starts), self.name, dict(self.notes))

    def records(self):
        for i in range(len(self)):
            yield {"id": self.ids[i], "title": self.titles[i], "text": self.texts[i], "source": self.sources[i],
                   "parent": self.parents[i], "start": self.starts[i]}

    def write_jsonl(self, path: Path) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            for rec in self.records():
                fh.write(json.dumps(rec, ensure_ascii=False) + "\n")

    @classmethod
    def read_jsonl(cls, path: Path, name: str = "corpus") -> Corpus:
        cols: dict[str, list] = {k: [] for k in ("id", "title", "text", "source", "parent", "start")}
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                rec = json.loads(line)
                for k in cols:
                    cols[k].append(rec[k])
        return cls(cols["id"], cols["title"], cols["text"], cols["source"], cols["parent"], cols["start"], name)


class _Builder:
    def __init__(self) -> None:
        self.cols: tuple[list, ...] = ([], [], [], [], [], [])

    def add(self, parent: str, title: str, source: str, text: str, max_words: int = PASSAGE_WORDS) -> None:
        for k, (start, piece) in enumerate(split_passages(text, max_words)):
            for col, value in zip(self.cols, (f"{parent}:{k}", title, piece, source, parent, start), strict=True):
                col.append(value)

    def corpus(self, name: str, notes: dict) -> Corpus:
        return Corpus(*self.cols, name=name, notes=notes)


def split_passages(text: str, max_words: int = PASSAGE_WORDS) -> list[tuple[int, str]]:
    """(character offset, passage) pieces of at most `max_words` words, as equal in length as possible."""
    spans = [m.span() for m in re.finditer(r"\S+", text)]
    if not spans:
        return []
    n = math.ceil(len(spans) / max_words)
    cuts = [round(i * len(spans) / n) for i in range(n + 1)]
    return [(spans[a][0], text[spans[a][0]:spans[b - 1][1]]) for a, b in zip(cuts, cuts[1:], strict=False)]


def normalise(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def shingles(words: list[str], n: int = 8) -> set[int]:
    return {hash(" ".join(words[i:i + n])) for i in range(max(1, len(words) - n + 1))}


def squad_duplicates(wiki_paragraphs: list[str], squad_paragraphs: list[str], overlap: float = 0.5) -> np.ndarray:
    """Boolean mask of the Wikipedia paragraphs that repeat a SQuAD paragraph: the same normalised text, or at
    least `overlap` of their 8-word shingles occurring in SQuAD paragraphs (another revision of the same text)."""
    exact = {" ".join(normalise(p)) for p in squad_paragraphs}
    squad_shingles: set[int] = set()
    for p in squad_paragraphs:
        squad_shingles |= shingles(normalise(p))
    mask = np.zeros(len(wiki_paragraphs), dtype=bool)
    for i, p in enumerate(wiki_paragraphs):
        words = normalise(p)
        if " ".join(words) in exact:
            mask[i] = True
            continue
        own = shingles(words)
        mask[i] = len(own & squad_shingles) >= overlap * len(own)
    return mask


def squad_open_corpus(distractor_fraction: float = 1.0, seed: int = 0, max_words: int = PASSAGE_WORDS,
                      articles=None) -> Corpus:
    """The SQuAD dev paragraphs (of `articles` only, when given: smoke runs) + deduplicated Wikipedia
    distractors, cut into ~100-word passages."""
    from ..data.text import load_wikipedia_passages
    from .squad import load_squad_dev

    if not 0 <= distractor_fraction <= 1:
        raise UserError(f"distractor_fraction must be in [0, 1], not {distractor_fraction}")
    squad = load_squad_dev()
    paragraphs = squad.paragraphs_of(articles) if articles is not None else list(squad.paragraphs)
    wiki = load_wikipedia_passages()
    notes = {"squad_paragraphs": len(paragraphs), "wikipedia_paragraphs": len(wiki),
             "wikipedia_articles": int(wiki["doc_id"].nunique()), "passage_words": max_words}
    if distractor_fraction < 1:
        docs = np.array(sorted(wiki["doc_id"].unique()))
        rng = np.random.default_rng(seed)
        keep = set(docs[rng.permutation(len(docs))[:round(distractor_fraction * len(docs))]])
        wiki = wiki[wiki["doc_id"].isin(keep)]
        notes.update(distractor_fraction=distractor_fraction, distractor_seed=seed,
                     distractor_articles_kept=len(keep), wikipedia_paragraphs_kept=len(wiki))
    # duplicates are looked for among all 2,067 SQuAD paragraphs, whatever subset is indexed
    dup = squad_duplicates(wiki["paragraph"].tolist(), [p.text for p in squad.paragraphs])
    notes["wikipedia_duplicates_of_squad_dropped"] = int(dup.sum())
    wiki = wiki[~dup]

    build = _Builder()
    for p in paragraphs:
        build.add(p.paragraph_id, p.article.replace("_", " "), "squad", p.text, max_words)
    # The parent id uses the paragraph's row in the full dump, so it does not change with the subset kept.
    for row, doc_id, title, text in wiki[["doc_id", "title", "paragraph"]].itertuples():
        build.add(f"wiki:{doc_id}:{row}", title, "wikipedia", text, max_words)
    corpus = build.corpus("squad-open", notes)
    corpus.notes.update(passages=len(corpus), squad_passages=corpus.sources.count("squad"))
    return corpus


# --- a user's folder ----------------------------------------------------------------------------------------

def _read_text_file(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw[:8192]:
        raise UserError(f"{path} is a binary file, not text: remove it from the folder or convert it to .txt")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path} is not UTF-8 text (binary or another encoding): convert it to UTF-8 or remove "
                        "it from the folder") from None


def _blocks(text: str, max_words: int) -> list[str]:
    """Blank-line paragraphs, short ones (headings, one-liners) merged with the next up to ~max_words."""
    out, buf = [], []
    for para in re.split(r"\n\s*\n", text):
        para = para.strip()
        if not para:
            continue
        if buf and len(" ".join(buf + [para]).split()) > max_words:
            out.append("\n\n".join(buf))
            buf = []
        buf.append(para)
    if buf:
        out.append("\n\n".join(buf))
    return out


def corpus_from_folder(folder: str | Path, max_words: int = PASSAGE_WORDS) -> Corpus:
    """Every .txt / .md / .jsonl file under `folder` (recursively, sorted) as ~100-word passages."""
    root = Path(folder).expanduser()
    if not root.is_dir():
        raise UserError(f"corpus folder {root} does not exist (or is not a folder)")
    files = sorted(p for p in root.rglob("*") if p.is_file() and not any(
        part.startswith(".") for part in p.relative_to(root).parts))
    usable = [p for p in files if p.suffix.lower() in FOLDER_SUFFIXES]
    if not usable:
        raise UserError(f"{root} has no .txt, .md or .jsonl files to index"
                        + (f" ({len(files)} other files skipped)" if files else " (the folder is empty)"))
    build = _Builder()
    for path in usable:
        rel = path.relative_to(root).as_posix()
        text = _read_text_file(path)
        if path.suffix.lower() == ".jsonl":
            for n, line in enumerate(text.splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise UserError(f"{path}, line {n}: not valid JSON ({exc.msg})") from None
                if not isinstance(rec, dict) or not isinstance(rec.get("text"), str):
                    raise UserError(f"{path}, line {n}: each line must be a JSON object with a \"text\" string")
                doc = f"{rel}:{rec.get('id', n)}"
                for k, block in enumerate(_blocks(rec["text"], max_words)):
                    build.add(f"{doc}:{k}", str(rec.get("title", path.stem)), rel, block, max_words)
        else:
            heading = re.search(r"^#\s+(.+)$", text, re.M) if path.suffix.lower() == ".md" else None
            title = heading.group(1).strip() if heading else path.stem
            for k, block in enumerate(_blocks(text, max_words)):
                build.add(f"{rel}:{k}", title, rel, block, max_words)
    corpus = build.corpus(root.name, {"folder": str(root), "files": len(usable),
                                      "skipped_files": len(files) - len(usable)})
    if not len(corpus):
        raise UserError(f"the {len(usable)} text files under {root} hold no text")
    corpus.notes["passages"] = len(corpus)
    return corpus
