"""`rag bench`: the benchmarks that print figures (answer speed, retrieval, stores, the prompt budget, typing in
the page, speculative decoding, the soak of the page, the model's ceiling), each saved as JSON under bench/."""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

from rag.bench.common import save
from rag.cli_common import _Bar, _log, _settings
from rag.errors import RagError


def cmd_bench(args: argparse.Namespace) -> int:
    args.out = args.out or f"bench/{args.what}.json"
    others = {"answer": _bench_answer, "store": _bench_store, "budget": _bench_budget, "typing": _bench_typing,
              "draft": _bench_draft, "soak": _bench_soak, "reader": _bench_reader, "confirm": _bench_confirm,
              "prompt": _bench_prompt, "ceiling": _bench_ceiling}
    if args.what in others:
        return others[args.what](args)
    from rag.bench import retrieval
    from rag.pipeline import Pipeline

    settings = _settings(args).replace(backend="extractive")
    pipe = Pipeline.from_settings(settings, _Bar())
    shared = Path(args.shared)
    result = retrieval.retrieval_bench(
        pipe.embedder, Path(settings.seeds_dir), shared / "eval" / "dev.jsonl",
        shared / "peer" / "crud_news_1k.jsonl", shared / "peer" / "crud_qa_dev.jsonl", Path(args.work),
        synthetic=args.synthetic, log=_log,
        parts=tuple(args.parts.split(",")), followups=Path(args.followups))
    out = Path(args.out)
    if out.is_file() and set(args.parts.split(",")) != {"seeds", "peer", "synthetic"}:
        try:  # a partial run updates its parts in the saved figures and keeps the rest
            result = {**json.loads(out.read_text(encoding="utf-8")), **result}
        except ValueError:
            pass
    save(result, out)
    print(retrieval.table(result))
    print(f"saved {args.out}")
    return 0


def _bench_store(args: argparse.Namespace) -> int:
    from rag.bench.store import store_bench, store_table

    shared = Path(args.shared)
    result = store_bench(shared / "peer" / "crud_news_1k.jsonl", shared / "peer" / "crud_qa_dev.jsonl",
                         args.synthetic, tuple(args.stores.split(",")), args.milvus_uri, log=_log)
    save(result, Path(args.out))
    print(store_table(result))
    print(f"saved {args.out}")
    return 0


def _bench_budget(args: argparse.Namespace) -> int:
    from rag import suite
    from rag.bench.budget import budget_bench, budget_table

    budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    result = budget_bench(_settings(args), Path(args.shared) / "eval", Path(args.work) / "suite",
                          budgets, suite.select(args.sets), args.sample, _log, _Bar())
    save(result, Path(args.out))
    print(budget_table(result))
    print(f"saved {args.out}")
    return 0


def _bench_draft(args: argparse.Namespace) -> int:
    from rag.bench import answer as bench_answer
    from rag.bench.draft import draft_bench, draft_table
    from rag.evaluate import load_items
    from rag.pipeline import pipeline_for

    pipe = pipeline_for(_settings(args).replace(backend="llamacpp"), _Bar())
    if pipe.generator is None or not hasattr(pipe.generator, "path"):
        raise RagError("rag bench draft needs the llama.cpp model")
    items = load_items(Path(args.shared) / "eval" / "dev.jsonl")
    questions = [it["question"] for it in items[:args.questions or len(items)]]
    drafts = [("off", 0, 0)] + [(kind, int(n), int(m)) for spec in args.drafts.split(",") if spec.strip()
                                for kind, n, m in [spec.strip().split(":")]]
    bandwidth = bench_answer.memory_bandwidth(threads=max(1, os.cpu_count() or 1))
    result = draft_bench(pipe, questions, drafts, bandwidth, _log)
    save(result, Path(args.out))
    print(draft_table(result))
    print(f"saved {args.out}")
    return 0


def _bench_typing(args: argparse.Namespace) -> int:
    from rag import suite
    from rag.bench.typing import Config, typing_bench, typing_table
    from rag.evaluate import load_items

    settings, folder, work = _settings(args), Path(args.shared) / "eval", Path(args.work) / "suite"
    budget = str(settings.prompt_tokens)
    now = f"prompt budget {budget}" if settings.prompt_tokens else "passages cut to passage_chars"
    configs = [Config("before: passages cut to passage_chars, pasted", False, {"RAG_PROMPT_TOKENS": "0"})]
    if settings.prompt_tokens:  # the pasted question of these settings, where it is not the before
        configs.append(Config(f"{now}, pasted", False, {"RAG_PROMPT_TOKENS": budget}))
    configs.append(Config(f"{now}, typed", True, {"RAG_PROMPT_TOKENS": budget}))
    result = {}
    for qs in suite.select(args.sets):
        s = suite.set_settings(settings, qs, folder, work)
        env = {"RAG_EMBEDDER": s.embedder, "RAG_SEEDS_DIR": str(Path(s.seeds_dir).resolve()),
               "RAG_INDEX_DIR": str(Path(s.index_dir).resolve())}
        questions = [item["question"] for item in suite.sample(load_items(folder / qs.questions), args.sample)]
        result[qs.name] = typing_bench(questions, configs, env, _log)
    save(result, Path(args.out))
    for name, rows in result.items():
        print(f"\n{name}\n{typing_table(rows)}")
    print(f"saved {args.out}")
    return 0


def _bench_soak(args: argparse.Namespace) -> int:
    """The soak run of tests/test_soak.py against the real models: the page served in this process over a
    copy of the seed pages, `--sessions` sessions for `--seconds`, documents uploaded meanwhile."""
    import runpy
    import shutil
    import socket
    import tempfile

    from rag.bench.soak import run_soak
    from rag.evaluate import load_items
    from rag.pipeline import pipeline_for
    from rag.warm import warm_up

    app_file = Path(__file__).resolve().parents[2] / "app.py"
    if not app_file.is_file():
        raise RagError("app.py not found next to the rag package; run `rag bench soak` from the project folder")
    serve = runpy.run_path(str(app_file))["serve"]

    settings = _settings(args)
    items = load_items(Path(args.shared) / "eval" / "dev.jsonl")
    questions = [it["question"] for it in items[:args.questions or 20]]
    with tempfile.TemporaryDirectory() as tmp:
        seeds = Path(tmp) / "seeds"
        shutil.copytree(settings.seeds_dir, seeds)
        pipe = pipeline_for(settings.replace(seeds_dir=str(seeds), index_dir=str(Path(tmp) / "index"),
                                             data_dir=str(Path(tmp) / "data")), _Bar())
        _log(f"models warm: {warm_up(pipe)}")

        def upload(i: int) -> None:
            (seeds / f"soak-{i}.md").write_text(f"# 测试稿件{i}\n\n第{i}篇测试稿件说，测试会议在长沙召开。\n",
                                                encoding="utf-8")
            pipe.reindex()

        with socket.socket() as probe:  # a port nothing listens on now
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        demo = serve(pipe, port, "127.0.0.1", users={}, block=False)
        try:
            result = run_soak(f"http://127.0.0.1:{port}/", questions, args.sessions, args.seconds,
                              hang_s=args.hang, upload=upload, upload_every=max(30.0, args.seconds / 4), log=_log)
        finally:
            demo.close()
    result["generator"] = pipe.generator.name if pipe.generator is not None else "extractive"
    save(result, Path(args.out))
    print("  ".join(f"{k} {result[k]}" for k in ("sent", "answered", "refused", "abandoned", "hung", "lost",
                                                "uploads", "wall_s")))
    print(f"saved {args.out}")
    return 0 if result["hung"] == 0 and result["lost"] == 0 else 1


def _bench_reader(args: argparse.Namespace) -> int:
    """The reader's refusals over the whole suite, retrieval only, against a saved run's outcomes."""
    from rag.bench.reader import reader_bench, table

    against = Path(args.against) if args.against else max(Path("bench").glob("suite-*.jsonl"), default=None)
    if against is None or not against.is_file():
        raise RagError("no saved whole-suite run to compare with: give --against bench/suite-DATE.jsonl")
    reader = None
    if args.cross:  # a cross-encoder reader trained by `rag reader train --kind cross`
        from rag.reader.cross import CrossReader

        reader = CrossReader.load(Path(args.cross))
    elif args.weights:
        from rag.factory import reader_for

        reader = reader_for(_settings(args), path=Path(args.weights))
    result = reader_bench(_settings(args), Path(args.shared) / "eval", Path(args.work) / "suite", against, log=_log,
                          reader=reader)
    save(result, Path(args.out))
    print(table(result))
    print(f"saved {args.out}")
    return 0


def _bench_prompt(args: argparse.Namespace) -> int:
    """What the first prompt shows at each budget, by the question's words or by the reader (no model)."""
    from rag import suite
    from rag.bench.prompt import prompt_bench, prompt_table

    try:  # the budget bench's 0 (the earlier per-passage cut) has no sentences to order: left out here
        budgets = [b for b in (int(x) for x in args.budgets.split(",") if x.strip()) if b > 0]
    except ValueError:
        budgets = []
    if not budgets:
        raise RagError(f"prompt: give positive token budgets, e.g. --budgets 160,200,300 (got {args.budgets!r})")
    result = prompt_bench(_settings(args), Path(args.shared) / "eval", Path(args.work), Path(args.train), budgets,
                          _log, suite.select(args.sets), Path(args.weights) if args.weights else None)
    save(result, Path(args.out))
    print(prompt_table(result))
    print(f"saved {args.out}")
    return 0


def _bench_ceiling(args: argparse.Namespace) -> int:
    """The model's drafts from the product's prompt and from the answer's own sentences (an oracle prompt)."""
    from rag import suite
    from rag.bench.ceiling import ceiling_bench, ceiling_table

    # the model's words stay in the work folder: RGB's text is never copied into bench/
    drafts = Path(args.work) / f"{Path(args.out).stem}-drafts.jsonl"
    result = ceiling_bench(_settings(args), Path(args.shared) / "eval", Path(args.work) / "suite",
                           suite.select(args.sets), args.sample, _log, drafts, oracle=not args.product_only)
    save(result, Path(args.out))
    print(ceiling_table(result))
    print(f"saved {args.out} (the drafts themselves in {drafts})")
    return 0


def _bench_confirm(args: argparse.Namespace) -> int:
    """The confirm step's threshold, chosen on held-out training questions answered by the whole pipeline."""
    from rag.bench.confirm_fit import confirm_fit_table, fit_confirm

    result = fit_confirm(_settings(args), Path(args.train), Path(args.work) / "confirm", args.per_kind, _log, _Bar(),
                         answer=not args.reuse)
    save(result, Path(args.out))
    print(confirm_fit_table(result))
    print(f"saved {args.out}")
    return 0


def _bench_answer(args: argparse.Namespace) -> int:
    import tempfile
    import time

    from rag.bench import answer as bench_answer
    from rag.evaluate import load_items
    from rag.index import build_index
    from rag.pipeline import Pipeline

    settings = _settings(args)
    items = [it for it in load_items(Path(args.shared) / "eval" / "dev.jsonl") if it.get("answerable", True)]
    items = items[:args.questions] if args.questions else items
    bandwidth = bench_answer.memory_bandwidth(threads=max(1, os.cpu_count() or 1))
    _log(f"memory read bandwidth: {bandwidth:.1f} GB/s")
    embedder = Pipeline.from_settings(settings.replace(backend="extractive")).embedder
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        report = build_index(settings.seeds_dir, Path(tmp) / "index", embedder, settings.chunk_chars,
                             settings.chunk_overlap_sentences)
        seconds = time.perf_counter() - t
    index = {"chunks": report.chunks, "seconds": round(seconds, 1), "chunks_per_s": round(report.chunks / seconds, 2),
             "embed_dtype": getattr(embedder, "dtype", "")}
    _log(f"index build: {index}")
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    startup = bench_answer.startup_bench(settings, args.port, log=_log) if args.port else None
    result = {"bandwidth_gbs": round(bandwidth, 1), "index": index, "startup": startup, "settings": {
        "top_k": settings.top_k, "passage_chars": settings.passage_chars, "max_new_tokens": settings.max_new_tokens,
        "threads": settings.threads or os.cpu_count()},
        "backends": bench_answer.answer_bench(settings, items, backends, bandwidth, _log, embedder=embedder)}
    save(result, Path(args.out))
    print(bench_answer.answer_table(result))
    print(f"saved {args.out}")
    return 0


def add_bench_parser(sub) -> None:
    """The `rag bench` subcommand and its options."""
    p = sub.add_parser("bench", help="benchmarks that print figures: answer speed (default), retrieval or store")
    p.add_argument("what", nargs="?", default="answer", choices=["answer", "retrieval", "store", "budget", "typing", "draft", "soak",
                                                                      "reader", "confirm", "prompt", "ceiling"])
    p.add_argument("--drafts", default="ngram_simple:4:8,ngram_simple:3:4,ngram_map_k:4:8",
                   help="draft: speculative configurations KIND:MATCH:MAX to compare with plain decoding")
    p.add_argument("--budgets", default="0,80,120,160,240", help="budget, prompt: prompt token budgets to compare "
                   "(budget's 0: the earlier per-passage cut, the before)")
    p.add_argument("--sample", type=int, default=10, help="budget, typing, ceiling: questions per suite set (0: all)")
    p.add_argument("--sets", default="all", help="budget, typing, prompt, ceiling: suite sets (dev, dev_en, crud, rgb)")
    p.add_argument("--backends", default="llamacpp", help="answer: comma-separated, e.g. llamacpp,transformers")
    p.add_argument("--questions", type=int, default=0, help="answer, draft: first N (answerable) dev questions (0: all)")
    p.add_argument("--shared", default="../shared", help="folder with eval/dev.jsonl and peer/ (default ../shared)")
    p.add_argument("--synthetic", type=int, default=100_000, help="chunks in the synthetic latency corpus (0: skip)")
    p.add_argument("--work", default="bench/.work", help="keeps the archive index between runs")
    p.add_argument("--out", help="default bench/answer.json or bench/retrieval.json")
    p.add_argument("--parts", default="seeds,peer,synthetic", help="comma-separated: seeds, peer, synthetic")
    p.add_argument("--port", type=int, default=7869, help="answer: port for timing `rag serve` start-up (0: skip)")
    p.add_argument("--followups", default="bench/followups.jsonl", help="follow-up questions for the seeds part")
    p.add_argument("--sessions", type=int, default=4, help="soak: sessions using the page at once")
    p.add_argument("--seconds", type=float, default=300.0, help="soak: how long they keep starting questions")
    p.add_argument("--hang", type=float, default=600.0, help="soak: seconds after which a question counts as hung")
    p.add_argument("--against", default="", help="reader: a whole-suite run's per-question outcomes "
                   "(default: the newest bench/suite-*.jsonl)")
    p.add_argument("--cross", default="", help="reader: the folder of a cross-encoder reader to measure instead")
    p.add_argument("--weights", default="", help="reader, prompt: feature-reader weights to measure instead of the "
                   "shipped ones (`rag reader train --out`)")
    p.add_argument("--train", default="../shared/train", help="confirm, prompt: the training folder (default ../shared/train)")
    p.add_argument("--per-kind", type=int, default=60, help="confirm: answerable and unanswerable questions of the "
                   "choosing split, each")
    p.add_argument("--reuse", action="store_true", help="confirm: choose again from the answers an earlier run saved")
    p.add_argument("--product-only", action="store_true", help="ceiling: ask the product's prompt only, not the "
                   "answer's sentences")
    p.add_argument("--stores", default="local,milvus", help="store: comma-separated backends to measure")
    p.add_argument("--milvus-uri", default="", help="store: a Milvus server to measure (default: Milvus Lite in a temp folder)")
    p.set_defaults(func=cmd_bench)


__all__ = ["add_bench_parser", "cmd_bench"]
