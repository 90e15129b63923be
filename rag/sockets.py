"""Private Unix sockets for the servers the app runs inside its own process (llama.cpp's core, Milvus Lite):
reachable by this user only, never a TCP port."""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path


def private_socket(prefix: str, name: str) -> Path:
    """A socket path in a new folder only this user can enter, removed when the process ends. Socket paths
    are limited to about 100 bytes, so the folder is in the temp folder rather than under a deep data folder."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    os.chmod(folder, 0o700)
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return folder / name


def restrict(path: str | Path) -> None:
    """Mode 600 for a socket the server has created (the folder already keeps others out)."""
    if os.path.exists(path):
        os.chmod(path, 0o600)
