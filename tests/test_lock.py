"""requirements.lock is what a fresh install resolves: it must agree with pyproject.toml and hash every pin."""
from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT / "requirements.lock"
PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)")


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _locked() -> dict[str, str]:
    return {_norm(m.group(1)): m.group(2) for line in LOCK.read_text(encoding="utf-8").splitlines()
            if (m := PIN.match(line))}


def _declared() -> dict[str, str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    specs = list(project["dependencies"])
    for extra in project["optional-dependencies"].values():
        specs += extra
    pins = {}
    for spec in specs:
        if m := re.match(r"^([A-Za-z0-9_.-]+)(?:\[[^]]*])?==([^;\s]+)", spec):
            pins[_norm(m.group(1))] = m.group(2)
    return pins


def test_every_pin_of_pyproject_is_locked_at_its_version() -> None:
    locked = _locked()
    for name, version in _declared().items():
        assert name in locked, f"{name} is pinned in pyproject.toml but not in requirements.lock: run `make lock`"
        assert locked[name].split("+")[0] == version, \
            f"{name}: pyproject.toml pins {version}, requirements.lock {locked[name]}: run `make lock`"


def test_every_locked_package_carries_a_hash_and_nothing_is_a_bare_reference() -> None:
    text = LOCK.read_text(encoding="utf-8")
    entries = re.split(r"\n(?=[A-Za-z0-9_.-]+==)", text.split("\n", 1)[1])
    pinned = [e for e in entries if PIN.match(e)]
    assert len(pinned) > 50
    for entry in pinned:
        assert "--hash=sha256:" in entry, entry.splitlines()[0]
    assert not re.search(r"^\S+ @ ", text, re.M), "a direct reference cannot be hash-checked"


def test_the_cpu_build_of_torch_is_locked() -> None:
    assert _locked()["torch"].endswith("+cpu"), "a CUDA build of torch would be downloaded (several GB)"


@pytest.mark.parametrize("name", ["openai", "httpx2", "gradio", "sentence-transformers", "xllamacpp"])
def test_what_is_installed_is_what_is_locked(name: str) -> None:
    """The venv the tests run in was installed from the lock (`make install`), so the tests test the lock."""
    try:
        installed = metadata.version(name)
    except metadata.PackageNotFoundError:
        pytest.skip(f"{name} is not installed here")
    assert installed == _locked()[_norm(name)]
