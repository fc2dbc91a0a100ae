"""Small builders for model objects, so tests read like the rules they check."""

from __future__ import annotations

import dataclasses
from typing import Any

from wq.model import Cluster, Host, Job, JobId, JobSpec, JobState, Mode, Requirements
from wq.scheduler import ClusterView


def host(name: str, cores: int = 4, mem: float = 16.0, gpus: int = 0,
         labels: tuple[str, ...] | list[str] = ()) -> Host:
    return Host(name=name, cores=cores, mem=mem, gpus=gpus, labels=tuple(labels))


def cluster(*hosts: Host, offline: tuple[str, ...] = (), down: tuple[str, ...] = ()
            ) -> ClusterView:
    return ClusterView.build(Cluster(tuple(hosts)), offline=offline, down=down)


def req(**kw: Any) -> Requirements:
    if isinstance(kw.get("mode"), str):
        kw["mode"] = Mode(kw["mode"])
    for key in ("groups", "not_groups", "hosts", "not_hosts"):
        if isinstance(kw.get(key), (str, list)):
            value = kw[key]
            kw[key] = (value,) if isinstance(value, str) else tuple(value)
    return Requirements(**kw)


def job(id: int, user: str = "ann", submitted: float | None = None, **kw: Any) -> Job:
    return Job(id=JobId(id), user=user, spec=JobSpec(command=f"job{id}", cwd="/tmp",
                                                    requirements=req(**kw)),
               state=JobState.WAITING, submitted=float(id) if submitted is None else submitted)


def with_(job_: Job, **kw: Any) -> Job:
    return dataclasses.replace(job_, **kw)
