"""A soak run against a served chat page: sessions that use it as people do, all at once, for a while.

Each session, through gradio_client, keeps choosing one of: a question; two questions sent at once (the
second while the first's answer streams); a question then stop; a question then "new conversation"; a
question then a reload (the job cancelled, a new session). Meanwhile documents are uploaded and indexed.
Every question sent is counted as answered (a cited answer), refused with a message (a refusal, a stop, a
busy or error message), abandoned (the user left it: new conversation or reload), hung (no end within
`hang_s`) or lost (ended, but its bubble is missing from the chat or still a draft). A healthy page has no
hung and no lost question.

Used by tests/test_soak.py (the app over a scripted model, in CI) and `rag bench soak` (the real model).
"""
from __future__ import annotations

import html
import random
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from rag.sessions import bubble_text as _text

ACTIONS = ("one", "two", "two", "stop", "new", "reload")
PENDING = ("⏳", "🔎", "…")


def outcome(bubble: str) -> str:
    """What an answer bubble shows at the end: "answered" (cited), "refused" (a refusal or a message) or
    "lost" (still the placeholder, a stage line or a draft: the question never got its end)."""
    bubble = bubble.strip()
    if not bubble or bubble.startswith(PENDING) or 'class="draft' in bubble:
        return "lost"
    return "answered" if "#src-" in bubble else "refused"


def judge(chat, questions: list[str]) -> list[str]:
    """The outcome of each of `questions`, sent in this order, in the final `chat` of their session: each
    must have its own user bubble, in order, followed by its answer's bubble. They are the session's newest,
    so they are looked for from the end (the same question asked earlier in the conversation is not theirs)."""
    messages = [(m.get("role"), _text(m.get("content"))) for m in (chat or []) if isinstance(m, dict)]
    results, limit = [], len(messages)
    for question in reversed(questions):
        found = next((i for i in range(limit - 1, -1, -1) if messages[i][0] == "user"
                      and _plain(messages[i][1]) == _plain(question)), None)
        if found is None:
            results.append("lost")
            continue
        answered = found + 1 < len(messages) and messages[found + 1][0] == "assistant"
        results.append(outcome(messages[found + 1][1]) if answered else "lost")
        limit = found
    return results[::-1]


def _plain(text: str) -> str:
    """A user bubble as the page shows it: the page escapes what a person typed (Markdown marks with "\\",
    HTML's & and < as entities), so "A & B-C" comes back as "A &amp; B\\-C"."""
    return html.unescape(text.replace("\\", "")).strip()


class _Session:
    def __init__(self, url: str, n: int, questions: list[str], deadline: float, hang_s: float,
                 auth, log: Callable[[str], None]) -> None:
        self.url, self.n, self.questions, self.deadline, self.hang_s = url, n, questions, deadline, hang_s
        self.auth, self.log, self.rng = auth, log, random.Random(n)
        self.counts: Counter = Counter()
        self.client = self._client()

    def _client(self):
        from gradio_client import Client

        return Client(self.url, auth=self.auth, verbose=False)

    def _ask(self):
        question = self.rng.choice(self.questions)
        self.counts["sent"] += 1
        return question, self.client.submit(question, [], api_name="/chat")

    def _wait(self, job) -> float | None:
        """When `job` was seen to end; None if it did not within `hang_s`."""
        end = time.monotonic() + self.hang_s
        while not job.done():
            if time.monotonic() > end:
                return None
            time.sleep(0.05)
        return time.monotonic()

    def _result(self, job):
        try:
            return job.result()[0]
        except Exception as exc:  # a refusal by the queue (full), or the connection: said to the user
            self.log(f"session {self.n}: {exc.__class__.__name__}: {exc}")
            return exc

    def run(self) -> Counter:
        while time.monotonic() < self.deadline:
            action = self.rng.choice(ACTIONS)
            self.counts[f"action {action}"] += 1
            getattr(self, f"_{action}")()
        return self.counts

    def _settle(self, asked: list[tuple[str, object]]) -> None:
        """Wait for the jobs of `asked`, then judge them on the chat the page would show: the last update,
        from the job that ended last (the questions of a session share one conversation)."""
        ended = [(self._wait(job), question, job) for question, job in asked]
        for when, question, job in ended:
            if when is None:
                self.counts["hung"] += 1
                self.log(f"session {self.n}: hung {question[:40]!r}, last seen {job.status()}")
        done = sorted((e for e in ended if e[0] is not None), key=lambda e: e[0])
        results = [(question, self._result(job)) for _, question, job in done]
        self.counts["refused"] += sum(not isinstance(r, list) for _, r in results)  # the queue said, in words
        if not results or not isinstance(results[-1][1], list):
            return
        asked = [q for q, r in results if isinstance(r, list)]
        for question, verdict in zip(asked, judge(results[-1][1], asked)):
            self.counts[verdict] += 1
            if verdict == "lost":  # what the page showed for it, to find where it went
                self.log(f"session {self.n}: lost {question[:40]!r} in {str(results[-1][1])[:600]}")

    def _one(self) -> None:
        self._settle([self._ask()])

    def _two(self) -> None:
        first = self._ask()
        time.sleep(self.rng.uniform(0.05, 0.6))  # the second is sent while the first is answered
        self._settle([first, self._ask()])

    def _stop(self) -> None:
        asked = self._ask()
        time.sleep(self.rng.uniform(0.05, 0.8))
        self.client.predict(api_name="/stop")
        self._settle([asked])

    def _new(self) -> None:
        _, job = self._ask()
        time.sleep(self.rng.uniform(0.05, 0.8))
        self.client.predict("zh", api_name="/new_conversation")
        self._abandoned(job)

    def _reload(self) -> None:
        _, job = self._ask()
        time.sleep(self.rng.uniform(0.05, 0.8))
        try:  # the page goes away with its question; a browser does not wait for this call's reply
            job.cancel()
        except Exception as exc:  # the question must still end in time: _abandoned counts it hung if not
            self.log(f"session {self.n}: the cancel call got no reply: {exc.__class__.__name__}")
            self.counts["cancels unanswered"] += 1
        self._abandoned(job)
        self.client = self._client()

    def _abandoned(self, job) -> None:
        if self._wait(job) is not None:
            self.counts["abandoned"] += 1
        else:
            self.counts["hung"] += 1
            self.log(f"session {self.n}: hung after it was left, last seen {job.status()}")


def run_soak(url: str, questions: list[str], sessions: int = 4, seconds: float = 30.0, hang_s: float = 60.0,
             upload: Callable[[int], None] | None = None, upload_every: float = 10.0,
             auth: tuple[str, str] | None = None, log: Callable[[str], None] = lambda _: None) -> dict:
    """`sessions` clients using the page at `url` for `seconds` (each finishes what it started), while
    `upload(i)` adds a document every `upload_every` seconds. Returns the counts."""
    t0 = time.monotonic()
    deadline = t0 + seconds
    stop = threading.Event()
    uploads = Counter()

    def uploading() -> None:
        i = 0
        while upload is not None and not stop.wait(upload_every):
            try:
                upload(i)
                uploads["uploads"] += 1
            except Exception as exc:
                log(f"upload {i} failed: {exc}")
                uploads["uploads failed"] += 1
            i += 1

    uploader = threading.Thread(target=uploading, daemon=True)
    uploader.start()
    with ThreadPoolExecutor(max_workers=sessions) as pool:
        futures = [pool.submit(lambda n: _Session(url, n, questions, deadline, hang_s, auth, log).run(), n)
                   for n in range(sessions)]
        totals = sum((f.result() for f in futures), Counter())
    stop.set()
    uploader.join(hang_s)
    totals.update(uploads)
    out = {k: totals.get(k, 0) for k in ("sent", "answered", "refused", "abandoned", "hung", "lost", "uploads",
                                         "cancels unanswered")}
    out["actions"] = {k.split(" ", 1)[1]: v for k, v in totals.items() if k.startswith("action ")}
    out["sessions"], out["wall_s"] = sessions, round(time.monotonic() - t0, 1)
    return out


__all__ = ["judge", "outcome", "run_soak"]
