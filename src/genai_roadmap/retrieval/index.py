"""A retrieval index on disk: passages + BM25 + dense vectors (FAISS flat), built once, opened by later runs.

    roadmap index build DOCS/ [--out INDEX] [--encoder NAME] [--no-dense]
    index = open_index(INDEX); index.retriever("hybrid").retrieve("question", k=5)

Layout of INDEX/: passages.jsonl, bm25.json + bm25_weights.npz, dense.faiss (when dense), and manifest.json,
which is written LAST and atomically and lists every file with its size. A folder without a manifest, or whose
files do not match it, is a half-built index (a build killed midway): `open_index` refuses it with one message
and `build_index` / `ensure_index` rebuild it — it is never used. A build first removes any old manifest, so a
rebuild that dies leaves a folder that is recognisably incomplete, not a stale index that looks valid.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from .. import io
from ..errors import UserError
from .bm25 import BM25
from .corpus import Corpus

FORMAT = 1
MANIFEST = "manifest.json"
INDEX_FILES = ("passages.jsonl", "bm25.json", "bm25_weights.npz", "dense.faiss")
DEFAULT_FOLDER_INDEX = ".roadmap_index"  # inside the documents folder; hidden, so it is never indexed itself


def default_index_path(docs: str | Path) -> Path:
    return Path(docs).expanduser() / DEFAULT_FOLDER_INDEX


def index_state(path: Path) -> str:
    """"missing", "complete" or "incomplete" (no manifest, or files that do not match it)."""
    path = Path(path)
    if not path.exists():
        return "missing"
    try:
        manifest = json.loads((path / MANIFEST).read_text())
        ok = manifest.get("format") == FORMAT and all(
            (path / name).is_file() and (path / name).stat().st_size == size
            for name, size in manifest["files"].items())
    except (OSError, ValueError, KeyError, AttributeError):
        return "incomplete"
    return "complete" if ok else "incomplete"


def _clear(path: Path) -> None:
    """Empty an old index folder before a build; refuse to touch a folder that is not one."""
    if not path.exists():
        return
    if not path.is_dir():
        raise UserError(f"{path} exists and is not an index folder")
    foreign = [p.name for p in path.iterdir() if p.name not in (*INDEX_FILES, MANIFEST) and not p.name.startswith(".")]
    if foreign:
        raise UserError(f"{path} is not an index folder (it holds {', '.join(sorted(foreign)[:3])}); "
                        "choose another --out")
    (path / MANIFEST).unlink(missing_ok=True)  # from here on the folder reads as incomplete until the end
    for name in INDEX_FILES:
        (path / name).unlink(missing_ok=True)


def build_index(corpus: Corpus, out: str | Path, encoder: str | None = "sentence-transformers/all-MiniLM-L6-v2",
                k1: float = 1.5, b: float = 0.75, progress: bool = True, say=print) -> dict:
    """Write the index of `corpus` to `out` (manifest last); returns the manifest."""
    from .dense import load_encoder, passage_embeddings
    from .stores import FaissStore

    out = Path(out).expanduser()
    _clear(out)
    out.mkdir(parents=True, exist_ok=True)
    times = {}
    start = time.perf_counter()
    io.write_with(out / "passages.jsonl", corpus.write_jsonl)
    bm25 = BM25(k1, b)
    bm25.analyzer("warm up")  # the first call imports nltk and scikit-learn: keep that out of the timing
    start_bm25 = time.perf_counter()
    bm25.fit(corpus.texts).save(out)
    times["bm25_index_s"] = round(time.perf_counter() - start_bm25, 2)
    dense = None
    if encoder:
        enc = load_encoder(encoder)
        start_embed = time.perf_counter()
        vectors, info = passage_embeddings(enc, corpus, progress=progress, say=say)
        times["embed_s"] = round(time.perf_counter() - start_embed, 2)
        store = FaissStore(enc.dim, "flat")
        store.add(vectors)
        store.save(out / "dense.faiss")
        dense = {"encoder": encoder, "dim": enc.dim, "cache_hit": info.get("cache_hit")}
    times["total_s"] = round(time.perf_counter() - start, 2)
    files = {name: (out / name).stat().st_size for name in INDEX_FILES if (out / name).is_file()}
    manifest = {"format": FORMAT, "corpus": corpus.name, "corpus_fingerprint": corpus.fingerprint(),
                "passages": len(corpus), "notes": corpus.notes, "bm25": {"k1": k1, "b": b}, "dense": dense,
                "files": files, "times": times, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    io.write_json(out / MANIFEST, manifest)  # last: its presence means every file above is complete
    return manifest


@dataclass
class Index:
    path: Path
    manifest: dict
    corpus: Corpus
    bm25: BM25

    def retriever(self, kind: str = "hybrid"):
        """"bm25", "dense" or "hybrid" (RRF) over this index."""
        from .dense import load_encoder
        from .hybrid import HybridRetriever
        from .retrievers import BM25Retriever, DenseRetriever
        from .stores import FaissStore

        if kind not in ("bm25", "dense", "hybrid"):
            raise UserError(f"retriever must be bm25, dense or hybrid, not {kind!r}")
        sparse = BM25Retriever(self.corpus, self.bm25)
        if kind == "bm25":
            return sparse
        if not self.manifest.get("dense"):
            raise UserError(f"the index at {self.path} has no dense vectors (built with --no-dense); "
                            "use the bm25 retriever or rebuild it")
        dense = DenseRetriever(self.corpus, load_encoder(self.manifest["dense"]["encoder"]),
                               FaissStore.load(self.path / "dense.faiss"))
        return dense if kind == "dense" else HybridRetriever(sparse, dense, "rrf")


def open_index(path: str | Path) -> Index:
    path = Path(path).expanduser()
    state = index_state(path)
    if state == "missing":
        raise UserError(f"no index at {path}: build one with `roadmap index build DOCS_FOLDER --out {path}`")
    if state == "incomplete":
        raise UserError(f"the index at {path} is incomplete (its build was interrupted or its files changed): "
                        f"rebuild it with `roadmap index build DOCS_FOLDER --out {path}`")
    manifest = json.loads((path / MANIFEST).read_text())
    corpus = Corpus.read_jsonl(path / "passages.jsonl", manifest.get("corpus", "corpus"))
    corpus.notes = manifest.get("notes", {})
    return Index(path, manifest, corpus, BM25.load(path))


def ensure_index(corpus_fn, out: str | Path, encoder: str | None = "sentence-transformers/all-MiniLM-L6-v2",
                 say=print, **kwargs) -> tuple[Index, bool]:
    """Open the index at `out` if it is complete and built with this encoder, else (re)build it from
    corpus_fn(); returns (index, rebuilt)."""
    out = Path(out).expanduser()
    state = index_state(out)
    if state == "complete":
        index = open_index(out)
        if (index.manifest.get("dense") or {}).get("encoder") == encoder or (encoder is None):
            return index, False
    elif state == "incomplete":
        say(f"{out} is a half-built index (no valid manifest): rebuilding it")
    build_index(corpus_fn(), out, encoder, say=say, **kwargs)
    return open_index(out), True


def remove_index(path: str | Path) -> None:
    path = Path(path)
    if index_state(path) != "missing":
        _clear(path)
        shutil.rmtree(path, ignore_errors=True)
