"""What an instance's outcome means for its job: a final state, or another run.

Pure: the engine (state.py) applies the verdict.

  * `wq rm` wins over everything: cancelled; then `wq requeue`: it waits again.
  * Lost with its host: requeued while the job's crash limit allows (default 3),
    then lost. An instance whose launch never reached the node runs again
    without counting. Interactive sessions are never re-run.
  * Out of time: timeout (no retry: it would run out of time again).
  * The host could not start it (no job directory, the launch itself failed):
    requeued, counted as a crash, tried elsewhere first, and counted against
    the host (`drain_after`).
  * A non-zero exit, or a failure of the job's own set-up (missing working
    directory, unwritable output): retried while `retries` allows, other
    hosts first, then failed.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass

from wq.executor import contract
from wq.executor.outcome import Outcome
from wq.model import Job, JobState
from wq.parsing.units import format_duration

#: wrapper exit codes that mean the host, not the job, could not start it
HOST_FAULTS = (None, contract.RC_NO_JOB_DIR)
#: the job's own set-up failed, so its command never ran (-1: a session's set-up
#: failed, or an internal error)
NEVER_RAN = (contract.RC_NO_HOSTFILE, contract.RC_NO_CWD, contract.RC_NO_OUTPUT, -1)


@dataclass(frozen=True, slots=True)
class Verdict:
    state: JobState              # a final state, or WAITING to run again
    reason: str
    exit_code: int | None
    instance: str                # the instance's outcome in the job's history
    settled: bool = True         # False: unreachable; check the host when it returns
    crash: bool = False          # counts against the crash limit
    failure: bool = False        # counts against retries
    avoid: bool = False          # try other hosts first next time
    start_failure: bool = False  # counts against the host (auto-drain)


def judge(job: Job, outcome: Outcome, *, cancelled: bool, session_timed_out: bool = False,
          host: str = "", why: str = "removed with wq rm",
          requeued: str | None = None) -> Verdict:
    """What an instance's outcome means; `why` a cancelled one was cancelled,
    `requeued` why one stopped to wait again (None: it was not)."""
    req = job.spec.requirements
    code = outcome.exit_code
    if cancelled:
        return Verdict(JobState.CANCELLED, why, code, "cancelled")
    if requeued is not None:
        return Verdict(JobState.WAITING, requeued, code, "requeued")
    if session_timed_out or outcome.timed_out:
        limit = format_duration(req.time_limit) if req.time_limit else "?"
        return Verdict(JobState.TIMEOUT, f"its time limit ({limit}) ran out", code, "timeout")
    if outcome.lost:
        return _lost(job, outcome, host)
    if outcome.error is not None and code in HOST_FAULTS:
        reason = f"{host} could not start it: {outcome.error}"
        if job.crashes < req.crash_limit:
            return Verdict(JobState.WAITING,
                           f"{reason}; requeued ({_count(job.crashes + 1, req.crash_limit)})",
                           None, "notstarted", crash=True, avoid=True, start_failure=True)
        return Verdict(JobState.FAILED, reason, None, "failed", start_failure=True)
    if outcome.error is not None and code in NEVER_RAN:
        reason, code = outcome.error, None
    elif code is None:
        return _lost(job, Outcome(lost=True, error="no exit status could be found"), host)
    elif code == 0:
        return Verdict(JobState.DONE, "", 0, "done")
    else:
        reason = describe_exit(code)
    if job.failures < req.retries and not job.spec.interactive:
        return Verdict(JobState.WAITING,
                       f"{reason} on {host}; retrying ({_count(job.failures + 1, req.retries)})",
                       code, "failed", failure=True, avoid=True)
    return Verdict(JobState.FAILED, reason, code, "failed")


def _lost(job: Job, outcome: Outcome, host: str) -> Verdict:
    req = job.spec.requirements
    what = outcome.error or "no exit status could be found"
    if outcome.never_started:
        return Verdict(JobState.WAITING, f"{what}; requeued", None, "notstarted")
    settled = not outcome.unreachable
    if job.spec.interactive or job.crashes >= req.crash_limit:
        limit = "" if job.spec.interactive else f" (lost {job.crashes + 1} times; crash_limit " \
                                                f"is {req.crash_limit})"
        return Verdict(JobState.LOST, f"{what}{limit}", None, "lost", settled=settled)
    return Verdict(JobState.WAITING,
                   f"lost on {host}: {what}; requeued ({_count(job.crashes + 1, req.crash_limit)})",
                   None, "lost", settled=settled, crash=True)


def _count(n: int, limit: int) -> str:
    return f"{n} of {limit}"


def describe_exit(code: int) -> str:
    if code > 128:
        try:
            return f"killed by signal {signal.Signals(code - 128).name} (exit code {code})"
        except ValueError:
            pass
    return f"exit code {code}"
