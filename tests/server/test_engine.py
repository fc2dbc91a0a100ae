"""The engine alone: events in, effects out, no sshd and no event loop.

Each test drives an Engine through a scenario and compares the effects it
asks for, written briefly (`brief`), in order. Every Record is checked
against the model's transition table, as the store would.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import pytest

from tests.builders import host, job, with_
from wq.executor.outcome import Outcome
from wq.model import Cluster, Host, Instance, Job, JobState, Limits, Placement, Sample, Slice
from wq.scheduler import Usage
from wq.protocol import events
from wq.server import effects as fx
from wq.server import onnode
from wq.server.state import Engine, Inconsistent


def brief(effect: fx.Effect) -> str:
    match effect:
        case fx.Record():
            return f"record {effect.job.label} {effect.event}"
        case fx.RecordMany():
            return f"record {','.join(str(i) for i in effect.ids)} {effect.event}"
        case fx.RecordSettled():
            return f"settled {effect.instance.name} {effect.event}"
        case fx.RecordOffline():
            return f"{'offline' if effect.offline else 'online'} {','.join(effect.hosts)}"
        case fx.RecordLimits():
            return f"limits {effect.user}"
        case fx.Launch():
            return f"launch {effect.job.label}.{effect.job.instance} on {effect.host.name}"
        case fx.Watch():
            follow = " following" if effect.follow else ""
            return f"watch {effect.job.label}.{effect.job.instance} on {effect.host.name}{follow}"
        case fx.Follow():
            return f"follow {effect.job_id} on {effect.host.name}"
        case fx.Kill():
            return (f"kill {effect.job_id}.{effect.instance} {effect.first}"
                    f"{' report' if effect.report else ''}")
        case fx.Abandon():
            return f"abandon {effect.job_id}.{effect.instance}"
        case fx.KillStale():
            return f"kill stale {effect.instance.name}"
        case fx.Publish():
            return f"tell {effect.job_id} {effect.event.event}{' last' if effect.last else ''}"
        case fx.PublishArray():
            what = getattr(effect.event, "id", "")
            return f"tell array {effect.number} {effect.event.event} {what}" \
                   f"{' last' if effect.last else ''}"
        case fx.Lease():
            return f"lease {effect.job_id} on {effect.host.name}"
        case fx.ArmTimer():
            return f"timer {effect.job_id}.{effect.instance} {effect.delay:g}"
        case fx.CancelTimer():
            return f"cancel timer {effect.job_id}"
        case fx.Reschedule():
            return "reschedule"
        case fx.Hook():
            return f"hook {effect.facts['WQ_JOB_ID']} {effect.facts['WQ_STATE']}"
        case fx.RecordHeld():
            return f"record {','.join(str(i) for i in effect.ids)} " + \
                ("held" if effect.held else "released")
        case fx.RecordSpec():
            return f"record {effect.job.label} spec: {effect.detail}"
        case fx.Answer():
            return "answer " + "; ".join(f"{n}{'' if t is None else f'.{t}'}: {r}"
                                          for n, t, r, _ in effect.results)
    raise AssertionError(f"unknown effect {effect!r}")


class Sim:
    """An engine, a clock, and the store's view of each job's state."""

    def __init__(self, *hosts: Host, **kw: Any) -> None:
        self.engine = Engine(Cluster(tuple(hosts)), server_id="s1", **kw)
        self.now = 1000.0
        self.stored: dict[int, JobState] = {}
        self.held: set[int] = set()                 # as the store has it
        self.ended: dict[int, Job] = {}             # ended jobs as last recorded
        self.effects: list[fx.Effect] = []
        self.unsettled: dict[tuple[int, int], Instance] = {}   # lost, fate not known yet
        for h in hosts:
            self.feed(fx.HostUp(h.name, f"boot-{h.name}"))

    def feed(self, event: fx.Event) -> list[str]:
        """Hand the engine an event, check every move it records against the
        transition table and its books against each other (Engine.validate)."""
        self.now += 1.0
        self.effects = self.engine.handle(event, self.now)
        self.engine.validate()
        for effect in self.effects:
            moves = [(effect.job.id, effect.job.state)] if isinstance(effect, fx.Record) else \
                [(i, effect.state) for i in effect.ids] if isinstance(effect, fx.RecordMany) \
                else []
            for job_id, state in moves:
                old = self.stored[job_id]
                assert old.can_become(state), f"{job_id}: {old.value} -> {state.value}"
                self.stored[job_id] = state
            if isinstance(effect, (fx.Record, fx.RecordSettled)) and effect.instance:
                key = (effect.instance.job_id, effect.instance.number)
                if effect.instance.settled:
                    self.unsettled.pop(key, None)
                else:
                    self.unsettled[key] = effect.instance
            if isinstance(effect, fx.Record):
                self.held = self.held | {effect.job.id} if effect.job.held else \
                    self.held - {effect.job.id}
                if effect.job.state.final:
                    self.ended[effect.job.id] = effect.job
            if isinstance(effect, fx.RecordHeld):
                assert all(self.stored[i] is JobState.WAITING for i in effect.ids)
                self.held = self.held | set(effect.ids) if effect.held else \
                    self.held - set(effect.ids)
        return [brief(e) for e in self.effects]

    def submit(self, *jobs: Job, throttle: int | None = None, watched: bool = False
               ) -> list[str]:
        for j in jobs:
            self.stored[j.id] = j.state
        return self.feed(fx.Submitted(tuple(jobs), throttle, watched))

    def schedule(self) -> list[str]:
        return self.feed(fx.Schedule())

    def end(self, label: int, outcome: Outcome) -> list[str]:
        j = self.engine.jobs[label]
        return self.feed(fx.Ended(j.id, j.instance, outcome))

    def the(self, effect_type: type) -> Any:
        found = [e for e in self.effects if isinstance(e, effect_type)]
        assert len(found) == 1, found
        return found[0]

    def state(self, job_id: int) -> JobState:
        return self.stored[job_id]


def interactive(j: Job) -> Job:
    return with_(j, spec=dataclasses.replace(j.spec, interactive=True))


def task(number: int, index: int, **kw: Any) -> Job:
    return with_(job(number + index, **kw), number=number, task=index)


# -- a job's life ---------------------------------------------------------------


def test_a_job_runs_and_ends():
    sim = Sim(host("a"), host("b"))
    assert sim.submit(job(1), watched=True) == ["reschedule"]
    assert sim.schedule() == ["record 1 started", "launch 1.1 on a"]
    launch = sim.the(fx.Launch).launch
    assert launch.own["WQ_JOB_ID"] == "1" and launch.environment["WQ_HOST"] == "a"
    assert sim.feed(fx.Started(1, 1, "a", 4242)) == ["tell 1 started", "follow 1 on a"]
    assert sim.end(1, Outcome(exit_code=0)) == ["record 1 done", "tell 1 exit last",
                                                "reschedule"]
    assert 1 not in sim.engine.jobs and sim.state(1) is JobState.DONE


def test_a_job_or_array_with_on_end_asks_for_its_hook_once_it_has_ended():
    sim = Sim(host("a", cores=4))
    hooked = dataclasses.replace(job(1).spec, on_end="echo done")
    sim.submit(with_(job(1), spec=hooked))
    sim.submit(*(with_(task(10, i), spec=hooked) for i in (1, 2)))
    sim.schedule()
    assert sim.end(1, Outcome(exit_code=3)) == ["record 1 failed", "hook 1 failed",
                                                "reschedule"]
    assert sim.the(fx.Hook).facts["WQ_EXIT"] == "3"
    assert "hook" not in " ".join(sim.end(11, Outcome(exit_code=0)))
    assert sim.end(12, Outcome(exit_code=0))[1] == "hook 10 done"     # the array's, once


def test_a_job_nobody_follows_is_told_to_nobody():
    sim = Sim(host("a"))
    sim.submit(job(1))
    sim.schedule()
    assert sim.feed(fx.Started(1, 1, "a", 4242)) == []
    assert sim.end(1, Outcome(exit_code=0)) == ["record 1 done", "reschedule"]


def test_a_watched_job_has_its_output_followed_and_hears_why_it_waits():
    sim = Sim(host("a", cores=1))
    sim.submit(job(1))
    sim.schedule()
    assert sim.submit(job(2), watched=True) == ["reschedule"]
    assert sim.schedule() == ["tell 2 waiting"]
    assert sim.schedule() == []                        # the same reason is not told twice
    sim.end(1, Outcome(exit_code=0))
    assert sim.schedule() == ["record 2 started", "launch 2.1 on a"]
    assert sim.feed(fx.Started(2, 1, "a", 7)) == ["tell 2 started", "follow 2 on a"]


def test_an_outcome_of_an_instance_already_dealt_with_changes_nothing():
    sim = Sim(host("a"))
    sim.submit(job(1))
    sim.schedule()
    sim.end(1, Outcome(exit_code=0))
    assert sim.feed(fx.Ended(1, 1, Outcome(exit_code=3))) == []
    assert sim.feed(fx.Started(1, 1, "a", 5)) == []


def test_a_launch_that_cannot_be_prepared_ends_the_job_instead_of_hanging(monkeypatch):
    def broken(*args: Any) -> None:
        raise KeyError("a bug")
    monkeypatch.setattr(onnode, "launch_spec", broken)
    sim = Sim(host("a"))
    sim.submit(job(1), watched=True)
    effects = sim.schedule()
    assert effects[0] == "record 1 started"
    assert "launch 1.1 on a" not in effects
    assert sim.state(1) is JobState.FAILED
    assert "internal error" in sim.the(fx.Publish).event.reason


# -- losses, retries, crash limits ---------------------------------------------------


def test_a_host_lost_requeues_its_batch_jobs_within_the_crash_limit():
    sim = Sim(host("a", cores=1), host("b", cores=1), host("c", cores=1))
    sim.submit(job(1, crash_limit=1), watched=True)
    sim.schedule()
    assert sim.feed(fx.HostLost("a", "no route")) == [
        "abandon 1.1", "record 1 requeued", "tell 1 requeued", "reschedule"]
    lost = sim.the(fx.Record).instance
    assert lost.outcome == "lost" and not lost.settled     # settled when a returns
    assert sim.schedule() == ["record 1 started", "launch 1.2 on b"]
    assert sim.feed(fx.HostLost("b", "no route"))[:2] == ["abandon 1.2", "record 1 lost"]
    assert sim.state(1) is JobState.LOST
    assert "crash_limit is 1" in sim.the(fx.Publish).event.reason


def test_a_host_lost_leaves_interactive_sessions_to_their_client():
    sim = Sim(host("a"))
    sim.submit(interactive(job(1)), watched=True)
    sim.schedule()
    assert sim.feed(fx.HostLost("a", "gone")) == []
    assert sim.state(1) is JobState.RUNNING


def test_a_host_down_takes_no_new_work_until_it_is_up():
    sim = Sim(host("a"))
    sim.feed(fx.HostDown("a", "connection reset"))
    sim.submit(job(1))
    assert sim.schedule() == []
    sim.feed(fx.HostUp("a", "boot-a"))
    assert sim.schedule() == ["record 1 started", "launch 1.1 on a"]


def test_a_failed_job_is_retried_on_another_host_first():
    sim = Sim(host("a", cores=1), host("b", cores=1))
    sim.submit(job(1, retries=1))
    sim.schedule()
    assert sim.end(1, Outcome(exit_code=3)) == ["record 1 retried", "reschedule"]
    assert sim.engine.jobs[1].avoid == ("a",)
    assert sim.schedule() == ["record 1 started", "launch 1.2 on b"]
    assert sim.end(1, Outcome(exit_code=3))[0] == "record 1 failed"


def test_a_launch_that_never_reached_the_node_runs_again_without_counting():
    sim = Sim(host("a"))
    sim.submit(job(1, crash_limit=0))
    sim.schedule()
    assert sim.end(1, Outcome(lost=True, never_started=True, error="could not reach a"))[0] \
        == "record 1 requeued"
    assert sim.engine.jobs[1].crashes == 0


def test_a_host_that_fails_to_start_jobs_is_drained():
    sim = Sim(dataclasses.replace(host("a", cores=1), drain_after=2), host("b", cores=1))
    sim.submit(job(1, crash_limit=5))
    sim.schedule()
    sim.end(1, Outcome(error="no job directory"))
    sim.submit(job(2, crash_limit=5))
    sim.schedule()                                   # 1 on b (avoids a), 2 on a
    assert "launch 2.1 on a" in [brief(e) for e in sim.effects]
    assert sim.end(2, Outcome(error="no job directory")) == [
        "offline a", "record 2 requeued", "reschedule"]
    assert "drained" in sim.engine.offline["a"]
    sim.feed(fx.SetOffline(("a",), False))
    assert "a" not in sim.engine.offline and "a" not in sim.engine.start_failures


# -- settling what was lost with a host ---------------------------------------------------


def lose_on_a(sim: Sim) -> Instance:
    sim.submit(job(1))
    sim.schedule()
    sim.feed(fx.HostLost("a", "gone"))
    return sim.the(fx.Record).instance


def test_a_lost_copy_found_alive_is_adopted_when_its_job_still_waits():
    sim = Sim(host("a"), host("b"))
    sim.feed(fx.SetOffline(("b",), True))
    lost = lose_on_a(sim)
    assert sim.feed(fx.Settle("a", (lost,), {lost.name: "running"})) == [
        "record 1 adopted", "watch 1.1 on a"]
    assert sim.state(1) is JobState.RUNNING and sim.engine.current[1].settled


def test_a_lost_copy_found_alive_after_its_job_moved_on_is_killed():
    sim = Sim(host("a"), host("b"))
    lost = lose_on_a(sim)
    sim.schedule()                                   # instance 2 on b
    assert sim.feed(fx.Settle("a", (lost,), {lost.name: "running"})) == ["kill stale 1.1"]
    assert sim.feed(fx.StaleKilled(lost, "terminated")) == ["settled 1.1 stale-killed"]
    assert "ended on TERM" in sim.the(fx.RecordSettled).detail


@pytest.mark.parametrize("word, event", [("rebooted", "host-rebooted"),
                                         ("notstarted", "never-started"),
                                         ("vanished", "vanished"), ("exit 0", "stale-finished")])
def test_a_lost_copy_that_is_gone_is_recorded(word, event):
    sim = Sim(host("a"), host("b"))
    lost = lose_on_a(sim)
    sim.schedule()
    assert sim.feed(fx.Settle("a", (lost,), {lost.name: word})) == [f"settled 1.1 {event}"]
    assert sim.the(fx.RecordSettled).instance.settled


# -- arrays ------------------------------------------------------------------------------


def test_an_array_keeps_its_throttle_and_tells_its_watchers_each_task_and_the_end():
    sim = Sim(host("a", cores=8))
    tasks = [task(10, i) for i in range(1, 5)]
    sim.submit(*tasks, throttle=2, watched=True)
    assert sim.schedule() == ["record 10.1 started", "launch 10.1.1 on a",
                              "record 10.2 started", "launch 10.2.1 on a"]
    assert sim.end(11, Outcome(exit_code=0)) == [
        "record 10.1 done", "tell array 10 task 10.1", "reschedule"]
    assert sim.schedule() == ["record 10.3 started", "launch 10.3.1 on a"]
    sim.end(12, Outcome(exit_code=1))
    sim.schedule()
    sim.end(13, Outcome(exit_code=0))
    assert sim.end(14, Outcome(exit_code=0)) == [
        "record 10.4 done", "tell array 10 task 10.4", "tell array 10 array-end 10 last",
        "reschedule"]
    end = [e for e in sim.effects if isinstance(e, fx.PublishArray)][-1].event
    assert end == events.ArrayEnd(10, {"done": 3, "failed": 1})
    assert 10 not in sim.engine.throttles


def test_removing_a_whole_queued_array_is_one_write():
    sim = Sim(host("a"))
    sim.feed(fx.SetOffline(("a",), True))
    tasks = [task(10, i) for i in range(1, 1001)]
    sim.submit(*tasks)
    effects = sim.feed(fx.Remove(tuple(tasks), "ann"))
    assert [e for e in effects if e.startswith("record")] == \
        [f"record {','.join(str(t.id) for t in tasks)} cancelled"]
    assert effects[-2].startswith("answer 10.1: removed from the queue")
    assert not sim.engine.jobs and not sim.engine.queue and not len(sim.engine.waiting)


def test_a_held_array_starts_nothing_until_released_and_goes_a_chunk_at_a_time():
    sim = Sim(host("a", cores=2))
    tasks = [task(10, i) for i in range(1, 7)]
    sim.submit(*tasks, job(20))
    assert sim.feed(fx.Pause(frozenset({10}), True)) == []
    assert sim.schedule() == ["record 20 started", "launch 20.1 on a"]
    sim.feed(fx.Remove(tuple(tasks[:3]), "ann"))
    assert [j.task for j in sim.engine.queue[10]] == [4, 5, 6]
    assert sim.feed(fx.Pause(frozenset({10}), False)) == ["reschedule"]
    assert sim.schedule() == ["record 10.4 started", "launch 10.4.1 on a"]


def test_an_array_handed_over_in_chunks_ends_only_after_its_last():
    sim = Sim(host("a", cores=1))
    first, second = [task(10, i) for i in (1, 2)], [task(10, i) for i in (3, 4)]
    for j in (*first, *second):
        sim.stored[j.id] = j.state
    sim.feed(fx.Submitted(tuple(first), watched=True, more=True))
    for number in (11, 12):
        sim.schedule()
        sim.end(number, Outcome(exit_code=0))
    assert 10 in sim.engine.active_in and not any(
        isinstance(e, fx.PublishArray) and isinstance(e.event, events.ArrayEnd)
        for e in sim.effects)
    sim.feed(fx.Submitted(tuple(second)))
    sim.feed(fx.ArrayUnwatched(10))
    assert not sim.engine.audience.arrays
    for number in (13, 14):
        sim.schedule()
        sim.end(number, Outcome(exit_code=0))
    assert 10 not in sim.engine.active_in


# -- wq rm --------------------------------------------------------------------------------


def test_removing_a_job_during_its_launch_kills_it_when_it_starts():
    sim = Sim(host("a"))
    sim.submit(job(1))
    sim.schedule()
    assert sim.feed(fx.Remove((sim.engine.jobs[1],), "ann")) == [
        "kill 1.1 TERM", "answer 1: killed", "reschedule"]
    assert sim.feed(fx.Started(1, 1, "a", 9)) == ["kill 1.1 TERM"]
    assert sim.end(1, Outcome(exit_code=143))[0] == "record 1 cancelled"
    assert sim.state(1) is JobState.CANCELLED


def test_removing_is_for_the_owner_and_says_what_already_ended():
    sim = Sim(host("a"))
    sim.submit(job(1, user="bob"))
    done = with_(job(2), state=JobState.DONE)
    assert sim.feed(fx.Remove((sim.engine.jobs[1], done), "ann")) == [
        "answer 1: not yours (it belongs to bob); 2: already done", "reschedule"]
    assert sim.feed(fx.Remove((sim.engine.jobs[1],), "root", admin=True))[0] \
        == "record 1 cancelled"


# -- interactive sessions ------------------------------------------------------------------


def test_an_interactive_session_gets_a_lease_and_ends_when_its_time_runs_out():
    sim = Sim(host("a"))
    sim.submit(interactive(job(1, time_limit=60.0)), watched=True)
    assert sim.schedule() == ["record 1 started", "lease 1 on a", "timer 1.1 60"]
    assert sim.feed(fx.SessionExpired(1, 1)) == ["tell 1 end", "kill 1.1 HUP report"]
    assert sim.feed(fx.KillDone(1, 1))[:2] == ["record 1 timeout", "tell 1 exit last"]


def test_an_interactive_session_ends_with_its_clients_word():
    sim = Sim(host("a"))
    sim.submit(interactive(job(1, time_limit=60.0)), watched=True)
    sim.schedule()
    assert sim.feed(fx.SessionEnded(1, 3, "")) == [
        "cancel timer 1", "record 1 failed", "tell 1 exit last", "reschedule"]
    assert sim.feed(fx.SessionExpired(1, 1)) == []          # a timer that fired too late


def test_an_interactive_client_gone_ends_its_session_or_its_wait():
    sim = Sim(host("a", cores=1))
    sim.submit(job(1))
    sim.schedule()
    sim.submit(interactive(job(2)), watched=True)
    sim.submit(interactive(job(3)), watched=True)
    sim.schedule()
    assert sim.feed(fx.ClientGone(2)) == [
        "record 2 cancelled", "tell 2 exit last", "reschedule"]
    sim.end(1, Outcome(exit_code=0))
    sim.schedule()
    assert sim.feed(fx.ClientGone(3)) == [
        "kill 3.1 TERM", "record 3 lost", "tell 3 exit last", "reschedule"]


def test_a_batch_job_whose_attached_client_went_away_is_cancelled_as_sruns_is():
    sim = Sim(host("a", cores=1))
    sim.submit(job(1), watched=True)
    sim.submit(job(2), watched=True)
    sim.schedule()
    assert sim.feed(fx.ClientGone(2)) == [
        "record 2 cancelled", "tell 2 exit last", "reschedule"]
    assert sim.feed(fx.ClientGone(1)) == ["kill 1.1 TERM"]
    sim.end(1, Outcome(exit_code=143))
    assert sim.state(1) is JobState.CANCELLED
    assert "attached wq sub went away" in sim.the(fx.Record).job.reason


def test_an_array_whose_attached_client_went_away_has_its_live_tasks_cancelled():
    sim = Sim(host("a", cores=2))
    sim.submit(*(task(10, i) for i in range(1, 5)), watched=True)
    sim.schedule()
    sim.end(11, Outcome(exit_code=0))
    effects = sim.feed(fx.ArrayClientGone(10))
    assert effects[0] == "record 13,14 cancelled" and "kill 12.1 TERM" in effects
    sim.end(12, Outcome(exit_code=143))
    assert [sim.state(i) for i in (11, 12, 13, 14)] == [
        JobState.DONE, JobState.CANCELLED, JobState.CANCELLED, JobState.CANCELLED]
    assert 10 not in sim.engine.active_in


def test_an_interactive_job_whose_client_left_before_it_started_does_not_run():
    sim = Sim(host("a"))
    sim.submit(interactive(job(1)), watched=True)
    sim.feed(fx.Unwatched(1))
    assert sim.schedule() == ["record 1 started", "record 1 lost", "reschedule"]


def test_removing_an_interactive_session_asks_its_client_to_end_it():
    sim = Sim(host("a"))
    sim.submit(interactive(job(1)), watched=True)
    sim.schedule()
    assert sim.feed(fx.Remove((sim.engine.jobs[1],), "ann")) == [
        "tell 1 end", "kill 1.1 HUP report", "answer 1: session ended", "reschedule"]
    assert sim.feed(fx.SessionEnded(1, 0, ""))[0] == "record 1 cancelled"
    assert sim.feed(fx.KillDone(1, 1)) == []


# -- a restart -------------------------------------------------------------------------------


def test_a_restart_watches_running_jobs_and_ends_interactive_sessions():
    sim = Sim(host("a"), host("b"))
    before = Engine(Cluster((host("a"), host("b"))), server_id="s1")   # the last server
    before.handle(fx.HostUp("a"), 0)
    before.handle(fx.Submitted((job(1), job(3))), 0)
    before.handle(fx.Submitted((interactive(job(2)),), watched=True), 0)
    before.handle(fx.Schedule(), 1)
    running = [before.jobs[1], before.jobs[2]]
    waiting = with_(job(4), submitted=1.0)
    for j in (*running, waiting):
        sim.stored[j.id] = j.state
    instances = {1: before.current[1]}
    assert sim.feed(fx.Loaded((*running, waiting), instances, {})) == [
        "watch 1.1 on a", "kill 2.1 TERM", "record 2 lost", "reschedule"]
    assert sim.engine.current[1] is instances[1]
    assert "server restarted" in sim.the(fx.Record).job.reason
    assert sim.schedule() == ["record 4 started", "launch 4.1 on a"]


def test_a_restart_starts_nothing_and_ends_no_array_until_the_queue_is_in():
    sim = Sim(host("a", cores=1))
    running = with_(task(10, 1), state=JobState.RUNNING, instance=1, started=5.0,
                    placement=Placement((Slice("a", 1),)))
    sim.stored.update({11: JobState.RUNNING, 12: JobState.WAITING, 20: JobState.WAITING})
    assert sim.feed(fx.Loaded((running,), left=2)) == ["watch 10.1.1 on a", "reschedule"]
    sim.end(11, Outcome(exit_code=0))
    assert sim.engine.waiting_count() == 2 and 10 in sim.engine.active_in
    sim.feed(fx.Loaded((job(20),), left=1))
    assert sim.schedule() == []
    assert sim.feed(fx.Loaded((task(10, 2),), left=0)) == ["reschedule"]
    assert sim.schedule() == ["record 10.2 started", "launch 10.2.1 on a"]


def test_an_array_whose_last_task_ended_while_loading_ends_once_the_queue_is_in():
    sim = Sim(host("a", cores=1))
    running = with_(task(10, 1), state=JobState.RUNNING, instance=1, started=5.0,
                    placement=Placement((Slice("a", 1),)))
    sim.stored.update({11: JobState.RUNNING, 20: JobState.WAITING})
    sim.feed(fx.Loaded((running,), {}, {10: 3}, left=1))
    sim.end(11, Outcome(exit_code=0))
    assert 10 in sim.engine.throttles
    sim.feed(fx.Loaded((job(20),), left=0))
    assert 10 not in sim.engine.throttles and 10 not in sim.engine.active_in


# -- configuration ---------------------------------------------------------------------------


def test_limits_and_a_new_cluster_are_taken_at_once():
    sim = Sim(host("a"))
    assert sim.feed(fx.SetLimits("ann", Limits(jobs=1))) == ["limits ann", "reschedule"]
    sim.submit(job(1), job(2))
    assert sim.schedule() == ["record 1 started", "launch 1.1 on a"]
    sim.feed(fx.SetLimits("ann", Limits()))
    assert "ann" not in sim.engine.limits
    sim.feed(fx.SetCluster(Cluster((host("a"), host("b")))))
    assert "b" in sim.engine.down                      # until its probe says it is up
    assert sim.schedule() == ["record 2 started", "launch 2.1 on a"]


def test_a_hosts_own_load_is_judged_against_the_cores_wq_holds_there_now():
    sim = Sim(dataclasses.replace(host("a", cores=4), max_load=2.0))
    sim.feed(fx.Sampled("a", Sample(load=0.0, at=0.0)))
    sim.submit(job(1, n=2))
    assert sim.schedule() == ["record 1 started", "launch 1.1 on a"]
    sim.feed(fx.Sampled("a", Sample(load=3.5, at=1.0)))      # 2 of it are wq's job
    assert sim.engine.view().uses["a"].over is None
    sim.end(1, Outcome(exit_code=0))                         # now all of it is another's
    assert sim.engine.view().uses["a"].over.endswith("over its max_load 2")
    sim.submit(job(2))
    assert sim.schedule() == []


# -- any sequence of events ------------------------------------------------------------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

OUTCOMES = [Outcome(exit_code=0), Outcome(exit_code=2), Outcome(error="no job directory"),
            Outcome(lost=True, error="channel closed"), Outcome(timed_out=True, exit_code=143),
            Outcome(lost=True, never_started=True, error="could not reach")]
ACTION_NAMES = ["submit", "array", "interactive", "schedule", "end", "lost", "up", "down",
                "rm", "started", "offline", "sampled", "watch", "unwatch", "array-unwatched",
                "pause", "client-gone", "array-client-gone", "workflow-gone", "kill-done",
                "session-ended", "session-expired", "settle", "stale-killed", "limits",
                "cluster", "hold", "requeue", "update", "launcher-up", "launcher-gone",
                "launcher-settled"]
ACTIONS = st.lists(st.tuples(st.sampled_from(ACTION_NAMES), st.integers(0, 1000)),
                   max_size=60)
SETTLED = ["running", "exit 0", "exit 3", "rebooted", "notstarted", "vanished"]


def act(sim: Sim, action: str, pick: int, hosts: list[Host], next_id: int) -> int:
    """Feed the engine one event of the kind `action` names, about what `pick`
    chooses; returns the next free job id."""
    live = sorted(sim.engine.jobs)
    running = sorted(sim.engine.running)
    numbers = sorted({sim.engine.jobs[i].number_shown for i in live})
    watched = [n for n in numbers if sim.engine.audience.watches_array(n)]
    one = sim.engine.jobs[live[pick % len(live)]] if live else None
    busy = sim.engine.jobs[running[pick % len(running)]] if running else None
    name = hosts[pick % len(hosts)].name
    user = "bob" if pick % 5 == 0 else "ann"
    match action:
        case "submit":
            sim.submit(job(next_id, user=user, n=1 + pick % 3, retries=pick % 2,
                           crash_limit=pick % 3, mode="bycore" if pick % 4 else "bycore1",
                           time_limit=60.0 if pick % 7 == 0 else None))
            return next_id + 1
        case "array":
            sim.submit(*(task(next_id, i, user=user) for i in range(1, 2 + pick % 5)),
                       throttle=(pick % 3) or None, watched=pick % 2 == 0)
            return next_id + 7
        case "interactive":
            sim.submit(interactive(job(next_id, user=user, time_limit=60.0)), watched=True)
            return next_id + 1
        case "schedule":
            sim.schedule()
        case "end" if busy:
            sim.end(busy.id, OUTCOMES[pick % len(OUTCOMES)])
        case "started" if busy:
            sim.feed(fx.Started(busy.id, busy.instance, busy.placement.first_host, 1))
        case "kill-done" if busy:
            sim.feed(fx.KillDone(busy.id, busy.instance))
        case "session-ended" if busy:
            sim.feed(fx.SessionEnded(busy.id, [0, 1, None][pick % 3], "", pick % 2 == 0))
        case "session-expired" if busy:
            sim.feed(fx.SessionExpired(busy.id, busy.instance))
        case "lost":
            sim.feed(fx.HostLost(name, "gone"))
        case "up":
            sim.feed(fx.HostUp(name, f"boot-{name}-{pick % 2}"))
        case "down":
            sim.feed(fx.HostDown(name, "unreachable"))
        case "rm" if one:
            sim.feed(fx.Remove((one,), one.user))
        case "offline":
            sim.feed(fx.SetOffline((name,), name not in sim.engine.offline))
        case "sampled":
            sim.feed(fx.Sampled(name, Sample(load=pick % 7, at=pick)))
        case "watch" if one:
            sim.feed(fx.Watched(one.id))
        case "unwatch" if one and sim.engine.audience.watches(one.id):
            sim.feed(fx.Unwatched(one.id))
        case "array-unwatched" if watched:
            sim.feed(fx.ArrayUnwatched(watched[pick % len(watched)]))
        case "pause" if numbers:
            sim.feed(fx.Pause(frozenset({numbers[pick % len(numbers)]}), pick % 2 == 0))
        case "client-gone" if one:
            sim.feed(fx.ClientGone(one.id))
        case "array-client-gone" if numbers:
            sim.feed(fx.ArrayClientGone(numbers[pick % len(numbers)]))
        case "workflow-gone":
            sim.feed(fx.WorkflowGone(user, "token"))
        case "settle" if sim.unsettled:
            lost = sorted(sim.unsettled.values(), key=lambda i: (i.job_id, i.number))
            instance = lost[pick % len(lost)]
            sim.feed(fx.Settle(instance.host, (instance,),
                               {instance.name: SETTLED[pick % len(SETTLED)]}, instance.user))
        case "stale-killed" if sim.unsettled:
            instance = sorted(sim.unsettled.values(), key=lambda i: (i.job_id, i.number))[0]
            sim.feed(fx.StaleKilled(instance, "killed"))
        case "limits":
            sim.feed(fx.SetLimits(user, Limits(jobs=(pick % 4) or None,
                                               cores=(pick % 5) or None)))
        case "cluster":       # a host gains or loses a core, or leaves and comes back
            changed = [dataclasses.replace(h, cores=1 + (h.cores + pick) % 4) if
                       h.name == name else h for h in hosts]
            kept = changed if pick % 3 else [h for h in changed if h.name != name]
            sim.feed(fx.SetCluster(Cluster(tuple(kept))))
        case "hold" if one:
            sim.feed(fx.Hold((one,), one.user, pick % 2 == 0))
        case "requeue" if one:
            sim.feed(fx.Requeue((one,), one.user))
        case "update" if one:
            spec = dataclasses.replace(one.spec, requirements=dataclasses.replace(
                one.spec.requirements, time_limit=float(60 + pick)))
            sim.feed(fx.Update((one,), spec, one.user, "time limit"))
        case "launcher-up":
            sim.feed(fx.LauncherUp(user))
        case "launcher-gone":
            sim.feed(fx.LauncherGone(user))
        case "launcher-settled":
            sim.feed(fx.LauncherSettled(user))
    return next_id


def assert_kept_as_built(engine):
    """The view and usage the engine keeps as jobs come and go are what building
    them afresh from its running jobs gives."""
    kept = engine.view()
    engine._hosts_changed()
    built = engine.view()
    assert kept.uses.keys() == built.uses.keys()
    for name, use in kept.uses.items():
        assert use == built.uses[name], name
    assert kept.free_cores == built.free_cores
    assert +kept.licenses_used == +built.licenses_used
    usage = {}
    for j in engine.running.values():
        used = usage.setdefault(j.user, Usage())
        used.jobs += 1
        used.cores += j.placement.cores
    assert engine.usage() == usage


@settings(max_examples=300, deadline=None)
@given(ACTIONS, st.booleans(), st.integers(0, 3))
def test_any_sequence_of_events_keeps_the_books_straight(actions, lab, loaded):
    """Whatever happens, in a server of one user's or a lab's (whose launchers
    come and go), from a queue loaded at start: every recorded move is legal
    and the engine's books agree (Sim checks both after every event), its live
    jobs are exactly the stored live ones, and the view and usage it keeps are
    what building them afresh gives."""
    hosts = [host("a", cores=2), host("b", cores=3), host("c", cores=1)]
    hosts[1] = dataclasses.replace(hosts[1], max_load=2.0)
    sim = Sim(*hosts, launchers={"ann"} if lab else None)
    start = tuple(job(900 + i, user="bob" if i % 2 else "ann") for i in range(loaded))
    for j in start:
        sim.stored[j.id] = j.state
    sim.feed(fx.Loaded(start))
    next_id = 1
    for action, pick in actions:
        next_id = act(sim, action, pick, hosts, next_id)
        engine = sim.engine
        assert set(engine.jobs) == {i for i, s in sim.stored.items() if not s.final}
        assert all(sim.stored[i] is j.state for i, j in engine.jobs.items())
        assert_kept_as_built(engine)


def test_the_random_sequences_drive_every_kind_of_event():
    """Each event type of effects.Event is among the property's actions."""
    fed: set[type] = set()

    class Watching(Sim):
        def feed(self, event: fx.Event) -> list[str]:
            fed.add(type(event))
            return super().feed(event)

    hosts = [host("a", cores=2), host("b", cores=3), host("c", cores=1)]
    for lab in (False, True):
        sim = Watching(*hosts, launchers={"ann"} if lab else None)
        sim.feed(fx.Loaded(()))
        next_id = 1
        for action in ACTION_NAMES:      # each with jobs running, and with a host lost
            for before in ("array", "interactive", "submit", "schedule"):
                next_id = act(sim, before, 2, hosts, next_id)
            if action in ("settle", "stale-killed"):
                next_id = act(sim, "lost", 0, hosts, next_id)
            for pick in (0, 1, 2, 3):
                next_id = act(sim, action, pick, hosts, next_id)
            for pick in range(len(hosts)):
                next_id = act(sim, "up", pick, hosts, next_id)
    assert set(typing.get_args(fx.Event)) - fed == set()


def test_a_move_the_transition_table_forbids_is_refused_before_it_is_recorded():
    sim = Sim(host("a"))
    sim.submit(job(1))
    sim.schedule()
    sim.end(1, Outcome(exit_code=0))
    done = sim.ended[1]
    with pytest.raises(Inconsistent, match="job 1 cannot go from done to running"):
        sim.engine._move(done, "started", "a", None, state=JobState.RUNNING)
    assert sim.engine._out == [] and 1 not in sim.engine.jobs


def test_validate_names_each_book_that_disagrees():
    sim = Sim(host("a", cores=2))
    sim.submit(job(1), job(2, n=2))
    sim.schedule()
    engine = sim.engine
    engine.validate()
    engine.running_in[1] += 1
    engine.current.pop(1)
    engine._usage.clear()
    with pytest.raises(Inconsistent) as broken:
        engine.validate()
    assert str(broken.value) == (
        "each running job has its instance; running_in counts each number's running jobs; "
        "the kept usage is what the running jobs hold")


# -- a lab: jobs start only for users whose launcher is in ------------------------


def test_in_a_lab_a_users_jobs_wait_for_their_launcher_and_hold_nobody_up():
    sim = Sim(host("a", cores=2), launchers={"ann"})
    sim.submit(job(1, user="bob"), watched=True)
    sim.submit(job(2, user="ann"))
    assert sim.schedule() == ["record 2 started", "launch 2.1 on a", "tell 1 waiting"]
    told = sim.the(fx.Publish).event
    assert told.reason.startswith("waiting for bob's launcher")
    sim.engine.launchers = {"ann", "bob"}
    assert sim.schedule() == ["record 1 started", "launch 1.1 on a"]


def test_in_a_lab_a_freed_core_goes_to_the_user_with_less_in_use():
    sim = Sim(host("a", cores=2))
    sim.engine.shares = {}
    sim.submit(*(task(10, i, user="alice") for i in range(1, 6)))
    assert sim.schedule() == ["record 10.1 started", "launch 10.1.1 on a",
                              "record 10.2 started", "launch 10.2.1 on a"]
    sim.submit(job(20, user="bob"))
    assert sim.schedule() == []
    sim.end(11, Outcome(exit_code=0))
    assert sim.schedule() == ["record 20 started", "launch 20.1 on a"]


def test_a_returning_launcher_settles_before_its_users_jobs_start_and_kills_wait_for_it():
    sim = Sim(host("a", cores=3), launchers={"ann", "bob"})
    sim.submit(job(1, user="bob"), job(2, user="bob"))
    sim.schedule()
    assert sim.feed(fx.LauncherGone("bob")) == ["abandon 1.1", "abandon 2.1"]
    assert sim.feed(fx.Remove((sim.engine.jobs[2],), "bob")) == ["answer 2: killed",
                                                                "reschedule"]
    # (its kill waits for the launcher; the job ends when it is watched again)
    sim.submit(job(3, user="bob"))
    assert sim.schedule() == []
    assert sim.feed(fx.LauncherUp("bob")) == ["kill 2.1 TERM", "watch 1.1 on a",
                                              "watch 2.1 on a"]
    assert sim.schedule() == []                           # settling what was lost first
    assert sim.feed(fx.LauncherSettled("bob")) == ["reschedule"]
    assert sim.schedule() == ["record 3 started", "launch 3.1 on a"]
