"""The hub: events wait for their commit to be durable, and keep their order."""

from wq.model import JobId
from wq.protocol.events import Output
from wq.server.watchers import Hub, Watcher


def out(text: str) -> Output:
    return Output("stdout", text)


def drained(w: Watcher) -> list[str]:
    got = []
    while not w.queue.empty():
        got.append(w.queue.get_nowait().data)
    return got


def test_events_wait_for_their_commit_and_later_ones_queue_behind():
    hub, w, job = Hub(), Watcher(), JobId(1)
    hub.watch(job, w)
    hub.publish(job, out("free"))
    assert drained(w) == ["free"]              # nothing held: at once
    hub.hold()
    hub.publish(job, out("a"))
    assert hub.seal()
    hub.publish(job, out("b"))                  # no write of its own, yet after a
    hub.hold()
    hub.publish(job, out("c"))
    assert hub.seal()
    assert drained(w) == []
    hub.deliver()
    assert drained(w) == ["a", "b"]
    hub.deliver()
    assert drained(w) == ["c"]
    assert not hub.seal()                        # nothing held since
    hub.publish(job, out("d"))
    assert drained(w) == ["d"]


def test_an_open_batch_is_not_delivered_before_its_seal():
    hub, w, job = Hub(), Watcher(), JobId(1)
    hub.watch(job, w)
    hub.hold()
    hub.publish(job, out("a"))
    hub.deliver()
    assert drained(w) == []
    hub.seal()
    hub.deliver()
    assert drained(w) == ["a"]
