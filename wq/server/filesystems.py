"""Which filesystem a path lives on, and whether it is a network one.

SQLite's locking is unreliable on network filesystems (NFS above all, the
usual home of lab accounts): two writers, or a lost lock, corrupt the queue.
The server refuses a state directory there unless told otherwise. Linux
only (/proc/self/mountinfo); elsewhere nothing is known and nothing refused.
"""

from __future__ import annotations

import os

#: filesystem types (as mountinfo names them) whose locking SQLite cannot trust
NETWORK = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "ncpfs", "afs", "ceph", "glusterfs", "lustre",
    "gpfs", "9p", "beegfs", "panfs", "pvfs2", "orangefs", "davfs", "coda",
    "fuse.sshfs", "fuse.glusterfs", "fuse.ceph-fuse", "fuse.s3fs", "fuse.rclone",
    "fuse.gcsfuse", "fuse.juicefs", "fuse.davfs2",
})


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as \\ooo."""
    out, i = [], 0
    while i < len(field):
        if field[i] == "\\" and field[i + 1:i + 4].isdigit():
            out.append(chr(int(field[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(field[i])
            i += 1
    return "".join(out)


def filesystem_of(path: str, mountinfo: str) -> str | None:
    """The type of the filesystem mounted deepest above `path` (absolute, resolved)."""
    best, kind = "", None
    for line in mountinfo.splitlines():
        before, sep, after = line.partition(" - ")
        fields = before.split()
        if not sep or len(fields) < 5 or not after.split():
            continue
        point = _unescape(fields[4])
        inside = path == point or path.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):       # later mounts hide earlier ones
            best, kind = point, after.split()[0]
    return kind


def network_filesystem(path: str) -> str | None:
    """The network filesystem type `path` lives on, or None (local, or unknown)."""
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as fh:
            mountinfo = fh.read()
    except OSError:
        return None
    kind = filesystem_of(os.path.realpath(path), mountinfo)
    return kind if kind in NETWORK else None
