"""The answer steps after generation: what the model said, checked against the passages, into an Answer.

`Checker` holds the answer policy that `Pipeline.stream` applies and that `rag eval --rescore … --recheck`
applies again to saved model output: the support check (`cite.check_answer`) with the steps that are on,
the kind check, the parts left out, the second look's trigger and the confirm
step's refusal. It asks no model: the steps that do (second look, follow-up, confirm) are run by the pipeline,
which hands their results here.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from rag.answer.cite import check_answer, is_refusal
from rag.answer.claims import split_claims
from rag.answer.prompt import refusal_for
from rag.asked import Question, answers_asked, question_of, unanswered_parts
from rag.embed import Similarity
from rag.errors import InputError
from rag.reader.model import Reads
from rag.settings import Settings
from rag.types import Answer, Passage

# The answer steps after retrieval, each switchable by the `steps` setting:
STEPS = {
    "reader": "the trained reader (rag/reader) scores every sentence of the passages; when none reaches its "
              "threshold the answer is the refusal, at once, without a model call (Chinese questions)",
    "reader_prompt": "the first prompt shows the sentences the trained reader scores highest, each with the one "
                     "before it, within the prompt budget (Chinese questions of one part that ask for no list; off, "
                     "and for other questions: the sentences that cover most of the question's words)",
    "reader_cite": "a claim that several sentences hold alike (a name found in three passages) is cited to the one "
                   "the trained reader says best answers the question, not the first (Chinese questions)",
    "second_look": "a refusal, or an answer without the kind of fact asked, gets one more look at the best two "
                   "passages in full (within twice the prompt budget, when there is one)",
    "follow_up": "each part of the question the checked answer leaves out is asked again in the same conversation",
    "kind_check": "an answer that gives none of the kinds of fact asked for (number, date, place …) is a refusal",
    "part_passages": "each part of a question of several brings its own best passage into the prompt",
    "scope_check": "a question about one year, edition or holiday is answered only from articles that name it",
    "clauses": "a claim that no one passage supports is checked clause by clause: each clause that adds a fact "
               "and stands in a passage is kept with its own citation (\"美国CPI上涨6.5%，中国CPI上涨1.8%\")",
    "meaning": "an English claim must hold the meaning of its Chinese source (by the embedder), not only its "
               "numbers and names",
    "confirm": "the model, shown the question (and each of its parts) and the sentences the answer cites (each with "
               "the one before it), is asked whether they answer it; an answer it doubts (P(no) above "
               "confirm_threshold) for the question and every part is a refusal",
    "certainty": "an answer whose least sure words, as the model wrote them (the mean log-probability of its three "
                 "least likely word tokens), are below certainty_threshold is a refusal; it costs no model call",
}


def steps_of(names: str) -> frozenset[str]:
    """The steps named, comma-separated; a clear message for a name that is none."""
    steps = frozenset(n.strip() for n in names.split(",") if n.strip())
    unknown = sorted(steps - set(STEPS))
    if unknown:
        raise InputError(f"unknown answer step {', '.join(unknown)} (known: {', '.join(STEPS)})")
    return steps


def claims_of(raw: str) -> list:
    """The model output's claims other than a refusal (empty: it answered nothing, or only refused)."""
    return [c for c in split_claims(raw) if not is_refusal(c.text)]


def passage_text(passage: Passage) -> str:
    """The passage's title, date and text: what the scope check reads when the whole article is not at hand."""
    return f"{passage.chunk.title}\n{passage.chunk.date}\n{passage.chunk.text}"


@dataclass
class Checker:
    settings: Settings
    steps: frozenset[str]
    meaning: Similarity | None = None  # judges English claims by what they say (the `meaning` step)
    # a passage's whole article (title, date, text), for the scope check; the passage alone by default
    article_text: Callable[[Passage], str] = passage_text
    reader: Reads | None = None  # the trained reader, for the `reader_cite` step
    _last: tuple | None = dataclasses.field(default=None, init=False, repr=False)  # the last check made

    def check(self, raw: str, passages: list[Passage], question: Question | str):
        """`cite.check_answer` with the steps that are on. The follow-up step, the confirm step and the answer
        all read the check of the same text: it is made once (the last one is kept, with what it was of)."""
        key = (raw, tuple((p.rank, p.chunk.id, p.chunk.text) for p in passages), question_of(question).text,
               id(self.meaning))
        last = self._last
        if last is not None and last[0] == key:
            return last[1]
        result = check_answer(raw, passages, question, meaning=self.meaning,
                              source=self.article_text if "scope_check" in self.steps else None,
                              clauses="clauses" in self.steps,
                              reader=self.reader if "reader_cite" in self.steps else None)
        self._last = (key, result)  # one assignment: another thread reads the old pair or the new one whole
        return result

    def supported(self, raw: str, passages: list[Passage], question: Question | str) -> list[str]:
        """The claims of `raw` that the passages support (empty when it only refused)."""
        return [c.claim for c in self.check(raw, passages, question)[1]] if claims_of(raw) else []

    def wants_second_look(self, query: Question | str, raw: str) -> bool:
        """Nothing but a refusal, or an answer on the topic without the figure, date or name asked for: the
        trimmed passages may have cut it off."""
        if "second_look" not in self.steps or not raw.strip():
            return False
        claims = claims_of(raw)
        return not claims or "kind_check" in self.steps and not answers_asked(query, " ".join(c.text for c in claims))

    def parts_to_ask(self, question: Question | str, passages: list[Passage], raw: str) -> list[str]:
        """The parts of the question to ask again (the `follow_up` step, at most `follow_up_parts`): those no
        supported claim answers. A part counts as answered only by a claim the passages support: "在审企业有
        7家" for a part whose figure is 14 asks that part again. Nothing supported: the model is off the
        passages, and asking more of it would not bring it back."""
        if self.settings.follow_up_parts <= 0 or "follow_up" not in self.steps:
            return []
        supported = self.supported(raw, passages, question)
        return unanswered_parts(question, supported)[:self.settings.follow_up_parts] if supported else []

    def finish(self, question: Question | str, raw: str, passages: list[Passage], timings: dict | None = None,
               notice: str = "", doubt: float | None = None) -> Answer:
        """The checked Answer to `question` from what was said (`raw`) over `passages`: the check and the
        refusal steps, with the steps that are on; `doubt` is the confirm step's P(no) for it, when asked
        (a saved answer's, checked again)."""
        answer = self._checked(question_of(question), raw, passages, timings, notice)
        if doubt is not None and not answer.refused:
            answer = dataclasses.replace(answer, doubt=doubt)
        return self.confirmed(answer)

    def confirmed(self, answer: Answer) -> Answer:
        """`answer`, or a refusal when the model does not stand by it: the confirm step is on and the model
        doubts it more than its threshold, or the certainty step is on and the answer's least sure words
        (`answer/certainty.py`, recorded in its timings) are below its threshold."""
        doubted = "confirm" in self.steps and answer.doubt is not None \
            and answer.doubt > self.settings.confirm_threshold
        unsure = "certainty" in self.steps and answer.timings.get("logprob_low3") is not None \
            and answer.timings["logprob_low3"] < self.settings.certainty_threshold
        if answer.refused or not (doubted or unsure):
            return answer
        return Answer(answer.question, refusal_for(answer.question), True, (), answer.passages, answer.timings,
                      answer.notice, unsupported=tuple(c.claim for c in answer.citations) + answer.unsupported,
                      raw=answer.raw, doubt=answer.doubt)

    def _checked(self, q: Question, raw: str, passages: list[Passage], timings: dict | None = None,
                 notice: str = "") -> Answer:
        timings = {} if timings is None else timings
        text, citations, dropped = self.check(raw, passages, q) if claims_of(raw) else ("", [], [])
        # No supported claim, or claims on the topic without the figure, date or name asked for: a refusal,
        # and a refusal quotes nothing (the closest passages are shown beside it instead).
        if not citations or "kind_check" in self.steps and not answers_asked(q, text):
            return Answer(q.text, refusal_for(q), True, (), tuple(passages), timings, notice.strip(),
                          unsupported=tuple(dropped), raw=raw)
        missing = self.missing(q, raw, citations)
        return Answer(q.text, text, False, tuple(citations), tuple(passages), timings, notice.strip(),
                      unsupported=tuple(dropped), missing=missing, raw=raw)

    @staticmethod
    def missing(question: Question | str, raw: str, citations) -> tuple[str, ...]:
        """The parts of several that the answer does not cover, to be said so, not passed over in silence: a
        part no supported claim answers that asks for a kind of fact none gives, or any such part when the
        model itself said the pages lack something. Word overlap alone does not tell: "免费向大众开放" answers
        "要收钱不" with no word in common."""
        q = question_of(question)
        left = unanswered_parts(q, [c.claim for c in citations])
        said_lacking = any(is_refusal(c.text) for c in split_claims(raw))
        asks_kind = {part.text for part in q.parts if part.kinds}
        return tuple(part for part in left if said_lacking or part in asks_kind)


__all__ = ["STEPS", "Checker", "claims_of", "passage_text", "steps_of"]
