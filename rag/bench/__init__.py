"""The benchmarks: `rag bench …` (cli.py) prints figures and saves them as JSON under bench/.

One module a benchmark: retrieval (recall and latency), answer (load, first token, decode against the bandwidth
ceiling), budget (the prompt's token budget against the suite), typing (the page in Chromium, typed and
pasted), draft (speculative decoding), store (local against Milvus), load (many sessions at once) and soak
(sessions using the page as people do, counting hung and lost questions). They measure the product's stages;
no stage imports them.
"""
