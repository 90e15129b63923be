"""Refresh requirements.lock, the whole dependency set with hashes, from pyproject.toml: `make lock`.

pip-compile (pip-tools) resolves every extra and the build backend, with this machine's pip settings (so
torch is the CPU wheel that lies on disk). The project's own test extra names the project itself
(`rag[milvus,openai]`), which pip-compile writes as a `rag @ file://…` line without a hash: that entry is
dropped here, since `make install` installs the project itself separately, without dependencies.
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

LOCK = Path(__file__).resolve().parent.parent / "requirements.lock"
COMMAND = ["pip-compile", "--quiet", "--generate-hashes", "--allow-unsafe", "--all-extras", "--strip-extras",
           "--build-deps-for", "editable", "--no-emit-index-url", "--no-emit-find-links",
           "--output-file", LOCK.name, "pyproject.toml"]


def without_self(text: str) -> str:
    """The lock less the project's own entry, its comments and pip-compile's warning about it."""
    kept, skipping = [], False
    for line in text.splitlines():
        if line.startswith("rag @ ") or line.startswith("# WARNING: pip install will require"):
            skipping = True
            continue
        if skipping and (line.startswith("    #") or line.startswith("# Consider using a hashable URL")):
            continue
        skipping = False
        kept.append(line)
    return "\n".join(kept) + "\n"


def main() -> int:
    bin_dir = Path(sys.executable).parent
    done = subprocess.run([str(bin_dir / COMMAND[0]), *COMMAND[1:]], cwd=LOCK.parent)
    if done.returncode:
        return done.returncode
    text = without_self(LOCK.read_text(encoding="utf-8"))
    if re.search(r"^\S+ @ ", text, re.M):
        print("requirements.lock holds a direct reference without a hash; see the lines with ' @ '")
        return 1
    LOCK.write_text(text, encoding="utf-8")
    print(f"{LOCK.name}: {len(re.findall(r'^[A-Za-z0-9_.-]+==', text, re.M))} packages pinned with hashes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
