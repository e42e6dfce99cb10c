"""SQuAD v1.1 dev as the question set of Phase 5: 48 articles, 2,067 paragraphs, 10,570 questions.

Every Phase 5 project takes its train / validation / test split from `split_articles`: the split is by
article (seeded), so no question of a test article is ever used for training or for a choice (a reader
fine-tuned on questions of an article would otherwise see its test paragraphs).

Paragraph ids are `squad:<article title>:<paragraph index>`; the corpus (retrieval.corpus) keeps them as the
parent of each passage, which is how the gold passage of a question is found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..data.store import resolve_file
from ..errors import UserError


@dataclass(frozen=True)
class Question:
    qid: str
    question: str
    answers: tuple[str, ...]  # every gold answer text (SQuAD dev has ~3 per question, with repeats)
    answer_starts: tuple[int, ...]  # character offsets in the paragraph (first match: see the dataset SOURCE.txt)
    article: str  # title, e.g. "Super_Bowl_50"
    paragraph_id: str  # "squad:<title>:<index>"


@dataclass(frozen=True)
class Paragraph:
    paragraph_id: str
    article: str
    text: str


@dataclass(frozen=True)
class SquadDev:
    articles: tuple[str, ...]  # in file order (alphabetical in the rebuilt file)
    paragraphs: tuple[Paragraph, ...]
    questions: tuple[Question, ...]
    source: str

    def questions_of(self, articles) -> list[Question]:
        """The questions of the given articles, in file order."""
        keep = set(articles)
        unknown = keep - set(self.articles)
        if unknown:
            raise UserError(f"not SQuAD dev articles: {', '.join(sorted(unknown)[:5])}")
        return [q for q in self.questions if q.article in keep]

    def paragraphs_of(self, articles) -> list[Paragraph]:
        keep = set(articles)
        return [p for p in self.paragraphs if p.article in keep]


@dataclass(frozen=True)
class ArticleSplit:
    """Disjoint sets of article titles: train (fine-tuning), val (every choice), test (scored once)."""

    train: tuple[str, ...]
    val: tuple[str, ...]
    test: tuple[str, ...]
    seed: int

    def describe(self) -> str:
        return (f"by article, seed {self.seed}: {len(self.train)} train / {len(self.val)} val / "
                f"{len(self.test)} test articles")


@lru_cache(maxsize=1)
def load_squad_dev() -> SquadDev:
    """The 48 dev articles with their paragraphs and questions (parsed once per process)."""
    path = resolve_file("squad_v1.1_dev", "squad-v1.1-dev-from-explorer.json")
    data = json.loads(path.read_text(encoding="utf-8"))["data"]
    articles, paragraphs, questions = [], [], []
    for article in data:
        title = article["title"]
        articles.append(title)
        for i, para in enumerate(article["paragraphs"]):
            pid = f"squad:{title}:{i}"
            paragraphs.append(Paragraph(pid, title, para["context"]))
            for qa in para["qas"]:
                questions.append(Question(qa["id"], qa["question"].strip(),
                                          tuple(a["text"] for a in qa["answers"]),
                                          tuple(int(a["answer_start"]) for a in qa["answers"]), title, pid))
    return SquadDev(tuple(articles), tuple(paragraphs), tuple(questions), f"squad_v1.1_dev:{path.name}")


def split_articles(seed: int = 0, test_fraction: float = 0.25, val_fraction: float = 0.125) -> ArticleSplit:
    """A seeded random split of the 48 articles (at least one in each part). The default is 30 / 6 / 12."""
    if not (0 < test_fraction < 1 and 0 <= val_fraction < 1 and test_fraction + val_fraction < 1):
        raise UserError(f"need 0 < test_fraction, 0 <= val_fraction, sum < 1; got {test_fraction}, {val_fraction}")
    titles = load_squad_dev().articles
    order = [titles[i] for i in np.random.default_rng(seed).permutation(len(titles))]
    n_test = max(1, round(test_fraction * len(titles)))
    n_val = max(1, round(val_fraction * len(titles))) if val_fraction > 0 else 0
    test, val, train = order[:n_test], order[n_test:n_test + n_val], order[n_test + n_val:]
    return ArticleSplit(tuple(sorted(train)), tuple(sorted(val)), tuple(sorted(test)), seed)
