"""What a placed job's instance is, as the node scripts take it: pure functions of
the job, the cluster's hosts and the server's id."""

from __future__ import annotations

import itertools
from collections.abc import Mapping

from wq.executor import wrapper
from wq.parsing import arrays, hostlist
from wq.model import Host, Instance, Job


def instance_name(job: Job) -> str:
    return f"{job.label}.{job.instance}"


def directory(server_id: str, job: Job) -> str:
    """The node directory of the job's current instance."""
    return wrapper.job_dir(server_id, instance_name(job))


def instance_directory(server_id: str, instance: Instance) -> str:
    return wrapper.job_dir(server_id, instance.name)


#: the submitted environments last filtered for a launch: the tasks of an array
#: share theirs (a conda shell's is ~100 variables), so filter it once
_ENVIRONMENTS: dict[int, tuple[tuple[tuple[str, str], ...], dict[str, str]]] = {}
ENVIRONMENTS_KEPT = 32


def submitted_environment(env: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """wrapper.job_environment of a spec's env, shared by every launch of it: not
    to be changed (kept by its identity: the entry holds the tuple, so its id
    stays its own)."""
    kept = _ENVIRONMENTS.get(id(env))
    if kept is not None and kept[0] is env:
        return kept[1]
    if len(_ENVIRONMENTS) >= ENVIRONMENTS_KEPT:
        del _ENVIRONMENTS[next(iter(_ENVIRONMENTS))]
    filtered = wrapper.job_environment(dict(env))
    _ENVIRONMENTS[id(env)] = (env, filtered)
    return filtered


def launch_spec(job: Job, known: Mapping[str, Host], server_id: str,
                kill_grace: float) -> wrapper.Launch:
    if job.placement is None:
        raise ValueError(f"job {job.label} has no placement to launch")
    spec, req, placement = job.spec, job.spec.requirements, job.placement
    first = placement.slices[0]
    host = known[first.host]
    own = dict(WQ_JOB_ID=job.label, WQ_INSTANCE=str(job.instance), WQ_HOST=host.name,
               WQ_NCORES=str(placement.cores), WQ_HOSTS=",".join(placement.hosts),
               OMP_NUM_THREADS=str(req.threads or first.cores))
    if job.task is not None:
        own.update(WQ_ARRAY_ID=str(job.number), WQ_TASK_ID=str(job.task))
        if job.entry is not None:
            own["WQ_ENTRY"] = job.entry
    if first.gpu_ids:
        own["CUDA_VISIBLE_DEVICES"] = ",".join(str(g) for g in first.gpu_ids)
    if spec.slurm:
        own.update(slurm_environment(job))
    lines = tuple(known[s.host].address or s.host
                  for s in placement.slices for _ in range(s.cores))
    hostfile = None if req.hostfile in (None, "auto") else req.hostfile
    command = spec.command.replace("%hostfile%", '"$WQ_HOSTFILE"')
    stdout, stderr = output_paths(job)
    return wrapper.Launch(server_id, instance_name(job), command, spec.cwd,
                          submitted_environment(spec.env),
                          stdout, stderr, lines, hostfile, spec.stdin,
                          time_limit=None if spec.interactive else req.time_limit,
                          grace=kill_grace, shell=req.shell, warning=req.signal, own=own)


def slurm_environment(job: Job) -> dict[str, str]:
    """What a job submitted through sbatch or srun sees of Slurm, as Slurm sets it
    for what was asked (a count not given is not said). Only those jobs: an MPI
    library that saw SLURM_JOB_ID elsewhere would try to launch through srun."""
    spec, placement = job.spec, job.placement
    assert placement is not None and spec.slurm is not None
    shape, req = spec.slurm, spec.requirements
    cores: dict[str, int] = {}
    for piece in placement.slices:
        cores[piece.host] = cores.get(piece.host, 0) + piece.cores
    per_task = shape.cpus_per_task or req.threads or 1
    nodelist = hostlist.compress(cores)
    slurm_id = str(slurm_number(job))
    env = {"SLURM_JOB_ID": slurm_id, "SLURM_JOBID": slurm_id,
           "SLURM_JOB_NAME": job.name, "SLURM_SUBMIT_DIR": shape.submit_dir or spec.cwd,
           "SLURM_JOB_NODELIST": nodelist, "SLURM_NODELIST": nodelist,
           "SLURM_JOB_NUM_NODES": str(len(cores)), "SLURM_NNODES": str(len(cores)),
           "SLURM_CPUS_ON_NODE": str(placement.slices[0].cores),
           "SLURM_JOB_CPUS_PER_NODE": repeats(list(cores.values())),
           "SLURM_TASKS_PER_NODE": repeats([max(1, n // per_task) for n in cores.values()]),
           "SLURM_NODEID": "0", "SLURM_PROCID": "0", "SLURM_LOCALID": "0",
           "SLURM_JOB_USER": job.user, "SLURM_CLUSTER_NAME": "wq"}
    ntasks = shape.ntasks or (shape.nodes or 1) * (shape.ntasks_per_node or 0)
    if ntasks:
        env.update(SLURM_NTASKS=str(ntasks), SLURM_NPROCS=str(ntasks))
    if shape.cpus_per_task is not None:
        env["SLURM_CPUS_PER_TASK"] = str(shape.cpus_per_task)
    if shape.ntasks_per_node is not None:
        env["SLURM_NTASKS_PER_NODE"] = str(shape.ntasks_per_node)
    if job.instance > 1:                 # run again (requeued, retried): how many times
        env["SLURM_RESTART_COUNT"] = str(job.instance - 1)
    if shape.mem_per_cpu is not None:
        env["SLURM_MEM_PER_CPU"] = str(shape.mem_per_cpu)
    elif req.mem:
        env["SLURM_MEM_PER_NODE"] = str(int(req.mem * 1024))
    if job.task is not None:
        env.update(SLURM_ARRAY_JOB_ID=str(job.number), SLURM_ARRAY_TASK_ID=str(job.task))
        if shape.array is not None:
            count = arrays.count(shape.array)
            env.update(SLURM_ARRAY_TASK_COUNT=str(count),
                       SLURM_ARRAY_TASK_MIN=str(shape.array[0][0]),
                       SLURM_ARRAY_TASK_MAX=str(arrays.at(shape.array, count - 1)),
                       SLURM_ARRAY_TASK_STEP=str(shape.array[0][2] if len(shape.array) == 1
                                                 else 1))
    return env


def slurm_number(job: Job) -> int:
    """A job's id as Slurm gives it: an integer, for an array's task too (an
    array of sbatch's takes a number per task, Store.open_array; arrays.own_id
    says which, Store.slurm_alias finds them again)."""
    shape = job.spec.slurm
    if job.task is None or shape is None or shape.array is None:
        return job.number_shown
    return arrays.own_id(job.number, shape.array, job.task)


def repeats(values: list[int]) -> str:
    """Slurm's run-length form of counts a node: [2, 2, 1] → 2(x2),1."""
    out: list[str] = []
    for value, run in itertools.groupby(values):
        times = len(list(run))
        out.append(str(value) if times == 1 else f"{value}(x{times})")
    return ",".join(out)


def hook_facts(job: Job, state: str, exit: int | None,
               counts: Mapping[str, int] | None = None) -> dict[str, str]:
    """How a job ended, for its on_end command (wq.hooks): WQ_JOB_ID (an array's
    number, for an array), WQ_STATE, WQ_EXIT, WQ_HOST, WQ_JOB_NAME, and an
    array's count of tasks in each state as WQ_TASKS_<STATE>."""
    facts = {"WQ_JOB_ID": str(job.number) if counts is not None else job.label,
             "WQ_STATE": state, "WQ_EXIT": "" if exit is None else str(exit),
             "WQ_HOST": job.placement.first_host if job.placement and counts is None else "",
             "WQ_JOB_NAME": job.name}
    for name, count in (counts or {}).items():
        facts[f"WQ_TASKS_{name.upper()}"] = str(count)
    return facts


def output_paths(job: Job) -> tuple[str | None, str | None]:
    host = job.placement.first_host if job.placement else ""
    out, err = (None if p is None else wrapper.expand_pattern(p, label=job.label,
                                                              instance=job.instance, host=host)
                for p in (job.spec.stdout, job.spec.stderr))
    return out, err


def output_words(job: Job) -> tuple[str, str]:
    """How the node scripts name the job's stdout and stderr files."""
    out, err = output_paths(job)
    return (wrapper.output_word(out, "stdout", job.spec.cwd),
            wrapper.output_word(err, "stderr", job.spec.cwd))
