"""Who may use the server, and with what rights: the operator alone, or a lab.

The operator (the user running the server) is always a member and an admin.
In lab mode the members are the cluster file's `lab: users`
and the members of `lab: group` (its supplementary members, and users whose
primary group it is), looked up at each connection so that a change to the
group needs no restart. Each member other than the operator is held to the
lab's per-user bounds.
"""

from __future__ import annotations

from collections.abc import Callable

import grp
import os
import pwd

from wq.model import Lab, LabBounds
from wq.trust import user_name


class Members:
    def __init__(self, lab: Lab | None) -> None:
        self.lab = lab
        self.operator = user_name(os.getuid())
        self.connected: set[str] = set()        # members whose launcher is connected
        #: how many of a user's jobs wait (set by the server: the engine's count)
        self.waiting: Callable[[str], int] = lambda user: 0

    def refusal(self, uid: int) -> str | None:
        """Why the user `uid` may not connect, or None."""
        name = user_name(uid)
        if uid == os.getuid() or self.is_member(name):
            return None
        if self.lab is None:
            return (f"this wq server belongs to {self.operator}; connections from other "
                    "users are refused")
        return (f"{name} is not a member of this lab's wq server; ask {self.operator}, "
                "its operator, to add you (lab: users, or the lab's group, in the "
                "cluster file)")

    def is_member(self, name: str) -> bool:
        lab = self.lab
        if name == self.operator:
            return True
        if lab is None:
            return False
        if name in lab.users:
            return True
        if lab.group is None:
            return False
        try:
            group = grp.getgrnam(lab.group)
        except KeyError:
            return False
        if name in group.gr_mem:
            return True
        try:
            return pwd.getpwnam(name).pw_gid == group.gr_gid
        except KeyError:
            return False

    def is_admin(self, name: str) -> bool:
        return name == self.operator or (self.lab is not None and name in self.lab.admins)

    def by_launcher(self, name: str) -> bool:
        """Whether `name`'s jobs are run by their own launcher (a lab member other
        than the operator), and so must be signed."""
        return self.lab is not None and name != self.operator

    def bounds(self, name: str) -> LabBounds | None:
        """The per-user bounds of `name`, or None for the operator, whom only the
        server's own limits bound."""
        if self.lab is None or name == self.operator:
            return None
        return self.lab.bounds

    def group_id(self) -> int | None:
        """The lab group's gid (None: no group, or no such group here)."""
        if self.lab is None or self.lab.group is None:
            return None
        try:
            return grp.getgrnam(self.lab.group).gr_gid
        except KeyError:
            return None

    def socket_group(self) -> int | None:
        """The group the shared socket is closed to (its directory 0750, the socket
        0660): the lab's group, when the lab names no users one by one. Else None:
        anyone may reach the socket, and the server turns non-members away."""
        return None if self.lab is None or self.lab.users else self.group_id()
