"""What every submitter does before it sends a job (wq sub, the Slurm shims,
the Python API): in a lab, sign it with the member's key and make sure their
launcher is running."""

from __future__ import annotations

from typing import Any

from wq.client import Client


def ensure_launcher(client: Client, socket_path: str | None) -> None:
    """A lab member's jobs run through their launcher: start one in the
    background when none serves the server yet."""
    if client.launcher_up or not client.start_launcher:
        return
    from wq import launcher
    from wq.cli.launcher import log_path

    launcher.detach(socket_path, log_path())
    client.launcher_up = True


def signed(frame: dict[str, Any], shape: dict[str, Any], user: str
           ) -> tuple[dict[str, Any], dict[str, Any]]:
    """A lab member's job, signed (and each array entry tagged) with their key, so
    that their launcher runs it (wq.signing)."""
    from wq import signing

    key = signing.load_key()
    entries, array = shape.get("entries"), shape.get("array")
    tasks = array if array is not None else None if entries is None else [1, len(entries), 1]
    frame = {**frame, "seal": signing.seal(), **({} if tasks is None else {"tasks": tasks}),
             **({} if entries is None else {"entries": True})}
    frame = {**frame, "signature": signing.sign(key, frame, user)}
    if entries is not None:
        shape = {**shape, "entry_tags": [signing.sign_entry(key, frame["signature"], i, e)
                                         for i, e in enumerate(entries, start=1)]}
    return frame, shape


def sign_all(frames: list[dict[str, Any]], envs: list[dict[str, str]], user: str
             ) -> list[dict[str, Any]]:
    """Separate jobs of a lab member's (specs without their environments, and
    those), each signed whole with their key (read once)."""
    from wq import signing

    key = signing.load_key()
    sealed = [{**frame, "seal": signing.seal()} for frame in frames]
    return [{**frame, "signature": signing.sign(key, {**frame, "env": env}, user)}
            for frame, env in zip(sealed, envs, strict=True)]


def sealed_rerun(signature: str) -> tuple[str, str]:
    """A lab member's word that their job signed `signature` runs again: a new
    seal, and its tag (wq.signing.sign_again)."""
    from wq import signing

    again = signing.seal()
    return again, signing.sign_again(signing.load_key(), signature, again)
