import dataclasses
import sqlite3

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
    assert s.offline_hosts() == {"h2"}
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
