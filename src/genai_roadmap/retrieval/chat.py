"""A knowledge-grounded chat: memory of the conversation, follow-ups rewritten into standalone questions,
answers that cite their passages, and an honest "I don't find that" when the evidence is weak.

    bot = ChatBot(retriever, reader, threshold=2.5)             # generator=Generator(...) to phrase answers
    bot.ask("What kind of university is Harvard?")              # Reply(text="... [1]", sources=[Hit...], ...)
    bot.ask("When was it founded?")                             # asked as "When was Harvard University founded?"

Rewriting. A follow-up leans on the conversation: "when was it founded?" means the topic of the last answer.
The bot keeps that topic — the title of the passage its last answer came from — and rewrites a question whose
subject is a pronoun (it, they, he, she, ...; its, their, ... become "<topic>'s") or that starts
elliptically ("and ...?", "what about ...?") into a standalone query naming the topic. Rule-based on purpose:
it is transparent and testable, and a 135M model rewrites worse than it.

Abstention. The evidence score is the reader's best span score over the top-k passages (start + end logit),
its margin over the reader's "no answer" ([CLS]) score, the retriever's top score, or a weighted sum of the
three ("both": weights `mix` fitted by the project); below `threshold` (chosen on validation questions by the
project) the bot answers ABSTAIN instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .retrievers import Hit, Retriever, check_question

ABSTAIN = "I don't find that in the knowledge base."
SUBJECT_PRONOUNS = ("it", "they", "he", "she", "them", "him")
POSSESSIVES = ("its", "their", "his", "her")
ELLIPTIC = re.compile(r"^(and|what about|how about)\b\s*", re.IGNORECASE)


def topic_of(hit: Hit) -> str:
    """A passage's title as words: "University_of_Chicago" -> "University of Chicago"."""
    return hit.title.replace("_", " ").strip()


def rewrite(question: str, topic: str | None) -> str:
    """The follow-up as a standalone question about `topic` (unchanged when it needs no context)."""
    question = question.strip()
    if not topic or topic.lower() in question.lower():
        return question
    words = question.split()
    for i, word in enumerate(words):
        bare = re.sub(r"\W", "", word).lower()
        if bare in SUBJECT_PRONOUNS or bare in POSSESSIVES:
            tail = re.sub(r"^\w+", "", re.sub(r"^\W*", "", word))  # punctuation after the pronoun ("it?")
            words[i] = (f"{topic}'s" if bare in POSSESSIVES else topic) + tail
            return " ".join(words)
    if ELLIPTIC.match(question):
        return f"{ELLIPTIC.sub('', question).rstrip('?. ')} of {topic}?"
    return question


@dataclass
class Reply:
    text: str  # the answer with its citation marks, or ABSTAIN
    question: str  # what the user typed
    standalone: str  # what was searched and read
    sources: list[Hit]  # the passages [1], [2], ... as numbered in the answer
    cited: list[int]  # the numbers the answer cites
    score: float  # the evidence score compared with the threshold
    abstained: bool


@dataclass
class ChatBot:
    retriever: Retriever
    reader: object  # retrieval.reader.Reader
    threshold: float = float("-inf")
    k: int = 3
    signal: str = "reader"  # "reader" (best span score), "reader_margin" (less its no-answer score), "retrieval"
    mix: tuple[float, float, float] = (1.0, 0.0, 0.0)  # "both": weights of span, no-answer and retrieval score
    generator: object = None  # retrieval.generator.Generator: phrases the answer from the passages when given
    history: list[Reply] = field(default_factory=list)
    topic: str | None = None

    def evidence(self, question: str) -> tuple[list[Hit], object, float]:
        """(top-k passages, the reader's best span or None, the evidence score)."""
        hits = self.retriever.retrieve(question, self.k)
        spans = self.reader.read(question, [h.text for h in hits]) if hits else []
        span = spans[0] if spans else None
        return hits, span, evidence_score(self.signal, span, hits, self.mix)

    def ask(self, question: str) -> Reply:
        question = check_question(question)
        standalone = rewrite(question, self.topic)
        hits, span, score = self.evidence(standalone)
        if span is None or score < self.threshold:
            reply = Reply(ABSTAIN, question, standalone, hits, [], score, True)
        elif self.generator is not None:
            from .generator import Passage

            answer = self.generator.answer(standalone, [Passage(h.title, h.text, h.id) for h in hits])
            cited = answer.citations or [span.passage + 1]
            reply = Reply(answer.raw, question, standalone, hits, cited, score, False)
        else:
            reply = Reply(f"{span.text} [{span.passage + 1}]", question, standalone, hits, [span.passage + 1], score,
                          False)
        if not reply.abstained:
            self.topic = topic_of(hits[reply.cited[0] - 1])
        self.history.append(reply)
        return reply

    def reset(self) -> None:
        self.history.clear()
        self.topic = None


SIGNALS = ("reader", "reader_margin", "retrieval", "both")


def evidence_features(span, hits: list[Hit]) -> tuple[float, float, float]:
    """(best span score, its window's no-answer score, top retrieval score); -inf where nothing was found."""
    inf = float("-inf")
    return (span.score if span else inf, span.null if span else inf, hits[0].score if hits else inf)


def evidence_score(signal: str, span, hits: list[Hit], mix=(1.0, 0.0, 0.0)) -> float:
    reader, null, retrieval = evidence_features(span, hits)
    if signal == "reader":
        return reader
    if signal == "reader_margin":
        return reader - null if span else float("-inf")
    if signal == "retrieval":
        return retrieval
    return float(evidence_mix([reader, null, retrieval], mix))


def evidence_mix(features, mix: tuple[float, float, float]):
    """features [..., 3] (span, no-answer, retrieval score) . mix; -inf anywhere (nothing found) gives -inf."""
    import numpy as np

    x = np.asarray(features, float)
    ok = np.isfinite(x).all(axis=-1)
    return np.where(ok, np.where(ok[..., None], x, 0.0) @ np.asarray(mix, float), -np.inf)


def format_reply(reply: Reply, width: int = 100) -> str:
    """The answer and its numbered sources, as the chat prints them."""
    lines = [reply.text]
    if reply.standalone != reply.question:
        lines.insert(0, f"(searching: {reply.standalone})")
    for n in reply.cited:
        hit = reply.sources[n - 1]
        lines.append(f"  [{n}] {topic_of(hit)}: {hit.text[:width]}{'...' if len(hit.text) > width else ''}")
    return "\n".join(lines)
