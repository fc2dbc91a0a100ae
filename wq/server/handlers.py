"""Request handlers: one `on_<request>` per message type; each returns a reply dict.

Handlers validate what the client sent (it is never trusted), commit through
the store, and wake the dispatcher. A WqError becomes an error reply.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any

from wq import codec, scheduler
from wq.errors import ParseError, WqError
from wq.executor import wrapper
from wq.model import HostState, Job, JobId, JobState, Limits, priority_name
from wq.protocol import messages as m
from wq.server.dispatcher import Dispatcher, Watcher
from wq.store import Store

MAX_LISTED_FINISHED = 1000


class Handlers:
    def __init__(self, store: Store, dispatcher: Dispatcher,
                 reload: Callable[[], dict[str, Any]]) -> None:
        self.store = store
        self.dispatcher = dispatcher
        self.reload = reload

    def submit(self, req: m.Submit, user: str) -> tuple[Job, Watcher | None]:
        try:
            spec = codec.spec_from_dict(req.spec)
        except ParseError as exc:
            raise WqError(f"bad job: {exc}") from None
        never = self.dispatcher.never_fits(spec.requirements)
        if never is not None:
            raise WqError(f"refused: this job can never fit the cluster: {never}")
        job = self.store.add_job(user, spec, time.time())
        watcher = Watcher() if req.attach else None
        self.dispatcher.submit(job, watcher)
        return job, watcher

    def on_ls(self, req: m.ListJobs, user: str) -> dict[str, Any]:
        states = _states(req.states)
        active = list(self.dispatcher.jobs.values())
        jobs: list[Job] = [j for j in active if states is None or j.state in states]
        finished = {s for s in (states or ()) if s.final}
        if req.all and states is None:
            finished = {s for s in JobState if s.final}
        if finished:
            jobs += self.store.jobs(finished, user=req.user, limit=MAX_LISTED_FINISHED)
        if req.user:
            jobs = [j for j in jobs if j.user == req.user]
        if req.ids is not None:
            wanted = set(req.ids)
            jobs = [j for j in jobs if j.id in wanted]
        jobs.sort(key=lambda j: j.id)
        view = self.dispatcher.view() if req.full else None
        usage, limits = self.dispatcher.usage(), self.dispatcher.limits
        rows = []
        for job in jobs:
            row = _row(job)
            if job.spec.interactive:
                row["interactive"] = True
            if job.state is JobState.WAITING:
                unfit = self.dispatcher.never_fits(job.spec.requirements)
                if unfit:
                    row["unfit"] = True
                    row["reason"] = f"can no longer fit: {unfit}"
                elif view is not None:
                    row["reason"] = scheduler.waiting_reason(job, view, usage=usage,
                                                             limits=limits)
            if req.full:
                row["command"] = job.spec.command
                row["cwd"] = job.spec.cwd
                row["hosts"] = list(job.placement.hosts) if job.placement else []
                row["requirements"] = codec.spec_to_dict(job.spec)["requirements"]
            rows.append(row)
        return {"ok": True, "now": time.time(), "jobs": rows}

    def on_stat(self, req: m.Stat, user: str) -> dict[str, Any]:
        view = self.dispatcher.view()
        status = self.dispatcher.monitor.status
        hosts = []
        for use in view.hosts():
            st = status.get(use.host.name)
            reason = st.reason if st else ""
            if not use.online:
                state, reason = "offline", self.dispatcher.offline.get(use.host.name, "")
            elif st is None or st.state is HostState.UNKNOWN:
                state = "unknown"
            else:
                state = st.state.value
            hosts.append({"name": use.host.name, "cores": use.host.cores,
                          "used": use.host.cores - use.free_cores, "mem": use.host.mem,
                          "gpus": use.host.gpus, "labels": list(use.host.labels),
                          "state": state, "reason": reason})
        waiting = sum(1 for j in self.dispatcher.jobs.values() if j.state is JobState.WAITING)
        running = len(self.dispatcher.jobs) - waiting
        return {"ok": True, "hosts": hosts, "running": running, "waiting": waiting}

    async def on_rm(self, req: m.Remove, user: str) -> dict[str, Any]:
        ids = list(req.ids)
        if req.all:
            ids = [j.id for j in self.dispatcher.jobs.values() if j.user == user]
        results = await self.dispatcher.remove(ids, user, is_admin=user == "root")
        return {"ok": True, "results": results}

    def on_refresh(self, req: m.Refresh, user: str) -> dict[str, Any]:
        changes = self.reload()
        self.dispatcher.monitor.refresh()
        self.dispatcher.wake()
        return {"ok": True, **changes}

    def on_node(self, req: m.NodeState, user: str) -> dict[str, Any]:
        known = {h.name for h in self.dispatcher.cluster.hosts}
        unknown = [h for h in req.hosts if h not in known]
        if unknown:
            raise WqError(f"no host named {unknown[0]!r} in the cluster "
                          f"(hosts: {', '.join(sorted(known))})")
        if not req.hosts:
            raise WqError("name at least one host")
        self.dispatcher.set_offline(req.hosts, req.offline)
        return {"ok": True, "hosts": req.hosts, "offline": req.offline}

    def on_users(self, req: m.Users, user: str) -> dict[str, Any]:
        usage = self.dispatcher.usage()
        waiting: dict[str, int] = {}
        for job in self.dispatcher.jobs.values():
            if job.state is JobState.WAITING:
                waiting[job.user] = waiting.get(job.user, 0) + 1
        names = sorted(set(usage) | set(waiting) | set(self.dispatcher.limits))
        rows = []
        for name in names:
            used = usage.get(name, scheduler.Usage())
            limits = self.dispatcher.limits.get(name, Limits())
            rows.append({"user": name, "running": used.jobs, "cores": used.cores,
                         "waiting": waiting.get(name, 0),
                         "limits": {"jobs": limits.jobs, "cores": limits.cores}})
        return {"ok": True, "users": rows}

    def on_limit(self, req: m.SetLimits, user: str) -> dict[str, Any]:
        """None leaves a limit as it is; -1 removes it."""
        for label, value in (("jobs", req.jobs), ("cores", req.cores)):
            if value is not None and value < -1:
                raise WqError(f"limit {label} must be 0 or more (or -1 to remove it)")
        old = Limits() if req.clear else self.dispatcher.limits.get(user, Limits())

        def pick(new: int | None, current: int | None) -> int | None:
            return current if new is None else (None if new == -1 else new)

        limits = Limits(pick(req.jobs, old.jobs), pick(req.cores, old.cores))
        self.dispatcher.set_limits(user, limits)
        return {"ok": True, "user": user, "limits": {"jobs": limits.jobs,
                                                    "cores": limits.cores}}

    def on_session_end(self, req: m.SessionEnd, user: str) -> dict[str, Any]:
        job = self.dispatcher.jobs.get(JobId(req.id))
        if job is None or not job.spec.interactive or job.user != user:
            raise WqError(f"no interactive job {req.id} of yours is running")
        self.dispatcher.end_session(job.id, req.code, req.reason, req.lost)
        return {"ok": True}

    async def on_log(self, req: m.Log, user: str) -> dict[str, Any]:
        job = self.dispatcher.jobs.get(JobId(req.id)) or self.store.get(req.id)
        if job is None:
            raise WqError(f"no job {req.id}")
        if job.spec.interactive:
            raise WqError(f"job {req.id} is interactive: its output went to its terminal")
        started = [i for i in self.store.instances(job.id) if i.placement is not None]
        if req.instance is not None:
            started = [i for i in started if i.number == req.instance]
            if not started:
                raise WqError(f"job {req.id} has no instance {req.instance} (instances: "
                              f"{job.instance or 'none yet'})")
        if not started:
            raise WqError(f"job {req.id} has not started yet, so it has no output")
        instance = started[-1]
        host = self.dispatcher.known.get(instance.host)
        if host is None:
            raise WqError(f"job {req.id} ran on {instance.host}, "
                          "which is no longer in the cluster")
        shown = dataclasses.replace(job, instance=instance.number, placement=instance.placement)
        out_word, err_word = self.dispatcher.output_words(shown)
        directory = wrapper.job_dir(self.dispatcher.server_id, job.id, instance.number)
        out, err = await self.dispatcher.executor(host).cat(
            host, directory, out_word, err_word, max(1, min(req.max_bytes, 16 << 20)))
        return {"ok": True, "id": job.id, "host": host.name, "instance": instance.number,
                "stdout": out.decode("utf-8", "surrogateescape"),
                "stderr": err.decode("utf-8", "surrogateescape")}

    def on_info(self, req: m.Info, user: str) -> dict[str, Any]:
        job = self.dispatcher.jobs.get(JobId(req.id)) or self.store.get(req.id)
        if job is None:
            raise WqError(f"no job {req.id} (finished jobs are forgotten by wq clean "
                          "and after the server's --keep period)")
        row = _row(job)
        row.update(command=job.spec.command, cwd=job.spec.cwd,
                   requirements=codec.spec_to_dict(job.spec)["requirements"],
                   hosts=list(job.placement.hosts) if job.placement else [],
                   interactive=job.spec.interactive, crashes=job.crashes,
                   failures=job.failures, stdout=job.spec.stdout, stderr=job.spec.stderr)
        row["instances"] = [
            {"number": i.number, "hosts": list(i.hosts), "started": i.started,
             "ended": i.ended, "outcome": i.outcome, "exit": i.exit_code,
             "detail": i.detail, "settled": i.settled}
            for i in self.store.instances(job.id)]
        row["events"] = [{"time": t, "kind": k, "detail": d}
                         for t, k, d in self.store.events(job.id)]
        return {"ok": True, "now": time.time(), "job": row}

    async def on_clean(self, req: m.Clean, user: str) -> dict[str, Any]:
        states = _states(req.states) or {s for s in JobState if s.final}
        unfinished = sorted(s.value for s in states if not s.final)
        if unfinished:
            raise WqError(f"wq clean forgets finished jobs only, not {', '.join(unfinished)} "
                          "ones (wq rm removes those)")
        if req.older_than < 0:
            raise WqError("--older-than must not be negative")
        count, instances = self.store.prune(time.time() - req.older_than, states)
        left = await self.dispatcher.remove_dirs(instances)
        return {"ok": True, "forgotten": count, "unreachable": left}


def _states(names: list[str] | None) -> set[JobState] | None:
    if names is None:
        return None
    out = set()
    for name in names:
        try:
            out.add(JobState(name))
        except ValueError:
            raise WqError(f"unknown state {name!r} (one of: "
                          f"{', '.join(s.value for s in JobState)})") from None
    return out


def _row(job: Job) -> dict[str, Any]:
    p = job.placement
    return {"id": job.id, "user": job.user, "state": job.state.value,
            "pri": priority_name(job.spec.requirements.priority),
            "nc": p.cores if p else None, "nh": len(p.slices) if p else None,
            "host0": p.first_host if p else None, "submitted": job.submitted,
            "started": job.started, "ended": job.ended, "exit": job.exit_code,
            "name": job.name, "reason": job.reason, "instance": job.instance}
