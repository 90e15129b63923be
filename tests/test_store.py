"""The store backends: FAISS + BM25 on disk (default) and Milvus (Milvus Lite in process, and a
`milvus-lite server` on 127.0.0.1 reached by URI) give the same candidates to the same ranking."""
from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fakes import HashingEmbedder, free_port, listening_tcp_ports

from rag.errors import ConfigError
from rag.index import build_index, load_index
from rag.retrieve import HybridRetriever
from rag.store import parse_store, same_store

pytest.importorskip("pymilvus")
pytest.importorskip("milvus_lite")

# Phrases taken from the seed pages' own wording (not from the measured question sets).
QUERIES = ["签署合作协议 总签约采购金额", "智能生产线下线一台挖掘机", "益阳 企业 建立供需关系", "袁隆平 书信原件",
           "雾凇 摄影", "绿色金融 评级", "湘江新区 产业", "人工智能大赛 赛题"]


@pytest.mark.parametrize("spec, expected", [
    ("local", ("local", "")), ("", ("local", "")),
    ("milvus:./data/milvus.db", ("milvus", "./data/milvus.db")),
    ("milvus:http://10.0.0.5:19530", ("milvus", "http://10.0.0.5:19530")),
])
def test_parse_store(spec: str, expected: tuple[str, str]) -> None:
    assert parse_store(spec) == expected


@pytest.mark.parametrize("spec", ["faiss", "milvus:", "milvus", "local:x", "qdrant:http://x"])
def test_parse_store_refuses_with_the_choices(spec: str) -> None:
    with pytest.raises(ConfigError, match="local.*milvus"):
        parse_store(spec)


def _top(index, emb, mode: str) -> list[list[str]]:
    retriever = HybridRetriever(index, emb, mode=mode, rerank="coverage", rerank_weight=2.0)
    return [[p.chunk.id for p in retriever.search(q, 3)] for q in QUERIES]


def _same_top_passages(seeds: Path, tmp_path: Path, store: str) -> None:
    emb = HashingEmbedder()
    build_index(seeds, tmp_path / "local", emb)
    report = build_index(seeds, tmp_path / "milvus", emb, store=store)
    local, milvus = load_index(tmp_path / "local"), load_index(tmp_path / "milvus", emb.name, store=store)
    assert milvus.manifest["store"]["kind"] == "milvus" and report.chunks == len(local.chunks)
    assert not (milvus.path / "dense.faiss").exists()  # the vectors live in the collection
    for mode in ("dense", "lexical", "hybrid"):
        assert _top(milvus, emb, mode) == _top(local, emb, mode), mode


def test_milvus_lite_gives_the_same_top_passages(seeds_copy: Path, tmp_path: Path) -> None:
    before = listening_tcp_ports()
    _same_top_passages(seeds_copy, tmp_path, f"milvus:{tmp_path}/milvus.db")
    assert listening_tcp_ports() == before  # Milvus Lite is served on a Unix socket, not a TCP port


def _wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"milvus-lite server exited: {proc.stdout.read()}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    pytest.fail("milvus-lite server did not start")


@pytest.fixture
def milvus_server(tmp_path: Path):
    exe = Path(sys.executable).with_name("milvus-lite")
    if not exe.exists():
        pytest.skip("the milvus-lite command is not installed (pip install '.[milvus]')")
    port = free_port()
    proc = subprocess.Popen([str(exe), "server", "--data-dir", str(tmp_path / "server-data"), "--host", "127.0.0.1",
                             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        _wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=20)


def test_milvus_server_by_uri_gives_the_same_top_passages(seeds_copy: Path, tmp_path: Path, milvus_server) -> None:
    _same_top_passages(seeds_copy, tmp_path, f"milvus:{milvus_server}")


def test_killed_milvus_build_resumes_where_it_stopped(seeds_copy: Path, tmp_path: Path) -> None:
    store = f"milvus:{tmp_path}/milvus.db"
    with pytest.raises(RuntimeError, match="simulated crash"):
        build_index(seeds_copy, tmp_path / "idx", HashingEmbedder(fail_after=2), store=store)
    # Two batches of 16 were written before the crash: the next build embeds only the rest.
    report = build_index(seeds_copy, tmp_path / "idx", HashingEmbedder(), store=store)
    assert report.embedded == report.chunks - 32
    index = load_index(tmp_path / "idx")
    hits = HybridRetriever(index, HashingEmbedder()).search("总签约采购金额约3亿元", 3)
    assert any("3亿元" in p.chunk.text for p in hits)


def test_milvus_drops_the_chunks_of_a_removed_file(seeds_copy: Path, tmp_path: Path) -> None:
    store = f"milvus:{tmp_path}/milvus.db"
    first = build_index(seeds_copy, tmp_path / "idx", HashingEmbedder(), store=store)
    removed = sorted(seeds_copy.iterdir())[0]
    removed.unlink()
    second = build_index(seeds_copy, tmp_path / "idx", HashingEmbedder(), store=store)
    assert second.embedded == 0 and second.chunks < first.chunks
    index = load_index(tmp_path / "idx")
    info = index.manifest["store"]
    assert index.store.client.get_collection_stats(info["collection"])["row_count"] == second.chunks
    for ids in _top(index, HashingEmbedder(), "hybrid"):
        assert all(i in index.store.position for i in ids)


def test_switching_the_store_setting_rebuilds_into_it(fake_pipeline, tmp_path: Path) -> None:
    pipe = fake_pipeline(backend="extractive")
    assert same_store(pipe.index.manifest, "local")
    store = f"milvus:{tmp_path}/milvus.db"
    moved = type(pipe)(pipe.settings.replace(store=store), pipe.embedder, None)
    moved.ensure_index()  # the files did not change, but the index is in the other store: rebuilt there
    saved = moved.index.manifest["store"]
    assert saved["kind"] == "milvus" and saved["uri"] == f"{tmp_path}/milvus.db"
    answer = moved.ask("对接会签约采购金额是多少？")
    assert not answer.refused and any("3亿元" in c.quote for c in answer.citations)


def test_milvus_store_missing_collection_is_rebuilt(fake_pipeline, tmp_path: Path) -> None:
    store = f"milvus:{tmp_path}/milvus.db"
    pipe = fake_pipeline(backend="extractive", store=store)
    info = pipe.index.manifest["store"]
    pipe.index.store.client.drop_collection(info["collection"])
    again = type(pipe)(pipe.settings, pipe.embedder, None)
    summary = again.ensure_index()
    assert "rebuilt" in summary and again.ask("对接会签约采购金额是多少？").citations


def test_unreachable_milvus_server_says_so_and_rebuilds_nothing(fake_pipeline) -> None:
    from rag.errors import RagError

    pipe = fake_pipeline(backend="extractive")
    live = pipe.index.path
    moved = type(pipe)(pipe.settings.replace(store=f"milvus:http://127.0.0.1:{free_port()}"), pipe.embedder, None)
    with pytest.raises(RagError, match="cannot be reached"):
        moved.ensure_index()
    assert load_index(pipe.settings.index_dir).path == live  # the local index is still the live one


def test_milvus_lite_folder_held_by_another_process_is_named(tmp_path: Path) -> None:
    from rag.errors import RagError

    holder = subprocess.Popen([sys.executable, "-c", (
        "import sys, time; from rag.store.milvus import client_for; client_for(sys.argv[1]); print('ready', flush=True); "
        "time.sleep(60)"), str(tmp_path / "m.db")], stdout=subprocess.PIPE, text=True, cwd=Path(__file__).parent.parent)
    try:
        assert holder.stdout.readline().strip() == "ready"
        with pytest.raises(RagError, match="One process at a time"):
            build_index(Path(__file__).parent.parent / "seeds", tmp_path / "idx", HashingEmbedder(),
                        store=f"milvus:{tmp_path}/m.db")
    finally:
        holder.kill()
        holder.wait()


def test_another_vector_size_starts_the_milvus_collection_afresh(seeds_copy: Path, tmp_path: Path) -> None:
    store = f"milvus:{tmp_path}/milvus.db"
    build_index(seeds_copy, tmp_path / "idx", HashingEmbedder(dim=64), store=store)
    report = build_index(seeds_copy, tmp_path / "idx", HashingEmbedder(dim=32), store=store)
    assert report.embedded == report.chunks  # nothing of the 64-d vectors is reused
    index = load_index(tmp_path / "idx")
    assert index.manifest["embedder"]["dim"] == 32
    assert HybridRetriever(index, HashingEmbedder(dim=32), mode="dense").search("总签约采购金额约3亿元", 3)


def test_another_vector_size_is_not_reused_by_the_local_store(seeds_copy: Path, tmp_path: Path) -> None:
    build_index(seeds_copy, tmp_path / "idx", HashingEmbedder(dim=64))
    report = build_index(seeds_copy, tmp_path / "idx", HashingEmbedder(dim=32))
    assert report.embedded == report.chunks and load_index(tmp_path / "idx").store.vectors.shape[1] == 32


def test_store_bench_runs_on_small_inputs(tmp_path: Path) -> None:
    import json

    from rag.bench.store import store_bench, store_table

    archive, questions = tmp_path / "news.jsonl", tmp_path / "qa.jsonl"
    rows = [{"id": f"n{i}", "title": f"第{i}条新闻", "text": f"长沙今年新建了{i}座口袋公园。市民步行五分钟即可到达公园。" * 3}
            for i in range(12)]
    archive.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    questions.write_text(json.dumps({"id": "q1", "question": "长沙新建了几座口袋公园？", "answers": ["3座"]},
                                    ensure_ascii=False), encoding="utf-8")
    result = store_bench(archive, questions, 40, ("local", "milvus"), log=lambda _: None)
    assert set(result["corpora"]) == {"archive", "synthetic"} and result["corpora"]["synthetic"]["chunks"] == 40
    for row in result["corpora"].values():
        assert row["local"]["chunks_per_s"] > 0 and row["milvus"]["search"]["hybrid"]["p50_ms"] > 0
    assert "milvus" in store_table(result)


def test_a_collection_built_by_another_process_is_loaded_before_search(seeds_copy: Path, tmp_path: Path) -> None:
    """`rag index` builds, then `rag serve` (a new process, where the collection is not in memory) searches."""
    store = f"milvus:{tmp_path}/milvus.db"
    build_index(seeds_copy, tmp_path / "idx", HashingEmbedder(), store=store)
    index = load_index(tmp_path / "idx")
    index.store.client.release_collection(index.store.collection)  # as a fresh process finds it
    again = load_index(tmp_path / "idx")
    assert HybridRetriever(again, HashingEmbedder()).search("总签约采购金额约3亿元", 3)
    index.store.client.release_collection(index.store.collection)
    assert build_index(seeds_copy, tmp_path / "idx", HashingEmbedder(), store=store).embedded == 0


def test_keyword_scores_read_as_bm25_scores(seeds_copy: Path, tmp_path: Path) -> None:
    build_index(seeds_copy, tmp_path / "idx", HashingEmbedder(), store=f"milvus:{tmp_path}/milvus.db")
    ids, scores = load_index(tmp_path / "idx").store.lexical_search("总签约采购金额", 5)
    assert len(ids) and (scores > 0).all() and list(scores) == sorted(scores, reverse=True)
