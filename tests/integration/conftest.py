"""Fixtures: three real sshd hosts for the whole session, a fresh wq server per test."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.sshd import MADE, Keys, SshHost, WqServer, wait_for
from tests.integration.users import members_venv

ADDRESSES = ["127.0.0.2", "127.0.0.3", "127.0.0.4"]
#: a cluster whose one host never answers: what is submitted waits
NOWHERE = ("hosts:\n  - {name: nowhere, address: 127.0.0.9, port: 9, cores: 4,"
           " connect_timeout: 1}\n")


def pytest_configure(config: pytest.Config) -> None:
    """A TERM (a CI's time limit, a kill of the run) interrupts the run as Ctrl-C
    does, so that fixtures still stop the sshd hosts, servers and users they
    started. A run started in the background (`cmd &` in a script) inherits
    Ctrl-C ignored, and so would every program the tests start, which the
    tests that interrupt one (Snakemake) cannot have: it is restored."""
    def interrupted(signum: int, frame: object) -> None:
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, interrupted)
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "integration" in str(item.fspath):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session", autouse=True)
def forget_job_directories() -> Iterator[None]:
    """At the end, delete the job directories every test server left in
    ~/.cache/wq (make_server's are gone already; the others' are not)."""
    yield
    for server in MADE:
        server.forget_node_dirs()


@pytest.fixture(scope="session")
def members_python() -> Iterator[str]:
    """The python test users run wq with (a venv of the system's python3), made
    once for every module that makes users."""
    with members_venv() as python:
        yield python


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Keys:
    return Keys(tmp_path_factory.mktemp("client-keys"))


@pytest.fixture(scope="session")
def hosts(tmp_path_factory: pytest.TempPathFactory, keys: Keys) -> Iterator[list[SshHost]]:
    if not Path("/usr/sbin/sshd").exists() and not shutil.which("sshd"):
        pytest.fail("sshd is not installed (apt-get install openssh-server); "
                    "scripts/test installs it")
    started: list[SshHost] = []
    try:
        for i, address in enumerate(ADDRESSES, start=1):
            x11 = "no" if i == 3 else "yes"      # node3 refuses X11, for that test
            host = SshHost(f"node{i}", address, tmp_path_factory.mktemp(f"node{i}"), keys,
                           extra_config=f"X11Forwarding {x11}\nX11UseLocalhost yes")
            host.start()
            started.append(host)
        keys.known_hosts.write_text("".join(h.host_key_line + "\n" for h in started))
        yield started
    finally:
        for host in started:
            host.stop()


def cluster_yaml(keys: Keys, hosts: list[SshHost], *, cores: int = 2, extra: str = "",
                 labels: dict[str, str] | None = None, keepalive: float = 2,
                 keepalive_count: int = 3, connect_timeout: float = 5,
                 defaults: str = "") -> str:
    if labels is None:
        labels = {"node1": "[a, ab]", "node2": "[b, ab]", "node3": "[c]"}
    lines = ["defaults:",
             f"  identity: {keys.identity}",
             f"  known_hosts: {keys.known_hosts}",
             f"  ssh_config: {keys.config}",
             f"  keepalive: {keepalive}",
             f"  keepalive_count: {keepalive_count}",
             f"  connect_timeout: {connect_timeout}",
             *(f"  {line}" for line in defaults.splitlines()),
             "hosts:"]
    for h in hosts:
        lines += [f"  - name: {h.name}", f"    address: {h.address}", f"    port: {h.port}",
                  f"    cores: {cores}", "    mem: 4", f"    labels: {labels.get(h.name, '[]')}"]
    return "\n".join(lines) + "\n" + extra


@pytest.fixture
def make_server(tmp_path: Path, keys: Keys, hosts: list[SshHost]) -> Iterator:
    servers: list[WqServer] = []

    def make(text: str | None = None, *, start: bool = True, wait_up: bool = True,
             name: str = "srv", args: tuple[str, ...] = ()) -> WqServer:
        cluster = tmp_path / f"{name}-cluster.yaml"
        cluster.write_text(text if text is not None else cluster_yaml(keys, hosts))
        server = WqServer(tmp_path / name, cluster)
        servers.append(server)
        if start:
            server.start(*args)
            if wait_up:
                wait_hosts_up(server, [h.name for h in hosts])
        return server

    try:
        yield make
    finally:
        for server in servers:      # captured: pytest shows it when the test failed
            shown = server.log if os.environ.get("WQ_TEST_SHOW_LOG") else server.log[-150:]
            print(f"--- {server.root.name} log ---\n{''.join(shown)}")
        for server in servers:
            if server.proc is not None:       # jobs outlive servers by design: end them
                server.wq("rm", "all", timeout=60)
            server.stop()
            server.forget_node_dirs()


@pytest.fixture
def server(make_server) -> WqServer:  # type: ignore[no-untyped-def]
    return make_server()


def stat(server: WqServer) -> dict:
    result = server.wq("stat", "--json")
    assert result.returncode == 0, result.stderr
    return {h["name"]: h for h in json.loads(result.stdout)["hosts"]}


def wait_hosts_up(server: WqServer, names: list[str], timeout: float = 30) -> None:
    wait_for(lambda: all(stat(server)[n]["state"] == "up" for n in names), timeout,
             f"hosts {names} up")


def jobs(server: WqServer, *args: str) -> dict[int | str, dict]:
    """`wq ls --json` by id: a job's as an int, a task's as its label (12.7)."""
    result = server.wq("ls", "--json", *args)
    assert result.returncode == 0, result.stderr
    return {int(j["id"]) if j["id"].isdigit() else j["id"]: j
            for j in json.loads(result.stdout)}


def wait_state(server: WqServer, job_id: int | str, states: tuple[str, ...], timeout: float = 30,
               instance: int | None = None) -> dict:
    def check() -> dict | None:
        job = jobs(server, "--all", *(["-e", str(job_id)] if isinstance(job_id, str)
                                      else [])).get(job_id)
        if job and job["state"] in states and instance in (None, job["instance"]):
            return job
        return None
    return wait_for(check, timeout, f"job {job_id} in {states}"
                    + (f" (instance {instance})" if instance else ""), interval=0.05)


def info(server: WqServer, job_id: int) -> dict:
    result = server.wq("info", "--json", str(job_id))
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def job_dir(server: WqServer, job_id: int, instance: int = 1) -> Path:
    """A job instance's directory on the nodes (they share this machine's home)."""
    db = sqlite3.connect(f"{server.state}/wq.db")
    try:
        sid = str(db.execute("SELECT value FROM meta WHERE key='server_id'").fetchone()[0])
    finally:
        db.close()
    return Path.home() / ".cache" / "wq" / sid / f"{job_id}.{instance}"
