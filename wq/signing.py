"""A user's word that a job is theirs: HMACs with a key only that user can read.

In a lab the server (run by the operator) stores every job and decides where
it runs, but a member's jobs are started by the member's own launcher. The
member's client signs each job spec it submits (and each entry of an array)
with the key in `~/.config/wq/key` (0600, made at first use); the launcher
runs nothing whose signature does not check out, so whoever controls the
server can schedule a member's jobs but never make them run anything else.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import os
import time
from typing import Any

from wq.errors import WqError

KEY_BYTES = 32
ENTRY_TAG = 16                      # bytes of an entry's HMAC kept (hex: 32 characters)
MAX_AGE = 366 * 86400               # seconds a launcher runs a seal for (its ledger's span)
UNSIGNED = ("signature", "again", "again_tag")  # a spec's fields its signature leaves out


def key_path() -> str:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.expanduser("~/.config")
    return os.path.join(base, "wq", "key")


def load_key(create: bool = True) -> bytes:
    """The user's signing key, made (0600, in a 0700 directory) when `create` and
    there is none yet."""
    path = key_path()
    if create and not os.path.exists(path):
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        with contextlib.suppress(FileExistsError):          # (another process made it)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(os.urandom(KEY_BYTES).hex().encode())
    try:
        info = os.stat(path)
        with open(path, "rb") as fh:
            text = fh.read(4 * KEY_BYTES).strip()
    except OSError as exc:
        raise WqError(f"cannot read your wq signing key {path}: {exc.strerror}") from None
    if info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise WqError(f"your wq signing key {path} must be yours and private (chmod 600 it)")
    try:
        key = bytes.fromhex(text.decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        key = b""
    if len(key) < 16:
        raise WqError(f"{path} is not a wq signing key; remove it (a new one is made)")
    return key


def seal(now: float | None = None) -> str:
    """What makes a signed spec (or a rerun of one) unique, and dates it: the
    time and a nonce. A launcher runs each (seal, task, instance) once
    (wq.ledger), and nothing sealed more than MAX_AGE ago."""
    return f"{int(time.time() if now is None else now)}.{os.urandom(16).hex()}"


def sealed_at(value: str) -> int:
    return int(value.partition(".")[0])


def canonical(spec: dict[str, Any], user: str) -> bytes:
    """What a signature covers: the user and the spec (as codec.spec_to_dict
    gives it, all but UNSIGNED: its own signature and a rerun's seal), in one
    fixed form."""
    body = {k: v for k, v in spec.items() if k not in UNSIGNED}
    return b"wq-job-1\0" + user.encode() + b"\0" + json.dumps(
        body, sort_keys=True, separators=(",", ":")).encode()


def sign(key: bytes, spec: dict[str, Any], user: str) -> str:
    return hmac.new(key, canonical(spec, user), hashlib.sha256).hexdigest()


def sign_entry(key: bytes, signature: str, index: int, entry: str) -> str:
    """An array entry's tag: bound to its array's spec (its signature) and index."""
    message = f"wq-entry-1\0{signature}\0{index}\0".encode() + entry.encode(
        "utf-8", "surrogateescape")
    return hmac.new(key, message, hashlib.sha256).digest()[:ENTRY_TAG].hex()


def sign_again(key: bytes, signature: str, again: str) -> str:
    """A rerun's tag: its user's word that the spec signed `signature` runs again,
    once more, under the seal `again`."""
    return hmac.new(key, f"wq-again-1\0{signature}\0{again}".encode(),
                    hashlib.sha256).hexdigest()


def verify(key: bytes, spec: dict[str, Any], user: str) -> bool:
    given = spec.get("signature")
    return isinstance(given, str) and hmac.compare_digest(given, sign(key, spec, user))


def verify_again(key: bytes, signature: str, again: str, tag: str) -> bool:
    return hmac.compare_digest(tag, sign_again(key, signature, again))


def verify_entry(key: bytes, signature: str, index: int, entry: str, tag: str) -> bool:
    return hmac.compare_digest(tag, sign_entry(key, signature, index, entry))
