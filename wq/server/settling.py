"""Settling lost instances when their host returns, so no job runs twice unnoticed.

An instance is lost *unsettled* when its host could not be reached: it may
still run there. Before that host counts as up again (and gets new work),
one channel asks what became of each such instance:

  * still running or finished, and its job waits to run again (requeued,
    not restarted yet): the job takes it back, as if never lost (adopt);
  * still running, but its job has moved on (runs elsewhere, or ended): the
    stale copy is killed, and the job's history says so;
  * finished anyway: the job's history records that it ran to the end there;
  * the host rebooted, or the processes vanished: recorded; nothing to kill;
  * never started: barred from starting late.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from typing import TYPE_CHECKING

from wq.errors import ExecutorError
from wq.executor import wrapper
from wq.model import Host, Instance, JobState

if TYPE_CHECKING:
    from wq.server.dispatcher import Dispatcher

log = logging.getLogger(__name__)


async def settle(dispatcher: Dispatcher, host: Host) -> None:
    """Find out what became of the instances lost with `host`; raises ExecutorError
    when the host cannot be asked (it then stays down)."""
    lost = dispatcher.store.unsettled(host.name)
    if not lost:
        return
    names = [i.name for i in lost]
    executor = dispatcher.executor(host)
    found = await executor.status(host, dispatcher.server_id, names)
    for instance, name in zip(lost, names):
        word = found.get(name, "vanished")
        job = dispatcher.jobs.get(instance.job_id)
        alive = word == "running" or word.startswith("exit")
        if (alive and job is not None and job.state is JobState.WAITING
                and job.instance == instance.number and instance.hosts == (host.name,)
                and instance.placement is not None):
            dispatcher.adopt(job, instance)
            continue
        if word == "running":
            directory = wrapper.job_dir(dispatcher.server_id, instance.name)
            try:
                result = await executor.kill(host, directory, dispatcher.kill_grace)
            except ExecutorError as exc:
                raise ExecutorError(f"cannot kill the stale copy of job {instance.job_label} "
                                    f"on {host.name}: {exc}") from None
            how = {"terminated": "it ended on TERM", "killed": "KILL after the grace period",
                   "gone": "it ended by itself just then"}.get(result, result)
            detail = (f"instance {instance.number} still ran on {host.name} after the job "
                      f"moved on; killed it ({how})")
            event = "stale-killed"
        elif word.startswith("exit"):
            detail = (f"instance {instance.number} ran to the end on {host.name} while "
                      f"it was unreachable ({word})")
            event = "stale-finished"
        elif word == "rebooted":
            detail = f"{host.name} rebooted; instance {instance.number} did not survive it"
            event = "host-rebooted"
        elif word == "notstarted":
            detail = f"instance {instance.number} never started on {host.name}"
            event = "never-started"
        else:
            detail = f"instance {instance.number}'s processes vanished on {host.name}"
            event = "vanished"
        log.info("job %s: %s", instance.job_label, detail)
        settled = dataclasses.replace(instance, settled=True, detail=_join(instance, detail))
        dispatcher.store.settle(settled, time.time(), event, detail)


def _join(instance: Instance, detail: str) -> str:
    return f"{instance.detail}; {detail}" if instance.detail else detail
