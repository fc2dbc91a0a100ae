"""The server's wiring: state, cluster, executors, engine and runner, socket; start and stop.

`serve()` runs in the foreground until SIGINT or SIGTERM. Jobs never depend on
the server: stopping it leaves them running, and a restart on the same state
directory watches them again.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import itertools
import logging
import os
import resource
import signal
import socket
import stat
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from typing import TextIO, TypeVar

from wq import codec
from wq.errors import ProtocolError, WqError
from wq.executor.helper import Reach
from wq.executor.local import LocalExecutor
from wq.executor.ssh import SshExecutor
from wq.model import Cluster, Host, Job, JobState
from wq.parsing import cluster as cluster_file
from wq.parsing.units import format_duration
from wq.protocol import events
from wq.protocol import messages as m
from wq.protocol.replies import (AcceptedMany, Done, EventRow, InfoPage, InstanceRow, JobInfo,
                                 Listing, Refreshed, Stopping, UsersPage)
from wq.protocol.rows import Accepted, HelloReply, Row
from wq.server.effects import (ArrayClientGone, ClientGone, LauncherGone, LauncherSettled,
                               LauncherUp, Loaded, SessionEnded, SetCluster, WorkflowGone)
from wq.server.filesystems import network_filesystem
from wq.server.handlers import Handlers, Taken
from wq.server.hosts import HostMonitor
from wq.server.sampler import Sampler
from wq.server.lab import Members
from wq.server.ops import Link
from wq.server.listener import Connection, Endpoint
from wq.server.runner import Runner, pause
from wq.server.state import Engine
from wq.server.watchers import Watcher
from wq.store import Store

log = logging.getLogger("wq.server")

DEFAULT_KEEP = 30 * 86400.0     # seconds finished jobs stay in the history
MAX_PAGE = 5000                 # rows in one reply of a paged listing

R = TypeVar("R")
PRUNE_EVERY = 3600.0


def default_cluster() -> Cluster:
    """The embedded default: this machine, all its cores, through the local executor."""
    import psutil

    name = socket.gethostname().split(".")[0] or "localhost"
    mem = round(psutil.virtual_memory().total / 2**30, 1)
    return Cluster((Host(name=name, cores=os.cpu_count() or 1, mem=mem, local=True),),
                   "(this machine)")


STATE_FILES = ("wq.db", "wq.db-wal", "wq.db-shm", "server.log", "server.pid")


def private_state(state_dir: str) -> None:
    """The state directory 0700 and wq's files in it 0600: they hold every job's
    environment (secrets included). Made so, if an older wq or a hand left them open."""
    os.makedirs(state_dir, mode=0o700, exist_ok=True)
    info = os.stat(state_dir)
    if info.st_uid != os.getuid():
        raise WqError(f"the state directory {state_dir} belongs to another user; give "
                      "--state a directory of yours")
    if stat.S_IMODE(info.st_mode) & 0o077:
        os.chmod(state_dir, 0o700)
        log.warning("made the state directory %s private (0700; it was %04o): it holds "
                    "job environments", state_dir, stat.S_IMODE(info.st_mode))
    for name in STATE_FILES:
        path = os.path.join(state_dir, name)
        with contextlib.suppress(FileNotFoundError):
            if stat.S_IMODE(os.lstat(path).st_mode) & 0o077:
                os.chmod(path, 0o600)


def check_local_disk(state_dir: str, allow_network_fs: bool) -> None:
    """Refuse a state directory on a network filesystem (SQLite's locks are not
    safe there) unless allowed, and then say so loudly."""
    kind = network_filesystem(state_dir)
    if kind is None:
        return
    if not allow_network_fs:
        raise WqError(f"the state directory {state_dir} is on a network filesystem ({kind}), "
                      "where SQLite's locking is unsafe and the queue could be corrupted; "
                      "give --state a directory on a local disk (e.g. /var/tmp/wq-$USER), or "
                      "--allow-network-fs if you are sure only this server ever uses it")
    log.warning("THE STATE DIRECTORY %s IS ON A NETWORK FILESYSTEM (%s): allowed by "
                "--allow-network-fs. Never run a second server on it, from any machine; "
                "a lost lock can corrupt the queue.", state_dir, kind)


def lock_state(state_dir: str) -> TextIO:
    private_state(state_dir)
    path = os.path.join(state_dir, "server.pid")
    fh = open(path, "a+")
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        fh.seek(0)
        pid = fh.read().strip() or "?"
        fh.close()
        raise WqError(f"another wq server (pid {pid}) is using the state in {state_dir}; "
                      "stop it first, or give this one another --state") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    return fh


class Server:
    def __init__(self, cluster_path: str | None, sockets: list[str], state_dir: str,
                 kill_grace: float = 5.0, keep: float | None = DEFAULT_KEEP,
                 job_umask: int = 0o022, allow_network_fs: bool = False,
                 durability: str = "machine") -> None:
        self.durability = durability        # "machine" (power loss) or "process"
        self.job_umask = job_umask          # the user's own, for jobs on local hosts
        self.allow_network_fs = allow_network_fs
        self.cluster_path = cluster_path
        self.sockets = sockets              # where to listen, then where if that vanishes
        self.state_dir = state_dir
        self.kill_grace = kill_grace
        self.keep = keep
        self.stopping = asyncio.Event()     # set once the server is shutting down
        self.workflows: Counter[tuple[str, str]] = Counter()   # sessions: connections

    def load_cluster(self) -> Cluster:
        if self.cluster_path is None:
            return default_cluster()
        cluster = cluster_file.load(self.cluster_path)
        for host in cluster.hosts:
            if host.ssh.known_hosts == "none" and not host.local:
                log.warning("host %s: host key checking is OFF (known_hosts: none in %s); "
                            "anyone able to intercept the connection can run your jobs",
                            host.name, cluster.source)
        return cluster

    async def run(self, ready: asyncio.Event | None = None) -> None:
        cluster = self.load_cluster()
        check_local_disk(self.state_dir, self.allow_network_fs)     # before making it
        lock = lock_state(self.state_dir)
        members = Members(cluster.lab)
        if cluster.lab is not None and cluster.lab.group is not None \
                and members.group_id() is None:
            raise WqError(f"{cluster.source}: lab: group: there is no group "
                          f"{cluster.lab.group!r} on this machine")
        store = Store(os.path.join(self.state_dir, "wq.db"))
        store.manual_checkpoints()
        local = LocalExecutor(self.job_umask)
        monitor = HostMonitor(lambda h: local if h.local else ssh)
        ssh = SshExecutor(on_lost=monitor.lost)
        engine = Engine(cluster, server_id=store.server_id(), offline=store.offline_hosts(),
                        limits=store.limits(), kill_grace=self.kill_grace,
                        launchers=None if cluster.lab is None else {members.operator})
        runner = Runner(engine, store, local=local, ssh=ssh, monitor=monitor,
                        operator=members.operator)
        members.waiting = lambda user: engine.waiting.of_user[user] + engine.aside_of[user]
        monitor.listener = runner
        self.runner = runner
        self.sampler = sampler = Sampler(monitor, runner.feed,
                                         lambda: engine.waiting_count() > 0)
        loop = asyncio.get_running_loop()

        def synced(generation: int) -> None:        # from the syncer's thread
            loop.call_soon_threadsafe(runner.on_synced, generation)
        store.sync_in_background(synced if self.durability == "machine" else None)
        handlers = Handlers(store, runner, self._reloader(runner, members), members)
        for number in store.forget_incomplete():
            log.warning("forgot array %d: the server stopped while accepting it, before "
                        "it was acknowledged", number)
        forgotten = store.forget_batches()
        if forgotten:
            log.warning("forgot %d separate job(s) of a submission the server stopped while "
                        "accepting, before it was acknowledged", forgotten)
        resumed = store.jobs([JobState.RUNNING])
        waiting, last = store.count_waiting()
        runner.feed(Loaded(tuple(resumed), {j.id: i for j in resumed
                                            if (i := store.instance(j.id, j.instance))},
                           store.throttles(), left=waiting))
        handle = functools.partial(self._handle, handlers)
        endpoint = Endpoint(self.sockets, handle, members=members)
        await endpoint.start()
        local.reach = ssh.reach = Reach(engine.server_id, endpoint.path)
        monitor.track(list(cluster.hosts))
        sampler.track(list(cluster.hosts))
        shared = None
        if cluster.lab is not None:
            shared = Endpoint([cluster.lab.socket], handle, members=members, shared=True)
            try:
                await shared.start()
            except BaseException:
                endpoint.close()
                raise
        stop = self.stopping
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        log.info("wq server %s listening on %s; %d host(s) from %s; state in %s",
                 engine.server_id, endpoint.path, len(cluster.hosts),
                 cluster.source, self.state_dir)
        if shared is not None:
            log.info("lab mode: also listening on %s for the lab's members", shared.path)
        if resumed or waiting:
            log.info("recovered %d waiting and %d running job(s)", waiting, len(resumed))
        loading = asyncio.ensure_future(runner.load(last, waiting))
        scheduling = asyncio.ensure_future(runner.run())
        pruning = asyncio.ensure_future(self._prune(runner))
        keeping = asyncio.ensure_future(endpoint.keep())
        runner.wake()
        if ready is not None:
            ready.set()
        try:
            await stop.wait()
        finally:
            log.info("shutting down; running jobs keep running and are watched again "
                     "at the next start")
            keeping.cancel()
            loading.cancel()
            scheduling.cancel()
            pruning.cancel()
            await runner.close()
            await sampler.close()
            await monitor.close()
            await ssh.close()
            store.close()
            endpoint.close()
            if shared is not None:
                shared.close()
            lock.close()

    async def _prune(self, runner: Runner) -> None:
        """Forget finished jobs older than --keep, now and every hour."""
        if self.keep is None:
            return
        while True:
            try:
                count, _ = await runner.forget(time.time() - self.keep,
                                               [s for s in JobState if s.final])
                if count:
                    log.info("forgot %d job(s) that ended over %s ago", count,
                             format_duration(self.keep))
            except Exception:                # never let housekeeping stop the server
                log.exception("pruning the history failed")
            await asyncio.sleep(PRUNE_EVERY)

    def _reloader(self, runner: Runner, members: Members) -> Callable[[], Refreshed]:
        def reload() -> Refreshed:
            engine = runner.engine
            if self.cluster_path is None:
                return Refreshed(len(engine.cluster.hosts), [], [])
            new = self.load_cluster()
            old_lab = engine.cluster.lab
            if (old_lab is None) != (new.lab is None) or (
                    old_lab is not None and new.lab is not None
                    and old_lab.socket != new.lab.socket):
                raise WqError("the cluster file's lab section (on or off, or its socket) "
                              "changed: restart the server for that (wq serve)")
            members.lab = new.lab
            old = {h.name for h in engine.cluster.hosts}
            names = {h.name for h in new.hosts}
            runner.feed(SetCluster(new))
            runner.monitor.track(list(new.hosts))
            self.sampler.track(list(new.hosts))
            log.info("cluster file re-read: %d host(s)", len(new.hosts))
            return Refreshed(len(new.hosts), sorted(names - old), sorted(old - names))
        return reload

    async def _handle(self, handlers: Handlers, conn: Connection, req: m.Request) -> bool:
        """Answer one request; False ends the connection."""
        user = conn.user

        async def reply(message: Row) -> None:
            handlers.runner.commit()          # nothing is said before it is durable
            await handlers.runner.durable()
            await conn.send({"ok": True, **message.to_frame()})
        handlers.allowed(req, user)
        if isinstance(req, (m.ListJobs, m.Remove, m.Users, m.Hold, m.Release, m.Requeue,
                            m.Update)):
            await handlers.runner.loaded.wait()     # they need the whole queue
        match req:
            case m.Submit() | m.Rerun():
                submitted = handlers.submit(req, user) if isinstance(req, m.Submit) \
                    else handlers.rerun(req, user)
                first, count, watcher = await submitted
                if first.task is None:
                    await reply(Accepted(first.label))
                else:
                    await reply(Accepted(str(first.number), count))
                if watcher is not None:
                    return await self._stream(handlers, conn, first, watcher)
            case m.ListJobs():
                if req.page is None:
                    await reply(await handlers.on_ls(req, user))
                else:
                    now = time.time()
                    await _pages(handlers.ls_rows(req, user), req.page, reply,
                                 lambda rows, more: Listing(now, rows, more))
            case m.Stat():
                await reply(handlers.on_stat(req, user))
            case m.Remove():
                await reply(await handlers.on_rm(req, user))
            case m.Signal():
                await reply(await handlers.on_signal(req, user))
            case m.Hold() | m.Release() | m.Requeue() | m.Update():
                await reply(handlers.on_change(req, user))
            case m.Refresh():
                await reply(handlers.on_refresh(req, user))
            case m.NodeState():
                await reply(handlers.on_node(req, user))
            case m.Users():
                await _pages(handlers.user_rows(req, user), req.page, reply, UsersPage)
            case m.SetLimits():
                await reply(handlers.on_limit(req, user))
            case m.Log():
                await reply(await handlers.on_log(req, user))
            case m.Step():
                return await self._step(handlers, conn, req)
            case m.SessionEnd():
                await reply(handlers.on_session_end(req, user))
            case m.Info():
                info, history = handlers.on_info(req, user)
                now = time.time()
                await _pages(history, req.page, reply, _info_pages(info, now))
            case m.Clean():
                await reply(await handlers.on_clean(req, user))
            case m.Status():
                await reply(await handlers.on_status(req, user))
            case m.Signature():
                await reply(handlers.on_signature(req, user))
            case m.Why():
                await handlers.runner.loaded.wait()      # (it plans over the whole queue)
                await reply(handlers.on_why(req, user))
            case m.SubmitMany():
                taken = Taken(user)
                try:
                    while True:
                        await handlers.take_many(taken, req)
                        if not req.more:
                            break
                        await conn.send({"ok": True,
                                         **AcceptedMany([], more=True).to_frame()})
                        following = await self._following(conn)
                        if following is None:
                            return False        # the client went: nothing was written
                        req = following
                    ids = await handlers.accept_many(taken)
                finally:
                    handlers.release_many(taken)
                await reply(AcceptedMany(ids))
            case m.Attach():
                job, attached, watcher = handlers.attach(req, user)
                await reply(attached)
                if watcher is not None:
                    return await self._stream(handlers, conn, job, watcher, tied=req.tie)
            case m.Hello():
                await reply(HelloReply(m.PROTOCOL_VERSION))
            case m.Stop():
                await reply(Stopping(os.getpid(), len(handlers.runner.engine.running),
                                     os.path.join(self.state_dir, "server.pid")))
                log.info("stopping: asked by wq stop")
                self.stopping.set()
                return False
            case m.Launcher():
                return await self._launcher(handlers, conn)
            case m.Session():
                if not codec.SESSION.fullmatch(req.token):
                    raise WqError("a session is 1 to 64 letters, digits, - or _")
                await reply(Done())
                return await self._workflow(conn, req.token)
        return True

    async def _following(self, conn: Connection) -> m.SubmitMany | None:
        """The next request of a submit_many that said `more` (None: the client went)."""
        frame = await conn.recv()
        if frame is None:
            return None
        request = m.from_frame(frame)
        if not isinstance(request, m.SubmitMany):
            raise WqError(f"a submit_many said more would come, then came a {request.type}: "
                          "the submission is dropped")
        return request

    async def _workflow(self, conn: Connection, token: str) -> bool:
        """Hold a workflow's session until its connection ends; then, unless the
        server is stopping (its sidecar comes back after a restart), cancel what
        of its jobs has not ended."""
        key = (conn.user, token)
        self.workflows[key] += 1
        try:
            while await conn.recv() is not None:
                pass
        except (ConnectionError, ProtocolError):
            pass
        finally:
            self.workflows[key] -= 1
            if not self.workflows[key]:
                del self.workflows[key]
                if not self.stopping.is_set():
                    log.info("%s's workflow session %s ended: cancelling its jobs", *key)
                    self.runner.feed(WorkflowGone(*key))
        return False

    async def _launcher(self, handlers: Handlers, conn: Connection) -> bool:
        """A lab member's launcher: their jobs' node work goes to it until it leaves."""
        user, runner, members = conn.user, handlers.runner, handlers.members
        if not members.by_launcher(user):
            raise WqError("only a lab's members other than its operator have launchers")
        if user in runner.links:
            raise WqError(f"a launcher of {user}'s is already connected")
        link = Link(user, conn)
        await conn.send({"ok": True})
        runner.links[user] = link
        members.connected.add(user)
        log.info("%s's launcher connected", user)
        runner.feed(LauncherUp(user))

        async def settle() -> None:
            try:
                await runner.settle_for(user)
            finally:
                if runner.links.get(user) is link:
                    runner.feed(LauncherSettled(user))
        settling = runner.background(settle(), f"settling {user}'s jobs")
        try:
            await link.serve()
        except (ConnectionError, ProtocolError):
            pass
        finally:
            settling.cancel()
            del runner.links[user]
            members.connected.discard(user)
            runner.feed(LauncherGone(user))
            log.info("%s's launcher went away; their running jobs run on", user)
        return False

    async def _step(self, handlers: Handlers, conn: Connection, req: m.Step) -> bool:
        """Run a step's tasks on one host, their output to the client as it comes,
        then their exit status; a client that goes first stops them. Returns False:
        the connection is closed afterwards."""
        ops, host, script = handlers.step(req, conn.user)

        async def emit(stream: str, data: bytes) -> None:
            await conn.send({"ok": True, "stream": stream, "data": data.decode("latin-1")})
        step = asyncio.ensure_future(ops.step(host, script, emit))
        gone = asyncio.ensure_future(conn.recv())
        try:
            await asyncio.wait({step, gone}, return_when=asyncio.FIRST_COMPLETED)
            if step.done():
                try:
                    code = step.result()
                except WqError as exc:             # (unreachable, or not for a lab's members)
                    await conn.send({"ok": False, "error": str(exc)})
                else:
                    await conn.send({"ok": True, "exit": code})
            return False               # (or the srun went away: its tasks are stopped)
        finally:
            for task in (step, gone):
                task.cancel()
            await asyncio.gather(step, return_exceptions=True)     # (it is stopped)

    async def _stream(self, handlers: Handlers, conn: Connection, job: Job,
                      watcher: Watcher, tied: bool = True) -> bool:
        """Send a job's (or its whole array's) events to its attached client until it
        ends or the client leaves; an interactive client's SessionEnd arrives on the
        same connection. A `tied` job is cancelled if its client leaves first.
        Returns False: the connection is closed afterwards (a frame may be half
        read)."""
        job_id, array = job.id, job.task is not None
        label = str(job.number) if array else job.label
        incoming = asyncio.ensure_future(conn.recv())
        noticed = False
        try:
            while True:
                nxt = asyncio.ensure_future(watcher.queue.get())
                done, _ = await asyncio.wait({nxt, incoming},
                                             return_when=asyncio.FIRST_COMPLETED)
                if incoming in done:
                    frame = incoming.exception() is None and incoming.result()
                    if not frame:                       # the client went away
                        nxt.cancel()
                        if tied:
                            self._client_gone(job)
                        return False
                    request = m.from_frame(frame)
                    if isinstance(request, m.SessionEnd) and request.id == label:
                        self.runner.feed(SessionEnded(job_id, request.code, request.reason,
                                                      request.lost))
                    incoming = asyncio.ensure_future(conn.recv())
                if nxt not in done:
                    nxt.cancel()
                    continue
                # what has queued up meanwhile goes too, in one write
                batch = [nxt.result()]
                while not watcher.queue.empty() and not isinstance(batch[-1], events.LAST):
                    batch.append(watcher.queue.get_nowait())
                frames = []
                if watcher.overflowed and not noticed:
                    noticed = True
                    frames.append(events.to_frame(events.Notice(
                        f"output comes faster than it can be shown; the rest is in "
                        f"wq log {label}")))
                frames.extend(events.to_frame(event) for event in batch)
                await conn.send(*frames)
                if isinstance(batch[-1], events.LAST):
                    return False
        except (ConnectionError, ProtocolError):
            if tied:
                self._client_gone(job)
            return False
        finally:
            incoming.cancel()
            handlers.unsubscribe(job, watcher)

    def _client_gone(self, job: Job) -> None:
        """An attached client left before its job (or array) ended: it is cancelled,
        as srun's is; not when the server itself is stopping (its clients come back)."""
        if self.stopping.is_set():
            return
        if job.task is None:
            self.runner.feed(ClientGone(job.id))
        else:
            self.runner.feed(ArrayClientGone(job.number))


async def _pages(rows: Iterator[R], page: int | None,
                 reply: Callable[[Row], Awaitable[None]],
                 make: Callable[[list[R], bool], Row]) -> None:
    """Rows as replies of at most `page` rows (up to MAX_PAGE; all in one when
    None), each made by `make(rows, more)`; rows are built a page at a time and
    the loop runs other work between pages, so no listing holds it or the
    server's memory long."""
    size = None if page is None else max(1, min(page, MAX_PAGE))
    chunk = list(itertools.islice(rows, size))
    while True:
        following = list(itertools.islice(rows, size))
        await reply(make(chunk, bool(following)))
        if not following:
            return
        chunk = following
        await pause()


def _info_pages(info: JobInfo, now: float
                ) -> Callable[[list[InstanceRow | EventRow], bool], InfoPage]:
    """Pages of `wq info`: the job on the first, its history on each."""
    told = False

    def make(rows: list[InstanceRow | EventRow], more: bool) -> InfoPage:
        nonlocal told
        job, told = (None if told else info), True
        return InfoPage(now, job, [r for r in rows if isinstance(r, InstanceRow)],
                        [r for r in rows if isinstance(r, EventRow)], more)
    return make


def _raise_file_limit() -> None:
    """Client connections and ssh channels are file descriptors: take what the
    hard limit allows (up to 65536), as the connection limit assumes."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 65536 if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < want:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def serve(cluster_path: str | None, sockets: list[str], state_dir: str,
          kill_grace: float = 5.0, keep: float | None = DEFAULT_KEEP,
          verbose: bool = False, allow_network_fs: bool = False,
          durability: str = "machine") -> None:
    # Everything the server creates is private; jobs on local hosts get the
    # user's own umask back.
    job_umask = os.umask(0o077)
    _raise_file_limit()
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("asyncssh").setLevel(logging.WARNING)
    logging.captureWarnings(True)       # any other library's warning: in the log, once
    asyncio.run(Server(cluster_path, sockets, state_dir, kill_grace, keep,
                       job_umask, allow_network_fs, durability).run())
