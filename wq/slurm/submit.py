"""sbatch and srun over wq: submitting jobs as Slurm's commands do."""

from __future__ import annotations

import dataclasses
import getpass
import os
import sys
import time
from typing import Any

from wq.slurm import common


def sbatch(args: list[str]) -> int:
    from wq.submission import ensure_launcher, signed
    from wq.client import Client
    from wq.model import JobSpec
    from wq.parsing import arrays, script, textfile
    from wq.protocol import messages as m
    from wq.protocol.replies import Accepted
    from wq import codec
    from wq.slurm import sbatch as options

    given, rest = options.split(args)
    wrap = next((v for k, v in given if k == "wrap"), None)
    if wrap is not None:
        text = f"#!/bin/sh\n{wrap}\n"
        batch = options.parse(args, None)
    else:
        path = rest[0] if rest else None
        if path is None:
            text = sys.stdin.read()
            if not text.strip():
                raise common.SlurmError("no script given (a file, standard input, or --wrap)")
        else:
            text = textfile.read(path, "script")
        if not text.startswith("#!"):
            raise common.SlurmError("this does not look like a batch script: the first line "
                                    "must start with #! followed by the path to an "
                                    "interpreter")
        batch = options.parse(args, text)
    if batch.ignored and not batch.quiet:
        print(f"sbatch: warning: ignored by wq: {', '.join(batch.ignored)}", file=sys.stderr)
    user = getpass.getuser()
    name = batch.name or (os.path.basename(batch.script) if batch.script else "wrap")
    here = os.getcwd()
    cwd = os.path.abspath(os.path.join(here, batch.chdir)) if batch.chdir else here
    default = "slurm-%A_%a.out" if batch.array else "slurm-%j.out"
    stdout = options.output_pattern(batch.stdout or default, name, user)
    stderr = options.output_pattern(batch.stderr, name, user) if batch.stderr else stdout
    req = batch.requirements
    if req.job_name is None:
        req = dataclasses.replace(req, job_name=name)
    after = batch.after + (_singleton(name, user) if batch.singleton else ())
    spec = JobSpec(command=script.run_command(text, batch.script_args), cwd=cwd,
                   env=tuple(sorted(_exported(batch.export).items())), requirements=req,
                   stdout=stdout, stderr=stderr, after=after,
                   slurm=dataclasses.replace(
                       batch.shape, submit_dir=here,
                       script=os.path.abspath(batch.script) if batch.script else ""))
    frame = codec.spec_to_dict(spec)
    shape: dict[str, Any] = {} if batch.array is None else {
        "array": arrays.to_json(batch.array), "throttle": batch.throttle}
    if batch.test_only:
        print(f"sbatch: Job to start at {time.strftime('%Y-%m-%dT%H:%M:%S')} using "
              f"{req.n} processors (wq: checked, not submitted)", file=sys.stderr)
        return 0
    with Client() as client:
        if client.by_launcher:
            frame, shape = signed(frame, shape, client.user)
            ensure_launcher(client, None)
        reply = client.ask(m.Submit(spec=frame, attach=False, hold=batch.hold, **shape),
                           Accepted)
    print(reply.id if batch.parsable else f"Submitted batch job {reply.id}", flush=True)
    if batch.wait:
        from wq.cli.wait import wait
        return wait(None, [reply.id])
    return 0


def _singleton(name: str, user: str) -> tuple[Any, ...]:
    """-d singleton as Slurm means it: after every job of `user`'s named `name`
    that waits or runs now (each to end, however)."""
    from wq.model import After, DepKind

    return tuple(dict.fromkeys(
        After(DepKind.AFTERANY, row.number, row.task)
        for row in common.rows(select=None, finished=False, user=user)
        if row.name == name and not row.array))


def _exported(export: str) -> dict[str, str]:
    """--export: ALL (the default), NONE, or [ALL,]NAME[=VALUE],..."""
    items = [i for i in export.split(",") if i]
    env: dict[str, str] = {}
    if not items or items[0].upper() == "ALL":
        env = dict(os.environ)
        items = items[1:]
    elif items[0].upper() == "NONE":
        items = items[1:]
    for item in items:
        key, eq, value = item.partition("=")
        if eq:
            env[key] = value
        elif key in os.environ:
            env[key] = os.environ[key]
    if "PATH" not in env:          # (the node's shell still needs one)
        env["PATH"] = "/usr/local/bin:/usr/bin:/bin"
    return env




def srun(args: list[str]) -> int:
    """Inside a job (SLURM_JOB_ID is set): run the step here, in the job's own
    cores, as Slurm would (-n N: N copies, each with its SLURM_PROCID). Outside:
    a job of its own, attached as `wq sub` (--pty: an interactive session)."""
    from wq.slurm import sbatch as options

    batch, command, pty = options.parse_srun(args)
    if os.environ.get("SLURM_JOB_ID"):
        return _step(batch, command)
    return _attached(batch, command, pty)


def _step(batch: Any, command: list[str]) -> int:
    import subprocess

    try:
        if batch.chdir:
            os.chdir(batch.chdir)
        if batch.ntasks == 1:
            os.execvpe(command[0], command, {**os.environ, "SLURM_PROCID": "0"})
        procs = [subprocess.Popen(command, env={**os.environ, "SLURM_PROCID": str(i),
                                                "SLURM_LOCALID": str(i)})
                 for i in range(batch.ntasks)]
    except OSError as exc:
        raise common.SlurmError(f"cannot run {command[0]}: {exc.strerror or exc}") from None
    return max(p.wait() for p in procs)


def _attached(batch: Any, command: list[str], pty: bool) -> int:
    import shlex

    from wq import codec
    from wq.cli.sub import Interactive, follow
    from wq.submission import ensure_launcher, signed
    from wq.client import Client
    from wq.model import JobSpec
    from wq.protocol import messages as m
    from wq.protocol.replies import Accepted

    if batch.ignored and not batch.quiet:
        print(f"srun: warning: ignored by wq: {', '.join(batch.ignored)}", file=sys.stderr)
    here = os.getcwd()
    cwd = os.path.abspath(os.path.join(here, batch.chdir)) if batch.chdir else here
    req = batch.requirements
    if req.job_name is None:
        req = dataclasses.replace(req, job_name=os.path.basename(command[0]))
    spec = JobSpec(command=shlex.join(command), cwd=cwd,
                   env=tuple(sorted(_exported(batch.export).items())), requirements=req,
                   after=batch.after, slurm=dataclasses.replace(batch.shape, submit_dir=here),
                   interactive=pty)
    frame = codec.spec_to_dict(spec)
    with Client() as client:
        if client.by_launcher and not pty:
            frame, _ = signed(frame, {}, client.user)
            ensure_launcher(client, None)
        job_id = client.ask(m.Submit(spec=frame, attach=True), Accepted).id
        session = Interactive(client, job_id, agent=False, x11=False, spec=spec) \
            if pty else None
        return follow(client, job_id, None, session)
