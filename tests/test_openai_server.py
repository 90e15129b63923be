"""The OpenAI-compatible generator and embedder against a small stub server on 127.0.0.1 (streaming SSE)."""
from __future__ import annotations

import hashlib
import json
import math
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest
from fakes import free_port

from rag.errors import ModelError
from rag.settings import Settings

pytest.importorskip("openai")
from rag.embed import OpenAICompatibleEmbedder  # noqa: E402
from rag.generate import OpenAICompatibleGenerator  # noqa: E402

KEY = "test-key-123"
REPLY = "当天，16家单位签署合作协议，总签约采购金额约3亿元[1]。"


class Stub(BaseHTTPRequestHandler):
    """/v1/models, streamed /v1/chat/completions and /v1/embeddings; records what it was asked and how many
    pieces it managed to send."""

    requests: list[dict] = []
    sent: list[int] = []
    reply = REPLY
    delay = 0.0  # seconds between streamed pieces
    no = 0.05  # the confirm step's P(否)
    stall = 0.0  # seconds before answering at all

    def log_message(self, *args) -> None:  # keep the test output clean
        pass

    def _json(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorised(self) -> bool:
        if self.headers.get("Authorization") == f"Bearer {KEY}":
            return True
        self._json(401, {"error": {"message": "Invalid API Key", "type": "authentication_error"}})
        return False

    def do_GET(self) -> None:
        if self._authorised():
            self._json(200, {"object": "list", "data": [{"id": "stub-model", "object": "model"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append({"path": self.path, **body})
        time.sleep(self.stall)
        if not self._authorised():
            return
        if body.get("model") != "stub-model":
            self._json(404, {"error": {"message": f"model {body.get('model')} not found", "type": "not_found"}})
        elif self.path.endswith("/embeddings"):
            vecs = [[b / 255 for b in hashlib.sha256(t.encode()).digest()[:8]] for t in body["input"]]
            self._json(200, {"object": "list", "model": "stub-model",
                             "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vecs)]})
        elif body.get("logprobs") and not body.get("stream"):
            self._probabilities()
        else:
            self._stream()

    def _probabilities(self) -> None:
        """A one-token completion with its top log-probabilities: 是 and 否, P(否) = `no`."""
        tops = [{"token": "是", "logprob": math.log(1 - self.no), "bytes": None},
                {"token": "否", "logprob": math.log(self.no), "bytes": None}]
        self._json(200, {"id": "c2", "object": "chat.completion", "created": 0, "model": "stub-model",
                         "choices": [{"index": 0, "finish_reason": "length",
                                      "message": {"role": "assistant", "content": "是"},
                                      "logprobs": {"content": [{**tops[0], "top_logprobs": tops}]}}]})

    def _stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.end_headers()
        pieces = [self.reply[i:i + 2] for i in range(0, len(self.reply), 2)]
        sent = 0
        try:
            for piece in pieces:
                chunk = {"id": "c1", "object": "chat.completion.chunk", "created": 0, "model": "stub-model",
                         "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}
                self.wfile.write(f"data: {json.dumps(chunk, ensure_ascii=False)}\n\n".encode())
                self.wfile.flush()
                sent += 1
                time.sleep(self.delay)
            self.wfile.write(b"data: [DONE]\n\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            type(self).sent.append(sent)


@pytest.fixture
def stub():
    Stub.requests, Stub.sent, Stub.reply, Stub.delay, Stub.stall, Stub.no = [], [], REPLY, 0.0, 0.0, 0.05
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("timeout, connect", [(120.0, 5.0), (2.0, 2.0), (0.3, 0.3)])
def test_the_real_client_takes_its_timeout_and_fails_fast_on_connect(timeout: float, connect: float) -> None:
    """The installed openai client is built as the product builds it (no stub of it): a timeout of the
    wrong transport's class (httpx's for an httpx2 client) broke every request and the client's own cleanup."""
    from rag.generate.openai import openai_client

    client = openai_client(f"http://127.0.0.1:{free_port()}/v1", "", timeout)
    assert client.timeout.read == timeout and client.timeout.connect == connect
    assert client.max_retries == 0
    with pytest.raises(Exception) as raised:  # nothing listens there: the client's own connection error
        client.models.list()
    assert type(raised.value).__name__ == "APIConnectionError"
    client.close()


def test_streams_at_temperature_zero_with_the_key(stub: str) -> None:
    gen = OpenAICompatibleGenerator(stub, "stub-model", KEY)
    pieces = list(gen.stream([{"role": "user", "content": "金额？"}], 50))
    assert "".join(pieces) == REPLY and len(pieces) > 3
    asked = Stub.requests[-1]
    assert asked["temperature"] == 0 and asked["stream"] is True and asked["max_tokens"] == 50


def test_model_left_empty_takes_the_one_the_server_lists(stub: str) -> None:
    gen = OpenAICompatibleGenerator(stub, "", KEY)
    assert "".join(gen.stream([{"role": "user", "content": "?"}], 10)) == REPLY
    assert gen.model == "stub-model" and "stub-model" in gen.name


def test_closing_the_stream_stops_the_server_sending(stub: str) -> None:
    Stub.reply, Stub.delay = "一二三四五六七八九十" * 20, 0.02
    gen = OpenAICompatibleGenerator(stub, "stub-model", KEY)
    stream = gen.stream([{"role": "user", "content": "数数"}], 400)
    first = [next(stream) for _ in range(3)]
    stream.close()  # what the stop button does
    deadline = time.monotonic() + 5
    while not Stub.sent and time.monotonic() < deadline:
        time.sleep(0.05)
    assert first and Stub.sent and Stub.sent[0] < 100  # 100 pieces in all: it stopped early


def test_cancel_ends_the_answer_at_the_next_piece(stub: str) -> None:
    Stub.reply, Stub.delay = "一二三四五六七八九十" * 20, 0.01
    gen = OpenAICompatibleGenerator(stub, "stub-model", KEY)
    got = []
    for piece in gen.stream([{"role": "user", "content": "数数"}], 400):
        got.append(piece)
        if len(got) == 2:
            gen.cancel()
    assert len(got) == 2


@pytest.mark.parametrize("make, message", [
    (lambda url: OpenAICompatibleGenerator(f"http://127.0.0.1:{free_port()}/v1", "stub-model", KEY), "cannot be reached"),
    (lambda url: OpenAICompatibleGenerator(url, "no-such-model", KEY), "no model 'no-such-model'.*serves: stub-model"),
    (lambda url: OpenAICompatibleGenerator(url, "stub-model", "wrong"), "refused the API key"),
    (lambda url: OpenAICompatibleGenerator(url, "stub-model", KEY, timeout=0.3), "did not answer in time"),
])
def test_server_faults_give_one_plain_sentence(stub: str, make, message: str) -> None:
    Stub.stall = 1.0 if "time" in message else 0.0
    with pytest.raises(ModelError, match=message):
        list(make(stub).stream([{"role": "user", "content": "?"}], 10))


def test_warm_up_names_a_wrong_model_at_start(stub: str) -> None:
    with pytest.raises(ModelError, match="serves: stub-model"):
        OpenAICompatibleGenerator(stub, "other", KEY).warm_up()
    OpenAICompatibleGenerator(stub, "stub-model", KEY).warm_up()


def test_pipeline_answers_through_the_server_with_a_checked_citation(stub: str, fake_pipeline) -> None:
    from rag.factory import generator_for as _generator

    pipe = fake_pipeline(backend="extractive")
    settings = pipe.settings.replace(backend="llamacpp", llm_url=stub, llm_model="stub-model", llm_api_key=KEY)
    pipe.generator = _generator(settings)
    assert isinstance(pipe.generator, OpenAICompatibleGenerator)
    answer = pipe.ask("对接会签约采购金额是多少？")
    assert not answer.refused and "3亿元" in answer.text
    assert any("3亿元" in c.quote and c.supported for c in answer.citations)


@pytest.mark.parametrize("no,refused", [(0.05, False), (0.6, True)])
def test_the_confirm_step_reads_the_servers_token_probabilities(stub: str, fake_pipeline, no: float,
                                                                 refused: bool) -> None:
    from rag.factory import generator_for as _generator

    Stub.no = no
    pipe = fake_pipeline(backend="extractive")
    settings = pipe.settings.replace(backend="llamacpp", llm_url=stub, llm_model="stub-model", llm_api_key=KEY)
    pipe.generator = _generator(settings)
    probabilities = pipe.generator.next_token_probs([{"role": "user", "content": "是吗？"}])
    assert probabilities == pytest.approx({"是": 1 - no, "否": no})
    answer = pipe.ask("对接会签约采购金额是多少？")
    assert answer.refused is refused and answer.doubt == pytest.approx(no)
    asked = [r for r in Stub.requests if r.get("logprobs")]
    assert asked[-1]["max_tokens"] == 1 and "3亿元" in asked[-1]["messages"][-1]["content"]


def test_server_down_mid_session_falls_back_to_extractive_with_a_notice(fake_pipeline) -> None:
    pipe = fake_pipeline(backend="extractive")
    pipe.generator = OpenAICompatibleGenerator(f"http://127.0.0.1:{free_port()}/v1", "m", KEY)
    answer = pipe.ask("对接会签约采购金额是多少？")
    assert answer.notice and any("3亿元" in c.quote for c in answer.citations)


def test_embedder_normalises_and_the_manifest_records_model_and_dimension(stub: str, seeds_copy, tmp_path) -> None:
    from rag.index import build_index, load_index
    from rag.errors import IndexMismatchError

    emb = OpenAICompatibleEmbedder(stub, "stub-model", KEY)
    vecs = emb.embed_documents(["甲", "乙"])
    assert vecs.shape == (2, 8) and np.allclose(np.linalg.norm(vecs, axis=1), 1.0)
    build_index(seeds_copy, tmp_path / "idx", emb)
    assert load_index(tmp_path / "idx").manifest["embedder"] == {"name": "stub-model", "dim": 8, "normalized": True}
    with pytest.raises(IndexMismatchError, match="stub-model"):
        load_index(tmp_path / "idx", "another-model")


def test_embed_url_needs_a_model_name() -> None:
    with pytest.raises(ModelError, match="embed_model"):
        OpenAICompatibleEmbedder("http://127.0.0.1:1/v1", "")


def test_settings_choose_the_server_backends(stub: str) -> None:
    from rag.factory import embedder_for as _embedder, generator_for as _generator

    s = Settings(llm_url=stub, embed_url=stub, embed_model="stub-model")
    assert isinstance(_generator(s), OpenAICompatibleGenerator)
    assert isinstance(_embedder(s), OpenAICompatibleEmbedder)
