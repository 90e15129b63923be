"""Who may open the chat page: optional logins, stored only as salted PBKDF2 hashes.

Users come from the `RAG_USERS` environment variable ("name:hash,name:hash") and from the users file
(`auth_file`, default `data/users.txt`, one "name:hash" per line, written by `rag user add NAME`).
The page is open without a login only when it is bound to this machine (127.0.0.1 / localhost / ::1);
binding to any other address without users configured is refused.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Callable
from pathlib import Path

from rag.errors import ConfigError

SCHEME = "pbkdf2_sha256"
ITERATIONS = 200_000
_NAME = re.compile(r"^[\w.@-]{1,64}$")


def hash_password(password: str, salt: str | None = None, iterations: int = ITERATIONS) -> str:
    salt = salt or secrets.token_hex(16)
    digest = hashlib.pbkdf2_hmac("sha256", password.encode("utf-8"), bytes.fromhex(salt), iterations)
    return f"{SCHEME}${iterations}${salt}${digest.hex()}"


def verify_password(password: str, encoded: str) -> bool:
    try:
        scheme, iterations, salt, want = encoded.split("$")
        if scheme != SCHEME:
            return False
        got = hash_password(password, salt, int(iterations)).rsplit("$", 1)[1]
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got, want)


def is_local(host: str) -> bool:
    return host in {"localhost", "::1"} or host.startswith("127.")


def _parse(entries: list[str], where: str) -> dict[str, str]:
    users = {}
    for entry in entries:
        entry = entry.strip()
        if not entry or entry.startswith("#"):
            continue
        name, sep, encoded = entry.partition(":")
        if not sep or not _NAME.match(name) or not encoded.startswith(SCHEME + "$") or encoded.count("$") != 3:
            raise ConfigError(f"{where}: each entry must be name:{SCHEME}$…, as `rag user add NAME` writes it "
                              "(plain passwords are not accepted)")
        users[name] = encoded
    return users


def users_file(data_dir: str, auth_file: str = "") -> Path:
    return Path(auth_file) if auth_file else Path(data_dir) / "users.txt"


def load_users(path: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if env is None else env)
    users = _parse(env.get("RAG_USERS", "").split(","), "RAG_USERS")
    if path.is_file():
        users.update(_parse(path.read_text(encoding="utf-8").splitlines(), str(path)))
    return users


def add_user(path: Path, name: str, password: str) -> None:
    """Add or replace `name` in the users file, which only its owner may read."""
    if not _NAME.match(name):
        raise ConfigError("user names are 1-64 letters, digits, '.', '_', '@' or '-'")
    if len(password) < 8:
        raise ConfigError("the password needs at least 8 characters")
    users = _parse(path.read_text(encoding="utf-8").splitlines(), str(path)) if path.is_file() else {}
    users[name] = hash_password(password)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(f"{n}:{h}\n" for n, h in users.items()), encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def login_check(host: str, users: dict[str, str]) -> Callable[[str, str], bool] | None:
    """The check Gradio calls for each login, or None (no login) for a page bound to this machine only."""
    if not users:
        if is_local(host):
            return None
        raise ConfigError(f"the page would be reachable from other machines ({host}) without a login: add a user "
                          "with  rag user add NAME  (or set RAG_USERS), or bind to 127.0.0.1")
    return lambda name, password: name in users and verify_password(password or "", users[name])
