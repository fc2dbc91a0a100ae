"""squeue, sacct, scancel, scontrol, sinfo, sacctmgr and sshare over wq: what
workflow tools ask of Slurm about jobs, partitions and accounts."""

from __future__ import annotations

import getpass
import os
import re
import sys
import time
from typing import Any

from wq.errors import ParseError
from wq.parsing import hostlist
from wq.slurm import common, sbatch

# -- squeue -----------------------------------------------------------------------------------


def squeue(args: list[str]) -> int:
    from wq.slurm import formats

    p = common.Parser("squeue")
    p.add_argument("-j", "--jobs", action="append")
    p.add_argument("-u", "--user")
    p.add_argument("--me", action="store_true")
    p.add_argument("-n", "--name")
    p.add_argument("-t", "--states")
    p.add_argument("-h", "--noheader", action="store_true")
    p.add_argument("-o", "--format")
    p.add_argument("-O", "--Format")
    p.add_argument("-p", "--partition")
    p.add_argument("-r", "--array", action="store_true")
    p.add_argument("--start", action="store_true")
    for ignored in ("-a", "--all", "-l", "--long", "--noconvert"):
        p.add_argument(ignored, action="store_true")
    p.add_argument("-M", "--clusters")
    p.add_argument("-S", "--sort")
    ns = p.known(args)
    user = getpass.getuser() if ns.me else ns.user
    states = common.states(ns.states) if ns.states else {"waiting", "running"}
    if ns.start:                        # (when waiting jobs start: wq cannot tell, N/A)
        states = {"waiting"}
    select = [i for j in ns.jobs for i in common.ids(j)] if ns.jobs else None
    names = set(ns.name.split(",")) if ns.name else None
    finished = states is None or bool(states - {"waiting", "running"})
    rows = common.keep(common.rows(select=select, finished=finished, user=user), states,
                       names)
    if ns.partition:
        wanted = set(ns.partition.split(","))
        rows = (r for r in rows if set(formats.partition(r).split(",")) & wanted)
    if not ns.array:
        rows = formats.collapse(rows)
    now = time.time()
    if ns.Format:
        fields = common.fields(ns.Format, squeue=True)
        if not ns.noheader:
            print(" ".join(formats.HEADERS.get(f, f.upper()).ljust(w or 20)
                           for f, w in fields).rstrip())
        for row in rows:
            print(" ".join(formats.SQUEUE_FIELDS[f][0](row, now)[:w or 20].ljust(w or 20)
                           for f, w in fields).rstrip())
        return 0
    try:
        pieces = formats.squeue_format(ns.format or (
            formats.SQUEUE_START if ns.start else formats.SQUEUE_DEFAULT))
    except ValueError as exc:
        raise common.SlurmError(str(exc)) from None
    if not ns.noheader:
        print(formats.render(pieces, None, now))
    for row in rows:
        print(formats.render(pieces, row, now))
    return 0


# -- sacct ------------------------------------------------------------------------------------

SACCT_DEFAULT = "JobID,JobName,Partition,Account,AllocCPUS,State,ExitCode"


def sacct(args: list[str]) -> int:
    from wq.slurm import formats

    p = common.Parser("sacct")
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
    ns = p.known(args)
    fields = common.fields(ns.format or SACCT_DEFAULT)
    select = [i for j in ns.jobs for i in common.ids(j)] if ns.jobs else None
    states = common.states(ns.state)
    names = set(ns.name.split(",")) if ns.name else None
    start = _when(ns.starttime, "--starttime")
    end = _when(ns.endtime, "--endtime")
    if select is None and start is None:               # Slurm's default: since midnight
        start = time.mktime(time.localtime()[:3] + (0, 0, 0, 0, 0, -1))
    now = time.time()
    found = common.rows(select=select, finished=True, user=ns.user,
                        since=None if select else start)
    rows = [r for r in common.keep(found, states, names)
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
                           for v, (f, w) in zip(values, fields, strict=True)))
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
    raise common.SlurmError(f"{option}: unsupported time {text!r} (YYYY-MM-DD[THH:MM[:SS]], "
                            "MM/DD[/YY], HH:MM[:SS] or now)")


# -- scancel -----------------------------------------------------------------------------------


def scancel(args: list[str]) -> int:
    from wq.client import Client
    from wq.protocol import messages as m
    from wq.protocol.replies import Removed

    p = common.Parser("scancel")
    p.add_argument("ids", nargs="*")
    p.add_argument("-n", "--name", "--jobname")
    p.add_argument("-u", "--user")
    p.add_argument("-t", "--state")
    p.add_argument("-M", "--clusters")
    p.add_argument("-Q", "--quiet", action="store_true")
    p.add_argument("-f", "--full", action="store_true")
    p.add_argument("-b", "--batch", action="store_true")
    p.add_argument("-s", "--signal")
    ns = p.known(args)
    select = [i for word in ns.ids for i in common.ids(word)]
    if not select and not (ns.name or ns.user or ns.state):
        raise common.SlurmError("no job identification provided")
    if ns.user is not None and not _is_user(ns.user):
        raise common.SlurmError(f"Invalid user name: {ns.user}")
    if ns.name or ns.user or ns.state:          # by name, user, state: find them first
        states = {"waiting", "running"}
        if ns.state:
            try:
                states = {SCANCEL_STATES[w.strip().upper()] for w in ns.state.split(",")}
            except KeyError:
                print(f"Invalid job state specified: {ns.state}\nValid job states are "
                      "PENDING, RUNNING, and SUSPENDED", file=sys.stderr)
                return 1
        names = set(ns.name.split(",")) if ns.name else None
        rows = list(common.keep(common.rows(select=select or None, finished=False,
                                            user=ns.user),
                            states, names))
        select = [r.id for r in rows]
        if not select:
            return 0
    if ns.signal is not None:
        scope = "job" if ns.full else "batch" if ns.batch else "steps"
        return _signal(select, ns.signal, scope, ns.quiet)
    with Client() as client:
        removed = client.ask(m.Remove(select=select), Removed, timeout=None)
    code = 0
    for row in removed.results:
        if not row.removed and "already" not in row.result and not ns.quiet:
            print(f"scancel: error: Kill job error on job id {row.id}: {row.result}",
                  file=sys.stderr)
            code = 1
    return code




#: the states scancel -t takes (SUSPENDED: none of wq's jobs is)
SCANCEL_STATES = {"PENDING": "waiting", "PD": "waiting", "RUNNING": "running", "R": "running",
                  "SUSPENDED": "suspended", "S": "suspended"}


def _is_user(name: str) -> bool:
    import pwd

    try:
        pwd.getpwuid(int(name)) if name.isdigit() else pwd.getpwnam(name)
    except (KeyError, OverflowError):
        return False
    return True


def _signal(select: list[str], signal: str, scope: str, quiet: bool) -> int:
    """scancel -s: a signal to running jobs, which are not cancelled: to srun's
    tasks (steps), with -b to the batch shell, with -f to both, as Slurm's."""
    from wq.client import Client
    from wq.parsing.requirements import signal_name
    from wq.protocol import messages as m
    from wq.protocol.replies import NO_STEP, Signalled

    try:
        name = signal_name(signal)
    except ValueError:
        raise common.SlurmError(f"Unknown job signal: {signal}") from None
    with Client() as client:
        reply = client.ask(m.Signal(select=select, signal=name, scope=scope), Signalled,
                           timeout=None)
    code = 0
    for row in reply.results:
        if not row.sent and row.result != NO_STEP and not quiet:
            print(f"scancel: error: Kill job error on job id {row.id}: {row.result}",
                  file=sys.stderr)
            code = 1
    return code


# -- scontrol --------------------------------------------------------------------------------

#: what `scontrol show config` says of this "cluster" (tools read MinJobAge, MaxArraySize)
CONFIG = {"ClusterName": "wq", "MinJobAge": "300 sec", "MaxArraySize": "1000001",
          "MaxJobCount": "1000000", "SchedulerType": "wq", "SelectType": "wq",
          "SLURM_VERSION": "23.02.0 (wq)"}


def scontrol(args: list[str]) -> int:
    words = [a for a in args if not a.startswith("-")]
    if words and words[0].lower() in CHANGES:
        return _change(words[0].lower(), words[1:])
    if len(words) < 2 or words[0] != "show":
        raise common.SlurmError("wq's scontrol does: show job ID, config, partition, node, "
                                "hostnames LIST; hold, release, requeue JOBS; update "
                                "JobId=ID TimeLimit=T")
    what, rest = words[1].lower(), words[2:]
    if what in ("job", "jobs", "jobid"):
        return _show_jobs(rest)
    if what == "config":
        print(f"Configuration data as of {time.strftime('%Y-%m-%dT%H:%M:%S')}")
        for key, value in CONFIG.items():
            print(f"{key:<23} = {value}")
        return 0
    if what == "hostnames":
        text = rest[0] if rest else os.environ.get("SLURM_JOB_NODELIST", "")
        try:
            names = hostlist.expand(text)
        except ValueError as exc:
            raise common.SlurmError(str(exc)) from None
        for name in names:
            print(name)
        return 0
    if what in ("partition", "partitions", "node", "nodes"):
        return _show_hosts(what.startswith("node"), rest[0] if rest else None)
    raise common.SlurmError(f"wq's scontrol does not show {what!r}")


#: scontrol's verbs that change jobs
CHANGES = ("hold", "release", "requeue", "update")


def _change(verb: str, words: list[str]) -> int:
    """scontrol hold|release|requeue JOBS, and update JobId=ID TimeLimit=T: what
    wq hold, release, requeue and update do, with Slurm's messages."""
    from wq.client import Client
    from wq.protocol import messages as m
    from wq.protocol.replies import Changed

    request: m.Hold | m.Release | m.Requeue | m.Update
    if verb == "update":
        fields = dict(word.split("=", 1) for word in words if "=" in word)
        given = {key.lower(): value for key, value in fields.items()}
        job = given.pop("jobid", None)
        limit = given.pop("timelimit", None)
        if job is None or limit is None or given or len(fields) != len(words):
            raise common.SlurmError("wq's scontrol update changes a waiting job's time "
                                    "limit alone: scontrol update JobId=ID TimeLimit=T")
        try:
            seconds = sbatch.slurm_time(limit)
        except ParseError:
            raise common.SlurmError("Invalid TimeLimit value") from None
        request = m.Update(select=common.ids(job), time_limit=seconds or 0.0)
    else:
        select = [i for word in words for i in common.ids(word)]
        if not select:
            raise common.SlurmError(f"scontrol {verb}: give the job ids")
        request = m.Hold(select) if verb == "hold" else m.Release(select) \
            if verb == "release" else m.Requeue(select)
    with Client() as client:
        reply = client.ask(request, Changed, timeout=None)
    code = 0
    for row in reply.results:
        if row.changed or (verb in ("hold", "release") and row.result.startswith("running:")):
            continue                    # (Slurm holds a running job without a word)
        code = 1
        if row.result == "no such job":
            print(f"Invalid job id specified for job {row.id}", file=sys.stderr)
        elif row.result == "already waiting":
            print(f"Job is pending execution for job {row.id}", file=sys.stderr)
        else:
            print(f"scontrol: error: job {row.id}: {row.result}", file=sys.stderr)
    return code


def _show_jobs(ids: list[str]) -> int:
    from wq.slurm import formats

    select = [i for word in ids for i in common.ids(word)] or None
    found = list(common.rows(select=select, finished=select is not None))
    if select and not found:
        raise common.SlurmError("Invalid job id specified")
    now = time.time()
    # as Slurm: an array's waiting tasks (its own record) before those that run
    shown = sorted(formats.collapse(found),
                   key=lambda r: (r.number, "tasks" not in (r.slurm or {})))
    for row in shown:
        print(_job_text(row, now))
    return 0


def _job_text(row: Any, now: float) -> str:
    """One job as `scontrol show job` shows it (the fields tools read)."""
    from wq.slurm import formats

    get = {name: field[0](row, now) for name, field in formats.FIELDS.items()}
    shape = row.slurm or {}
    array = ""
    if row.task is not None or "tasks" in shape:
        array = f" ArrayJobId={row.number} ArrayTaskId={get['arraytaskid']}" + (
            f" ArrayTaskThrottle={shape['throttle']}" if "throttle" in shape else "")
    ntasks = shape.get("ntasks") or (shape.get("nodes") or 1) * (
        shape.get("ntasks_per_node") or 1)
    lines = [f"JobId={get['jobidraw']}{array} JobName={row.name}",
             f"UserId={_named(row.user)} GroupId={_group(row.user)}",
             f"Priority={get['priority']} Nice=0 Account=(null) QOS=(null)",
             f"JobState={get['state']} Reason={get['reason']} "
             f"Dependency={shape.get('dependency') or '(null)'}",
             f"Requeue=1 Restarts={max(0, row.instance - 1)} BatchFlag="
             f"{1 if row.slurm is not None else 0} Reboot=0 ExitCode={get['exitcode']}",
             f"RunTime={get['elapsed']} TimeLimit={get['timelimit']} TimeMin=N/A",
             f"SubmitTime={get['submit']} EligibleTime={get['submit']}",
             f"StartTime={get['start']} EndTime={get['end']} Deadline=N/A",
             f"Partition={get['partition']} AllocNode:Sid={os.uname().nodename}:0",
             f"NodeList={get['nodelist'] if row.hosts else ''}"]
    if row.state == "running" and row.hosts:
        lines.append(f"BatchHost={row.hosts[0]}")
    lines += [f"NumNodes={get['numnodes']} NumCPUs={get['numcpus']} NumTasks={ntasks} "
              f"CPUs/Task={shape.get('cpus_per_task', 1)}",
              f"MinMemoryNode={get['minmemory']}",
              f"Command={shape.get('script') or '(null)'}",
              f"WorkDir={row.cwd or ''}"]
    return "\n   ".join(lines) + "\n"


def _named(user: str) -> str:
    """user(uid), as Slurm names a job's owner."""
    import pwd

    try:
        return f"{user}({pwd.getpwnam(user).pw_uid})"
    except KeyError:
        return user


def _group(user: str) -> str:
    import grp
    import pwd

    try:
        gid = pwd.getpwnam(user).pw_gid
        return f"{grp.getgrgid(gid).gr_name}({gid})"
    except KeyError:
        return "(null)"


# -- sinfo, and partitions -------------------------------------------------------------------

DEFAULT_PARTITION = sbatch.DEFAULT_PARTITION


def _hosts() -> list[Any]:
    from wq.client import Client
    from wq.protocol import messages as m
    from wq.protocol.replies import StatReply

    with Client() as client:
        return list(client.ask(m.Stat(), StatReply).hosts)


def node_state(host: Any) -> str:
    if host.state == "offline":
        return "drain"
    if host.state != "up":
        return "down"
    if host.used == 0:
        return "idle"
    return "alloc" if host.used >= host.cores else "mix"


def partitions(hosts: list[Any]) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {DEFAULT_PARTITION: list(hosts)}
    for host in hosts:
        for label in host.labels:
            out.setdefault(label, []).append(host)
    return out


def _show_hosts(nodes: bool, name: str | None) -> int:
    hosts = _hosts()
    if nodes:
        for host in hosts:
            if name in (None, host.name):
                print(f"NodeName={host.name} CPUAlloc={host.used} CPUTot={host.cores} "
                      f"RealMemory={int(host.mem * 1024)} "
                      f"Gres={f'gpu:{host.gpus}' if host.gpus else '(null)'}\n"
                      f"   State={node_state(host).upper()} "
                      f"Partitions={','.join([DEFAULT_PARTITION, *host.labels])}\n"
                      f"   Reason={host.reason or 'None'}\n")
        return 0
    for part, members in partitions(hosts).items():
        if name in (None, part):
            print(f"PartitionName={part}\n"
                  f"   Default={'YES' if part == DEFAULT_PARTITION else 'NO'} "
                  f"MaxTime=UNLIMITED State=UP\n"
                  f"   Nodes={hostlist.compress(h.name for h in members)}\n"
                  f"   TotalCPUs={sum(h.cores for h in members)} "
                  f"TotalNodes={len(members)}\n")
    return 0


SINFO_DEFAULT = "%9P %5a %10l %6D %6t %N"
_SINFO_CODE = re.compile(r"%(\.)?([0-9]*)([A-Za-z])")


def sinfo(args: list[str]) -> int:
    p = common.Parser("sinfo")
    p.add_argument("-h", "--noheader", action="store_true")
    p.add_argument("-o", "--format")
    p.add_argument("-N", "--Node", action="store_true")
    p.add_argument("-p", "--partition")
    p.add_argument("-s", "--summarize", action="store_true")
    p.add_argument("-M", "--clusters")
    for ignored in ("-a", "--all", "-l", "--long", "-e", "--exact"):
        p.add_argument(ignored, action="store_true")
    ns = p.known(args)
    hosts = _hosts()
    wanted = set(ns.partition.split(",")) if ns.partition else None
    lines: list[tuple[str, list[Any]]] = []
    for part, members in partitions(hosts).items():
        if wanted is not None and part not in wanted:
            continue
        if ns.Node:
            lines += [(part, [h]) for h in members]
            continue
        by_state: dict[str, list[Any]] = {}
        for host in members:
            by_state.setdefault(node_state(host), []).append(host)
        lines += [(part, group) for group in by_state.values()]
    fmt = ns.format or ("%N %.6D %P %t" if ns.Node else SINFO_DEFAULT)
    if not ns.noheader:
        print(_sinfo_line(fmt, None, []))
    for part, group in lines:
        print(_sinfo_line(fmt, part, group))
    return 0


_SINFO_HEADERS = {"P": "PARTITION", "a": "AVAIL", "l": "TIMELIMIT", "D": "NODES",
                  "t": "STATE", "T": "STATE", "N": "NODELIST", "c": "CPUS", "m": "MEMORY",
                  "G": "GRES", "C": "CPUS(A/I/O/T)", "n": "HOSTNAMES", "R": "PARTITION"}


def _sinfo_line(fmt: str, part: str | None, group: list[Any]) -> str:
    def value(code: str) -> str:
        if part is None:
            return _SINFO_HEADERS.get(code, code)
        used = sum(h.used for h in group)
        total = sum(h.cores for h in group)
        down = sum(h.cores for h in group if node_state(h) in ("down", "drain"))
        table = {
            "P": part + ("*" if part == DEFAULT_PARTITION else ""), "R": part, "a": "up",
            "l": "infinite", "D": str(len(group)), "t": node_state(group[0]),
            "T": {"idle": "idle", "mix": "mixed", "alloc": "allocated", "down": "down",
                  "drain": "drained"}[node_state(group[0])],
            "N": hostlist.compress(h.name for h in group),
            "n": hostlist.compress(h.name for h in group),
            "c": str(max(h.cores for h in group)),
            "m": str(int(max(h.mem for h in group) * 1024)),
            "G": f"gpu:{max(h.gpus for h in group)}" if any(h.gpus for h in group)
            else "(null)",
            "C": f"{used}/{total - used - down}/{down}/{total}"}
        if code not in table:
            raise common.SlurmError(f"unsupported format code %{code}")
        return table[code]

    out, at = "", 0
    for match in _SINFO_CODE.finditer(fmt):
        out += fmt[at:match.start()]
        text = value(match[3])
        if match[2]:
            width = int(match[2])
            text = text[:width].rjust(width) if match[1] else text[:width].ljust(width)
        out += text
        at = match.end()
    return out + fmt[at:]


# -- accounts: wq has one -------------------------------------------------------------------

ACCOUNT = "wq"


def sacctmgr(args: list[str]) -> int:
    """What tools ask of accounts (`sacctmgr -n -s list user ME format=account`):
    wq has one account, `wq`, that everyone is in."""
    words = [a.lower() for a in args if not a.startswith("-")]
    if not words or words[0] not in ("list", "show"):
        raise common.SlurmError("wq's sacctmgr only lists (its one account, wq)")
    if len(words) > 1 and words[1] in ("cluster", "clusters"):
        print(ACCOUNT)
        return 0
    if "-n" not in args and "--noheader" not in args:
        print("Account")
    print(ACCOUNT)
    return 0


def sshare(args: list[str]) -> int:
    if "-h" not in args and "--noheader" not in args and "-n" not in args:
        print("Account")
    print(ACCOUNT)
    return 0
