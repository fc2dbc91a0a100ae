"""Which ciphers the server's ssh connections offer."""

import asyncio
from pathlib import Path

import pytest

from wq.executor.ssh import FAST_CIPHERS, _with_ciphers


def _opts(config: Path) -> dict[str, object]:
    return {"host": "node1", "config": [str(config)], "known_hosts": None,
            "client_keys": []}


def test_aes_gcm_first_when_ssh_config_names_no_ciphers(tmp_path: Path) -> None:
    config = tmp_path / "ssh_config"
    config.write_text("Host node1\n  User alice\n")
    opts = asyncio.run(_with_ciphers(_opts(config)))
    assert opts["encryption_algs"] == list(FAST_CIPHERS)
    assert opts["encryption_algs"][0] == "aes128-gcm@openssh.com"


@pytest.mark.parametrize("line", ["Ciphers chacha20-poly1305@openssh.com",
                                  "Ciphers aes256-ctr,aes128-ctr"])
def test_the_users_choice_of_ciphers_is_kept(tmp_path: Path, line: str) -> None:
    config = tmp_path / "ssh_config"
    config.write_text(f"Host node1\n  {line}\n")
    opts = asyncio.run(_with_ciphers(_opts(config)))
    assert "encryption_algs" not in opts
