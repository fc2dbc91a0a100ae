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
    from wq.protocol.rows import Accepted
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
    if not pty and (batch.ntasks > 1 or (batch.shape.nodes or 1) > 1):
        # a job of that shape whose command is this srun again: inside it, a step
        # of its tasks (the node runs wq's python, as for Slurm's commands in a job)
        if batch.requirements.job_name is None:
            batch = dataclasses.replace(batch, requirements=dataclasses.replace(
                batch.requirements, job_name=os.path.basename(command[0])))
        command = [sys.executable, "-m", "wq.slurm", "srun", "--", *command]
    return _attached(batch, command, pty)


def _step(batch: Any, command: list[str]) -> int:
    """A step of the job srun runs in: its tasks over the job's hosts in blocks
    (steps.layout), those of this host as its children, the others started by
    the server on theirs (m.Step, one connection each, their output copied
    here as it comes); the worst task's exit status."""
    import subprocess
    import threading

    from wq.errors import WqError
    from wq.executor.wrapper import step_script
    from wq.parsing import hostlist
    from wq.slurm import steps

    env = os.environ
    try:
        hosts = hostlist.expand(env.get("SLURM_JOB_NODELIST", "") or env.get("WQ_HOST", ""))
        per_node = steps.counts(env.get("SLURM_TASKS_PER_NODE", ""), len(hosts))
        ntasks = batch.shape.ntasks
        if ntasks is None and batch.shape.nodes is None and env.get("SLURM_NTASKS"):
            ntasks = int(env["SLURM_NTASKS"])
        placed = steps.layout(hosts, per_node, ntasks, batch.shape.nodes)
    except (ValueError, WqError) as exc:
        raise common.SlurmError(str(exc)) from None
    cwd = os.path.abspath(batch.chdir) if batch.chdir else os.getcwd()
    here = env.get("WQ_HOST") or (hosts[0] if hosts else "")
    total = str(sum(len(p.tasks) for p in placed))
    step_env = {**{k: v for k, v in env.items() if k != "WQ_STEP"}, "SLURM_NTASKS": total,
                "SLURM_NPROCS": total, "SLURM_STEP_NUM_TASKS": total}
    _outlive_signals()
    codes: list[int] = []
    lock = threading.Lock()
    threads = [threading.Thread(target=_remote, args=(p, command, step_env, cwd, codes, lock),
                                daemon=True) for p in placed if p.host != here]
    if len(placed) == 1 and len(placed[0].tasks) == 1 and placed[0].host == here:
        try:                 # (the usual step: one task, here; no shell between)
            code = subprocess.call(command, cwd=cwd, env={
                **step_env, "SLURM_PROCID": "0", "SLURM_LOCALID": "0", "SLURM_NODEID": "0",
                "SLURMD_NODENAME": here, "WQ_STEP": "1"})
        except OSError as exc:
            raise common.SlurmError(f"cannot run {command[0]}: {exc.strerror or exc}") from None
        code = 128 - code if code < 0 else code
        if code:
            print(f"srun: error: {here}: task 0: Exited with exit code {code}", file=sys.stderr)
        return code
    for thread in threads:
        thread.start()
    for p in (p for p in placed if p.host == here):       # (as the server runs the others)
        script = step_script(command, step_env, cwd, here, p.node, list(p.tasks))
        codes.append(subprocess.run(["/bin/sh", "-s"], input=script.encode(
            "utf-8", "surrogateescape"), env=step_env).returncode)
    for thread in threads:
        thread.join()
    return max((128 - c if c < 0 else c for c in codes), default=0)


def _outlive_signals() -> None:
    """srun is not one of its step's tasks: a signal to the whole job (wq signal,
    scancel -f) reaches the tasks, which are in the job's process group, and
    srun waits for them to end as they choose (scancel -s alone reaches only
    the tasks, which carry WQ_STEP). Handled, not ignored: the tasks start with
    the default actions."""
    import signal

    for name in ("HUP", "INT", "QUIT", "USR1", "USR2", "TERM", "ALRM"):
        signal.signal(getattr(signal, f"SIG{name}"), lambda *_: None)


def _remote(placed: Any, command: list[str], env: dict[str, str], cwd: str,
            codes: list[int], lock: Any) -> None:
    """One host's tasks of a step, through the server; their output copied to
    this srun's as it comes (whole writes, under `lock`)."""
    from wq.client import Client
    from wq.errors import WqError
    from wq.protocol import messages as m

    request = m.Step(job=os.environ.get("WQ_JOB_ID", os.environ.get("SLURM_JOB_ID", "")),
                     host=placed.host, argv=command, env=dict(env), cwd=cwd, node=placed.node,
                     tasks=list(placed.tasks))
    code = 1
    try:
        with Client(timeout=None) as client:
            client.send(request)
            while True:
                frame = client.receive(timeout=None)
                if "stream" in frame:
                    out = sys.stdout if frame["stream"] == "stdout" else sys.stderr
                    with lock:
                        out.buffer.write(str(frame["data"]).encode("latin-1"))
                        out.flush()
                    continue
                if not frame.get("ok"):
                    raise WqError(str(frame.get("error", "the server refused the step")))
                code = 1 if frame.get("exit") is None else int(frame["exit"])
                break
    except WqError as exc:
        with lock:
            print(f"srun: error: {placed.host}: {exc}", file=sys.stderr)
    with lock:
        codes.append(code)


def _attached(batch: Any, command: list[str], pty: bool) -> int:
    import shlex

    from wq import codec
    from wq.cli.follow import Interactive, follow
    from wq.submission import ensure_launcher, signed
    from wq.client import Client
    from wq.model import JobSpec
    from wq.protocol import messages as m
    from wq.protocol.rows import Accepted

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
