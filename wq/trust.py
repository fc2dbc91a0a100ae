"""Who may be trusted at the end of a socket: checked before anything is sent.

A client talks to a server only when the socket's directory is a real
directory (not a symlink) owned by the expected user with no access for group
or others, the socket is a socket owned by that user, and the process
listening is that user's (SO_PEERCRED). The expected user is the client's own
uid, or the lab's operator (whose shared socket's directory others may enter
but not write in). The server applies the same rules to the directory it
listens in, and never changes the mode of one it did not create. Anything
else is an error that says what is wrong and what to do.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import socket
import stat
import struct

from wq.errors import ClientError, WqError


class Untrusted(ClientError):
    """The socket, its directory or the process behind it is not the expected user's."""


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def private_dir_problem(directory: str, owner: int, shared: bool = False) -> str | None:
    """What makes `directory` unfit to hold a socket of `owner`, or None. A
    private directory is 0700; a lab's `shared` one may let others in (to reach
    the socket) but never lets them write (to replace it)."""
    try:
        info = os.lstat(directory)
    except FileNotFoundError:
        return f"{directory} does not exist"
    except OSError as exc:
        return f"cannot inspect {directory}: {exc.strerror}"
    if stat.S_ISLNK(info.st_mode):
        return f"{directory} is a symbolic link, not a directory of yours"
    if not stat.S_ISDIR(info.st_mode):
        return f"{directory} is not a directory"
    if info.st_uid != owner:
        return f"{directory} belongs to {user_name(info.st_uid)}, not to {user_name(owner)}"
    mode = stat.S_IMODE(info.st_mode)
    if shared and mode & 0o022:
        return (f"others may write in {directory} (mode {mode:04o}), so anyone could "
                "replace the socket")
    if not shared and mode & 0o077:
        return f"{directory} is open to other users (mode {mode:04o}, not 0700)"
    return None


def check_socket(path: str, owner: int, lab: bool = False) -> None:
    """Before connecting: the socket's directory and the socket itself (Untrusted).
    A lab's socket (another user's, or one the configuration says is a lab's,
    the operator's own) may be in a directory others can enter but not write
    in; a private one must be in a 0700 directory."""
    directory = os.path.dirname(path)
    if not os.path.lexists(directory):
        return                       # nobody listens: the caller reports that
    shared = lab or owner != os.getuid()
    problem = private_dir_problem(directory, owner, shared)
    if problem is not None:
        if shared:
            raise Untrusted(f"refusing to talk to the lab's wq server at {path}: {problem}; "
                            f"ask {user_name(owner)}, its operator, to check it")
        hint = ""
        with contextlib.suppress(OSError):
            other = os.lstat(directory).st_uid
            if other != owner:
                hint = (f" (if {user_name(other)} runs your lab's server, say so: "
                        f"WQ_OPERATOR={user_name(other)}, or 'operator: "
                        f"{user_name(other)}' in ~/.config/wq/client.yaml)")
        raise Untrusted(f"refusing to talk to a wq server at {path}: {problem}{hint}. "
                        "Another user may be posing as your server; remove "
                        f"{directory} if you do not know it (a new 'wq serve' makes it "
                        "again), or give --socket another path")
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return                       # nobody listens: the caller reports that
    if not stat.S_ISSOCK(info.st_mode) or info.st_uid != owner:
        what = "is not a socket" if not stat.S_ISSOCK(info.st_mode) else \
            f"belongs to {user_name(info.st_uid)}"
        raise Untrusted(f"refusing to talk to a wq server at {path}: it {what}; remove it "
                        "if you do not know it")


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a connected Unix socket."""
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def check_peer(sock: socket.socket, path: str, owner: int) -> None:
    """After connecting, before sending: the server runs as `owner`."""
    uid = peer_uid(sock)
    if uid != owner:
        whose = "your" if owner == os.getuid() else f"{user_name(owner)}'s"
        raise Untrusted(f"refusing to talk to the process listening on {path}: it runs as "
                        f"{user_name(uid)}, not as {user_name(owner)}; someone may be posing "
                        f"as {whose} wq server")


def prepare_shared_dir(path: str, gid: int | None) -> None:
    """For a lab server: create the shared socket's directory (0750 and of the
    lab's group `gid`, or 0711 when the lab names users only: the server then
    turns away whoever else connects), or check that an existing one is ours and
    writable by nobody else (its mode is never changed)."""
    directory = os.path.dirname(path)
    if not os.path.lexists(directory):
        try:
            os.mkdir(directory, 0o700)
            if gid is not None:
                os.chown(directory, -1, gid)
            os.chmod(directory, 0o750 if gid is not None else 0o711)
        except OSError as exc:
            raise WqError(f"cannot create {directory} for the lab's socket: "
                          f"{exc.strerror}") from None
    problem = private_dir_problem(directory, os.getuid(), shared=True)
    if problem is None:
        info = os.stat(directory)
        needed = 0o010 if gid is not None and info.st_gid == gid else 0o001
        if not stat.S_IMODE(info.st_mode) & needed:
            problem = (f"the lab's members cannot reach it (mode "
                       f"{stat.S_IMODE(info.st_mode):04o}): make it 0750 and of the lab's "
                       "group, or 0711")
    if problem is not None:
        raise WqError(f"cannot listen at {path}: {problem}. The lab's socket must be in a "
                      "directory of yours that only you can write in; give lab: socket a "
                      "path whose directory does not exist yet (wq creates it)")


def prepare_socket_dir(path: str) -> None:
    """For a server: create the socket's directory 0700, or check that an existing
    one is ours and private (its mode is never changed)."""
    directory = os.path.dirname(path)
    try:
        os.mkdir(directory, 0o700)
    except FileExistsError:
        pass
    except FileNotFoundError:
        os.makedirs(directory, 0o700)        # parents too (0700 under the server's umask)
    except OSError as exc:
        raise WqError(f"cannot create {directory} for the wq socket: {exc.strerror}") from None
    problem = private_dir_problem(directory, os.getuid())
    if problem is not None:
        raise WqError(f"cannot listen at {path}: {problem}. The socket must be in a private "
                      "directory of yours: give --socket a path whose directory does not "
                      "exist yet (wq creates it, 0700), or remove the one there")
