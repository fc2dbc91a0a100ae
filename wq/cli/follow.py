"""Following an attached job (wq sub without -b, srun, wq retry, wq log -f):
its output and end as they come, Ctrl-C cancelling it, a re-attach after a
server restart, an array's progress, an interactive session's lease."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from typing import Any

import click

from wq.client import Client
from wq.errors import ClientError, ServerError, ServerLost, WqError
from wq.model import JobSpec
from wq.protocol import events
from wq.protocol import messages as m
from wq.protocol.replies import Attached, LogReply, Removed

TIMEOUT_EXIT = 124        # as timeout(1)


def follow_array(client: Client, number: str, tasks: int, socket_path: str | None) -> int:
    """Show an attached array's progress until its last task ends: 0 when all are done.
    Ctrl-C removes the array's tasks that have not ended."""
    bar = Progress(number, tasks)
    try:
        with Cancelling(f"array {number}", number, socket_path):
            for event in client.events():
                if isinstance(event, (events.Task, events.ArrayEnd)):
                    bar.update(event)
                if isinstance(event, events.ArrayEnd):
                    return bar.finish()
        return 1
    except ServerLost:
        from wq.cli.wait import wait

        click.echo(f"wq: lost the wq server; waiting for array {number} to end once it "
                   "is back", err=True)
        return 0 if wait(socket_path, [number]) == 0 else 1
    except ClientError as exc:
        raise type(exc)(f"{exc}; array {number} itself is not affected: follow it with "
                        f"'wq ls {number}'") from None
    except KeyboardInterrupt:
        click.echo(f"wq: not waiting any more; array {number} is being removed", err=True)
        return 130


class Cancelling:
    """While attached: the first Ctrl-C (or SIGTERM) removes the job (or array)
    from another thread and keeps reading, so the stream is never cut mid-frame;
    a second one raises KeyboardInterrupt."""

    def __init__(self, what: str, selector: str, socket_path: str | None) -> None:
        self.what, self.selector, self.socket_path = what, selector, socket_path
        self.cancelled = threading.Event()
        self.previous: dict[int, Any] = {}

    def _on_signal(self, signum: int, frame: object) -> None:
        if self.cancelled.is_set():
            raise KeyboardInterrupt
        self.cancelled.set()
        click.echo(f"\nwq: cancelling {self.what} (again to stop waiting)", err=True)
        threading.Thread(target=_cancel, args=(self.selector, self.socket_path),
                         daemon=True).start()

    def __enter__(self) -> Cancelling:
        self.previous = {sig: signal.signal(sig, self._on_signal)
                         for sig in (signal.SIGINT, signal.SIGTERM)}
        return self

    def restore(self) -> None:
        """Give the signals back (to an interactive session, or when done)."""
        for sig, handler in self.previous.items():
            signal.signal(sig, handler)
        self.previous = {}

    def __exit__(self, *_: object) -> None:
        self.restore()


class Progress:
    """An array's progress on stderr: a bar redrawn in place on a terminal (at
    most 10 times a second), else no bar: only the summary lines at the end."""

    WIDTH = 30

    def __init__(self, number: str, tasks: int) -> None:
        self.number, self.tasks = number, tasks
        self.counts: dict[str, int] = {}
        self.failed: list[str] = []
        self.tty = sys.stderr.isatty()
        self.drawn = 0.0

    def update(self, event: events.Task | events.ArrayEnd) -> None:
        import time

        self.counts = dict(event.counts or self.counts)
        if isinstance(event, events.Task) and event.state != "done" and len(self.failed) < 10:
            self.failed.append(f"{event.id} {event.state}: {event.reason}")
        now = time.monotonic()
        if self.tty and now - self.drawn >= 0.1:
            self.drawn = now
            sys.stderr.write("\r" + self.line())
            sys.stderr.flush()

    def line(self) -> str:
        ended = sum(self.counts.values())
        filled = self.WIDTH * ended // max(self.tasks, 1)
        bad = ended - self.counts.get("done", 0)
        tail = f", {bad} not done" if bad else ""
        return (f"wq: array {self.number} [{'#' * filled}{'.' * (self.WIDTH - filled)}] "
                f"{ended}/{self.tasks} ended{tail}")

    def finish(self) -> int:
        if self.tty:
            sys.stderr.write("\r" + self.line() + "\n")
        bad = {s: n for s, n in self.counts.items() if s != "done"}
        if not bad:
            if not self.tty:
                click.echo(f"wq: array {self.number}: {self.tasks} tasks done", err=True)
            return 0
        for line in self.failed:
            click.echo(f"wq: task {line}", err=True)
        words = ", ".join(f"{n} {s}" for s, n in sorted(bad.items()))
        click.echo(f"wq: array {self.number}: {words} (wq ls -e {self.number} -a shows "
                   "them)", err=True)
        return 1


class Interactive:
    """Runs the session when the lease comes, then tells the server how it ended."""

    def __init__(self, client: Client, job_id: str, *, agent: bool, x11: bool,
                 spec: JobSpec) -> None:
        self.client, self.job_id, self.agent, self.x11 = client, job_id, agent, x11
        self.spec = spec
        self.server_gone = False
        self.timed_out = False

    def run(self, lease: events.Lease) -> int:
        from wq import interactive
        from wq.protocol import framing

        def on_server(session: interactive.Session) -> bool:
            try:
                frame = framing.recv(self.client.sock)
            except (OSError, WqError):
                frame = None
            if frame is None:
                self.server_gone = True
                return False
            if frame.get("event") == events.End.event:
                try:
                    end = events.from_frame(frame)
                except WqError:
                    return True
                if isinstance(end, events.End):
                    self.timed_out = end.timeout
                    session.end(end.reason)
            return True

        if self.client.by_launcher:       # a lab member runs only what they asked for
            lease = interactive.own_lease(lease, self.spec, self.job_id, self.client.user)
        use_pty = sys.stdin.isatty()
        result = interactive.run(lease, use_pty=use_pty, x11=self.x11, agent=self.agent,
                                 server_fd=self.client.sock.fileno(), on_server=on_server)
        if self.server_gone:
            click.echo(f"wq: the wq server went away during the session; job "
                       f"{self.job_id}'s cores were no longer reserved", err=True)
        else:
            with contextlib.suppress(WqError):
                self.client.send(m.SessionEnd(id=self.job_id, code=result.code,
                                              reason=result.reason, lost=result.lost))
        if result.code is None or self.timed_out:
            click.echo(f"wq: job {self.job_id}: {result.reason}", err=True)
            return TIMEOUT_EXIT if self.timed_out else 1
        return result.code


def follow(client: Client, job_id: str, socket_path: str | None,
           session: Interactive | None = None) -> int:
    """Stream an attached job's output; return the exit code `wq sub` should exit with
    (Ctrl-C: see Cancelling). A batch job is followed again through a server
    restart (the client waits for the server, then re-attaches)."""
    chatty = sys.stderr.isatty()
    if chatty:
        click.echo(f"wq: job {job_id} submitted", err=True)
    output = Shown()
    try:
        with Cancelling(f"job {job_id}", job_id, socket_path) as cancel:
            while True:
                try:
                    for event in client.events():
                        if isinstance(event, events.Lease) and session is not None:
                            cancel.restore()                 # the session handles signals now
                            return session.run(event)
                        if isinstance(event, events.Output):
                            event = output.new(event)
                        code = _show(event, job_id, chatty or session is not None,
                                     cancel.cancelled.is_set())
                        if code is not None:
                            return code
                    return 1
                except ServerLost:
                    if session is not None:
                        raise
                client.close()
                client, attached = reattach(socket_path, job_id)
                output.again()
                if attached is not None:
                    output.rest(client, job_id)
                    return _show(events.Exit(attached.state, attached.exit, attached.reason),
                                 job_id, True, cancel.cancelled.is_set()) or 0
    except ClientError as exc:
        raise type(exc)(f"{exc}; job {job_id} itself is not affected: follow it with "
                        f"'wq ls' and 'wq log {job_id}'") from None
    except KeyboardInterrupt:
        click.echo(f"wq: not waiting any more; job {job_id} is being removed", err=True)
        return 130


class Shown:
    """The output shown so far, per stream: after a re-attach the job's output
    comes again from its start, and what was shown already is skipped."""

    def __init__(self) -> None:
        self.shown = {"stdout": 0, "stderr": 0}
        self.skip = {"stdout": 0, "stderr": 0}

    def new(self, event: events.Output) -> events.Output:
        data = event.data.encode("utf-8", "surrogateescape")
        skip = min(self.skip[event.stream], len(data))
        self.skip[event.stream] -= skip
        self.shown[event.stream] += len(data) - skip
        return events.Output(event.stream, data[skip:].decode("utf-8", "surrogateescape"))

    def again(self) -> None:
        self.skip = dict(self.shown)
        self.shown = {"stdout": 0, "stderr": 0}

    def rest(self, client: Client, job_id: str) -> None:
        """A job that ended while the server was away: the output not shown yet."""
        try:
            log = client.ask(m.Log(id=job_id), LogReply, timeout=None)
        except ServerError:
            return                          # (it never started, or is interactive)
        for stream, data in (("stdout", log.stdout), ("stderr", log.stderr)):
            _show(self.new(events.Output(stream, data)), job_id, False, False)


def reattach(socket_path: str | None, job_id: str, tie: bool = True
             ) -> tuple[Client, Attached | None]:
    """Attach again to a job after the server restarted: the new connection, and
    the job's end if it ended meanwhile (None: its events follow)."""
    client = Client(socket_path)
    attached = client.ask(m.Attach(id=job_id, tie=tie), Attached)
    click.echo(f"wq: the wq server is back; following job {job_id} again", err=True)
    if attached.state in ("waiting", "running"):
        return client, None
    return client, attached


def _show(event: events.Event, job_id: str, chatty: bool, cancelled: bool) -> int | None:
    """Show one event; the exit code of `wq sub` once the job has ended."""
    match event:
        case events.Output():
            stream = sys.stdout if event.stream == "stdout" else sys.stderr
            stream.buffer.write(event.data.encode("utf-8", "surrogateescape"))
            stream.flush()
        case events.Started() if chatty:
            click.echo(f"wq: job {job_id} running on {event.host}", err=True)
        case events.Requeued() | events.Waiting() if chatty:
            click.echo(f"wq: job {job_id} {event.reason}", err=True)
        case events.Notice():
            click.echo(f"wq: {event.text}", err=True)
        case events.Exit(state="done"):
            return 0
        case events.Exit(state="cancelled") if cancelled:
            return 130
        case events.Exit(state="timeout"):
            click.echo(f"wq: job {job_id} timed out: {event.reason}", err=True)
            return TIMEOUT_EXIT
        case events.Exit(state="failed", code=int(code)):     # its command's own status
            return code
        case events.Exit():
            click.echo(f"wq: job {job_id} {event.state}: {event.reason}", err=True)
            return event.code or 1
    return None


def _cancel(job_id: str, socket_path: str | None) -> None:
    try:
        with Client(socket_path) as other:
            other.ask(m.Remove(select=[str(job_id)]), Removed, timeout=None)
    except WqError as exc:
        click.echo(f"wq: could not cancel job {job_id}: {exc}", err=True)
