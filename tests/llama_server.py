"""xllamacpp's own HTTP server as a separate process, for the real-model tests of the OpenAI-compatible
generator: python tests/llama_server.py GGUF PORT API_KEY (binds 127.0.0.1 only, runs until killed)."""
from __future__ import annotations

import sys
import time

import xllamacpp as xlc


def main(gguf: str, port: int, key: str) -> None:
    params = xlc.CommonParams()
    params.model.path = gguf
    params.n_ctx = 4096
    params.n_parallel = 1
    params.hostnames = ["127.0.0.1"]
    params.port = port
    params.api_keys = [key]
    params.verbosity = 0
    server = xlc.Server(params)
    print(f"listening on {server.listening_address}", flush=True)
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3])
