"""Real Unix users for the security tests: created when the suite runs as root,
removed afterwards (their processes killed first), whatever happens.

Each user has a home of mode 0755 (the laxest common default, so a test
shows what the modes wq sets protect, not what the home does) and runs wq
from a venv made from the system's python3 (root's own Python lives under
/root, which other users cannot reach).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psutil
import pytest

REPO = Path(__file__).resolve().parents[2]
SYSTEM_PYTHON = "/usr/bin/python3"
#: docs/lab.md's ways for a member to find the lab: use_lab takes them in turn,
#: so that the lab tests together run each of their members each way
WAYS = ("user file", "env", "socket option", "system file")
_turn = itertools.count()


def unavailable() -> str | None:
    """Why real users cannot be made here, or None."""
    if os.getuid() != 0:
        return "needs root to create Unix users (run the suite as root, as CI does)"
    for tool in ("useradd", "userdel", "setpriv", "unshare"):
        if shutil.which(tool) is None:
            return f"needs {tool} to create Unix users"
    if not os.access(SYSTEM_PYTHON, os.X_OK):
        return f"needs {SYSTEM_PYTHON} (a python3 other users can run) for their venv"
    return None


@dataclass
class UnixUser:
    name: str
    uid: int
    gid: int
    home: Path
    python: str
    procs: list[subprocess.Popen[str]] = field(default_factory=list)
    way: str = ""                        # how they find the lab (use_lab); "" outside one
    lab_env: dict[str, str] = field(default_factory=dict)
    etc: Path | None = None              # their own /etc/wq, the system file way

    def use_lab(self, socket: str, manual: bool = True, way: str | None = None) -> None:
        """They find the lab's socket, root its operator, the `way` given or the
        next in turn (WAYS): their client.yaml; WQ_SOCKET and WQ_OPERATOR;
        `wq --socket` (and WQ_SOCKET for the Python API); /etc/wq/client.yaml,
        bound over /etc/wq for their commands alone (a private mount namespace).
        `manual`: they start their launcher themselves."""
        self.leave_lab()
        turn = next(_turn)          # (shifted each round: every member of a test gets each)
        self.way = way or WAYS[(turn + turn // len(WAYS)) % len(WAYS)]
        config = f"socket: {socket}\noperator: root\n" + ("launcher: manual\n" if manual else "")
        if self.way == "user file":
            path = self.home / ".config" / "wq" / "client.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(config)
            for made in (path, path.parent, path.parent.parent):
                os.chown(made, self.uid, self.gid)
        elif self.way == "system file":
            os.makedirs("/etc/wq", 0o755, exist_ok=True)   # (a mount point; unix_users removes it)
            self.etc = Path(tempfile.mkdtemp(prefix="wq-etc-", dir="/tmp"))
            self.etc.chmod(0o755)
            (self.etc / "client.yaml").write_text(config)
            (self.etc / "client.yaml").chmod(0o644)
        else:
            self.lab_env = {"WQ_SOCKET": socket, "WQ_OPERATOR": "root",
                            "WQ_LAUNCHER": "manual" if manual else "auto"}

    def leave_lab(self) -> None:
        (self.home / ".config" / "wq" / "client.yaml").unlink(missing_ok=True)
        if self.etc is not None:
            shutil.rmtree(self.etc, ignore_errors=True)
        self.way, self.lab_env, self.etc = "", {}, None

    def env(self, **extra: str) -> dict[str, str]:
        env = {"HOME": str(self.home), "USER": self.name, "LOGNAME": self.name,
               "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "SHELL": "/bin/sh",
               **self.lab_env}
        env.update(extra)
        return env

    def argv(self, args: list[str]) -> list[str]:
        """`args` run as them (in their mount namespace, the system file way)."""
        argv = ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--init-groups",
                "--", *args]
        if self.etc is None:
            return argv
        return ["unshare", "--mount", "--propagation", "private", "sh", "-c",
                f'mount --bind "{self.etc}" /etc/wq && exec "$@"', "sh", *argv]

    def run(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60,
            cwd: Path | None = None, input: str | None = None
            ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.argv(list(args)), env=env or self.env(), text=True,
                              capture_output=True, timeout=timeout, input=input,
                              cwd=str(cwd or self.home))

    def wq(self, *args: str, env: dict[str, str] | None = None, timeout: float = 60,
           cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        """`wq ARGS` as them; the socket option way names the lab's socket with
        --socket rather than WQ_SOCKET."""
        env = env or self.env()
        socket = self.lab_env.get("WQ_SOCKET")
        if self.way == "socket option" and env.get("WQ_SOCKET") == socket:
            env = {k: v for k, v in env.items() if k != "WQ_SOCKET"}
            args = ("--socket", str(socket), *args)
        return self.run(self.python, "-m", "wq", *args, env=env, timeout=timeout, cwd=cwd)

    def popen(self, *args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
        proc = subprocess.Popen(self.argv(list(args)), env=env or self.env(), text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, cwd=str(self.home),
                                start_new_session=True)
        self.procs.append(proc)
        return proc

    def can_read(self, path: Path) -> bool:
        """Whether this user can list (a directory) or read (a file) `path`."""
        code = ("import os, sys\np = sys.argv[1]\n"
                "try:\n    os.listdir(p) if os.path.isdir(p) else open(p, 'rb').read(1)\n"
                "except OSError:\n    sys.exit(1)\n")
        return self.run(self.python, "-c", code, str(path)).returncode == 0

    def kill_all(self) -> None:
        """End every process of this user: all of them were started by the tests."""
        for proc in self.procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 9)
        _kill_uid(self.uid)
        for proc in self.procs:
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(10)


def _kill_uid(uid: int) -> None:
    """KILL every process of `uid`, and wait until they are gone (userdel refuses
    a user with a process left)."""
    theirs = []
    for process in psutil.process_iter(["uids"]):
        with contextlib.suppress(psutil.Error):
            if process.info["uids"] and process.info["uids"].real == uid:
                process.kill()
                theirs.append(process)
    psutil.wait_procs(theirs, timeout=10)


def give_ssh(user: UnixUser, user_keys: Path, hosts: list[tuple[str, str, int, str]]) -> None:
    """An ssh key of the user's own, authorized for them alone in `user_keys` (an
    sshd's `AuthorizedKeysFile .../%u`), and each host (alias, address, port,
    known_hosts line) known and named in their ~/.ssh/config."""
    ssh = user.home / ".ssh"
    ssh.mkdir(mode=0o700, exist_ok=True)
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(ssh / "id_ed25519")], check=True)
    (user_keys / user.name).write_text((ssh / "id_ed25519.pub").read_text())
    (ssh / "known_hosts").write_text("".join(f"{line}\n" for *_, line in hosts))
    (ssh / "config").write_text("".join(
        f"Host {alias}\n  HostName {address}\n  Port {port}\n  BatchMode yes\n"
        for alias, address, port, _ in hosts))
    for path in (ssh, *ssh.iterdir()):
        os.chown(path, user.uid, user.gid)


@contextlib.contextmanager
def members_venv() -> Iterator[str]:
    """A venv made from the system's python3 with this checkout's wq in it, for
    the test users' commands: its python. (The conftest makes it once a session:
    pip builds wq in seconds.)"""
    why = unavailable()
    if why is not None:
        pytest.skip(why)
    base = Path(tempfile.mkdtemp(prefix="wq-venv-", dir="/tmp"))
    base.chmod(0o755)
    try:
        venv = base / "venv"
        subprocess.run([SYSTEM_PYTHON, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
                        "--no-warn-script-location", str(REPO)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        yield str(venv / "bin" / "python")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _userdel(name: str) -> None:
    done = subprocess.run(["userdel", name], stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        print(f"could not remove test user {name}: {done.stderr.strip()}", file=sys.stderr)


def forget_stale_users() -> None:
    """Remove the users a killed run of the tests left (wqt<pid><role>, that pid
    gone): its `finally` never ran."""
    for entry in pwd.getpwall():
        match = re.fullmatch(r"wqt(\d+)[a-z]+", entry.pw_name)
        if match is None or psutil.pid_exists(int(match[1])):
            continue
        _kill_uid(entry.pw_uid)
        _userdel(entry.pw_name)
        shutil.rmtree(f"/tmp/wq-{entry.pw_uid}", ignore_errors=True)


@contextlib.contextmanager
def unix_users(python: str, *roles: str) -> Iterator[dict[str, UnixUser]]:
    """Create one user per role (names wqt<pid><role>), each running wq with
    `python` (members_venv's), and remove them all afterwards."""
    why = unavailable()
    if why is not None:
        pytest.skip(why)
    forget_stale_users()
    base = Path(tempfile.mkdtemp(prefix="wq-users-", dir="/tmp"))
    base.chmod(0o755)
    made: list[UnixUser] = []
    had_etc = os.path.exists("/etc/wq")
    try:
        for role in roles:
            name = f"wqt{os.getpid()}{role}"[:32]
            home = base / "home" / name
            # password '*': none works, but the account is not locked ('!'), which
            # sshd without PAM refuses even for key logins
            subprocess.run(["useradd", "--home-dir", str(home), "--no-create-home",
                            "--shell", "/bin/sh", "--user-group", "--password", "*", name],
                           check=True, stdout=subprocess.DEVNULL)
            entry = pwd.getpwnam(name)
            home.mkdir(parents=True)
            home.chmod(0o755)
            os.chown(home, entry.pw_uid, entry.pw_gid)
            made.append(UnixUser(name, entry.pw_uid, entry.pw_gid, home, python))
        yield {role: user for role, user in zip(roles, made, strict=True)}
    finally:
        for user in made:
            user.kill_all()
        for user in made:
            _userdel(user.name)
            shutil.rmtree(f"/tmp/wq-{user.uid}", ignore_errors=True)
            user.leave_lab()
        if not had_etc:
            with contextlib.suppress(OSError):
                os.rmdir("/etc/wq")
        shutil.rmtree(base, ignore_errors=True)
        print(f"removed test users {[u.name for u in made]}", file=sys.stderr)
