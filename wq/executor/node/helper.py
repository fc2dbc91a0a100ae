# wq per-host helper: shipped to the node over one long-lived channel, never
# installed. Stage one (wq/executor/helper.py) reads this text from stdin and
# runs it; from then on stdin carries requests and stdout replies, one JSON
# object per line. Standard library only, Python >= 3.6.
#
#   {"op": "run", "id": N, "script": TEXT}      run `sh -s` with TEXT on stdin
#   {"op": "launch", "id": N, ...}              start a job instance (see launch)
#   {"op": "stop", "id": N}                     end run N (TERM to its group); a
#                                               launched job lives on regardless
#
# Replies: {"id": N, "out": DATA}, {"id": N, "err": DATA} (bytes as latin-1
# text) and finally {"id": N, "exit": CODE}. A launch answers with the very
# lines of the plain launch script (WQ-STARTED, WQ-EXIT, ...), so the server
# reads both paths alike. Replies are written once per turn of the loop.
#
# A job never depends on this helper: its runner (the wrapper's `run`) lives in
# a session of its own and records the exit status itself, so when the helper
# or its connection dies, the server reads the job's fate from its directory.
# Children are started with posix_spawn (no copy of this process), so Python
# >= 3.8; an older python3 leaves the host to the plain path.
import errno
import fcntl
import json
import os
import selectors
import signal
import sys
import time

# the launch contract (wq/executor/contract.py), filled in as this text is shipped
STARTED, EXITED, ERROR, TIMED_OUT = "@STARTED@", "@EXITED@", "@ERROR@", "@TIMED_OUT@"
RC_NO_HOSTFILE, RC_NO_JOB_DIR = int("@RC_NO_HOSTFILE@"), int("@RC_NO_JOB_DIR@")
RC_NO_CWD, RC_NO_OUTPUT = int("@RC_NO_CWD@"), int("@RC_NO_OUTPUT@")
RC_WAIT = 2.0            # a runner killed by `wq rm` leaves its status to the killer
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
    OUTBOX.append(json.dumps(msg, separators=(",", ":")))


def flush():
    if OUTBOX:
        data = ("\n".join(OUTBOX) + "\n").encode()
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
    sh (claim, files, pid, checks), then execs the runner in a new session."""

    def __init__(self, helper, rid, req):
        self.helper, self.id = helper, rid
        self.dir = d = os.path.join(HOME, ".cache", "wq", req["server"], req["name"])
        self.deadline = None
        cwd = req["cwd"]

        def fail(message, code):
            self.say("%s %s" % (ERROR, message), "%s %d" % (EXITED, code))
            self.end()
        try:
            os.makedirs(d, mode=0o700, exist_ok=True)
            os.chmod(d, 0o700)
            for name in ("rc", "pid", "error", "stdin"):
                if os.path.lexists(os.path.join(d, name)):
                    os.unlink(os.path.join(d, name))
            for name, text in req["files"].items():
                write_file(os.path.join(d, name), text)
        except OSError:
            return fail("cannot create the job directory %s" % d, RC_NO_JOB_DIR)
        if req.get("hostfile"):              # where the job wants its hostfile
            where = os.path.join(cwd, req["hostfile"])
            try:
                write_file(where, req["files"]["hostfile"], private=False)
            except OSError:
                return fail("cannot write the hostfile %s" % where, RC_NO_HOSTFILE)
        if not os.path.isdir(cwd):
            return fail("the working directory %s does not exist on this host" % cwd,
                        RC_NO_CWD)
        try:
            os.mkdir(os.path.join(d, "claim"))
        except OSError:                      # someone else decided about this instance
            return self.finish()
        out, err = (p if p is None or p.startswith("/") else os.path.join(cwd, p)
                    for p in (req["stdout"], req["stderr"]))
        out = out or os.path.join(d, "stdout")
        err = err or os.path.join(d, "stderr")
        try:
            for path in dict.fromkeys((out, err)):
                os.close(create(path, private=path.startswith(d + "/")))
        except OSError:
            write_file(os.path.join(d, "error"),
                       "cannot write the output files %s and %s\n" % (out, err))
            spent(d)
            write_file(os.path.join(d, "rc"), "%d\n" % RC_NO_OUTPUT)
            return self.finish()
        shell = os.environ.get("SHELL") or "/bin/sh"
        if not os.access(shell, os.X_OK):
            shell = "/bin/sh"
        argv = ["/bin/sh", os.path.join(d, "run"), d, cwd, out, err, shell, "%04o" % UMASK,
                req.get("limit") or "", str(req.get("steps") or 50), "prepared"]
        self.pid = spawn(argv, None)
        # the runner waits for this before it starts the job (and writes it
        # itself should this helper die first)
        start = start_time(self.pid)
        pidfile = os.path.join(d, "pid")
        write_file(pidfile + ".helper", "%d %s %s\n" % (self.pid, start, BOOT))
        os.rename(pidfile + ".helper", pidfile)
        self.say("%s %d %s %s" % (STARTED, self.pid, start, BOOT))
        helper.children[self.pid] = self

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
        lines = []
        if os.path.exists(os.path.join(d, "timeout")):
            lines.append(TIMED_OUT)
        rc = rc_of(d)
        lines.append("%s %s" % (EXITED, "none" if rc is None else rc))
        try:
            with open(os.path.join(d, "error")) as f:
                lines.append("%s %s" % (ERROR, f.read().strip()))
        except OSError:
            pass
        self.say(*lines)
        self.end()

    def say(self, *lines):
        send({"id": self.id, "out": "".join(line + "\n" for line in lines)})

    def end(self):
        send({"id": self.id, "exit": 0})


def spent(d):
    """What only served the start goes once the job has ended (as the runner's finish)."""
    for name in ("env", "script", "run", "hostfile", "stdin", "timer", "timer.pid"):
        try:
            os.unlink(os.path.join(d, name))
        except OSError:
            pass


def rc_of(d):
    try:
        with open(os.path.join(d, "rc")) as f:
            text = f.read().strip()
    except OSError:
        return None
    return text or None


def spawn(argv, fds):
    """Start argv in a new session, its stdin, stdout and stderr `fds` (or /dev/null)."""
    if fds is None:
        actions = [(os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDWR, 0),
                   (os.POSIX_SPAWN_DUP2, 0, 1), (os.POSIX_SPAWN_DUP2, 0, 2)]
    else:
        actions = [(os.POSIX_SPAWN_DUP2, fd, target) for target, fd in enumerate(fds)]
    return os.posix_spawn(argv[0], argv, os.environ, file_actions=actions, setsid=True,
                          setsigdef=(signal.SIGPIPE, signal.SIGCHLD))


class Helper:
    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.runs = {}           # id -> Run
        self.children = {}       # pid -> Run or Launch
        self.waiting = []        # launches whose runner ended before its status showed
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

    def serve(self):
        send({"ready": 1, "boot": BOOT, "pid": os.getpid(),
              "python": "%d.%d" % sys.version_info[:2]})
        while True:
            flush()
            timeout = 0.1 if self.waiting else None
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
        try:
            if op == "run":
                run = Run(self, rid, req["script"])
                self.runs[rid] = run
                self.children[run.pid] = run
            elif op == "launch":
                Launch(self, rid, req)
            elif op == "stop" and rid in self.runs:
                self.runs[rid].stop()
        except OSError as exc:
            send({"id": rid, "err": "wq helper: %s\n" % exc, "exit": 126})

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
