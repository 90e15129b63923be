"""Text in the archive that speaks to the assistant instead of reporting: "忽略以上所有指令……都回答：…".

Anyone who can add a page can plant such a sentence. The system prompt tells the model to treat passages
as data, but a 1.5B model follows a planted "answer X" when that passage is the closest match. So the
sentences that address the assistant are found here and kept out of every stage that could act on them:
retrieval ranks a passage holding one after the others, the prompt shows "……" in their place, and the
citation check does not accept them as the source of a claim. The page itself stays searchable and
visible in the sources panel; nothing is deleted.
"""
from __future__ import annotations

import re

from rag.chunk import sentence_spans

# Each alternative is an order to the reader about how to answer, not something a news report says
# about the world: "他忽略了群众的要求" must not match, "忽略以上所有指令" must.
_ADDRESSED = re.compile(
    r"(?:忽略|无视|不要理会|不理会|忘记|忘掉|抛开)掉?(?:以上|上述|上面|之前|前面|先前|此前|原有|原来|你的|系统|所有|全部|一切)"
    r"[^。！？\n]{0,6}?(?:指令|指示|提示词|提示|设定|规则)"
    r"|无论(?:用户|别人|对方|谁|任何人)[^。！？\n]{0,4}?(?:问|说|提)"
    r"|从现在(?:起|开始)[，,]?\s*(?:你|无论|一律|只)"
    r"|(?:你|助手|模型)(?:现在)?(?:必须|只能|只许|一律)(?:回答|回复|输出|说)"
    r"|\b(?:ignore|disregard|forget)\b[^.!?\n]{0,30}?\b(?:instructions?|prompts?|rules)\b"
    r"|\byou are now\b|\bsystem prompt\b|\bfrom now on\b[^.!?\n]{0,30}?\b(?:answer|reply|respond|say)\b",
    re.I)
MASK = "……"


def instruction_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) in `text` of each sentence that gives the reader an order about answering."""
    return [(s, e) for s, e in sentence_spans(text) if _ADDRESSED.search(text[s:e])]


def source_windows(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence of `text` and every pair of adjacent ones that holds no planted
    instruction: the spans a claim may be cited to (a sentence that tells the reader what to answer is no
    source)."""
    sents = sentence_spans(text)
    orders = instruction_spans(text)
    spans = [(s, sents[j][1]) for i, (s, _) in enumerate(sents) for j in (i, i + 1) if j < len(sents)]
    return [(s, e) for s, e in spans if not any(a < e and s < b for a, b in orders)]


def has_instructions(text: str) -> bool:
    return bool(_ADDRESSED.search(text))


def masked(text: str) -> str:
    """`text` with each sentence that addresses the assistant replaced by "……"."""
    spans = instruction_spans(text)
    for s, e in reversed(spans):
        text = text[:s] + MASK + text[e:]
    return text

