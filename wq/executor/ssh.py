"""SshExecutor: node-side scripts over asyncssh, through a pool of connections per host.

SSH hygiene: ~/.ssh/config and /etc/ssh/ssh_config are read (asyncssh reads
neither system file by itself), host keys are checked against known_hosts
(user and system files) unless the cluster file says `known_hosts: none`,
keepalives are on, connects time out, agent and X11 forwarding are off.
"""

from __future__ import annotations

import asyncio
import contextlib
import shlex
import logging
import os
from collections.abc import AsyncIterator, Callable
from typing import Any

from wq.dependencies import quiet_asyncssh

quiet_asyncssh()
import asyncssh  # noqa: E402  (once its warnings are filtered)
from asyncssh.encryption import get_default_encryption_algs  # noqa: E402

from wq.errors import ExecutorError, HostUnreachable
from wq.executor import helper as helpers
from wq.executor.base import Proc, Reader
from wq.executor.pool import HostPool
from wq.model import Host

log = logging.getLogger(__name__)

_USER_CONFIG = "~/.ssh/config"
_SYSTEM_CONFIG = "/etc/ssh/ssh_config"
_KNOWN_HOSTS = ("~/.ssh/known_hosts", "/etc/ssh/ssh_known_hosts")

#: the ciphers offered when ssh_config names none: OpenSSH's defaults, AES-GCM
#: first. asyncssh runs chacha20-poly1305 (OpenSSH's first choice) around
#: per-packet cipher objects in Python, 12 µs a packet on the test machine
#: against 2.4 µs for AES-GCM, and the helper's channel carries packets per job
FAST_CIPHERS = ("aes128-gcm@openssh.com", "aes256-gcm@openssh.com",
                "chacha20-poly1305@openssh.com", "aes256-ctr", "aes192-ctr", "aes128-ctr")


def describe(host: Host) -> str:
    where = host.address or host.name
    if host.port:
        where = f"{where}:{host.port}"
    return f"{host.user}@{where}" if host.user else where


def connect_options(host: Host) -> dict[str, Any]:
    """The asyncssh.connect keyword arguments for a host."""
    ssh = host.ssh
    configs = ssh.config or tuple(p for p in (os.path.expanduser(_USER_CONFIG), _SYSTEM_CONFIG)
                                  if os.path.exists(p))
    opts: dict[str, Any] = {
        "host": host.address or host.name,
        "config": list(configs),
        "keepalive_interval": ssh.keepalive,
        "keepalive_count_max": ssh.keepalive_count,
        "connect_timeout": ssh.connect_timeout,
        "login_timeout": ssh.connect_timeout,
        # whatever ~/.ssh/config says: a batch job must not reach the user's agent
        # or display (an interactive session asks for them itself, with -A / -X)
        "agent_forwarding": False,
        "x11_forwarding": False,
    }
    if host.port:
        opts["port"] = host.port
    if host.user:
        opts["username"] = host.user
    if ssh.identity:
        opts["client_keys"] = list(ssh.identity)
    if ssh.known_hosts == "none":
        opts["known_hosts"] = None
    elif ssh.known_hosts:
        opts["known_hosts"] = ssh.known_hosts
    else:
        opts["known_hosts"] = [p for p in (os.path.expanduser(k) for k in _KNOWN_HOSTS)
                               if os.path.exists(p)]
    return opts


_loaded_known_hosts: dict[tuple[tuple[str, int, int], ...], asyncssh.SSHKnownHosts] = {}


def _with_known_hosts(opts: dict[str, Any]) -> dict[str, Any]:
    """`opts` with its known_hosts files read once for every connection while
    they are unchanged: asyncssh would parse them at each connect, twice (each
    parse as long as the files, so bringing N hosts up took N^2)."""
    paths = opts.get("known_hosts")
    if isinstance(paths, str):
        paths = [paths]
    if not isinstance(paths, list) or not paths:
        return opts
    try:
        key = tuple((p, (st := os.stat(p)).st_mtime_ns, st.st_size) for p in paths)
    except OSError:
        return opts                 # (asyncssh names the file it cannot read)
    loaded = _loaded_known_hosts.get(key)
    if loaded is None:
        try:
            loaded = asyncssh.read_known_hosts(paths)
        except (OSError, ValueError):
            return opts
        _loaded_known_hosts.clear()
        _loaded_known_hosts[key] = loaded
    return {**opts, "known_hosts": loaded}


async def _with_ciphers(opts: dict[str, Any]) -> dict[str, Any]:
    """`opts` offering FAST_CIPHERS, unless ssh_config chose ciphers for the host."""
    chosen = await asyncssh.SSHClientConnectionOptions.construct(**opts)
    if list(chosen.encryption_algs) == get_default_encryption_algs():
        return {**opts, "encryption_algs": list(FAST_CIPHERS)}
    return opts


def _explain(host: Host, exc: BaseException) -> str:
    who = f"{host.name} ({describe(host)})"
    if isinstance(exc, asyncssh.PermissionDenied):
        return f"{who}: authentication failed; check the user and keys in the cluster file"
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return (f"{who}: host key not verified ({exc.reason}); add it to known_hosts "
                "(ssh to it once) or set known_hosts in the cluster file")
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return f"{who}: connection timed out"
    if isinstance(exc, OSError) and exc.filename:
        return f"{who}: cannot read {exc.filename}: {exc.strerror}"
    if isinstance(exc, asyncssh.KeyImportError):
        return f"{who}: cannot use the identity file: {exc}"
    if isinstance(exc, OSError):     # asyncio words it "Connect call failed"; errno tells
        reason = os.strerror(exc.errno) if exc.errno else (exc.strerror or str(exc))
        return f"{who}: cannot connect: {reason}"
    if isinstance(exc, asyncssh.Error):
        return f"{who}: {exc.reason}"
    return f"{who}: {exc}"


class _Client(asyncssh.SSHClient):
    def __init__(self, lost: Callable[[Exception | None], None]) -> None:
        self._lost = lost

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost(exc)


class _SshReader:
    """A channel's stream; a dropped connection reads as the end of the stream
    (the process's exit status, None, then tells it was lost)."""

    def __init__(self, stream: asyncssh.SSHReader[bytes]) -> None:
        self._stream = stream

    async def read(self, n: int = -1) -> bytes:
        try:
            return await self._stream.read(n)
        except (asyncssh.Error, OSError):
            return b""

    async def readline(self) -> bytes:
        try:
            return await self._stream.readline()
        except (asyncssh.Error, OSError):
            return b""


class _SshProc:
    def __init__(self, proc: asyncssh.SSHClientProcess[bytes]) -> None:
        self._proc = proc

    @property
    def stdout(self) -> Reader:
        return _SshReader(self._proc.stdout)

    @property
    def stderr(self) -> Reader:
        return _SshReader(self._proc.stderr)

    async def wait(self) -> int | None:
        try:
            done = await self._proc.wait()
        except (asyncssh.Error, OSError):
            return None
        return done.exit_status

    def terminate(self) -> None:
        with contextlib.suppress(Exception):
            self._proc.close()


class SshExecutor(helpers.HelperExecutor):
    """Each host's operations go through its helper when it has one (python3 on
    the node), else through a channel per operation running `sh -s`."""

    def __init__(self, on_lost: Callable[[str, str], None] = lambda name, reason: None) -> None:
        self.pools: dict[str, HostPool] = {}
        self.on_lost = on_lost
        self.helpers = helpers.Helpers(self._start_helper)

    def pool(self, host: Host) -> HostPool:
        pool = self.pools.get(host.name)
        if pool is None:
            async def connect(lost: Callable[[Exception | None], None]) -> Any:
                try:
                    conn, _ = await asyncssh.create_connection(
                        lambda: _Client(lost),
                        **await _with_ciphers(_with_known_hosts(connect_options(host))))
                    return conn
                except asyncio.CancelledError:
                    raise
                except Exception as exc:      # whatever asyncssh raises, the host is down
                    raise HostUnreachable(_explain(host, exc)) from None
            pool = HostPool(host.name, connect, host.ssh.max_sessions, on_lost=self.on_lost)
            self.pools[host.name] = pool
        return pool

    async def _start_helper(self, host: Host) -> helpers.HelperLink:
        conn, release = await self.pool(host).lease()
        text = helpers.source()
        try:
            proc = await conn.create_process(helpers.bootstrap_command(len(text)),
                                             encoding=None)
        except (asyncssh.Error, OSError) as exc:
            release()
            raise helpers.HelperUnavailable(_explain(host, exc)) from None

        def close() -> None:
            with contextlib.suppress(Exception):
                proc.close()
            release()
        link = helpers.HelperLink(host.name, proc.stdin.write, _SshReader(proc.stdout),
                                  _SshReader(proc.stderr), close)
        hello = await link.start()
        log.info("%s: helper running (python %s, pid %s)", host.name, hello.get("python"),
                 hello.get("pid"))
        if self.reach is not None and isinstance(hello.get("home"), str):
            await self._forward(host, conn, link, hello["home"], self.reach)
        return link

    async def _forward(self, host: Host, conn: Any, link: helpers.HelperLink, home: str,
                       reach: helpers.Reach) -> None:
        """Forward BASE/wq-HOST.sock on the node to this machine's socket over the
        helper's connection (it goes with it), so that wq's commands in a job
        reach wq. A stale socket of an earlier connection is replaced; where
        sshd refuses (AllowStreamLocalForwarding no), jobs there just cannot."""
        base = f"{home}/.cache/wq/{reach.server_id}"
        path = f"{base}/wq-{host.name}.sock"          # (hosts may share a home)
        async with link.running(f"mkdir -p {shlex.quote(base)} && chmod 700 "
                                f"{shlex.quote(base)} && rm -f {shlex.quote(path)}") as proc:
            code = await proc.wait()
        try:
            if code != 0:
                raise OSError(f"cannot prepare {path}")
            if await conn.forward_remote_path(path, reach.socket) is None:
                raise OSError("sshd refused to forward a socket")
        except (asyncssh.Error, asyncssh.ChannelListenError, OSError) as exc:
            log.warning("%s: its jobs cannot reach wq (wq's and Slurm's commands in a "
                        "job): %s", host.name, exc)

    @contextlib.asynccontextmanager
    async def _plain(self, host: Host, script: str) -> AsyncIterator[Proc]:
        """The plain path: a channel of its own running `sh -s` with the script."""
        async with self.pool(host).session() as conn:
            try:
                proc = await conn.create_process("sh -s", encoding=None)
            except (asyncssh.Error, OSError) as exc:
                raise ExecutorError(_explain(host, exc)) from None
            # a connection lost meanwhile reads as lost (wait() is None), not as a crash
            with contextlib.suppress(asyncssh.Error, OSError):
                proc.stdin.write(script.encode("utf-8", "surrogateescape"))
                proc.stdin.write_eof()
            wrapped = _SshProc(proc)
            try:
                yield wrapped
            finally:
                wrapped.terminate()

    def allow_retry(self, host: Host) -> None:
        if host.name in self.pools:
            self.pools[host.name].forget_auth_failure()
        super().allow_retry(host)

    async def close(self) -> None:
        await self.helpers.close()
        for pool in self.pools.values():
            await pool.close()
