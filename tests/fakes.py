"""Small fakes for fast tests: no torch, no model files."""
from __future__ import annotations

import hashlib
from collections.abc import Iterator

import numpy as np


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now, for serving the app in a test."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HashingEmbedder:
    """Character-bigram hashing: texts that share words get similar vectors."""

    def __init__(self, name: str = "hashing-test", dim: int = 64, fail_after: int | None = None) -> None:
        self.name, self.dim = name, dim
        self.calls = 0
        self.fail_after = fail_after  # raise on the call after this many, to simulate a crash mid-build

    def _vec(self, text: str) -> np.ndarray:
        v = np.zeros(self.dim, dtype=np.float32)
        chars = [c for c in text if not c.isspace()]
        for a, b in zip(chars, chars[1:]):
            v[int(hashlib.md5((a + b).encode()).hexdigest(), 16) % self.dim] += 1.0
        n = np.linalg.norm(v)
        return v / n if n else v

    def embed_documents(self, texts: list[str]) -> np.ndarray:
        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise RuntimeError("simulated crash while embedding")
        return np.stack([self._vec(t) for t in texts]) if texts else np.zeros((0, self.dim), np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self._vec(text)


class ScriptedGenerator:
    """Yields a fixed reply in small pieces and records every prompt it was given. Given a list of
    replies, it says them in turn (the last one again after that)."""

    def __init__(self, reply: str | list[str], name: str = "scripted") -> None:
        self.replies = [reply] if isinstance(reply, str) else list(reply)
        self.reply, self.name = self.replies[0], name
        self.prompts: list[list[dict[str, str]]] = []

    def stream(self, messages: list[dict[str, str]], max_tokens: int = 160) -> Iterator[str]:
        reply = self.replies[min(len(self.prompts), len(self.replies) - 1)]
        self.prompts.append(messages)
        for i in range(0, len(reply), 3):
            yield reply[i:i + 3]


class DoubtingGenerator(ScriptedGenerator):
    """A ScriptedGenerator that also gives the confirm step its yes/no probabilities: P(no) = `no` (a
    ModelError when `no` is None), recording each confirming prompt."""

    def __init__(self, reply: str | list[str], no: float | None = 0.05, by_question: dict[str, float] | None = None) -> None:
        super().__init__(reply)
        self.no = no
        self.by_question = by_question or {}  # the question a prompt asks about (its 问题： line) -> P(no)
        self.confirms: list[list[dict[str, str]]] = []

    def next_token_probs(self, messages: list[dict[str, str]], top: int = 10) -> dict[str, float]:
        from rag.errors import ModelError

        self.confirms.append(messages)
        asked = messages[-1]["content"].split("问题：", 1)[-1].split("\n", 1)[0]
        no = self.by_question.get(asked, self.no)
        if no is None:
            raise ModelError("no token probabilities")
        return {"是": 1.0 - no, "否": no, "。": 0.0}


class BrokenGenerator:
    name = "broken"

    def stream(self, messages, max_tokens=160):
        from rag.errors import ModelError

        raise ModelError("weights could not be loaded")
        yield ""  # pragma: no cover


def text_pdf(lines: list[str]) -> bytes:
    """A small valid one-page PDF whose text layer holds `lines` (ASCII), with a correct xref table."""
    ops = ["BT", "/F1 12 Tf", "72 720 Td", "14 TL"]
    for line in lines:
        ops.append("(" + line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)") + ") Tj T*")
    ops.append("ET")
    stream = "\n".join(ops).encode("latin-1")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for n, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += f"{n} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def listening_tcp_ports(pid: int | None = None) -> set[int]:
    """The TCP ports process `pid` (default: this one) listens on, read from /proc (Linux)."""
    import os
    import re

    pid = pid or os.getpid()
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            m = re.fullmatch(r"socket:\[(\d+)\]", os.readlink(f"/proc/{pid}/fd/{fd}"))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    ports = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = open(table, encoding="ascii").read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and cols[9] in inodes:  # 0A: LISTEN
                ports.add(int(cols[1].rsplit(":", 1)[1], 16))
    return ports


def close_page(demo) -> None:
    """Close a page a test served (`app.close_page`: its stop event set on the server's own loop first)."""
    from app import close_page as close

    close(demo)
