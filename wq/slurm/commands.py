"""sbatch, squeue, sacct and scancel over a wq server, for workflow tools.

Each speaks enough of its Slurm namesake for Snakemake, dask-jobqueue and
their kin (docs/slurm.md has the mapping); errors are one line in Slurm's
own form (`sbatch: error: ...`), exit code 1.
"""

from __future__ import annotations

import argparse
import dataclasses
import getpass
import os
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

from wq.errors import WqError, one_line
from wq.protocol.replies import JobRow

COMMANDS = ("sbatch", "squeue", "sacct", "scancel")


class SlurmError(WqError):
    pass


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    name = args[0] if args else ""
    handler: Callable[[list[str]], int] | None = {
        "sbatch": sbatch, "squeue": squeue, "sacct": sacct, "scancel": scancel}.get(name)
    if handler is None:
        print(f"wq slurm: unknown command {name!r} (one of {', '.join(COMMANDS)})",
              file=sys.stderr)
        sys.exit(2)
    try:
        code = handler(args[1:])
    except WqError as exc:
        print(f"{name}: error: {one_line(str(exc), 2000)}", file=sys.stderr)
        code = exc.exit_code
    except KeyboardInterrupt:
        code = 130
    except BrokenPipeError:
        code = 0
    except Exception as exc:                      # a bug: one line, as wq's own
        print(f"{name}: error: internal error in wq: {type(exc).__name__}: "
              f"{one_line(str(exc))}", file=sys.stderr)
        code = 70
    sys.exit(code)


class _Parser(argparse.ArgumentParser):
    """argparse whose errors are WqErrors (one line, no usage dump)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise SlurmError(message)


def _parser(prog: str) -> _Parser:
    parser = _Parser(prog=prog, add_help=False, allow_abbrev=False)
    parser.add_argument("--help", action="help")
    return parser


# -- sbatch --------------------------------------------------------------------------------


def sbatch(args: list[str]) -> int:
    from wq.cli.sub import ensure_launcher, signed
    from wq.client import Client
    from wq.model import JobSpec
    from wq.parsing import script, textfile
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
                raise SlurmError("no script given (a file, standard input, or --wrap)")
        else:
            text = textfile.read(path, "script")
        if not text.startswith("#!"):
            raise SlurmError("this does not look like a batch script: the first line must "
                             "start with #! followed by the path to an interpreter")
        batch = options.parse(args, text)
    for warning in batch.warnings:
        if not batch.quiet:
            print(f"sbatch: warning: {warning}", file=sys.stderr)
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
    spec = JobSpec(command=script.run_command(text, batch.script_args), cwd=cwd,
                   env=tuple(sorted(_exported(batch.export).items())), requirements=req,
                   stdout=stdout, stderr=stderr, after=batch.after, slurm=True)
    frame = codec.spec_to_dict(spec)
    shape: dict[str, Any] = {} if batch.array is None else {
        "array": list(batch.array), "throttle": batch.throttle}
    if batch.test_only:
        print(f"sbatch: Job to start at {time.strftime('%Y-%m-%dT%H:%M:%S')} using "
              f"{req.n} processors (wq: checked, not submitted)", file=sys.stderr)
        return 0
    with Client() as client:
        if client.by_launcher:
            frame, shape = signed(frame, shape, client.user)
            ensure_launcher(client, None)
        reply = client.ask(m.Submit(spec=frame, attach=False, **shape), Accepted)
    print(reply.id if batch.parsable else f"Submitted batch job {reply.id}", flush=True)
    if batch.wait:
        from wq.cli.wait import wait
        return wait(None, [reply.id])
    return 0


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


# -- reading jobs -------------------------------------------------------------------------


def _rows(*, select: list[str] | None, finished: bool, user: str | None = None
          ) -> Iterator[JobRow]:
    from wq.client import Client
    from wq.protocol import messages as m
    from wq.protocol.replies import Listing

    with Client() as client:
        request = m.ListJobs(user=user, all=finished, select=select, full=True, expand=True,
                             page=1000)
        for page in client.paged(request, Listing):
            yield from page.jobs


def _ids(text: str) -> list[str]:
    """Slurm job ids (12, 12_3, 12_[1-3]) as wq selectors (12, 12.3, 12.1-3)."""
    out = []
    for word in (w.strip() for w in text.split(",") if w.strip()):
        out.append(word.replace("_[", ".").rstrip("]").replace("_", "."))
    return out


def _filter(rows: Iterator[JobRow], states: set[str] | None, names: set[str] | None
            ) -> Iterator[JobRow]:
    for row in rows:
        if row.array:
            continue
        if states is not None and row.state not in states:
            continue
        if names is not None and row.name not in names:
            continue
        yield row


def _state_filter(text: str | None) -> set[str] | None:
    from wq.slurm import formats

    if text is None:
        return None
    try:
        return formats.state_filter(text)
    except ValueError as exc:
        raise SlurmError(str(exc)) from None


# -- squeue -----------------------------------------------------------------------------------


def squeue(args: list[str]) -> int:
    from wq.slurm import formats

    p = _parser("squeue")
    p.add_argument("-j", "--jobs", action="append")
    p.add_argument("-u", "--user")
    p.add_argument("--me", action="store_true")
    p.add_argument("-n", "--name")
    p.add_argument("-t", "--states")
    p.add_argument("-h", "--noheader", action="store_true")
    p.add_argument("-o", "--format")
    p.add_argument("-O", "--Format")
    p.add_argument("-p", "--partition")
    for ignored in ("-a", "--all", "-r", "--array", "-l", "--long", "--noconvert"):
        p.add_argument(ignored, action="store_true")
    p.add_argument("-M", "--clusters")
    p.add_argument("-S", "--sort")
    ns, extra = p.parse_known_args(args)
    if extra:
        raise SlurmError(f"unsupported arguments: {' '.join(extra)}")
    user = getpass.getuser() if ns.me else ns.user
    states = _state_filter(ns.states) if ns.states else {"waiting", "running"}
    select = [i for j in ns.jobs for i in _ids(j)] if ns.jobs else None
    names = set(ns.name.split(",")) if ns.name else None
    finished = states is None or bool(states - {"waiting", "running"})
    rows = _filter(_rows(select=select, finished=finished, user=user), states, names)
    if ns.partition:
        wanted = set(ns.partition.split(","))
        rows = (r for r in rows if set(formats._partition(r).split(",")) & wanted)
    now = time.time()
    if ns.Format:
        fields = _fields(ns.Format)
        if not ns.noheader:
            print(" ".join(formats.HEADERS.get(f, f.upper()).ljust(w or 20)
                           for f, w in fields).rstrip())
        for row in rows:
            print(" ".join(formats.FIELDS[f][0](row, now)[:w or 20].ljust(w or 20)
                           for f, w in fields).rstrip())
        return 0
    try:
        pieces = formats.squeue_format(ns.format or formats.SQUEUE_DEFAULT)
    except ValueError as exc:
        raise SlurmError(str(exc)) from None
    if not ns.noheader:
        print(formats.render(pieces, None, now))
    for row in rows:
        print(formats.render(pieces, row, now))
    return 0


def _fields(text: str) -> list[tuple[str, int | None]]:
    from wq.slurm import formats

    try:
        return formats.field_list(text)
    except ValueError as exc:
        raise SlurmError(str(exc)) from None


# -- sacct ------------------------------------------------------------------------------------

SACCT_DEFAULT = "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode"


def sacct(args: list[str]) -> int:
    from wq.slurm import formats

    p = _parser("sacct")
    p.add_argument("-j", "--jobs", action="append")
    p.add_argument("-n", "--noheader", action="store_true")
    p.add_argument("-P", "--parsable2", action="store_true")
    p.add_argument("-p", "--parsable", action="store_true")
    p.add_argument("-o", "--format")
    p.add_argument("-S", "--starttime")
    p.add_argument("-E", "--endtime")
    p.add_argument("--name")
    p.add_argument("-s", "--state")
    p.add_argument("-u", "--user")
    for ignored in ("-X", "--allocations", "-a", "--allusers", "-b", "--brief", "-D",
                    "--duplicates", "--noconvert"):
        p.add_argument(ignored, action="store_true")
    p.add_argument("-M", "--clusters")
    p.add_argument("-L", "--allclusters", action="store_true")
    ns, extra = p.parse_known_args(args)
    if extra:
        raise SlurmError(f"unsupported arguments: {' '.join(extra)}")
    fields = _fields(ns.format or SACCT_DEFAULT)
    select = [i for j in ns.jobs for i in _ids(j)] if ns.jobs else None
    states = _state_filter(ns.state)
    names = set(ns.name.split(",")) if ns.name else None
    start = _when(ns.starttime, "--starttime")
    end = _when(ns.endtime, "--endtime")
    if select is None and start is None:               # Slurm's default: since midnight
        start = time.mktime(time.localtime()[:3] + (0, 0, 0, 0, 0, -1))
    now = time.time()
    rows = [r for r in _filter(_rows(select=select, finished=True, user=ns.user), states,
                               names)
            if (start is None or (r.ended or now) >= start)
            and (end is None or r.submitted <= end)]
    parsable = ns.parsable2 or ns.parsable
    tail = "|" if ns.parsable and not ns.parsable2 else ""
    if not ns.noheader:
        if parsable:
            print("|".join(_sacct_header(f) for f, _ in fields) + tail)
        else:
            print(" ".join(_sacct_header(f).rjust(w or formats.FIELDS[f][1])
                           for f, w in fields))
            print(" ".join("-" * (w or formats.FIELDS[f][1]) for f, w in fields))
    for row in rows:
        values = [formats.FIELDS[f][0](row, now) for f, _ in fields]
        if parsable:
            print("|".join(values) + tail)
        else:
            print(" ".join(v[:w or formats.FIELDS[f][1]].rjust(w or formats.FIELDS[f][1])
                           for v, (f, w) in zip(values, fields)))
    return 0


_SACCT_HEADERS = {"jobid": "JobID", "jobidraw": "JobIDRaw", "jobname": "JobName",
                  "state": "State", "exitcode": "ExitCode", "elapsed": "Elapsed",
                  "start": "Start", "end": "End", "nodelist": "NodeList",
                  "alloccpus": "AllocCPUS", "reqmem": "ReqMem", "partition": "Partition",
                  "account": "Account", "user": "User", "submit": "Submit",
                  "elapsedraw": "ElapsedRaw", "workdir": "WorkDir", "cluster": "Cluster"}


def _sacct_header(field: str) -> str:
    return _SACCT_HEADERS.get(field, field.capitalize())


def _when(text: str | None, option: str) -> float | None:
    """Slurm's times: now, now-1hour style not included; YYYY-MM-DD[THH:MM[:SS]],
    MM/DD[/YY], HH:MM[:SS] (today)."""
    if text is None:
        return None
    text = text.strip()
    if text.lower() == "now":
        return time.time()
    for fmt in ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d", "%m/%d/%y", "%m/%d"):
        try:
            parsed = time.strptime(text, fmt)
        except ValueError:
            continue
        if fmt == "%m/%d":
            parsed = time.strptime(f"{time.localtime().tm_year}/{text}", "%Y/%m/%d")
        return time.mktime(parsed)
    for fmt in ("%H:%M:%S", "%H:%M"):
        try:
            clock = time.strptime(text, fmt)
        except ValueError:
            continue
        today = time.localtime()
        return time.mktime(today[:3] + (clock.tm_hour, clock.tm_min, clock.tm_sec, 0, 0, -1))
    raise SlurmError(f"{option}: unsupported time {text!r} (YYYY-MM-DD[THH:MM[:SS]], "
                     "MM/DD[/YY], HH:MM[:SS] or now)")


# -- scancel -----------------------------------------------------------------------------------


def scancel(args: list[str]) -> int:
    from wq.client import Client
    from wq.protocol import messages as m
    from wq.protocol.replies import Removed

    p = _parser("scancel")
    p.add_argument("ids", nargs="*")
    p.add_argument("-n", "--name", "--jobname")
    p.add_argument("-u", "--user")
    p.add_argument("-t", "--state")
    p.add_argument("-M", "--clusters")
    p.add_argument("-Q", "--quiet", action="store_true")
    p.add_argument("-f", "--full", action="store_true")
    p.add_argument("-b", "--batch", action="store_true")
    ns, extra = p.parse_known_args(args)
    if extra:
        raise SlurmError(f"unsupported arguments: {' '.join(extra)}")
    select = [i for word in ns.ids for i in _ids(word)]
    if not select and not (ns.name or ns.user or ns.state):
        raise SlurmError("no job identification provided")
    if ns.name or ns.user or ns.state:          # by name, user, state: find them first
        states = _state_filter(ns.state) if ns.state else {"waiting", "running"}
        names = set(ns.name.split(",")) if ns.name else None
        rows = list(_filter(_rows(select=select or None, finished=False, user=ns.user),
                            states, names))
        select = [r.id for r in rows]
        if not select:
            return 0
    with Client() as client:
        removed = client.ask(m.Remove(select=select), Removed, timeout=None)
    code = 0
    for row in removed.results:
        if not row.removed and "already" not in row.result and not ns.quiet:
            print(f"scancel: error: Kill job error on job id {row.id}: {row.result}",
                  file=sys.stderr)
            code = 1
    return code


def install(directory: str) -> list[str]:
    """Write the shims into `directory` (made if missing): a small sh script per
    command that runs this Python's wq. Returns their paths."""
    os.makedirs(directory, exist_ok=True)
    out = []
    for name in COMMANDS:
        path = os.path.join(directory, name)
        with open(path + ".tmp", "w") as fh:
            fh.write(f"#!/bin/sh\n# {name} for wq (wq slurm install); see docs/slurm.md\n"
                     f"exec {sys.executable} -m wq.slurm {name} \"$@\"\n")
        os.chmod(path + ".tmp", 0o755)
        os.replace(path + ".tmp", path)
        out.append(path)
    return out
