"""Real OpenSSH sshd test hosts on loopback addresses, and a real wq server.

Each host is an sshd process listening on its own 127.0.0.x address with its
own host key; the client side has its own key, known_hosts and (empty) ssh
config, so nothing of the user's ~/.ssh is read or changed. When run as root
with unshare available, sshd runs in a private mount namespace with a stock
~/.bashrc bound over the real one, so a slow login shell set-up (pyenv, conda)
does not slow every channel down, and with a boot_id of its own, so a host
can be "rebooted". Faults: `kill_sshd` (the host's sshd and its connections
die, its jobs live on), `freeze`/`thaw` (sshd hangs), `reboot` (everything
dies, the boot_id changes). Everything is stopped by pid.
"""

from __future__ import annotations

import contextlib
import os
import queue
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import psutil

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
STOCK_BASHRC = "# a stock ~/.bashrc for wq's test hosts\n"


def free_port(address: str) -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


#: every WqServer made in this process (see WqServer)
MADE: list[WqServer] = []


def alive(pid: int) -> bool:
    """The process exists and has not exited (a zombie has)."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def wait_for(predicate, timeout: float, what: str, interval: float = 0.02):  # type: ignore[no-untyped-def]
    """Poll `predicate` until it returns something truthy, or fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


def _accepts(address: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        try:
            s.connect((address, port))
            return s.recv(4).startswith(b"SSH-")
        except OSError:
            return False


@dataclass
class Keys:
    """The client's side: a user key, known_hosts, an ssh config."""

    root: Path

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.identity = self.root / "id_ed25519"
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "wq-test",
                        "-f", str(self.identity)], check=True)
        self.known_hosts = self.root / "known_hosts"
        self.known_hosts.write_text("")
        self.config = self.root / "ssh_config"
        self.config.write_text("# empty: the tests' hosts need nothing from ~/.ssh/config\n")
        self.authorized_keys = self.root / "authorized_keys"
        self.authorized_keys.write_text((self.root / "id_ed25519.pub").read_text())


@dataclass
class SshHost:
    name: str
    address: str
    root: Path
    keys: Keys
    port: int = 0
    proc: subprocess.Popen[bytes] | None = None
    host_key_line: str = ""
    extra_config: str = ""
    bashrc: str = STOCK_BASHRC        # the ~/.bashrc its shells see (when namespaced)
    user_keys: Path | None = None     # a directory of authorized keys files, one per user
    cache: Path | None = None         # bound over ~/.cache/wq (when namespaced): the job
    #                                   directories on a disk of this host's own

    def __post_init__(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        self.host_key = self.root / "host_ed25519"
        if not self.host_key.exists():
            subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                            str(self.host_key)], check=True)
        self.port = self.port or free_port(self.address)
        pub = (self.root / "host_ed25519.pub").read_text().split()
        self.host_key_line = f"[{self.address}]:{self.port} {pub[0]} {pub[1]}"

    def write_config(self) -> Path:
        config = self.root / "sshd_config"
        config.write_text(f"""\
ListenAddress {self.address}:{self.port}
HostKey {self.host_key}
PidFile {self.root / 'sshd.pid'}
AuthorizedKeysFile {self.keys.authorized_keys}{
    f" {self.user_keys}/%u" if self.user_keys is not None else ""}
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
UseDNS no
MaxSessions 10
MaxStartups 30:30:100
LogLevel ERROR
{self.extra_config}
""")
        return config

    @property
    def namespaced(self) -> bool:
        """Runs in a mount namespace of its own (stock ~/.bashrc, own boot_id)."""
        return os.getuid() == 0 and shutil.which("unshare") is not None

    @property
    def boot_id_file(self) -> Path:
        return self.root / "boot_id"

    def start(self) -> None:
        config = self.write_config()
        Path("/run/sshd").mkdir(exist_ok=True)     # sshd's privilege separation directory
        command = [SSHD, "-D", "-e", "-f", str(config)]
        if self.namespaced:
            bashrc = self.root / "stock_bashrc"
            bashrc.write_text(self.bashrc)
            home_rc = Path.home() / ".bashrc"
            if not home_rc.exists():
                home_rc = bashrc           # binding it over itself changes nothing
            if not self.boot_id_file.exists():
                self.boot_id_file.write_text(f"{uuid.uuid4()}\n")
            cache, home_cache = "", Path.home() / ".cache" / "wq"
            if self.cache is not None:
                self.cache.mkdir(mode=0o700, parents=True, exist_ok=True)
                home_cache.mkdir(mode=0o700, parents=True, exist_ok=True)
                cache = str(self.cache)
            command = ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                       'mount --bind "$1" "$2" && '
                       'mount --bind "$3" /proc/sys/kernel/random/boot_id && '
                       '{ [ -z "$4" ] || mount --bind "$4" "$5"; } && '
                       'shift 5 && exec "$@"', "sh", str(bashrc), str(home_rc),
                       str(self.boot_id_file), cache, str(home_cache), *command]
        log = open(self.root / "sshd.log", "ab")
        self.proc = subprocess.Popen(command, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                     start_new_session=True)
        log.close()
        wait_for(lambda: _accepts(self.address, self.port) or self._died(), 15,
                 f"sshd on {self.address}:{self.port}")
        if self.proc.poll() is not None:
            raise RuntimeError(f"sshd on {self.address} exited: "
                               f"{(self.root / 'sshd.log').read_text()[-2000:]}")

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def _sshd_processes(self) -> list:  # type: ignore[type-arg]
        """This host's sshd: the listener and its per-connection processes (whose
        children, the sessions' shells and jobs, are not included)."""
        import psutil
        assert self.proc is not None
        listener = psutil.Process(self.proc.pid)
        out = [listener]
        for child in listener.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                if child.name().startswith("sshd"):
                    out.append(child)
        return out

    def kill_sshd(self) -> None:
        """The host's sshd and all its connections die; its jobs live on (a network
        outage, or an admin restarting sshd). start() brings sshd back."""
        import psutil
        listener, *_ = self._sshd_processes()
        listener.suspend()          # first: it forks no new connection while they die
        for process in self._sshd_processes()[1:]:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        listener.kill()
        assert self.proc is not None
        self.proc.wait(10)
        self.proc = None

    def freeze(self) -> None:
        """The host's sshd hangs (SIGSTOP): connections go silent, keepalives fail."""
        for process in self._sshd_processes():
            process.suspend()

    def thaw(self) -> None:
        import psutil
        for process in self._sshd_processes():
            with contextlib.suppress(psutil.NoSuchProcess):
                process.resume()

    def reboot(self) -> None:
        """Everything of the host dies at once, jobs included (all are stopped before
        any is killed, so no wrapper records a status), and it comes back with a
        new boot_id."""
        import psutil
        assert self.proc is not None
        tree = [psutil.Process(self.proc.pid)]
        with contextlib.suppress(psutil.NoSuchProcess):
            tree += tree[0].children(recursive=True)
        for process in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.suspend()
        for process in tree:        # (KILL: a stopped process would hold a TERM back)
            with contextlib.suppress(psutil.NoSuchProcess):
                process.kill()
        self.proc.wait(10)
        self.proc = None
        self.boot_id_file.write_text(f"{uuid.uuid4()}\n")
        self.start()

    def stop(self) -> None:
        """Stop this sshd and every connection and session it started.

        sshd's per-connection processes call setsid(), so they are not in the
        listener's process group: they are found as its descendants."""
        if self.proc is None:
            return
        import psutil
        try:
            tree = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            tree = []
        for child in tree:
            with contextlib.suppress(psutil.NoSuchProcess):
                child.kill()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


@dataclass
class WqServer:
    """A real `wq serve` process with its own socket and state. Every one made is
    kept in MADE, so that the session's end deletes the job directories they
    left in this user's ~/.cache/wq (`forget_node_dirs`)."""

    root: Path
    cluster: Path | None
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[str] | None = None
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    log: list[str] = field(default_factory=list)
    socket: str = ""

    def __post_init__(self) -> None:
        MADE.append(self)
        self.root.mkdir(parents=True, exist_ok=True)
        self.socket = self.socket or str(self.root / "sock" / "wq.sock")
        self.state = str(self.root / "state")
        self.env = {**os.environ, "WQ_SOCKET": self.socket, "WQ_STATE": self.state,
                    "PYTHONUNBUFFERED": "1", **self.env}

    def start(self, *extra: str) -> None:
        args = [sys.executable, "-m", "wq", "serve", *extra]
        self.lines = queue.Queue()        # a restart must not see the last run's lines
        if self.cluster is not None:
            args.append(str(self.cluster))
        self.proc = subprocess.Popen(args, env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, text=True,
                                     stdin=subprocess.DEVNULL, start_new_session=True)
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        self.wait_log("listening on", 20)

    def _read(self, proc: subprocess.Popen[str]) -> None:
        assert proc.stderr is not None
        for line in proc.stderr:
            self.log.append(line)
            self.lines.put(line)

    def wait_log(self, text: str, timeout: float) -> str:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"server never logged {text!r}; log:\n{''.join(self.log)}")
            try:
                line = self.lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if text in line:
                return line

    def stop(self, sig: int = signal.SIGTERM) -> int | None:
        if self.proc is None:
            return None
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.proc.pid, sig)
        try:
            code = self.proc.wait(20)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait(10)
        self.proc = None
        return code

    def forget_node_dirs(self) -> None:
        """Delete the job directories this server made in this user's
        ~/.cache/wq (the loopback hosts' logins are ours): once its test is over,
        nothing reads them, and a run of the suite would leave ~75 MB of them."""
        db = Path(self.state) / "wq.db"
        if not db.exists():
            return
        with contextlib.closing(sqlite3.connect(db)) as conn:
            row = conn.execute("SELECT value FROM meta WHERE key='server_id'").fetchone()
        if row and str(row[0]).isalnum():
            shutil.rmtree(Path.home() / ".cache" / "wq" / str(row[0]), ignore_errors=True)

    def wq(self, *args: str, input: str | None = None, timeout: float = 60,
           cwd: str | None = None, env: dict[str, str] | None = None
           ) -> subprocess.CompletedProcess[str]:
        """Run the real `wq` command line against this server."""
        return subprocess.run([sys.executable, "-m", "wq", *args], env={**self.env, **(env or {})},
                              input=input, capture_output=True, text=True, timeout=timeout,
                              cwd=cwd)

    def popen(self, *args: str, cwd: str | None = None) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "wq", *args], env=self.env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                cwd=cwd, stdin=subprocess.DEVNULL)
