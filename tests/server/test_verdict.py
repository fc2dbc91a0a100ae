"""What an instance's outcome means for its job (wq.server.verdict, pure)."""

import dataclasses

import pytest

from wq.executor.outcome import Outcome
from wq.model import JobState
from wq.server.verdict import judge

from tests.builders import job


def running(**kw):
    base = job(1, **{k: v for k, v in kw.items() if k in ("retries", "crash_limit",
                                                           "time_limit")})
    extra = {k: v for k, v in kw.items() if k in ("crashes", "failures", "spec")}
    return dataclasses.replace(base, state=JobState.RUNNING, instance=1, **extra)


def test_success_and_plain_failure():
    assert judge(running(), Outcome(exit_code=0), cancelled=False).state is JobState.DONE
    v = judge(running(), Outcome(exit_code=3), cancelled=False)
    assert (v.state, v.exit_code, v.reason) == (JobState.FAILED, 3, "exit code 3")
    v = judge(running(), Outcome(exit_code=137), cancelled=False)
    assert "SIGKILL" in v.reason


def test_retries_run_a_failed_job_again_elsewhere_until_used_up():
    v = judge(running(retries=2), Outcome(exit_code=1), cancelled=False, host="n1")
    assert (v.state, v.failure, v.avoid, v.crash) == (JobState.WAITING, True, True, False)
    assert "retrying (1 of 2)" in v.reason and "n1" in v.reason
    v = judge(running(retries=2, failures=2), Outcome(exit_code=1), cancelled=False)
    assert v.state is JobState.FAILED


def test_a_missing_working_directory_is_the_jobs_failure_and_may_be_retried():
    v = judge(running(), Outcome(exit_code=97, error="no such dir"), cancelled=False)
    assert (v.state, v.exit_code, v.reason, v.start_failure) == \
        (JobState.FAILED, None, "no such dir", False)
    v = judge(running(retries=1), Outcome(exit_code=97, error="no such dir"), cancelled=False)
    assert v.state is JobState.WAITING and v.avoid


def test_a_host_that_cannot_start_jobs_is_counted_and_the_job_requeued():
    v = judge(running(), Outcome(error="cannot create the job directory"), cancelled=False,
              host="n1")
    assert (v.state, v.crash, v.avoid, v.start_failure) == (JobState.WAITING, True, True, True)
    v = judge(running(crashes=3), Outcome(exit_code=96, error="x"), cancelled=False)
    assert (v.state, v.start_failure) == (JobState.FAILED, True)


@pytest.mark.parametrize("unreachable", [True, False])
def test_lost_jobs_are_requeued_up_to_the_crash_limit(unreachable):
    lost = Outcome(lost=True, unreachable=unreachable, error="gone")
    v = judge(running(), lost, cancelled=False, host="n1")
    assert (v.state, v.crash, v.settled) == (JobState.WAITING, True, not unreachable)
    assert "requeued (1 of 3)" in v.reason
    v = judge(running(crashes=3), lost, cancelled=False)
    assert v.state is JobState.LOST and "crash_limit is 3" in v.reason
    assert judge(running(crash_limit=0), lost, cancelled=False).state is JobState.LOST


def test_an_instance_that_never_started_runs_again_for_free():
    v = judge(running(crashes=3), Outcome(lost=True, never_started=True, error="x"),
              cancelled=False)
    assert (v.state, v.crash) == (JobState.WAITING, False)


def test_interactive_sessions_are_never_run_again():
    r = running(retries=3)
    session = dataclasses.replace(r, spec=dataclasses.replace(r.spec, interactive=True))
    assert judge(session, Outcome(lost=True, error="x"), cancelled=False).state is JobState.LOST
    assert judge(session, Outcome(exit_code=1), cancelled=False).state is JobState.FAILED


def test_cancel_beats_timeout_beats_the_exit():
    out = Outcome(exit_code=143, timed_out=True)
    assert judge(running(), out, cancelled=True).state is JobState.CANCELLED
    v = judge(running(retries=5, time_limit=90.0), out, cancelled=False)
    assert (v.state, v.exit_code, v.reason) == (JobState.TIMEOUT, 143,
                                                "its time limit (1m30s) ran out")
