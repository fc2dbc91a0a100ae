# wq per-host helper: shipped to the node over one long-lived channel, never
# installed. Stage one (wq/executor/helper.py) reads this text from stdin and
# runs it; from then on stdin carries requests and stdout replies, one JSON
# object per line. Standard library only, Python >= 3.6.
#
#   {"op": "run", "id": N, "script": TEXT}      run `sh -s` with TEXT on stdin
#   {"op": "launch", "id": N, ...}              start a job instance (see launch)
#   {"op": "launches", "common": {...}, "each": [{"id": N, ...}, ...]}
#                                               start several: each is its item
#                                               over `common`
#   {"op": "stop", "id": N}                     end run N (TERM to its group); a
#                                               launched job lives on regardless
#
# Replies to a run: {"id": N, "out": DATA}, {"id": N, "err": DATA} (bytes as
# latin-1 text) and finally {"id": N, "exit": CODE}. A launch answers with
# {"id": N, "exited": STATUS, "timeout": true, "error": WHY} once it ended
# (STATUS null when no status was recorded; the last two only when so) and,
# once its runner runs, {"id": N, "started": [PID, START, BOOT]}: that one is
# held for START_HOLD seconds and, for a job that ends sooner, is the exit's
# "started" field instead (one message for a short job, not two). What the
# plain launch script prints as WQ-STARTED, WQ-EXIT, ... The replies of one
# turn of the loop go out as one line: a JSON array of them.
#
# A job never depends on this helper: its runner (the wrapper's `run`) lives in
# a session of its own and records the exit status itself, so when the helper
# or its connection dies, the server reads the job's fate from its directory.
# Children are started with posix_spawn (no copy of this process), so Python
# >= 3.8; an older python3 leaves the host to the plain path.
import errno
import fcntl
import hashlib
import json
import os
import selectors
import signal
import sys
import time

# the launch contract (wq/executor/contract.py), and the runner and the time
# limit's watchdog (node/wrapper.sh, node/timer.sh), filled in as this text is
# shipped
SCRIPTS = json.loads("@SCRIPTS@")
RC_NO_HOSTFILE, RC_NO_JOB_DIR = int("@RC_NO_HOSTFILE@"), int("@RC_NO_JOB_DIR@")
RC_NO_CWD, RC_NO_OUTPUT = int("@RC_NO_CWD@"), int("@RC_NO_OUTPUT@")
RC_WAIT = 2.0            # a runner killed by `wq rm` leaves its status to the killer
START_HOLD = 0.05        # seconds a start is held back, to be told with a quick end
HOME = os.path.expanduser("~")
# wq's files are private; jobs, and the output files they name, get the
# login's own umask back (the runner sets it)
UMASK = os.umask(0o077)


def boot_id():
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            return f.read().strip()
    except OSError:
        return "none"


BOOT = boot_id()


def start_time(pid):
    """Field 22 of /proc/PID/stat: the process's start time, as wq_start_of reads it."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(") ", 1)[1].split()[19]
    except (OSError, IndexError):
        return "none"


def nonblocking(fd):
    fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)


def write_all(fd, data):
    while data:
        try:
            n = os.write(fd, data)
        except BlockingIOError:
            select_write(fd)
            continue
        data = data[n:]


def select_write(fd):
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_WRITE)
        sel.select(1.0)


OUTBOX = []


def send(msg):
    OUTBOX.append(msg)


def flush():
    if OUTBOX:
        data = (json.dumps(OUTBOX, separators=(",", ":")) + "\n").encode()
        del OUTBOX[:]
        try:
            write_all(1, data)
        except OSError:      # the server went away: nothing left to tell
            sys.exit(0)


def create(path, private=True):
    """Create (truncate) a file for writing: 0600, or (private=False: a file the
    job names outside its directory) as the job's own umask would."""
    if private:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.umask(UMASK)
    try:
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
    finally:
        os.umask(0o077)


def write_file(path, text, private=True):
    fd = create(path, private)
    with os.fdopen(fd, "wb") as f:
        f.write(text.encode("utf-8", "surrogateescape"))


class Run:
    """`sh -s` with a script on stdin; its output relayed as it comes."""

    def __init__(self, helper, rid, script):
        self.helper, self.id, self.open_pipes = helper, rid, 2
        self.status = None
        r_in, w_in = os.pipe()
        r_out, w_out = os.pipe()
        r_err, w_err = os.pipe()
        self.pid = spawn(["/bin/sh", "-s"], (r_in, w_out, w_err))
        for fd in (r_in, w_out, w_err):
            os.close(fd)
        self.stdin, self.pending = w_in, script.encode("utf-8", "surrogateescape")
        for fd, stream in ((r_out, "out"), (r_err, "err")):
            nonblocking(fd)
            helper.sel.register(fd, selectors.EVENT_READ, (self.output, stream))
        nonblocking(w_in)
        helper.sel.register(w_in, selectors.EVENT_WRITE, (self.feed, None))

    def feed(self, fd, _):
        try:
            n = os.write(fd, self.pending[:65536])
        except BlockingIOError:
            return
        except OSError:          # the script ended without reading it all
            n = len(self.pending)
        self.pending = self.pending[n:]
        if not self.pending:
            self.helper.sel.unregister(fd)
            os.close(fd)

    def output(self, fd, stream):
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        if data:
            send({"id": self.id, stream: data.decode("latin-1")})
            return
        self.helper.sel.unregister(fd)
        os.close(fd)
        self.open_pipes -= 1
        self.maybe_done()

    def reaped(self, status):
        self.status = status
        self.maybe_done()

    def maybe_done(self):
        if self.open_pipes == 0 and self.status is not None:
            self.helper.runs.pop(self.id, None)
            send({"id": self.id, "exit": self.status})

    def stop(self):
        try:
            os.killpg(self.pid, signal.SIGTERM)
        except OSError:
            pass


class Launch:
    """One job instance: the helper does what the wrapper's first half does in
    sh (claim, files, pid, checks), then starts the runner in a new session, in
    the job's environment. Replies {"id", "started": [pid, start, boot]} and,
    once it ended, {"id", "exited": STATUS or None, "timeout": bool, "error": why}."""

    def __init__(self, helper, rid, req):
        self.helper, self.id = helper, rid
        self.dir = d = os.path.join(HOME, ".cache", "wq", req["server"], req["name"])
        self.deadline = None
        self.spent = []
        cwd = req["cwd"]
        try:
            try:
                os.mkdir(d, 0o700)
            except FileNotFoundError:
                os.makedirs(d, mode=0o700)
            except FileExistsError:          # launched before: start afresh
                os.chmod(d, 0o700)
                for name in ("rc", "pid", "error", "stdin"):
                    if os.path.lexists(os.path.join(d, name)):
                        os.unlink(os.path.join(d, name))
            if not req.get("argv"):          # the runner execs plain words itself
                write_file(os.path.join(d, "script"), req["command"])
                self.spent.append("script")
            if req.get("stdin") is not None:
                write_file(os.path.join(d, "stdin"), req["stdin"])
                self.spent.append("stdin")
        except OSError:
            return self.fail("cannot create the job directory %s" % d, RC_NO_JOB_DIR)
        env = dict(os.environ)
        env.update(req["env"])
        env.update(req.get("own") or {})
        if req.get("hostfile") is not None:
            where = req.get("hostfile_path")
            where = os.path.join(cwd, where) if where else os.path.join(d, "hostfile")
            try:
                write_file(where, req["hostfile"], private=where.startswith(d + "/"))
            except OSError:
                return self.fail("cannot write the hostfile %s" % where, RC_NO_HOSTFILE)
            env["WQ_HOSTFILE"] = where
            if where.startswith(d + "/"):
                self.spent.append("hostfile")
        if not os.path.isdir(cwd):
            return self.fail("the working directory %s does not exist on this host" % cwd,
                             RC_NO_CWD)
        try:
            os.mkdir(os.path.join(d, "claim"))
        except OSError:                      # someone else decided about this instance
            return self.finish()
        out, err = (p if p is None or p.startswith("/") else os.path.join(cwd, p)
                    for p in (req["stdout"], req["stderr"]))
        out = out or os.path.join(d, "stdout")
        err = err or os.path.join(d, "stderr")
        prepared = "prepared"
        try:
            for path in dict.fromkeys((out, err)):
                os.close(create(path, private=path.startswith(d + "/")))
        except OSError as exc:
            if exc.errno != errno.ENOENT:
                write_file(os.path.join(d, "error"),
                           "cannot write the output files %s and %s\n" % (out, err))
                self.clean()
                write_file(os.path.join(d, "rc"), "%d\n" % RC_NO_OUTPUT)
                return self.finish()
            prepared = "outputs"             # the runner waits for the directory
        limit = req.get("limit") or ""
        if limit:
            self.spent.append("timer.pid")
        argv = ["/bin/sh", helper.script("run"), d, cwd, out, err, req.get("shell") or "sh",
                "%04o" % UMASK, limit, str(req.get("steps") or 50),
                helper.script("timer") if limit else "", prepared, *req.get("argv", ())]
        go_r, go_w = os.pipe()
        fds, ready_r = go_r, None
        if prepared == "outputs":            # it says when it made them, as the job starts
            ready_r, ready_w = os.pipe()
            fds = (go_r, ready_w, os.open(os.devnull, os.O_WRONLY))
        try:
            self.pid = spawn(argv, fds, env)
        finally:
            for fd in (fds if ready_r is not None else (go_r,)):
                os.close(fd)
        # the runner waits for this before it starts the job (and writes it
        # itself should this helper die first: its stdin then ends)
        try:
            start = start_time(self.pid)
            pidfile = os.path.join(d, "pid")
            write_file(pidfile + ".helper", "%d %s %s\n" % (self.pid, start, BOOT))
            os.rename(pidfile + ".helper", pidfile)
            try:
                os.write(go_w, b"go\n")
            except OSError:                  # it is gone already: its status tells
                pass
        finally:
            os.close(go_w)
        self.started = [self.pid, start, BOOT]
        if ready_r is None:
            helper.hold(self)
        else:
            nonblocking(ready_r)
            helper.sel.register(ready_r, selectors.EVENT_READ, (self.ready, None))
        helper.children[self.pid] = self

    def ready(self, fd, _):
        """The runner's line once it has made the output files (or its end)."""
        try:
            data = os.read(fd, 64)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        self.helper.sel.unregister(fd)
        os.close(fd)
        if data.startswith(b"go"):
            self.helper.hold(self)

    def fail(self, message, code):
        send({"id": self.id, "exited": code, "error": message})
        self.clean()

    def reaped(self, status):
        self.deadline = time.monotonic() + RC_WAIT
        self.helper.waiting.append(self)
        self.check()

    def check(self):
        """Report the exit once the status file is there (or after RC_WAIT)."""
        if rc_of(self.dir) is None and time.monotonic() < self.deadline:
            return False
        self.finish()
        return True

    def finish(self):
        d = self.dir
        reply = {"id": self.id, "exited": rc_of(d)}
        if self.helper.held.pop(self.id, None) is not None:
            reply["started"] = self.started
        if os.path.exists(os.path.join(d, "timeout")):
            reply["timeout"] = True
        try:
            with open(os.path.join(d, "error")) as f:
                reply["error"] = f.read().strip()
        except OSError:
            pass
        send(reply)
        self.clean()

    def clean(self):
        """What only served the start goes once the job has ended."""
        for name in self.spent:
            try:
                os.unlink(os.path.join(self.dir, name))
            except OSError:
                pass


def rc_of(d):
    """The status in DIR/rc, or None."""
    try:
        with open(os.path.join(d, "rc")) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.lstrip("-").isdigit() else None


def spawn(argv, fds, env=None):
    """Start argv in a new session; its stdin, stdout and stderr `fds`, or (an
    int) stdin that fd and the others /dev/null."""
    if isinstance(fds, int):
        actions = [(os.POSIX_SPAWN_DUP2, fds, 0),
                   (os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_RDWR, 0),
                   (os.POSIX_SPAWN_DUP2, 1, 2)]
    else:
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(fds)]
    return os.posix_spawn(argv[0], argv, os.environ if env is None else env,
                          file_actions=actions, setsid=True,
                          setsigdef=(signal.SIGPIPE, signal.SIGCHLD))


class Helper:
    def __init__(self):
        self.scripts = {}        # name -> its file, written once per text
        self.sel = selectors.DefaultSelector()
        self.runs = {}           # id -> Run
        self.children = {}       # pid -> Run or Launch
        self.waiting = []        # launches whose runner ended before its status showed
        self.held = {}           # id -> (when to tell, Launch): starts not yet told
        self.buffer = b""
        nonblocking(0)
        self.sel.register(0, selectors.EVENT_READ, (self.request, None))
        wake_r, wake_w = os.pipe()
        nonblocking(wake_r)
        nonblocking(wake_w)
        signal.set_wakeup_fd(wake_w)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        self.sel.register(wake_r, selectors.EVENT_READ, (self.drain, None))

    def script(self, name):
        """The file of SCRIPTS[name]: ~/.cache/wq/bin/NAME-DIGEST, shared by every
        job (a runner reads it as it starts, so it is never changed in place)."""
        path = self.scripts.get(name)
        if path is None:
            text = SCRIPTS[name]
            path = os.path.join(HOME, ".cache", "wq", "bin", "%s-%s" % (
                name, hashlib.sha256(text.encode()).hexdigest()[:16]))
            self.scripts[name] = path
        if not os.path.exists(path):
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            write_file("%s.%d" % (path, os.getpid()), SCRIPTS[name])
            os.rename("%s.%d" % (path, os.getpid()), path)
        return path

    def hold(self, launch):
        """Tell of the start START_HOLD from now, unless the exit tells it first."""
        self.held[launch.id] = (time.monotonic() + START_HOLD, launch)

    def tell_held(self):
        """The starts held long enough; returns when the next one is due (or None)."""
        now, due = time.monotonic(), None
        for rid, (when, launch) in list(self.held.items()):
            if when <= now:
                del self.held[rid]
                send({"id": rid, "started": launch.started})
            elif due is None or when < due:
                due = when
        return due

    def serve(self):
        # (the greeting is a line of its own: the server reads it before the rest)
        write_all(1, (json.dumps({"ready": 1, "boot": BOOT, "pid": os.getpid(), "home": HOME,
                                  "python": "%d.%d" % sys.version_info[:2]}) + "\n").encode())
        while True:
            due = self.tell_held() if self.held else None
            flush()
            timeout = 0.1 if self.waiting else None
            if due is not None:
                timeout = max(0.0, min(timeout or 1.0, due - time.monotonic()))
            for key, _ in self.sel.select(timeout):
                handler, arg = key.data
                handler(key.fd, arg)
            self.reap()
            self.waiting = [w for w in self.waiting if not w.check()]

    def request(self, fd, _):
        try:
            data = os.read(fd, 1 << 20)
        except BlockingIOError:
            return
        if not data:             # the server closed the channel; jobs live on
            sys.exit(0)
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in lines:
            if line.strip():
                self.handle(json.loads(line))

    def handle(self, req):
        op, rid = req.get("op"), req.get("id")
        if op == "launch":
            self.launch(rid, req)
        elif op == "launches":
            common = req["common"]
            for each in req["each"]:
                one = dict(common)
                one.update(each)
                self.launch(one["id"], one)
        elif op == "run":
            try:
                run = Run(self, rid, req["script"])
            except OSError as exc:
                send({"id": rid, "err": "wq helper: %s\n" % exc, "exit": 126})
                return
            self.runs[rid] = run
            self.children[run.pid] = run
        elif op == "stop" and rid in self.runs:
            self.runs[rid].stop()

    def launch(self, rid, req):
        try:
            Launch(self, rid, req)
        except OSError as exc:   # (no process to start one with): the node's word
            send({"id": rid, "exited": None, "error": "wq helper: %s" % exc})

    def drain(self, fd, _):
        try:
            while os.read(fd, 4096):
                pass
        except OSError:
            pass

    def reap(self):
        while self.children:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except OSError as exc:
                if exc.errno == errno.EINTR:
                    continue
                return
            if pid == 0:
                return
            child = self.children.pop(pid, None)
            if child is not None:
                code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else \
                    128 + os.WTERMSIG(status)
                child.reaped(code)


if sys.version_info < (3, 8):
    sys.exit("wq helper: python3 is %d.%d; the helper needs 3.8" % sys.version_info[:2])
os.chdir(HOME)               # where `sh -s` scripts start, as over a channel of their own
Helper().serve()
