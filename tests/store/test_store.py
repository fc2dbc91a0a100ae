import dataclasses
import sqlite3

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wq.model import JobSpec, JobState, Limits, Placement, Slice
from wq.store import Store

from tests.builders import req


def spec(cmd: str = "echo hi") -> JobSpec:
    return JobSpec(command=cmd, cwd="/tmp", env=(("A", "1"),), requirements=req(n=2))


def test_jobs_survive_reopening(tmp_path):
    path = str(tmp_path / "wq.db")
    s = Store(path)
    sid = s.server_id()
    a = s.add_job("ann", spec("a"), now=1.0)
    b = s.add_job("bob", spec("b"), now=2.0)
    run = dataclasses.replace(a, state=JobState.RUNNING, started=3.0, instance=1,
                              placement=Placement((Slice("h1", 2, 1.5, (0,)),)))
    s.update(run, 3.0, "started", "h1")
    s.set_offline(["h2"], True, 4.0)
    s.set_limits("ann", Limits(jobs=2), 5.0)
    s.close()

    s = Store(path)
    assert s.server_id() == sid
    assert s.get(a.id) == run
    assert [j.id for j in s.jobs([JobState.WAITING])] == [b.id]
    assert s.offline_hosts() == {"h2": ""}
    assert s.limits() == {"ann": Limits(jobs=2)}
    assert [k for _, k, _ in s.events(a.id)] == ["submitted", "started"]
    c = s.add_job("ann", spec("c"), now=6.0)
    assert c.id > b.id


def test_wal_mode_and_clearing_limits(tmp_path):
    s = Store(str(tmp_path / "wq.db"))
    assert s.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    s.set_limits("ann", Limits(cores=4), 1.0)
    s.set_limits("ann", Limits(), 2.0)
    assert s.limits() == {}


def test_newest_jobs_with_limit(tmp_path):
    s = Store(str(tmp_path / "wq.db"))
    for i in range(5):
        s.add_job("ann", spec(str(i)), now=float(i))
    assert [j.spec.command for j in s.jobs(limit=2)] == ["3", "4"]


def test_a_committed_submission_is_visible_to_another_connection(tmp_path):
    path = str(tmp_path / "wq.db")
    s = Store(path)
    job = s.add_job("ann", spec(), now=1.0)
    other = sqlite3.connect(path)
    assert other.execute("SELECT state FROM jobs WHERE id=?", (job.id,)).fetchone() == ("waiting",)


def test_a_version_1_database_is_migrated_in_place(tmp_path):
    from wq.store.schema import MIGRATIONS

    path = str(tmp_path / "wq.db")
    old = sqlite3.connect(path)
    old.executescript(f"BEGIN; {MIGRATIONS[0]}; PRAGMA user_version=1; COMMIT;")
    old.execute("INSERT INTO jobs (user, state, spec, submitted) VALUES ('ann', 'waiting', "
                "'{\"command\": \"x\", \"cwd\": \"/tmp\"}', 1.0)")
    old.execute("INSERT INTO nodes (name, offline) VALUES ('h1', 1)")
    old.commit()
    old.close()
    s = Store(path)
    assert s.db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    (job,) = s.jobs()
    assert (job.spec.command, job.crashes, job.failures, job.avoid) == ("x", 0, 0, ())
    assert s.offline_hosts() == {"h1": ""}


def test_instances_and_their_settling(tmp_path):
    from wq.model import Instance

    s = Store(str(tmp_path / "wq.db"))
    job = s.add_job("ann", spec(), now=1.0)
    where = Placement((Slice("h1", 2),))
    first = Instance(job.id, 1, ("h1",), where, started=2.0, boot_id="b1")
    run = dataclasses.replace(job, state=JobState.RUNNING, instance=1, placement=where)
    s.update(run, 2.0, "started", "h1", instance=first)
    lost = dataclasses.replace(first, ended=3.0, outcome="lost", settled=False)
    again = dataclasses.replace(run, state=JobState.WAITING, placement=None, crashes=1,
                                avoid=("h1", "h2"))
    s.update(again, 3.0, "requeued", "h1 lost", instance=lost)
    assert s.unsettled("h1") == [lost]
    assert s.unsettled("h2") == []
    assert s.get(job.id) == again
    s.settle(dataclasses.replace(lost, settled=True, detail="killed"), 4.0, "stale", "killed")
    assert s.unsettled("h1") == []
    assert s.instances(job.id)[0].detail == "killed"
    assert [k for _, k, _ in s.events(job.id)] == ["submitted", "started", "requeued", "stale"]


def test_pruning_forgets_old_finished_jobs_only(tmp_path):
    from wq.model import Instance

    s = Store(str(tmp_path / "wq.db"))
    jobs = [s.add_job("ann", spec(str(i)), now=float(i)) for i in range(4)]
    for job, state, ended in ((jobs[0], JobState.DONE, 10.0), (jobs[1], JobState.FAILED, 50.0),
                              (jobs[2], JobState.RUNNING, None)):
        if state is not JobState.RUNNING:                    # jobs end from running
            s.update(dataclasses.replace(job, state=JobState.RUNNING), 4.0, "started")
        s.update(dataclasses.replace(job, state=state, ended=ended, instance=1), 5.0, "x",
                 instance=Instance(job.id, 1, ("h1",), Placement((Slice("h1", 1),))))
    count, gone = s.prune(20.0, list(JobState))
    assert count == 1 and [i.job_id for i in gone] == [jobs[0].id]
    assert [j.id for j in s.jobs()] == [j.id for j in jobs[1:]]
    assert s.events(jobs[0].id) == [] and s.instances(jobs[0].id) == []
    assert s.prune(100.0, [JobState.DONE])[0] == 0
    assert s.prune(100.0, [JobState.FAILED])[0] == 1
    new = s.add_job("ann", spec("new"), now=200.0)
    assert new.id > jobs[-1].id            # ids never come back


def test_an_array_is_stored_once_and_numbers_count_on(tmp_path):
    path = str(tmp_path / "wq.db")
    s = Store(path)
    first = s.add_job("ann", spec("a"), now=1.0)
    tasks = s.add_array("ann", spec("sweep"), 2.0, [(1, None), (3, "x y")], throttle=2)
    after = s.add_job("ann", spec("b"), now=3.0)
    assert [first.label, *(t.label for t in tasks), after.label] == ["1", "2.1", "2.3", "3"]
    assert len({first.id, *(t.id for t in tasks), after.id}) == 4
    s.close()

    s = Store(path)
    assert [(j.label, j.entry, j.spec.command) for j in s.select(2, 2)] == \
        [("2.1", None, "sweep"), ("2.3", "x y", "sweep")]
    assert s.throttles() == {2: 2}
    s.update_many([t.id for t in tasks], JobState.RUNNING, None, "", 3.5, "go")
    s.update_many([t.id for t in tasks], JobState.DONE, 4.0, "", 4.0, "done")
    assert s.throttles() == {}
    assert s.array_counts({JobState.DONE}) == {2: {"done": 2}}
    assert s.first_of(2).label == "2.1" and s.last_number("ann") == 3


def test_the_store_refuses_a_move_the_transition_table_forbids(tmp_path):

    from wq.store.store import IllegalTransition

    s = Store(str(tmp_path / "wq.db"))
    a = s.add_job("ann", spec("a"), now=1.0)
    b = s.add_job("ann", spec("b"), now=1.0)
    done = dataclasses.replace(a, state=JobState.DONE, ended=2.0, exit_code=0)
    with pytest.raises(IllegalTransition, match=f"job {a.id} cannot go from waiting to done"):
        s.update(done, 2.0, "done")
    s.begin()                                   # a batch with other moves in it survives
    s.update(dataclasses.replace(b, state=JobState.RUNNING, started=2.0), 2.0, "started")
    with pytest.raises(IllegalTransition):
        s.update_many([a.id], JobState.TIMEOUT, 2.0, "", 2.0, "timeout")
    s.commit()
    assert s.get(b.id).state is JobState.RUNNING and s.get(a.id).state is JobState.WAITING
    s.update_many([a.id], JobState.CANCELLED, 3.0, "removed", 3.0, "rm")
    with pytest.raises(IllegalTransition, match="from cancelled to running"):
        s.update(dataclasses.replace(a, state=JobState.RUNNING), 4.0, "started")
    assert [k for _, k, _ in s.events(a.id)] == ["submitted", "rm"]


def _forgotten_array(path, tasks=5000):
    """A store with an array of `tasks` tasks, ended and then forgotten."""
    s = Store(str(path))
    jobs = s.add_array("ann", spec("x" * 500), 1.0, [(i, None) for i in range(1, tasks + 1)],
                       None)
    s.update_many([j.id for j in jobs], JobState.CANCELLED, 2.0, "removed", 2.0, "cancelled")
    assert s.prune(3.0, [JobState.CANCELLED])[0] == tasks
    return s


def test_a_big_removal_gives_its_space_back_to_the_disk(tmp_path):
    import os

    db = tmp_path / "wq.db"
    s = _forgotten_array(db)
    s.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    before = os.path.getsize(db)
    assert s.db.execute("PRAGMA freelist_count").fetchone()[0] > 100
    s.begin()
    s.reclaim()                             # not inside a transaction: later
    s.commit()
    assert os.path.getsize(db) == before
    s.reclaim()
    assert s.db.execute("PRAGMA freelist_count").fetchone()[0] == 0
    assert os.path.getsize(db) < before / 4
    assert os.path.getsize(tmp_path / "wq.db-wal") == 0
    assert s.select(1, 1, None) == []


def test_the_checkpointer_thread_gives_the_space_back_when_the_server_has_one(tmp_path):
    import os

    db = tmp_path / "wq.db"
    s = _forgotten_array(db)
    s.manual_checkpoints()
    try:
        s.reclaim()
        assert s._checkpointer.reclaimed.wait(30)
        assert s.db.execute("PRAGMA freelist_count").fetchone()[0] == 0
        assert os.path.getsize(tmp_path / "wq.db-wal") == 0
    finally:
        s.close()


def test_a_store_made_before_incremental_vacuum_is_rewritten_once_in_that_mode(tmp_path):
    import sqlite3

    db = tmp_path / "wq.db"
    old = sqlite3.connect(db)
    old.execute("CREATE TABLE t (x)")              # (auto_vacuum is fixed from here on)
    old.close()
    s = Store(str(db))
    assert s.db.execute("PRAGMA auto_vacuum").fetchone()[0] == 2       # incremental
    s.close()


def test_jobs_are_built_in_the_field_order_the_store_assumes():
    from wq.model import Job

    assert [f.name for f in dataclasses.fields(Job)] == [
        "id", "user", "spec", "state", "submitted", "started", "ended", "placement",
        "exit_code", "reason", "instance", "crashes", "failures", "avoid", "number", "task",
        "entry", "entry_tag", "held"], \
        "wq/store/store.py _job() builds Job positionally: update it too"


def test_an_array_accepted_a_chunk_at_a_time_is_forgotten_if_cut_short(tmp_path):
    s = Store(str(tmp_path / "wq.db"))
    cut = s.open_array("ann", spec("x"), 1.0, 4, None)
    first = s.add_tasks(cut, [(1, None), (2, None)])
    alone = s.add_job("bob", spec("y"), 1.5)              # meanwhile: after the reserved ids
    assert alone.id > first[0].id + 3
    whole = s.open_array("ann", spec("z"), 2.0, 3, 2)
    s.add_tasks(whole, [(1, None), (2, None)])
    with pytest.raises(ValueError):
        s.close_array(whole)
    s.add_tasks(whole, [(3, "e")])
    s.close_array(whole)
    s.close()
    s = Store(str(tmp_path / "wq.db"))                   # the server stopped, and starts
    assert s.forget_incomplete() == [cut.number]
    assert s.select(cut.number, cut.number) == []
    assert [j.label for j in s.jobs([JobState.WAITING])] == \
        [alone.label, f"{whole.number}.1", f"{whole.number}.2", f"{whole.number}.3"]
    assert s.count_waiting() == (4, s.select(whole.number, whole.number)[-1].id)
    assert [j.id for j in s.waiting_after(alone.id, s.count_waiting()[1], 2)] == \
        [j.id for j in s.select(whole.number, whole.number)[:2]]


def test_pruning_a_chunk_at_a_time_forgets_the_same_and_the_array_last(tmp_path):
    s = Store(str(tmp_path / "wq.db"))
    tasks = s.add_array("ann", spec("x"), 1.0, [(i, None) for i in range(1, 8)], None)
    s.update_many([t.id for t in tasks], JobState.CANCELLED, 2.0, "removed", 2.0, "rm")
    counts = []
    while True:
        count, _ = s.prune(10.0, [JobState.CANCELLED], limit=3)
        counts.append(count)
        assert s.first_of(tasks[0].number) is None or count == 3
        if count < 3:
            break
    assert counts == [3, 3, 1]
    assert s.db.execute("SELECT count(*) FROM arrays").fetchone()[0] == 0


def test_a_lab_members_signature_and_entry_tags_are_kept(tmp_path):
    path = str(tmp_path / "wq.db")
    s = Store(path)
    signed = dataclasses.replace(spec("sweep"), signature="ab" * 32)
    array = s.open_array("ann", signed, 1.0, 2, None)
    s.add_tasks(array, [(1, "x"), (2, "y")], ["1" * 32, "2" * 32])
    s.close_array(array)
    s.close()
    s = Store(path)
    assert [(j.entry, j.entry_tag, j.spec.signature) for j in s.select(1, 1)] == \
        [("x", "1" * 32, "ab" * 32), ("y", "2" * 32, "ab" * 32)]


def test_a_syncer_reports_every_commit_durable_in_order(tmp_path):
    import threading
    synced: list[int] = []
    seen = threading.Event()
    s = Store(str(tmp_path / "wq.db"))
    before = s.generation

    def on_synced(generation: int) -> None:
        synced.append(generation)
        if generation >= before + 20:
            seen.set()
    s.sync_in_background(on_synced)
    assert s.syncing
    assert s.db.execute("PRAGMA synchronous").fetchone()[0] == 1      # NORMAL
    for i in range(20):
        s.add_job("ann", spec(str(i)), now=float(i))
    assert s.generation == before + 20
    assert seen.wait(30)
    assert synced == sorted(synced) and synced[-1] == before + 20
    s.close()


def test_without_a_syncer_commits_are_not_waited_for(tmp_path):
    s = Store(str(tmp_path / "wq.db"))
    assert s.db.execute("PRAGMA synchronous").fetchone()[0] == 2      # FULL
    s.sync_in_background(None)
    assert not s.syncing
    assert s.db.execute("PRAGMA synchronous").fetchone()[0] == 1
    s.close()


def envs(s: Store) -> int:
    return int(s.db.execute("SELECT count(*) FROM envs").fetchone()[0])


def test_an_environment_is_stored_once_by_content_and_read_back_shared(tmp_path):
    """Jobs from one shell (wq sub -b in a loop) carry equal environments: one row,
    and, read back, one object in memory."""
    path = str(tmp_path / "wq.db")
    s = Store(path)
    big = tuple(sorted((f"VAR{i}", "x" * 80) for i in range(40)))
    first = s.add_job("ann", dataclasses.replace(spec("a"), env=big), now=1.0)
    s.add_jobs("ann", [dataclasses.replace(spec(str(i)), env=tuple(big)) for i in range(50)],
               now=2.0)
    s.add_array("ann", dataclasses.replace(spec("t"), env=big), 3.0, [(1, None)], None)
    other = s.add_job("bob", spec("b"), now=4.0)
    assert envs(s) == 2
    (text,) = s.db.execute("SELECT spec FROM jobs WHERE id=?", (first.id,)).fetchone()
    assert "VAR1" not in text
    s.close()
    s = Store(path)
    jobs = s.jobs()
    assert [j.spec.env for j in jobs[:51]] == [big] * 51
    assert len({id(j.spec.env) for j in jobs if j.user == "ann"}) == 1
    assert s.get(other.id) == other
    size = sum(len(t) for t, in s.db.execute("SELECT spec FROM jobs"))
    assert size < 150 * len(jobs)                  # (each would hold 3.6 KB with its env)


def test_pruning_forgets_environments_no_job_names_any_more(tmp_path):
    s = Store(str(tmp_path / "wq.db"))
    old = s.add_job("ann", dataclasses.replace(spec("a"), env=(("OLD", "1"),)), now=1.0)
    kept = s.add_job("ann", dataclasses.replace(spec("b"), env=(("KEPT", "1"),)), now=1.0)
    shared = s.add_job("ann", dataclasses.replace(spec("c"), env=(("KEPT", "1"),)), now=1.0)
    for job in (old, shared):
        done = dataclasses.replace(job, state=JobState.CANCELLED, ended=2.0)
        s.update(done, 2.0, "cancelled")
    assert envs(s) == 2
    assert s.prune(10.0, [JobState.CANCELLED])[0] == 2
    assert envs(s) == 1
    assert s.get(kept.id) == kept
    again = s.add_job("ann", dataclasses.replace(spec("d"), env=(("OLD", "1"),)), now=3.0)
    assert envs(s) == 2 and s.get(again.id) == again


def test_jobs_of_a_batch_cut_short_are_forgotten_and_a_closed_one_kept(tmp_path):
    """A big submit_many is written over several transactions: until its batch is
    closed nobody has been told of its jobs, and a restart forgets them."""
    path = str(tmp_path / "wq.db")
    s = Store(path)
    before = s.add_job("ann", spec("before"), now=1.0)
    batch = s.open_batch()
    cut = s.add_jobs("ann", [spec(f"cut {i}") for i in range(3)], now=2.0, batch=batch)
    s.add_jobs("ann", [spec(f"cut {i}") for i in range(3, 5)], now=2.0, batch=batch)
    done = s.open_batch()
    whole = s.add_jobs("bob", [spec("whole")], now=3.0, batch=done)
    s.close_batch(done)
    s.close()
    s = Store(path)
    assert s.forget_batches() == 5
    assert [j.spec.command for j in s.jobs()] == ["before", "whole"]
    assert s.events(cut[0].id) == [] and s.get(whole[0].id) is not None
    assert s.forget_batches() == 0
    assert s.add_job("ann", spec("after"), now=4.0).number > whole[0].number > before.number


def test_a_version_5_database_keeps_its_specs_with_their_environments(tmp_path):
    from wq.store.schema import MIGRATIONS

    path = str(tmp_path / "wq.db")
    old = sqlite3.connect(path)
    for number, ddl in enumerate(MIGRATIONS[:5], start=1):
        old.executescript(f"BEGIN; {ddl}; PRAGMA user_version={number}; COMMIT;")
    old.execute("INSERT INTO jobs (user, state, spec, submitted, number) VALUES ('ann', "
                "'waiting', '{\"command\": \"x\", \"cwd\": \"/tmp\", \"env\": {\"A\": \"1\"}}',"
                " 1.0, 1)")
    old.commit()
    old.close()
    s = Store(path)
    (job,) = s.jobs()
    assert (job.spec.command, job.spec.env) == ("x", (("A", "1"),))


ENVS = [(), (("A", "1"),), (("A", "2"),), (("A", "1"), ("B", "x" * 300)),
        (("PATH", "/bin"), ("\u00e9t\u00e9", "\udcff"))]      # (any text a shell hands over)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["one", "many", "array"]),
                          st.lists(st.integers(0, len(ENVS) - 1), min_size=1, max_size=4)),
                min_size=1, max_size=8),
       st.sets(st.integers(0, 40)))
def test_environments_round_trip_and_are_kept_while_a_job_names_them(tmp_path_factory,
                                                                      submissions, gone):
    """However jobs come in, each reads back with its own environment, the store
    holds each distinct one once, and forgetting jobs forgets only the
    environments no remaining job or array names."""
    path = str(tmp_path_factory.mktemp("envs") / "wq.db")
    s = Store(path)
    made = []
    for how, picks in submissions:
        specs = [dataclasses.replace(spec(f"j{len(made)}-{k}"), env=ENVS[p])
                 for k, p in enumerate(picks)]
        if how == "one":
            made += [s.add_job("ann", sp, 1.0) for sp in specs]
        elif how == "many":
            made += s.add_jobs("ann", specs, 1.0)
        else:
            made += s.add_array("ann", specs[0], 1.0, [(1, None)], None)
    s.close()
    s = Store(path)
    assert {j.id: j.spec.env for j in s.jobs()} == {j.id: j.spec.env for j in made}
    assert envs(s) == len({j.spec.env for j in made})
    doomed = [j for k, j in enumerate(made) if k in gone]
    for job in doomed:
        s.update(dataclasses.replace(job, state=JobState.CANCELLED, ended=2.0), 2.0,
                 "cancelled")
    s.prune(10.0, [JobState.CANCELLED])
    kept = [j for j in made if j not in doomed]
    assert {j.id: j.spec.env for j in s.jobs()} == {j.id: j.spec.env for j in kept}
    arrays_left = {j.number for j in kept if j.task is not None}
    named = {j.spec.env for j in kept} | {j.spec.env for j in made
                                          if j.task is not None and j.number in arrays_left}
    assert envs(s) == len(named)
    s.close()
