"""The Milvus store: chunk text, its vector and a BM25 function field in one collection, searched server-side.

`MilvusClient(uri)` serves both shapes: a local path is Milvus Lite (embedded, nothing to start), an
`http://host:19530` URI is Milvus Standalone or Distributed. The collection is keyed by chunk id (a content
hash), so it is content-addressed: a build inserts only the chunks it does not hold yet, in batches as they
are embedded, and a build that was killed resumes where it stopped. The index folder's `chunks.jsonl`
says which chunks are live; ids the collection holds beyond those (a build in progress) are ignored by
search, and deleted once the new version is live.
"""
from __future__ import annotations

import atexit
import hashlib
import logging
import re
import threading
from pathlib import Path

import numpy as np

from rag.errors import IndexMismatchError, MissingPackageError, RagError
from rag.sockets import private_socket, restrict
from rag.types import Chunk

log = logging.getLogger("rag")
# The analyzer drops punctuation, as rag.tokens does for the local BM25: kept, "，" and "？" would be terms
# of every chunk and every question, and count in each chunk's length.
PUNCTUATION = list("，。、；：？！“”‘’（）《》【】〈〉「」『』…—–－·・,.;:?!\"'()[]{}<>/\\|-_+=*&^%$#@~`")
ANALYZER = {"tokenizer": {"type": "jieba", "mode": "search"}, "filter": ["lowercase", {"type": "stop", "stop_words": PUNCTUATION}]}
BM25 = {"bm25_k1": 1.5, "bm25_b": 0.75}  # bm25s's (Lucene's) values, which Milvus Lite uses; a Milvus server's k1 is 1.2
TEXT_LIMIT = 20_000  # characters of a chunk given to the BM25 analyzer (the VARCHAR field holds 65,535 bytes)
BATCH = 1000  # ids per get/delete call
_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def collection_name(embedder_name: str, root: str | Path) -> str:
    """One collection per embedding model and index folder: two corpora on one server never mix."""
    slug = re.sub(r"[^0-9a-zA-Z]+", "_", Path(embedder_name).name).strip("_")[:40] or "model"
    where = hashlib.sha256(str(Path(root).resolve()).encode("utf-8")).hexdigest()[:10]
    return f"rag_{slug}_{where}"


def is_local(uri: str) -> bool:
    return not re.match(r"^(https?|tcp|unix):", uri)


def client_for(uri: str, token: str = ""):
    """One client per URI in this process. A local path gets Milvus Lite served on a Unix socket in a
    private folder: pymilvus would serve it on a TCP port of 127.0.0.1, open to every local user."""
    with _clients_lock:
        if uri not in _clients:
            try:
                from pymilvus import MilvusClient
            except ImportError:
                raise MissingPackageError('pymilvus[milvus-lite]', "the Milvus store (pip install '.[milvus]')") from None
            try:
                _clients[uri] = MilvusClient(uri=_lite_socket(uri) if is_local(uri) else uri, token=token)
            except RagError:
                raise
            except Exception as exc:
                raise RagError(f"Milvus at {uri} cannot be reached: {exc}") from None
        return _clients[uri]


def _lite_socket(path: str) -> str:
    try:
        import grpc
        from milvus_lite.adapter.grpc.servicer import MilvusServicer
        from milvus_lite.db import MilvusLite
        from pymilvus.grpc_gen import milvus_pb2_grpc
    except ImportError:
        raise MissingPackageError('milvus-lite[chinese]', "a local Milvus Lite store (pip install '.[milvus]')") from None
    from concurrent import futures

    # Milvus Lite leaves some calls of the protocol unimplemented (AllocTimestamp, which pymilvus's query
    # iterator asks for and then does without); grpc would print each such refusal as a traceback.
    logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
    logging.getLogger("pymilvus.client.iterator.query_iterator").addFilter(lambda r: "mvccTs" not in r.getMessage())
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    try:
        db = MilvusLite(str(Path(path).resolve()))
    except Exception as exc:  # another process holds the folder's lock, or it is not a Milvus Lite folder
        raise RagError(f"Milvus Lite could not open {path}: {exc}. One process at a time can open a Milvus Lite "
                       "folder: stop the other one (a running rag serve?), or use a Milvus server "
                       "(store = milvus:http://host:19530).") from None
    sock = private_socket("rag-milvus-", "milvus.sock")
    limit = 256 * 1024 * 1024
    # pymilvus pings every 10 s while a call is open (a long write); grpc's default server answers pings that
    # come that often with GOAWAY "too_many_pings", which drops the connection under the call.
    options = [("grpc.max_receive_message_length", limit), ("grpc.max_send_message_length", limit),
               ("grpc.keepalive_permit_without_calls", 1), ("grpc.http2.min_ping_interval_without_data_ms", 1000),
               ("grpc.http2.max_ping_strikes", 0)]
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8), options=options)
    milvus_pb2_grpc.add_MilvusServiceServicer_to_server(MilvusServicer(db), server)
    server.add_insecure_port(f"unix:{sock}")
    server.start()
    restrict(sock)

    def close() -> None:  # runs before the socket's folder is removed (atexit runs the last registered first)
        server.stop(grace=1)
        db.close()

    atexit.register(close)
    return f"unix:{sock}"


class MilvusStore:
    """Dense and BM25 search in one Milvus collection; candidates come back as positions in the chunk list."""

    kind = "milvus"

    def __init__(self, client, collection: str, chunks: list[Chunk]) -> None:
        self.client, self.collection = client, collection
        self.position = {c.id: i for i, c in enumerate(chunks)}

    @classmethod
    def load(cls, manifest: dict, chunks: list[Chunk], token: str = "") -> MilvusStore:
        info = manifest["store"]
        client = client_for(info["uri"], token)
        if client.has_collection(info["collection"]):
            client.load_collection(info["collection"])  # another process built it: not in memory here yet
        elif chunks:
            raise IndexMismatchError(f"Milvus at {info['uri']} has no collection {info['collection']}: "
                                     "run  rag index --rebuild")
        return cls(client, info["collection"], chunks)

    def _hits(self, result, n: int) -> tuple[np.ndarray, np.ndarray]:
        pairs = [(self.position[h["id"]], float(h["distance"])) for h in (result[0] if result else [])
                 if h["id"] in self.position][:n]
        return np.array([p for p, _ in pairs], dtype=int), np.array([s for _, s in pairs])

    def dense_search(self, vector: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
        if not self.position:
            return self._hits([], n)
        result = self.client.search(self.collection, data=[vector.astype(np.float32).tolist()], anns_field="dense",
                                    limit=n + 10, output_fields=["id"], search_params={"metric_type": "COSINE"})
        return self._hits(result, n)

    def lexical_search(self, query: str, n: int) -> tuple[np.ndarray, np.ndarray]:
        if not query.strip() or not self.position:
            return self._hits([], n)
        result = self.client.search(self.collection, data=[query], anns_field="sparse", limit=n + 10,
                                    output_fields=["id"], search_params={"metric_type": "BM25"})
        ids, scores = self._hits(result, n)
        return ids, np.abs(scores)  # Milvus Lite gives BM25 scores negated (a distance); a server does not


class MilvusWriter:
    """Builds the Milvus store: writes each embedded batch as it comes (so a killed build resumes), then
    deletes the chunks the new version no longer has."""

    def __init__(self, uri: str, collection: str, token: str = "", rebuild: bool = False, dim: int = 0) -> None:
        self.uri, self.collection = uri, collection
        self.client = client_for(uri, token)
        if self.client.has_collection(collection) and (rebuild or (dim and self._dim() != dim)):
            self.client.drop_collection(collection)  # vectors of another size cannot be searched with these
        self._checked = False  # whether the collection exists with the right dimension (checked at the first batch)

    def _dim(self) -> int:
        fields = self.client.describe_collection(self.collection)["fields"]
        return int(next(f["params"]["dim"] for f in fields if f["name"] == "dense"))

    def add(self, chunks: list[Chunk], vectors: np.ndarray) -> None:
        if not self._checked:
            if not self.client.has_collection(self.collection):
                self._create(int(vectors.shape[1]))
            elif self._dim() != vectors.shape[1]:  # the model's size was not known when the build began
                raise IndexMismatchError(f"Milvus collection {self.collection} holds vectors of dimension "
                                         f"{self._dim()}, the embedder gives {vectors.shape[1]}: run  rag index --rebuild")
            self._checked = True
        rows = [{"id": c.id, "text": c.embedding_text()[:TEXT_LIMIT], "dense": v.astype(np.float32).tolist()}
                for c, v in zip(chunks, vectors)]
        self.client.upsert(self.collection, rows)

    def reusable(self, chunks: list[Chunk], old: object | None) -> set[str]:
        if not self.client.has_collection(self.collection):
            return set()
        self.client.load_collection(self.collection)
        ids = [c.id for c in chunks]
        held: set[str] = set()
        for s in range(0, len(ids), BATCH):
            held.update(row["id"] for row in self.client.get(self.collection, ids=ids[s:s + BATCH],
                                                              output_fields=["id"]))
        return held

    def _create(self, dim: int) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        schema = MilvusClient.create_schema(auto_id=False, description=f"rag chunks, dim {dim}")
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=64)
        schema.add_field("text", DataType.VARCHAR, max_length=65_535, enable_analyzer=True, analyzer_params=ANALYZER)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=["text"],
                                     output_field_names=["sparse"]))
        params = self.client.prepare_index_params()
        params.add_index("dense", index_type="AUTOINDEX", metric_type="COSINE")
        params.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25", params=BM25)
        self.client.create_collection(self.collection, schema=schema, index_params=params)

    def finish(self, staging: Path, chunks: list[Chunk], dim: int) -> dict:
        if chunks and not self.client.has_collection(self.collection):
            raise IndexMismatchError(f"Milvus at {self.uri} lost collection {self.collection}: "
                                     "run  rag index --rebuild")
        if self.client.has_collection(self.collection):
            self.client.flush(self.collection)
        return {"store": {"kind": "milvus", "uri": self.uri, "collection": self.collection},
                "dense_index": {"type": "milvus AUTOINDEX", "metric": "COSINE"},
                "lexical": "milvus BM25 function over a jieba analyzer"}

    def prune(self, chunks: list[Chunk]) -> None:
        if not self.client.has_collection(self.collection):
            return
        live = {c.id for c in chunks}
        stale: list[str] = []
        iterator = self.client.query_iterator(self.collection, batch_size=BATCH, filter="", output_fields=["id"])
        while rows := iterator.next():
            stale.extend(r["id"] for r in rows if r["id"] not in live)
        iterator.close()
        for s in range(0, len(stale), BATCH):
            self.client.delete(self.collection, ids=stale[s:s + BATCH])
        if stale:
            log.info("removed %d chunks of earlier versions from %s", len(stale), self.collection)
