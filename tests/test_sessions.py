"""The shared conversation of a session's overlapping questions (rag/sessions.py), without a page."""
from __future__ import annotations

import threading

import pytest

from rag.sessions import Conversations

Q = {"role": "user", "content": "甲会议在哪里开？"}
A = {"role": "assistant", "content": "在长沙[1]。"}


def test_a_second_question_joins_the_conversation_the_first_is_still_answering() -> None:
    convs = Conversations()
    first = convs.enter("s", [], [], [])
    n1 = first.ticket()
    first.add(Q, {"role": "assistant", "content": "…"})
    second = convs.enter("s", [], [], [])  # sent with the page's chat of a moment ago
    n2 = second.ticket()
    assert second is first and second.ahead(n2) == 1
    turn = threading.Thread(target=lambda: second.wait_turn(n2, 5))
    turn.start()
    turn.join(0.3)
    assert turn.is_alive()  # waits for the first
    first.done(n1)
    turn.join(5)
    assert not turn.is_alive() and second.ahead(n2) == 0


@pytest.mark.parametrize("page, same", [
    ([], True),  # a page that has not seen the last update yet
    ([Q, {"role": "assistant", "content": "…"}], True),  # the draft it saw before the answer came
    ([{"role": "user", "content": [{"type": "text", "text": Q["content"]}]}, A], True),  # Gradio's parts
    ([{"role": "user", "content": "乙会议在哪里开？"}, A], False),  # another conversation: the page's own
    ([Q, A, Q, A], False),  # more than is kept (a restart): the page's own
])
def test_a_question_after_the_last_one_ended_keeps_the_conversation_the_page_shows(page, same: bool) -> None:
    convs = Conversations()
    conv = convs.enter("s", [], [], [])
    conv.add(Q, A)
    convs.leave(conv)
    again = convs.enter("s", page, [], [])
    assert (again is conv) is same
    assert again.history == ([Q, A] if same else page)


def test_a_new_conversation_releases_its_waiting_question_and_starts_afresh() -> None:
    convs = Conversations()
    conv = convs.enter("s", [], [], [])
    conv.ticket()
    waiter = conv.ticket()
    convs.drop("s")
    assert conv.dropped and conv.wait_turn(waiter, 5) is False  # at once, not after the bound
    assert convs.enter("s", [Q, A], [], []) is not conv


def test_stop_counts_on_the_live_conversation_only_and_the_idle_ones_are_bounded() -> None:
    convs = Conversations(keep=2)
    conv = convs.enter("a", [], [], [])
    convs.stop("a")
    convs.stop("nobody")
    assert conv.stops == 1
    for name in "bcd":
        convs.leave(convs.enter(name, [], [], []))
    assert convs.kept() == 2  # the idle ones made room; a, still answering, was kept
    convs.stop("a")
    assert conv.stops == 2
    convs.leave(conv)
    convs.leave(convs.enter("e", [], [], []))
    convs.stop("a")  # a, idle the longest, made room for e
    assert convs.kept() == 2 and conv.stops == 2


def test_a_later_question_abandoned_while_waiting_lets_no_one_by_the_one_being_answered() -> None:
    convs = Conversations()
    conv = convs.enter("s", [], [], [])
    answering, abandoned, third = conv.ticket(), conv.ticket(), conv.ticket()
    conv.done(abandoned)  # its page went away while it waited
    assert conv.ahead(third) == 2 and conv.wait_turn(third, 0.2) is False  # still behind the one answering
    conv.done(answering)
    assert conv.ahead(third) == 0 and conv.wait_turn(third, 0.2) is True
