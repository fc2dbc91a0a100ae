"""What the benchmarks share: K loopback sshd hosts and a wq server on them."""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.integration.conftest import cluster_yaml  # noqa: E402
from tests.integration.sshd import STOCK_BASHRC, Keys, SshHost, WqServer, wait_for  # noqa: E402
from wq.client import Client  # noqa: E402
from wq.protocol import messages as m  # noqa: E402


@dataclass
class Bench:
    root: Path
    keys: Keys
    hosts: list[SshHost]
    server: WqServer


@contextlib.contextmanager
def loopback(name: str, count: int, cores: int, first_address: int,
             bashrc: str = STOCK_BASHRC) -> Iterator[Bench]:
    """`count` sshd hosts on 127.0.0.(first_address+1)..., `cores` each, and a wq
    server on them with every host up; all stopped, and their files deleted,
    afterwards."""
    root = Path(tempfile.mkdtemp(prefix=f"wq-{name}-"))
    keys = Keys(root / "keys")
    hosts = [SshHost(f"node{i}", f"127.0.0.{first_address + i}", root / f"node{i}", keys,
                     bashrc=bashrc) for i in range(1, count + 1)]
    server = None
    try:
        for h in hosts:
            h.start()
        keys.known_hosts.write_text("".join(h.host_key_line + "\n" for h in hosts))
        cluster = root / "cluster.yaml"
        cluster.write_text(cluster_yaml(keys, hosts, cores=cores))
        server = WqServer(root / "wq", cluster)
        server.start()
        wait_for(lambda: _all_up(server), 60, "the hosts up")
        yield Bench(root, keys, hosts, server)
    finally:
        if server is not None:
            server.stop()
            server.forget_node_dirs()
        for h in hosts:
            h.stop()
        shutil.rmtree(root, ignore_errors=True)


def _all_up(server: WqServer) -> bool:
    with Client(server.socket) as client:
        hosts = client.request(m.Stat())["hosts"]
    return all(h["state"] == "up" for h in hosts)


def write_table(head: str, rows: list[tuple[str, str]], out: Path | None) -> None:
    table = "\n".join([head, *(f"  {name:34} {value}" for name, value in rows)])
    print(table)
    if out:
        out.write_text(table + "\n")
