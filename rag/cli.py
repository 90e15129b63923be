"""The `rag` command: a thin layer over the same pipeline the UI uses."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from rag.errors import InputError, RagError
from rag.settings import Settings, load_settings


class _Bar:
    """Progress on stderr through tqdm, one bar per stage ("stage · details": the details may change).

    On a terminal the bar redraws in place; into a file or pipe tqdm would write a line per redraw, so
    there each stage gets one line when it is done instead.
    """

    def __init__(self) -> None:
        self._bars: dict[str, object] = {}
        self._tty = sys.stderr.isatty()

    def __call__(self, message: str, done: int, total: int) -> None:
        from tqdm import tqdm

        stage, _, details = message.partition(" · ")
        if not self._tty:
            if done >= total:
                print(f"{stage}: {done}/{total} {details}".rstrip(), file=sys.stderr, flush=True)
            return
        bar = self._bars.get(stage)
        if bar is None:
            bar = self._bars[stage] = tqdm(total=total, desc=stage[:32], file=sys.stderr, leave=True,
                                           dynamic_ncols=True)
        bar.total = total
        bar.n = done
        bar.set_postfix_str(details[:60], refresh=False)
        bar.refresh()
        if done >= total:
            bar.close()
            del self._bars[stage]


def _log(line: str) -> None:
    """A benchmark's progress line, on stderr so that stdout keeps only the results."""
    print(line, file=sys.stderr, flush=True)


def _settings(args: argparse.Namespace) -> Settings:
    settings = load_settings(getattr(args, "settings", None))
    changes = {k: v for k, v in {
        "seeds_dir": getattr(args, "seeds", None),
        "index_dir": getattr(args, "out", None) if args.command == "index" else None,
        "backend": getattr(args, "backend", None), "top_k": getattr(args, "top_k", None),
        "verbose": True if getattr(args, "verbose", False) else None,
    }.items() if v is not None}
    if getattr(args, "without", ""):
        from rag.steps import steps_of

        off = steps_of(args.without)
        changes["steps"] = ",".join(s for s in settings.steps.split(",") if s.strip() not in off)
    return settings.replace(**changes) if changes else settings


def cmd_models(args: argparse.Namespace) -> int:
    from rag.models import CATALOGUE, installed_path, provision

    settings = _settings(args)
    cache = settings.cache_path
    if args.list:
        for name, spec in CATALOGUE.items():
            where = installed_path(spec, cache)
            print(f"{name:28} {spec.role:9} {spec.size_note:28} {'ready: ' + str(where) if where else 'not provisioned'}")
        return 0
    # What comes from a server (embed_url, llm_url) needs nothing provisioned here.
    wanted = ([] if settings.embed_url else [settings.embedder]) + (
        [settings.llm] if settings.backend != "extractive" and not settings.llm_url else [])
    for name in wanted:
        if Path(name).expanduser().exists():
            print(f"{name}: local path, nothing to provision")
            continue
        if name not in CATALOGUE:
            raise RagError(f"unknown model '{name}'; known: {', '.join(CATALOGUE)}")
        print(f"{name}: ready at {provision(CATALOGUE[name], cache, _Bar())}")
    return 0


def cmd_index(args: argparse.Namespace) -> int:
    from rag.index import build_index
    from rag.pipeline import Pipeline

    settings = _settings(args).replace(backend="extractive")
    pipe = Pipeline.from_settings(settings, _Bar())
    report = build_index(settings.seeds_dir, settings.index_dir, pipe.embedder, settings.chunk_chars,
                         settings.chunk_overlap_sentences, rebuild=args.rebuild, progress=_Bar(),
                         ann_threshold=settings.ann_threshold, store=settings.store,
                         store_token=settings.milvus_token)
    print(report.summary())
    return 0


def _pipeline(args: argparse.Namespace):
    from rag.pipeline import pipeline_for

    return pipeline_for(_settings(args), _Bar())


def cmd_ask(args: argparse.Namespace) -> int:
    from rag.evaluate import answer_to_json
    from rag.warm import warm_up

    pipe = _pipeline(args)
    # the models are loaded before the question is timed, so its first token is the question's own wait
    load = warm_up(pipe)
    if args.json:
        print(json.dumps(answer_to_json(pipe.ask(args.question)) | {"load": load}, ensure_ascii=False, indent=2))
        return 0
    _log(f"模型已加载 (models loaded): {load}")
    answer = None
    for event in pipe.stream(args.question):
        if event.kind == "token":
            print(event.text, end="", flush=True)
        elif event.kind == "answer":
            answer = event.answer
    print()
    print("\n最终回答：" + answer.text)
    if answer.notice:
        print("注意：" + answer.notice)
    for part in answer.missing:
        print("资料中没有找到这一问的答案：" + part)
    for claim in answer.unsupported:
        print("已删除（资料不支持）：" + claim)
    for c in answer.citations:
        print(f"  [{c.n}] 《{c.title}》 {c.source} {c.start}-{c.end}: {c.quote}")
    if answer.refused:
        print("最接近的资料：")
        for p in answer.passages:
            print(f"  [{p.rank}] 《{p.chunk.title}》 {p.chunk.text[:60]}…")
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    pipe = _pipeline(args)
    for p in pipe.retrieve(args.query, args.k):
        dense = "-" if p.dense_score is None else f"{p.dense_score:.3f}"
        lexical = "-" if p.lexical_score is None else f"{p.lexical_score:.2f}"
        print(f"[{p.rank}] fused={p.score:.4f} dense={dense} bm25={lexical} 《{p.chunk.title}》 ({p.chunk.source})")
        print("    " + p.chunk.text.replace("\n", " ")[:160])
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from rag.evaluate import evaluate, load_items

    if args.suite:
        return _eval_suite(args)
    if not args.file:
        raise InputError("give a question file, or --suite and the folder of question sets")
    items = load_items(args.file)
    pipe = _pipeline(args)

    def show(i: int, n: int, item: dict, answer) -> None:
        flag = "拒答" if answer.refused else "回答"
        print(f"[{i}/{n}] {item.get('id', '')} {flag} {answer.timings.get('total_ms', 0) / 1000:.1f}s  "
              f"{answer.text[:60]}", file=sys.stderr, flush=True)

    result = evaluate(items, pipe.ask, Path(args.out) if args.out else None, show,
                      search=lambda q: pipe.retrieve(q, 10))
    result["backend"] = pipe.generator.name if pipe.generator else "extractive"
    print(json.dumps(result, ensure_ascii=False, indent=2))
    return 0


def _eval_suite(args: argparse.Namespace) -> int:
    from rag import suite

    sets = suite.select(args.sets)
    out = Path(args.out or "bench/suite.json")
    if args.rescore and args.ablate:
        steps = [x.strip() for x in args.ablate.split(",") if x.strip()]
        print(suite.ablation_table(suite.ablate_suite(Path(args.suite), Path(args.work), _settings(args), steps,
                                                      sets, label=args.rescore)))
        return 0
    if args.rescore and args.confirm_curve:
        try:
            thresholds = [float(x) for x in args.confirm_curve.split(",") if x.strip()]
        except ValueError:
            raise InputError(f"--confirm-curve takes numbers between 0 and 1, comma-separated; got {args.confirm_curve!r}") from None
        print(suite.ablation_table(suite.confirm_curve(Path(args.suite), Path(args.work), _settings(args), thresholds,
                                                       sets, label=args.rescore)))
        sep = suite.confirm_separation(Path(args.suite), Path(args.work), _settings(args), sets, label=args.rescore)
        if sep["auc"] is not None:
            print(f"\nthe saved doubts of {sep['answers']} answers ({sep['wrong']} wrong): AUC {sep['auc']:.2f} "
                  "(the chance that a wrong answer is doubted more than a right one)")
        return 0
    if args.rescore:
        result = suite.rescore_suite(Path(args.suite), Path(args.work), sets, label=args.rescore,
                                     settings=_settings(args) if args.without or args.recheck else None)
        print(suite.table(result))
        return 0
    result = suite.run_suite(_settings(args), Path(args.suite), Path(args.work), sets, args.sample, _log, _Bar(),
                             label=out.stem)
    suite.save(result, out)
    print(suite.table(result))
    print(f"\n(figures saved to {out}; answers in {Path(args.work) / ('answers-' + out.stem)})")
    return 0


def cmd_articles(args: argparse.Namespace) -> int:
    pipe = _pipeline(args)
    for a in pipe.index.articles.values():
        print(f"{a.id}  {a.date or '-':8} {a.source:28} {a.title}")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    pipe = _pipeline(args)
    article = pipe.index.articles.get(args.article_id)
    if article is None:
        raise RagError(f"no article with id {args.article_id}; list them with  rag articles")
    head = [f"# {article.title}"] + [x for x in (article.subtitle, " ".join(article.authors), article.date,
                                                  article.section, article.continuation, article.source) if x]
    print("\n".join(head) + "\n\n" + article.text)
    return 0


def cmd_user(args: argparse.Namespace) -> int:
    import getpass

    from rag.auth import add_user, load_users, users_file

    settings = _settings(args)
    path = users_file(settings.data_dir, settings.auth_file)
    if args.action == "list":
        for name in load_users(path):
            print(name)
        return 0
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise RagError("the two passwords differ; nothing was changed")
    add_user(path, args.name, password)
    print(f"{args.name}: saved (hashed) in {path}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    import runpy

    app = Path(__file__).resolve().parent.parent / "app.py"
    if not app.is_file():
        raise RagError("app.py not found next to the rag package; run `rag serve` from the project folder")
    if args.port:
        os.environ["RAG_PORT"] = str(args.port)
    runpy.run_path(str(app), run_name="__main__")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    args.out = args.out or f"bench/{args.what}.json"
    if args.what == "answer":
        return _bench_answer(args)
    if args.what == "store":
        return _bench_store(args)
    if args.what == "budget":
        return _bench_budget(args)
    if args.what == "typing":
        return _bench_typing(args)
    if args.what == "draft":
        return _bench_draft(args)
    from rag import bench
    from rag.pipeline import Pipeline

    settings = _settings(args).replace(backend="extractive")
    pipe = Pipeline.from_settings(settings, _Bar())
    shared = Path(args.shared)
    result = bench.retrieval_bench(
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
    bench.save(result, out)
    print(bench.table(result))
    print(f"saved {args.out}")
    return 0


def _bench_store(args: argparse.Namespace) -> int:
    from rag import bench
    from rag.bench_store import store_bench, store_table

    shared = Path(args.shared)
    result = store_bench(shared / "peer" / "crud_news_1k.jsonl", shared / "peer" / "crud_qa_dev.jsonl",
                         args.synthetic, tuple(args.stores.split(",")), args.milvus_uri, log=_log)
    bench.save(result, Path(args.out))
    print(store_table(result))
    print(f"saved {args.out}")
    return 0


def _bench_budget(args: argparse.Namespace) -> int:
    from rag import bench, suite
    from rag.bench_budget import budget_bench, budget_table

    budgets = [int(b) for b in args.budgets.split(",") if b.strip()]
    result = budget_bench(_settings(args), Path(args.shared) / "eval", Path(args.work) / "suite",
                          budgets, suite.select(args.sets), args.sample, _log, _Bar())
    bench.save(result, Path(args.out))
    print(budget_table(result))
    print(f"saved {args.out}")
    return 0


def _bench_draft(args: argparse.Namespace) -> int:
    from rag import bench, bench_answer
    from rag.bench_draft import draft_bench, draft_table
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
    bench.save(result, Path(args.out))
    print(draft_table(result))
    print(f"saved {args.out}")
    return 0


def _bench_typing(args: argparse.Namespace) -> int:
    from rag import bench, suite
    from rag.bench_typing import Config, typing_bench, typing_table
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
    bench.save(result, Path(args.out))
    for name, rows in result.items():
        print(f"\n{name}\n{typing_table(rows)}")
    print(f"saved {args.out}")
    return 0


def _bench_answer(args: argparse.Namespace) -> int:
    import tempfile
    import time

    from rag import bench, bench_answer
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
    bench.save(result, Path(args.out))
    print(bench_answer.answer_table(result))
    print(f"saved {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rag", description="Offline Chinese question answering over news pages.")
    parser.add_argument("--settings", help="TOML settings file (default: $RAG_SETTINGS or ./rag.toml)")
    parser.add_argument("--verbose", action="store_true", help="show llama.cpp's own log and info messages")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("models", help="provision the embedding model and the LLM into the cache")
    p.add_argument("--list", action="store_true", help="list known models and where they are")
    p.set_defaults(func=cmd_models)
    p = sub.add_parser("index", help="build or update the index from the seeds folder")
    p.add_argument("--seeds"), p.add_argument("--out"), p.add_argument("--rebuild", action="store_true")
    p.set_defaults(func=cmd_index)
    p = sub.add_parser("ask", help="answer one question")
    p.add_argument("question"), p.add_argument("--json", action="store_true")
    p.add_argument("--backend", choices=["llamacpp", "transformers", "extractive"])
    p.add_argument("--top-k", type=int, dest="top_k")
    p.set_defaults(func=cmd_ask)
    p = sub.add_parser("search", help="show the ranked passages for a query with their scores")
    p.add_argument("query"), p.add_argument("-k", type=int, default=8)
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("eval", help="run a question file and print accuracy, refusals, recall and latency")
    p.add_argument("file", nargs="?", help="a question file (.jsonl)")
    p.add_argument("--out", help="answers (one file), or the suite's figures (default bench/suite.json)")
    p.add_argument("--backend", choices=["llamacpp", "transformers", "extractive"])
    p.add_argument("--suite", help="a folder of question sets (e.g. ../shared/eval): every set, one table")
    p.add_argument("--sets", default="all", help="suite: comma-separated sets to run (dev, dev_en, crud, rgb)")
    p.add_argument("--sample", type=int, default=0, help="suite: N questions per set, spread evenly (0: all)")
    p.add_argument("--work", default="bench/.work/suite", help="suite: keeps each corpus's index and the answers")
    p.add_argument("--rescore", metavar="LABEL", help="suite: score the answers saved by the run whose --out was "
                                                        "LABEL.json again, loading no model")
    p.add_argument("--without", default="", help="suite: answer steps to switch off, comma-separated (an ablation)")
    p.add_argument("--ablate", default="", help="with --rescore: checking steps, comma-separated, each switched the "
                                                 "other way on the saved answers: how many answers each changes")
    p.add_argument("--confirm-curve", default="", metavar="T,T,…", help="with --rescore: the saved answers refused "
                   "by the confirm step above each threshold, against the step off (a run that saved its doubts)")
    p.add_argument("--recheck", action="store_true", help="with --rescore: check what the model said again with "
                                                          "the answer steps on now (less --without)")
    p.set_defaults(func=cmd_eval)
    sub.add_parser("articles", help="list the indexed articles").set_defaults(func=cmd_articles)
    p = sub.add_parser("show", help="print one article")
    p.add_argument("article_id"), p.set_defaults(func=cmd_show)
    p = sub.add_parser("bench", help="benchmarks that print figures: answer speed (default), retrieval or store")
    p.add_argument("what", nargs="?", default="answer", choices=["answer", "retrieval", "store", "budget", "typing", "draft"])
    p.add_argument("--drafts", default="ngram_simple:4:8,ngram_simple:3:4,ngram_map_k:4:8",
                   help="draft: speculative configurations KIND:MATCH:MAX to compare with plain decoding")
    p.add_argument("--budgets", default="0,80,120,160,240", help="budget: prompt token budgets to compare "
                   "(0: the earlier per-passage cut, the before)")
    p.add_argument("--sample", type=int, default=10, help="budget, typing: questions per suite set (0: all)")
    p.add_argument("--sets", default="all", help="budget, typing: suite sets (dev, dev_en, crud, rgb)")
    p.add_argument("--backends", default="llamacpp", help="answer: comma-separated, e.g. llamacpp,transformers")
    p.add_argument("--questions", type=int, default=0, help="answer, draft: first N (answerable) dev questions (0: all)")
    p.add_argument("--shared", default="../shared", help="folder with eval/dev.jsonl and peer/ (default ../shared)")
    p.add_argument("--synthetic", type=int, default=100_000, help="chunks in the synthetic latency corpus (0: skip)")
    p.add_argument("--work", default="bench/.work", help="keeps the archive index between runs")
    p.add_argument("--out", help="default bench/answer.json or bench/retrieval.json")
    p.add_argument("--parts", default="seeds,peer,synthetic", help="comma-separated: seeds, peer, synthetic")
    p.add_argument("--port", type=int, default=7869, help="answer: port for timing `rag serve` start-up (0: skip)")
    p.add_argument("--followups", default="bench/followups.jsonl", help="follow-up questions for the seeds part")
    p.add_argument("--stores", default="local,milvus", help="store: comma-separated backends to measure")
    p.add_argument("--milvus-uri", default="", help="store: a Milvus server to measure (default: Milvus Lite in a temp folder)")
    p.set_defaults(func=cmd_bench)
    p = sub.add_parser("user", help="logins for the chat page: add NAME (asks for the password) or list")
    p.add_argument("action", choices=["add", "list"])
    p.add_argument("name", nargs="?", default="")
    p.add_argument("--password-stdin", action="store_true", help="read the password from standard input")
    p.set_defaults(func=cmd_user)
    p = sub.add_parser("serve", help="start the chat page (same as python app.py)")
    p.add_argument("--port", type=int), p.set_defaults(func=cmd_serve)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return args.func(args)
    except RagError as exc:
        print(f"错误 / error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
