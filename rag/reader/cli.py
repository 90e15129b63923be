"""`rag reader train`: its options, kept apart from the training code so that every `rag` command does not load
it (numpy, the features, the question analysis) to start."""
from __future__ import annotations

from pathlib import Path

CROSS_OUT = Path("bench/.work/reader-cross")  # a cross-encoder's weights: measured, not shipped


def cmd_reader(args) -> int:
    """Fit the reader on the training folder and write its weights and their sha256."""
    from rag.errors import InputError

    train_dir = Path(args.train)
    if not (train_dir / "crud_train_qa.jsonl").is_file():
        raise InputError(f"{train_dir} holds no crud_train_qa.jsonl: give the training folder with --train")
    if args.kind == "cross":  # m3e-small fine-tuned as a cross-encoder: a folder of weights
        from rag.cli_common import _settings
        from rag.models import resolve
        from rag.reader.cross import train_cross

        base = resolve("m3e-small", "embedder", _settings(args).cache_path)
        out = Path(args.out) if args.out else CROSS_OUT
        train_cross(train_dir, out, base, epochs=args.epochs)
        print(f"saved {out}")
        return 0
    from rag.reader.model import WEIGHTS
    from rag.reader.train import train

    out = Path(args.out) if args.out else WEIGHTS
    similarity = None
    if args.similarity:  # the dense features too: the named embedder's cosine of question and sentence
        from rag.cli_common import _settings
        from rag.embed import Similarity
        from rag.factory import embedder_for

        settings = _settings(args).replace(embedder=args.similarity, embed_url="", embed_batch=32)
        similarity = Similarity(embedder_for(settings), size=1_000_000)  # every training sentence, once
    train(train_dir, out, similarity=similarity, embedder=args.similarity)
    print(f"saved {out} and {out.with_suffix('.sha256').name}")
    return 0


def add_reader_parser(sub) -> None:
    p = sub.add_parser("reader", help="the trained reader: `rag reader train` makes its weights from ../shared/train")
    p.add_argument("action", choices=["train"])
    p.add_argument("--train", default="../shared/train", help="the training folder (default ../shared/train)")
    p.add_argument("--out", default="", help=f"where the weights go (default: the ones the product loads; cross: "
                                            f"{CROSS_OUT})")
    p.add_argument("--kind", choices=["features", "cross"], default="features",
                   help="features: the logistic regression the product ships (seconds); cross: m3e-small fine-tuned "
                        "as a cross-encoder (about 25 minutes on two cores), measured with `rag bench reader --cross`")
    p.add_argument("--similarity", default="", choices=["", "m3e-small", "embeddinggemma-300m"],
                   help="features: read each sentence's meaning too, by this packaged embedder's cosine with the "
                        "question (the product then loads it for the reader)")
    p.add_argument("--epochs", type=int, default=1, help="cross: passes over the training pairs")
    p.set_defaults(func=cmd_reader)


__all__ = ["add_reader_parser", "cmd_reader"]
