"""What other members see of a job's reason."""

from __future__ import annotations


def test_reasons_shown_to_other_members_leave_out_the_owners_paths():
    from wq.server.handlers import public

    assert public("cannot write the output files /home/alice/logs/37.out: Permission "
                  "denied") == "cannot write the output files …: Permission denied"
    assert public("cd: can't cd to '/srv/alice/secret-project'") == "cd: can't cd to '…'"
    for kept in ("waiting for alice's launcher", "needs 2/4 cores", "afterok:12 failed",
                 "lost with its host (node1)", ""):
        assert public(kept) == kept
