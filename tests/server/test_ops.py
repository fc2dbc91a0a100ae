"""The server's side of a member's launcher: calls out, reports in, and a
launcher that hangs or talks nonsense costs only its own user."""

import asyncio
from typing import Any

import pytest

from wq.errors import ExecutorError, HostUnreachable
from wq.model import Host
from wq.protocol.calls import Report
from wq.server import ops as node_ops
from wq.server.ops import LauncherAway, LauncherOps, Link


class Wire:
    """A launcher's end of the connection: what the server sent, and reports to give."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.reports: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue()

    async def send(self, frame: dict[str, Any]) -> None:
        self.sent.append(frame)

    async def recv(self) -> dict[str, Any] | None:
        return await self.reports.get()


HOST = Host(name="n1", cores=4, address="10.0.0.1")


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(asyncio.wait_for(coro, 10))


async def sent(wire: Wire, count: int) -> dict[str, Any]:
    """The `count`th call sent, once it has been."""
    while len(wire.sent) < count:
        await asyncio.sleep(0.001)
    return wire.sent[count - 1]


def test_reports_are_matched_to_their_calls_and_failures_raised():
    async def main() -> None:
        wire = Wire()
        link = Link("bob", wire)  # type: ignore[arg-type]
        serving = asyncio.ensure_future(link.serve())
        ops = LauncherOps(link, "s1")
        status = asyncio.ensure_future(ops.status(HOST, "s1", ["12.1"]))
        call = await sent(wire, 1)
        assert call["op"] == "status" and call["names"] == ["12.1"]
        assert "user" not in call["host"] and "identity" not in call["host"]
        await wire.reports.put({"call": 999, "kind": "done"})       # nobody's: ignored
        await wire.reports.put(Report(call["call"], "done", result={"12.1": "running"})
                               .to_frame())
        assert await status == {"12.1": "running"}
        kill = asyncio.ensure_future(ops.kill(HOST, "d", 5.0, "TERM", "12.1"))
        await wire.reports.put(Report((await sent(wire, 2))["call"], "failed", error="no route",
                                      unreachable=True).to_frame())
        with pytest.raises(HostUnreachable, match="no route"):
            await kill
        pending = asyncio.ensure_future(ops.remove(HOST, "s1", ["12.1"]))
        await sent(wire, 3)
        await wire.reports.put(None)                                 # it went away
        with pytest.raises(LauncherAway):
            await pending
        await serving
    run(main())


def test_a_launcher_that_does_not_answer_a_short_call_is_given_up_on(monkeypatch):
    monkeypatch.setattr(node_ops, "SHORT_CALL", 0.05)

    async def main() -> None:
        wire = Wire()
        link = Link("bob", wire)  # type: ignore[arg-type]
        serving = asyncio.ensure_future(link.serve())
        ops = LauncherOps(link, "s1")
        with pytest.raises(ExecutorError, match="did not answer a status"):
            await ops.status(HOST, "s1", ["12.1"])
        await wire.reports.put(None)
        await serving
    run(main())
