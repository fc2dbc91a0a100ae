"""Interactive sessions: the client's side of an interactive job's lease.

The server chose the host and holds its cores; this process, which owns the
terminal, DISPLAY and the ssh agent, opens the session itself: over asyncssh
for an ssh host, or under a local pty for a `local: true` host. With a
terminal on stdin it requests a pty with the local TERM and size, puts the
local terminal in raw mode (so Ctrl-C, Ctrl-Z and Ctrl-\\ reach the remote
program as keystrokes), forwards window resizes, and restores the terminal on
every way out. asyncssh is imported here only, never by `wq ls`.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import fcntl
import os
import pty
import shlex
import signal
import struct
import subprocess
import termios
import tty
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

from wq.errors import WqError
from wq.executor import contract
from wq.model import Job, JobId, JobSpec, JobState
from wq.protocol.events import Lease

SHELLS = frozenset({"sh", "bash", "zsh", "ksh", "mksh", "dash", "ash", "tcsh", "csh", "fish",
                    "xonsh", "nu", "elvish"})


def is_shell(command: str) -> bool:
    """Is the command a shell by itself (`bash`, `zsh -l`), i.e. a wish for a session?"""
    try:
        words = shlex.split(command)
    except ValueError:
        return False
    return bool(words) and os.path.basename(words[0]) in SHELLS and \
        all(w.startswith("-") for w in words[1:])


@dataclass
class Result:
    code: int | None          # the session's exit status; None if it never ran or was cut
    reason: str = ""          # why, when code is None
    lost: bool = False        # it ran, but its end could not be seen (connection lost)


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """Raw mode for the life of the block; the old settings come back on every exit."""
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def terminal_size(fd: int) -> tuple[int, int]:
    size = os.get_terminal_size(fd)
    return size.columns, size.lines


def exit_code_of_signal(name: str | None) -> int | None:
    if not name:
        return None
    try:
        return 128 + signal.Signals[f"SIG{name}"].value
    except KeyError:
        return 128


def _setup_error(out: str, err: str) -> str | None:
    for line in out.splitlines():
        if line.startswith(contract.ERROR):
            return line[len(contract.ERROR):].strip()
    if contract.READY in out:
        return None
    return err.strip().splitlines()[-1] if err.strip() else "the session set-up failed"


class Session:
    """One leased session; `end()` (the server's word, or wq being killed) stops it."""

    def __init__(self, lease: Lease, *, use_pty: bool, x11: bool, agent: bool) -> None:
        self.lease = lease
        self.use_pty = use_pty
        self.x11 = x11
        self.agent = agent
        self.ended = asyncio.Event()
        self.end_reason = "the session was ended"

    def end(self, reason: str = "") -> None:
        if reason:
            self.end_reason = f"the session was ended: {reason}"
        self.ended.set()

    async def run(self) -> Result:
        if self.lease.local:
            return await self._run_local()
        return await self._run_ssh()

    # -- over ssh ---------------------------------------------------------------

    async def _run_ssh(self) -> Result:
        from wq.dependencies import quiet_asyncssh

        quiet_asyncssh()
        import asyncssh

        host = self.lease.host
        options = dict(self.lease.connect or {})
        options["agent_forwarding"] = self.agent
        try:
            conn = await asyncssh.connect(**options)
        except (OSError, asyncssh.Error, asyncio.TimeoutError, ValueError) as exc:
            return Result(None, f"cannot reach {host}: {_describe(exc)}")
        try:
            setup = await conn.run("sh -s", input=self.lease.setup, check=False)
            problem = _setup_error(str(setup.stdout or ""), str(setup.stderr or ""))
            if problem:
                return Result(None, f"{host}: {problem}")
            kwargs: dict[str, Any] = {"encoding": None, "x11_forwarding": self.x11}
            if self.use_pty:
                kwargs.update(term_type=os.environ.get("TERM", "xterm"),
                              term_size=terminal_size(0), request_pty="force")
            else:
                kwargs["request_pty"] = False
            try:
                proc = await conn.create_process(self.lease.command, **kwargs)
            except asyncssh.ChannelOpenError as exc:
                if self.x11:
                    return Result(None, f"{host} refused X11 forwarding ({exc.reason}); its "
                                        "sshd needs 'X11Forwarding yes' and xauth")
                return Result(None, f"{host} refused the session: {exc.reason}")
            return await self._pump_ssh(proc)
        finally:
            conn.close()

    async def _pump_ssh(self, proc: Any) -> Result:
        loop = asyncio.get_running_loop()
        stop_input = _feed(0, proc.stdin.write, proc.stdin.write_eof)
        if self.use_pty:
            loop.add_signal_handler(signal.SIGWINCH,
                                    lambda: proc.change_terminal_size(*terminal_size(0)))
        else:
            loop.add_signal_handler(signal.SIGINT, lambda: proc.send_signal("INT"))
        outputs = [asyncio.ensure_future(_copy(proc.stdout, 1))]
        if not self.use_pty:
            outputs.append(asyncio.ensure_future(_copy(proc.stderr, 2)))
        ended = asyncio.ensure_future(self.ended.wait())
        try:
            done, _ = await asyncio.wait([asyncio.ensure_future(proc.wait()), ended],
                                         return_when=asyncio.FIRST_COMPLETED)
            if ended in done:
                proc.close()
                return Result(None, self.end_reason)
            await asyncio.wait(outputs, timeout=5)
        finally:
            ended.cancel()
            stop_input()
            loop.remove_signal_handler(signal.SIGWINCH if self.use_pty else signal.SIGINT)
            for task in outputs:
                task.cancel()
        if proc.exit_signal:            # asyncssh then reports exit_status as -1
            code = exit_code_of_signal(proc.exit_signal[0])
        else:
            code = proc.exit_status
        if code is None:
            return Result(None, f"the connection to {self.lease.host} was lost", lost=True)
        return Result(code)

    # -- on this machine ---------------------------------------------------------

    async def _run_local(self) -> Result:
        setup = subprocess.run(["/bin/sh", "-s"], input=self.lease.setup.encode(),
                               capture_output=True, cwd=os.path.expanduser("~"))
        problem = _setup_error(setup.stdout.decode(errors="replace"),
                               setup.stderr.decode(errors="replace"))
        if problem:
            return Result(None, f"{self.lease.host}: {problem}")
        command = ["/bin/sh", "-c", self.lease.command]
        if not self.use_pty:
            proc = await asyncio.create_subprocess_exec(*command, start_new_session=True)
            return await self._until_exit(proc.pid, proc.wait())
        return await self._run_local_pty(command)

    async def _until_exit(self, pid: int, exited: Awaitable[int]) -> Result:
        """Wait for the local session leader `pid` (its exit code from `exited`); if the
        session is ended first, hang up its process group."""
        waiting = asyncio.ensure_future(exited)
        ended = asyncio.ensure_future(self.ended.wait())
        try:
            done, _ = await asyncio.wait([waiting, ended], return_when=asyncio.FIRST_COMPLETED)
            if ended in done:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(pid, signal.SIGHUP)
                await waiting
                return Result(None, self.end_reason)
        finally:
            ended.cancel()
        code = waiting.result()
        return Result(code if code >= 0 else 128 - code)      # -N: killed by signal N

    async def _run_local_pty(self, command: list[str]) -> Result:
        pid, master = pty.fork()
        if pid == 0:                                      # the child: the session leader
            try:
                os.execv(command[0], command)
            finally:
                os._exit(127)
        loop = asyncio.get_running_loop()

        def resize() -> None:
            cols, rows = terminal_size(0)
            fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

        resize()
        loop.add_signal_handler(signal.SIGWINCH, resize)
        output_done = asyncio.Event()
        stop_input = _feed(0, lambda data: os.write(master, data), lambda: None)
        stop_output = _feed(master, lambda data: os.write(1, data), output_done.set)

        async def exited() -> int:
            _, status = await asyncio.to_thread(os.waitpid, pid, 0)
            return os.waitstatus_to_exitcode(status)

        try:
            result = await self._until_exit(pid, exited())
            if result.code is not None:               # let the last output through
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(output_done.wait(), 2)
            return result
        finally:
            stop_input()
            stop_output()
            loop.remove_signal_handler(signal.SIGWINCH)
            os.close(master)


def _feed(fd: int, write: Callable[[bytes], Any], eof: Callable[[], Any]) -> Callable[[], None]:
    """Copy what arrives on `fd` to `write` until EOF; returns a function that stops it."""
    loop = asyncio.get_running_loop()

    def on_input() -> None:
        try:
            data = os.read(fd, 65536)
        except OSError:
            data = b""
        if data:
            write(data)
        else:
            loop.remove_reader(fd)
            eof()

    try:
        loop.add_reader(fd, on_input)
    except (PermissionError, ValueError):          # a regular file: read it whole
        with open(fd, "rb", closefd=False) as fh:
            write(fh.read())
        eof()
        return lambda: None

    def stop() -> None:
        loop.remove_reader(fd)

    return stop


async def _copy(reader: Any, fd: int) -> None:
    while True:
        data = await reader.read(65536)
        if not data:
            return
        os.write(fd, data)


def _describe(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason)
    if isinstance(exc, OSError) and exc.errno:
        return os.strerror(exc.errno)
    return str(exc) or type(exc).__name__


def own_lease(lease: Lease, spec: JobSpec, label: str, user: str) -> Lease:
    """A lab member's session, built from their own request: only where it runs
    (the placement, the instance, the server's id) comes from the server, and the
    connection uses the member's own ssh configuration."""
    from wq import codec
    from wq.executor import wrapper
    from wq.executor.ssh import connect_options
    from wq.protocol.calls import SERVER_ID, HostRef
    from wq.protocol.messages import checked
    from wq.server import onnode

    if not label.isdigit() or not SERVER_ID.fullmatch(lease.server_id):
        raise WqError("the server's lease for the session is not one wq can use")
    known = {h.name: h.host() for h in (checked(HostRef, frame, "lease host")
                                         for frame in lease.hosts)}
    job = Job(id=JobId(int(label)), user=user, spec=spec, state=JobState.RUNNING,
              submitted=0.0, placement=codec.placement_from_list(lease.placement),
              instance=lease.instance)
    if job.placement is None or not set(job.placement.hosts) <= set(known):
        raise WqError("the server's lease for the session names no host wq knows")
    launch = onnode.launch_spec(job, known, lease.server_id, lease.grace)
    host = known[job.placement.first_host]
    return dataclasses.replace(lease, host=host.name, local=host.local,
                               setup=wrapper.session_setup_script(launch),
                               command=wrapper.session_command(launch),
                               connect=None if host.local else connect_options(host))


def run(lease: Lease, *, use_pty: bool, x11: bool, agent: bool,
        server_fd: int, on_server: Callable[[Session], bool]) -> Result:
    """Run a leased session to its end. `on_server(session)` is called when the
    server's socket is readable; it returns False once the server is gone."""

    async def main() -> Result:
        session = Session(lease, use_pty=use_pty, x11=x11, agent=agent)
        loop = asyncio.get_running_loop()

        def readable() -> None:
            if not on_server(session):
                loop.remove_reader(server_fd)

        loop.add_reader(server_fd, readable)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            loop.add_signal_handler(sig, session.end)
        try:
            return await session.run()
        finally:
            loop.remove_reader(server_fd)

    if use_pty:
        with raw_terminal(0):
            return asyncio.run(main())
    return asyncio.run(main())
