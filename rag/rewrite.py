"""Follow-up questions -> standalone questions, from the chat history, before retrieval.

"那株洲呢？" after "益阳为什么能成为长株潭都市圈扩群的首选？" becomes "株洲为什么能成为长株潭都市圈扩群的首选？";
"它的总投资是多少？" after a question about a project becomes that question plus the follow-up, so both the
retriever and the model see what "它" refers to. Rules run first and cost nothing; the local LLM may be
asked to rewrite what the rules can only concatenate (setting `rewrite = "llm"`).
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from rag.asked import is_english
from rag.errors import RagError
from rag.generate import Generator
from rag.names import entities, organisations, places

# "那株洲呢？", "还有特约研究员呢", "总产值呢?"
_NE_FOLLOW = re.compile(r"^(?:那么?|还有|另外|再问一下[，,]?)?\s*(?P<x>[^，,。？?！!]{1,24}?)\s*(?:的情况|怎么样|如何)?呢\s*[？?]?$")
_ZH_PRONOUN = re.compile(r"它们|它|其|该(?=[\u4e00-\u9fff])|此(?=[\u4e00-\u9fff])|这(?:个|些|家|批|项|里|组|位|篇|条|场)|那(?:个|些|家|批|项|里|组|位|篇|条|场)|他们|她们|上述|前者|后者")
# Words that point back to an earlier turn, judged by jieba's words, so that "应该", "因此", "其他", "其中"
# and "尤其" (which hold 该, 此, 其 but point nowhere) do not glue a standalone question to the one before it.
PRONOUNS = frozenset({"它", "它们", "其", "其中", "他", "她", "他们", "她们", "上述", "前者", "后者"})
_DEMONSTRATIVE = "该此这那"  # "该项目", "此次", "这家", "那些": a pronoun jieba tags r
NOT_PRONOUNS = frozenset({"这样", "那样", "这么", "那么", "此外", "这时", "那时", "这次", "那次", "这天", "那天"})
_EN_FOLLOW = re.compile(r"^(?:and|what about|how about)\s+(?P<x>.+?)\s*\??$", re.I)
_EN_PRONOUN = re.compile(r"\b(it|its|they|their|them|this|these|those|there)\b", re.I)  # not "that": mostly relative
_CJK = re.compile(r"[\u4e00-\u9fff]")
MAX_FOLLOW_UP_CHARS = 40


@dataclass(frozen=True)
class Turn:
    question: str  # the standalone form of the question asked in that turn
    answer: str = ""


@dataclass(frozen=True)
class Rewrite:
    question: str  # what retrieval and the model see
    original: str
    method: str  # "none" | "swap" | "context" | "llm"

    @property
    def changed(self) -> bool:
        return self.method != "none"


def has_pronoun(text: str) -> bool:
    """Whether a Chinese text holds a word that points back ("它的总投资", "该项目", "这家公司")."""
    from rag.names import tagged

    return any(w in PRONOUNS or w[0] in _DEMONSTRATIVE and tag == "r" and w not in NOT_PRONOUNS
               for w, tag in tagged(text))


def is_follow_up(question: str) -> bool:
    """A short question that leans on the previous turn: "…呢？", a pronoun, or "what about …"."""
    q = question.strip()
    if len(q) > MAX_FOLLOW_UP_CHARS:
        return False
    if _CJK.search(q):
        return bool(_NE_FOLLOW.match(q)) or has_pronoun(q)
    return bool(_EN_FOLLOW.match(q) or _EN_PRONOUN.search(q))


def _swap(previous: str, new: str) -> str | None:
    """The previous question with its entity of the same kind as `new` replaced by `new`."""
    new_kinds = {flag for _, flag in entities(new)}
    if not new_kinds:
        return None
    for word, flag in entities(previous):
        if flag in new_kinds and word != new and word not in new and new not in previous:
            return previous.replace(word, new, 1)
    return None


def rule_rewrite(question: str, history: Sequence[Turn]) -> Rewrite:
    """Swap the entity for "那X呢" when X is the same kind of name; otherwise carry the previous question along."""
    q = question.strip()
    if not history or not is_follow_up(q):
        return Rewrite(q, q, "none")
    previous = history[-1].question.strip()
    if is_english(q) != is_english(previous):
        return _across_languages(q, history[-1])
    m = _NE_FOLLOW.match(q) if _CJK.search(q) else None
    if m:
        swapped = _swap(previous, m.group("x").strip())
        if swapped:
            return Rewrite(swapped, q, "swap")
    if _CJK.search(previous):
        joiner = "" if previous.endswith(("？", "?", "。", "！", "!")) else "？"
    else:
        joiner = " " if previous.endswith(("?", ".", "!")) else "? "
    return Rewrite(f"{previous}{joiner}{q}", q, "context")


def _across_languages(question: str, previous: Turn) -> Rewrite:
    """A follow-up in another language than the question before it ("那它离湘江新区多远？" after an English
    question) stays in its own language: gluing the two made a question of both, answered in both. What its
    pronoun points to is the first name of the previous turn, as the Chinese pages write it (an English answer
    writes names in Chinese: the prompt asks it to); without one, the follow-up is taken as it is."""
    said = f"{previous.answer} {previous.question}"
    found = set(organisations(said)) | set(places(said)) | {w for w, _ in entities(said)}
    # the first name said, the longest where several start there ("华鑫公司", not "华鑫")
    names = sorted(found, key=lambda w: (said.find(w), -len(w)))
    if not names:
        return Rewrite(question, question, "none")
    if _CJK.search(question):
        rewritten, n = _ZH_PRONOUN.subn(names[0], question, count=1)
    else:  # "its output" -> "华鑫公司's output"
        rewritten, n = _EN_PRONOUN.subn(lambda m: names[0] + ("'s" if m.group(0).lower() in ("its", "their") else ""),
                                        question, count=1)
    return Rewrite(rewritten, question, "context") if n else Rewrite(question, question, "none")


_LLM_SYSTEM = ("把用户的追问改写成一个独立、完整的问题，补全其中省略或指代的对象。只输出改写后的问题，不要回答，不要解释。"
               "Rewrite the follow-up as one standalone question in its own language; output only the question.")


def llm_rewrite(question: str, history: Sequence[Turn], generator: Generator, max_tokens: int = 48) -> Rewrite:
    """Ask the local model for a standalone question; fall back to the rules if its output looks wrong."""
    fallback = rule_rewrite(question, history)
    if fallback.method in {"none", "swap"}:
        return fallback
    last = history[-1]
    user = f"上一个问题：{last.question}\n"
    if last.answer:
        user += f"上一个回答：{last.answer[:160]}\n"
    user += f"追问：{question.strip()}\n改写后的问题："
    try:
        text = "".join(generator.stream([{"role": "system", "content": _LLM_SYSTEM},
                                         {"role": "user", "content": user}], max_tokens))
    except RagError:  # a failed rewrite must never block the answer; the rules' version still works
        return fallback
    text = re.sub(r"^(改写后的问题|问题|Question)\s*[:：]\s*", "", text.strip().splitlines()[0] if text.strip() else "")
    text = text.strip(" \"'“”「」")
    good = (4 <= len(text) <= 120 and not (_CJK.search(text) and has_pronoun(text))
            and bool(_CJK.search(text)) == bool(_CJK.search(question)) and _keeps(question, text))
    return Rewrite(text, question.strip(), "llm") if good else fallback


def _keeps(follow_up: str, rewritten: str) -> bool:
    """Most of what the follow-up itself asks about (its words, less pronouns and particles) survives."""
    def grams(text: str) -> set[str]:
        text = _ZH_PRONOUN.sub(" ", text.lower())
        text = re.sub(r"^(那么?|还有|另外)|呢|吗|是多少|多少|什么|[？?，,。！!\s]", " ", text)
        if not _CJK.search(text):
            return {w for w in re.findall(r"[a-z0-9]+", text) if not _EN_PRONOUN.fullmatch(w)}
        chars = [c for c in text if not c.isspace()]
        return {a + b for a, b in zip(chars, chars[1:])}

    want = grams(follow_up)
    return not want or len(want & grams(rewritten)) >= 0.5 * len(want)


def rewrite_without_model(question: str, history: Sequence[Turn], mode: str) -> Rewrite:
    """`rewrite` in `mode` with no model to ask: "llm" falls back to the rules (the prefill's head start, or an
    answer that has no model or no history to rewrite from)."""
    return rewrite(question, history, None, "rules" if mode == "llm" else mode)


def rewrite(question: str, history: Sequence[Turn], generator: Generator | None = None, mode: str = "rules") -> Rewrite:
    """The standalone form of `question` given `history` (oldest first); mode is "rules", "llm" or "off"."""
    if mode == "off" or not history:
        q = question.strip()
        return Rewrite(q, q, "none")
    if mode == "llm" and generator is not None:
        return llm_rewrite(question, history, generator)
    return rule_rewrite(question, history)


__all__ = ["Rewrite", "Turn", "is_follow_up", "llm_rewrite", "rewrite", "rewrite_without_model", "rule_rewrite"]
