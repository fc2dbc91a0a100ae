"""The engine's audience: what attached clients hear, and when not."""

from wq.model import JobId
from wq.protocol import events
from wq.server import effects as fx
from wq.server.audience import Audience

JOB = JobId(7)


def test_only_a_watched_job_is_told_and_its_last_event_ends_the_watching():
    audience = Audience()
    assert audience.tell(JOB, events.Started("a", 1, 1)) is None
    audience.watch(JOB)
    audience.watch(JOB)
    assert audience.tell(JOB, events.Started("a", 1, 1)) == \
        fx.Publish(JOB, events.Started("a", 1, 1))
    audience.unwatch(JOB)
    assert audience.watches(JOB)
    exit_ = events.Exit("done", 0, "")
    assert audience.tell_last(JOB, exit_) == fx.Publish(JOB, exit_, last=True)
    assert not audience.watches(JOB) and not audience.jobs
    assert audience.tell_last(JOB, exit_) is None


def test_why_a_job_waits_is_told_once_until_it_changes_or_the_job_does():
    audience = Audience()
    audience.watch(JOB)
    first = audience.tell_waiting(JOB, "no free cores")
    assert first == fx.Publish(JOB, events.Waiting("no free cores"))
    assert audience.tell_waiting(JOB, "no free cores") is None
    assert audience.tell_waiting(JOB, "held") is not None
    audience.changed(JOB)                      # (held, updated: told afresh)
    assert audience.tell_waiting(JOB, "held") is not None
    audience.watch(JOB)                        # a new client is told too
    assert audience.tell_waiting(JOB, "held") is not None


def test_an_array_is_told_while_watched_and_forgotten_at_its_end():
    audience = Audience()
    task = events.Task("3.1", "done", 0, "", {"done": 1})
    assert audience.tell_array(3, task) is None
    audience.watch_array(3)
    assert audience.tell_array(3, task) == fx.PublishArray(3, task)
    end = events.ArrayEnd(3, {"done": 1})
    assert audience.tell_array_last(3, end) == fx.PublishArray(3, end, last=True)
    assert not audience.watches_array(3) and audience.tell_array_last(3, end) is None
    audience.watch_array(4)
    audience.unwatch_array(4)
    assert not audience.arrays
