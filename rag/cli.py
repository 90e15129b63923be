"""The `rag` command: a thin layer over the same pipeline the UI uses."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

from rag.bench.cli import add_bench_parser
from rag.cli_common import _Bar, _log, _settings
from rag.errors import InputError, RagError
from rag.reader.cli import add_reader_parser


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
        rows, sep = suite.confirm_report(Path(args.suite), Path(args.work), _settings(args), thresholds, sets,
                                         label=args.rescore)
        print(suite.ablation_table(rows))
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
    add_bench_parser(sub)
    add_reader_parser(sub)
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
