"""wq sub [-c CMD | JOBFILE] [-r REQS] [-b]"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any

import click

from wq import clientconfig, codec
from wq.cli import options
from wq.client import Client
from wq.submission import ensure_launcher, signed
from wq.errors import ParseError, UsageError
from wq.model import After, JobSpec, Mode
from wq.parsing.arrays import MAX_TASK_ID
from wq.parsing.requirements import MAX_RETRIES
from wq.parsing.units import MAX_COUNT as MAX_CORES
from wq.protocol import messages as m
from wq.protocol.rows import Accepted

def build_spec(command: str | None, jobfile: str | None, require: str | None,
               stdout: str | None, stderr: str | None, *, interactive_flag: bool = False,
               x11: bool = False, agent: bool = False, stdin: bool = False,
               batch: bool = False, retries: int | None = None,
               time_limit: str | None = None, cores: int | None = None,
               after: tuple[After, ...] = (), on_end: str | None = None,
               licenses: tuple[str, ...] = ()) -> JobSpec:
    from wq.parsing import requirements

    if (command is None) == (jobfile is None):
        raise UsageError("give either -c COMMAND or a JOBFILE")
    if jobfile is not None:
        from wq.parsing import jobfile as jobfiles
        from wq.parsing import script, textfile

        text = textfile.read(jobfile, "job file")
        reader = script.parse if script.is_script(text, jobfile) else jobfiles.parse
        parsed = reader(text, jobfile, overrides=require)
        command, req = parsed.command, parsed.requirements
        stdout, stderr = stdout or parsed.stdout, stderr or parsed.stderr
        after = tuple(dict.fromkeys((*parsed.after, *after)))
        on_end = on_end or parsed.on_end
    else:
        assert command is not None
        if not command.strip():
            raise UsageError("the command is empty")
        req = requirements.build(((k, v, None) for k, v in
                                  requirements.split_string(require or "")), source="-r")
    try:
        cwd = os.getcwd()
    except FileNotFoundError:
        raise UsageError("the current directory no longer exists") from None
    if x11:
        req = dataclasses.replace(req, x11=True)
    if retries is not None:
        req = dataclasses.replace(req, retries=retries)
    if cores is not None:
        if (req.mode, req.n) != (Mode.BYCORE, 1) and (req.mode, req.n) != (Mode.BYCORE1, cores):
            raise UsageError(f"--cores {cores} is {cores} cores on one host; the requirements "
                             f"already ask for mode {req.mode.value}, N {req.n}: give one or "
                             "the other")
        req = dataclasses.replace(req, mode=Mode.BYCORE1, n=cores)
    if time_limit is not None:
        req = dataclasses.replace(req, time_limit=options.duration("-t/--time", time_limit))
    if licenses:
        from wq.parsing import units
        try:
            req = dataclasses.replace(req, licenses=units.counts(
                [*(f"{name}={n}" for name, n in req.licenses), *licenses]))
        except ValueError as exc:
            raise UsageError(f"--license: {exc}") from None
    interactive = interactive_flag or req.x11 or agent or (
        sys.stdin.isatty() and _is_shell(command))
    if interactive:
        if batch:
            raise UsageError("an interactive job cannot be a batch job (-b); drop -b, or "
                             "run a non-interactive command")
        if stdin:
            raise UsageError("--stdin is for batch jobs; an interactive job reads your "
                             "terminal")
        if req.x11 and not os.environ.get("DISPLAY"):
            raise UsageError("X11 forwarding needs a local display, and DISPLAY is not set")
    data = None
    if stdin:
        raw = sys.stdin.buffer.read()
        if b"\x00" in raw:
            raise UsageError("--stdin data contains NUL bytes; give the job a file instead")
        data = raw.decode("utf-8", "surrogateescape")
    return JobSpec(command=command, cwd=cwd, env=tuple(sorted(os.environ.items())),
                   requirements=req, stdout=stdout, stderr=stderr, interactive=interactive,
                   stdin=data, after=after,
                   on_end=on_end or clientconfig.default_on_end() if not interactive else None)


def dependencies(dependency: str | None, after_ids: tuple[str, ...]) -> tuple[After, ...]:
    """-d and --after together."""
    from wq.parsing import deps

    out = deps.parse(dependency, source="-d") if dependency is not None else ()
    return tuple(dict.fromkeys((*out, *deps.parse_ids(after_ids))))


def array_shape(array: str | None, each_line: str | None, from_json: str | None,
                throttle: int | None) -> dict[str, Any] | None:
    """The array part of a Submit (range or entries, throttle), or None for one job."""
    import json

    from wq.parsing.arrays import parse_range

    given = [o for o, v in (("--array", array), ("--each-line", each_line),
                            ("--from-json", from_json)) if v is not None]
    if len(given) > 1:
        raise UsageError(f"give one of {' and '.join(given)}")
    if not given:
        if throttle is not None:
            raise UsageError("--throttle is for arrays (--array, --each-line, --from-json)")
        return None
    if array is not None:
        tasks = parse_range(array)
        return {"array": [tasks.first, tasks.last, tasks.step],
                "throttle": throttle or tasks.throttle}
    path = each_line or from_json
    assert path is not None
    from wq.parsing import textfile
    from wq.protocol.framing import MAX_FRAME

    if path == "-":
        raw = sys.stdin.buffer.read(MAX_FRAME + 1)
        if len(raw) > MAX_FRAME:
            raise UsageError(f"standard input is too large for an array (over {MAX_FRAME} "
                             "bytes)")
        text = raw.decode("utf-8", "surrogateescape")
    else:
        what = "--each-line file" if each_line is not None else "--from-json file"
        text = textfile.read(path, what, MAX_FRAME, errors="surrogateescape")
    if each_line is not None:
        entries = [line for line in text.splitlines() if line.strip()]
    else:
        try:
            items = json.loads(text)
        except ValueError as exc:
            raise ParseError(f"not JSON: {exc}", source=path) from None
        except RecursionError:
            raise ParseError("not JSON this program can read: nested too deeply",
                             source=path) from None
        if not isinstance(items, list):
            raise ParseError("--from-json wants a JSON list (one task per element)",
                             source=path)
        entries = [i if isinstance(i, str) else json.dumps(i) for i in items]
    if not entries:
        raise UsageError(f"{path} gives no tasks")
    if any("\0" in e for e in entries):
        raise UsageError(f"{path}: an entry contains a NUL byte")
    return {"entries": entries, "throttle": throttle}


def _is_shell(command: str) -> bool:
    from wq.interactive import is_shell

    return is_shell(command)


@click.command("sub")
@click.argument("jobfile", required=False)
@click.option("-c", "--command", help="The command to run (a shell command line).")
@click.option("-r", "--require", metavar="REQS",
              help='Requirements, e.g. "mode: bycore1; N: 4; group: gpu"; '
                   "they override the job file's.")
@click.option("-b", "--batch", is_flag=True,
              help="Submit and print the job id; do not wait for the job.")
@click.option("--parsable", is_flag=True,
              help="Print only the job id (as sbatch --parsable); implies -b.")
@click.option("--hold", is_flag=True,
              help="Submit it held: it waits until wq release; implies -b.")
@click.option("-o", "--output", "stdout", metavar="PATTERN",
              help="The job's stdout file (%j job id, %i instance, %h host); relative "
                   "paths are to the current directory. Default: kept by wq, see wq log.")
@click.option("-e", "--error", "stderr", metavar="PATTERN",
              help="The job's stderr file, as -o. Default: kept by wq, see wq log.")
@click.option("-i", "--interactive", "interactive_flag", is_flag=True,
              help="Run the command as an interactive session (a pty when stdin is a "
                   "terminal). A shell alone (wq sub -c bash) is one already.")
@click.option("-X", "--x11", "x11", is_flag=True,
              help="Forward X11 (as -r 'X: 1'); makes the job interactive.")
@click.option("-A", "--agent", is_flag=True,
              help="Forward your ssh agent to the session; makes the job interactive.")
@click.option("--stdin", is_flag=True,
              help="Read standard input now and feed it to the (batch) job.")
@click.option("-t", "--time", "time_limit", metavar="DURATION",
              help="Time limit (90s, 30m, 1h30m, HH:MM:SS): then TERM, a grace period, "
                   "KILL; the job ends as timeout (exit code 124 here).")
@click.option("--retries", type=click.IntRange(min=0, max=MAX_RETRIES), metavar="N",
              help="Run a job that fails (non-zero exit) up to N more times, on another "
                   "host when one is free.")
@click.option("--array", "array", metavar="FIRST-LAST[:STEP][%N]",
              help="An array: one task per number (in WQ_TASK_ID), at most N running at "
                   "once; tasks are named ID.TASK.")
@click.option("--each-line", "each_line", metavar="FILE",
              help="An array: one task per line of FILE (- for stdin), the line in WQ_ENTRY.")
@click.option("--from-json", "from_json", metavar="FILE",
              help="An array: one task per element of the JSON list in FILE, the element "
                   "in WQ_ENTRY (strings as they are, others as JSON).")
@click.option("--throttle", type=click.IntRange(min=1, max=MAX_TASK_ID), metavar="N",
              help="At most N tasks of the array running at once (as %N of --array).")
@click.option("--cores", type=click.IntRange(min=1, max=MAX_CORES), metavar="N",
              help="N cores on one host (a multi-threaded job: OMP_NUM_THREADS=N); "
                   "the same as -r 'mode: bycore1; N: N'.")
@click.option("--license", "licenses", metavar="NAME[=N]", multiple=True,
              help="N (default 1) of the cluster's licence NAME (its resources), held "
                   "while the job runs; repeatable, or matlab=2,genus.")
@click.option("-d", "--dependency", metavar="DEPS",
              help="Start only once other jobs have ended: afterok:12[:13], afterany:12, "
                   "afternotok:12, aftercorr:12 (task i after task i of array 12); "
                   "several joined with ','.")
@click.option("--on-end", "on_end", metavar="CMD",
              help="Run CMD (a shell command, as you, on the server's machine) once the "
                   "job has ended, with WQ_JOB_ID, WQ_STATE, WQ_EXIT and WQ_HOST set.")
@click.option("--session", envvar="WQ_SESSION", metavar="TOKEN",
              help="Tie the job to a workflow's session (wq session): it is cancelled "
                   "if the session ends first. Env WQ_SESSION.")
@click.option("--rerun", metavar="JOB",
              help="Submit again the tasks of array JOB (or job JOB) that ended failed, "
                   "lost, timeout or cancelled (as wq retry JOB).")
@click.option("--after", "after_ids", metavar="IDS", multiple=True,
              help="Start only once jobs IDS (12,13) have ended done (afterok).")
@click.pass_obj
def command(obj: dict[str, str | None], jobfile: str | None, command: str | None,
            require: str | None, batch: bool, stdout: str | None, stderr: str | None,
            interactive_flag: bool, x11: bool, agent: bool, stdin: bool,
            time_limit: str | None, retries: int | None, array: str | None,
            each_line: str | None, from_json: str | None, throttle: int | None,
            cores: int | None, dependency: str | None, after_ids: tuple[str, ...],
            parsable: bool, hold: bool, rerun: str | None, session: str | None,
            on_end: str | None, licenses: tuple[str, ...]) -> None:
    """Submit a job: a -c command, a YAML JOBFILE, or a script (a file starting
    with #!, or any that is not YAML), run as it is with its #WQ header lines
    as requirements (#WQ N: 4; mode: bycore1).

    By default it behaves like running the command here: it waits for a free
    core, streams the job's output, and exits with the job's exit code;
    Ctrl-C cancels the job. With -b it prints the job id and returns.

    With a terminal on stdin, a shell (wq sub -c bash) or -i gives an
    interactive session on the chosen host, as if it were this machine.

    --array, --each-line and --from-json submit an array in one request: its
    tasks share the command and requirements, and `wq sub` shows their
    progress and exits non-zero when any task did not end done.
    """
    batch = batch or parsable or hold
    if parsable:                                     # (a driver's submission)
        options.finish_when_interrupted()
    if rerun is not None:
        if command is not None or jobfile is not None:
            raise UsageError("--rerun submits an earlier job again: give no command or file")
        from wq.cli.retry import rerun as again

        if hold:
            raise UsageError("--rerun submits at once; hold the new job with wq hold")
        again(obj["socket"], rerun, (), batch)
        return
    shape = array_shape(array, each_line, from_json, throttle)
    if shape is not None and (interactive_flag or x11 or agent):
        raise UsageError("an array's tasks run as batch jobs; drop -i, -X or -A")
    spec = build_spec(command, jobfile, require, stdout, stderr,
                      interactive_flag=interactive_flag, x11=x11, agent=agent, stdin=stdin,
                      batch=batch or shape is not None, retries=retries, cores=cores,
                      time_limit=time_limit, after=dependencies(dependency, after_ids),
                      on_end=on_end, licenses=licenses)
    if hold and spec.interactive:
        raise UsageError("an interactive session cannot be held; drop --hold")
    if session:
        spec = dataclasses.replace(spec, session=session)
    frame = codec.spec_to_dict(spec)
    if shape is not None:
        with Client(obj["socket"]) as client:
            if client.by_launcher:
                frame, shape = signed(frame, shape, client.user)
                ensure_launcher(client, obj["socket"])
            reply = client.ask(m.Submit(spec=frame, attach=not batch, hold=hold, **shape),
                               Accepted)
            if batch:
                click.echo(reply.id)
                return
            from wq.cli.follow import follow_array

            code = follow_array(client, reply.id, reply.tasks or 0, obj["socket"])
        sys.exit(code)
    with Client(obj["socket"]) as client:
        if client.by_launcher and not spec.interactive:
            frame, _ = signed(frame, {}, client.user)
            ensure_launcher(client, obj["socket"])
        if batch:
            click.echo(client.ask(m.Submit(spec=frame, hold=hold), Accepted).id)
            return
        job_id = client.ask(m.Submit(spec=frame, attach=True), Accepted).id
        from wq.cli.follow import Interactive, follow

        terminal = None
        if spec.interactive:
            terminal = Interactive(client, job_id, agent=agent, x11=spec.requirements.x11,
                                   spec=spec)
        code = follow(client, job_id, obj["socket"], terminal)
    sys.exit(code)
