"""sbatch's options and `#SBATCH` lines, as a wq job: pure parsing, no I/O.

`parse(args, script_text)` reads the options (the command line wins over the
script's `#SBATCH` header lines) into a `Batch`: the job's requirements, its
output patterns, array, dependencies and what sbatch itself should do.
Options that would change what the job means and that wq cannot honour are
refused; harmless ones (accounts, mail, QOS, ...) are ignored with a warning.
"""

from __future__ import annotations

import dataclasses
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field

from wq.errors import ParseError
from wq.model import After, Mode, Ranges, Requirements, SlurmShape
from wq.parsing import arrays, deps, requirements
from wq.parsing.units import MAX_COUNT, MAX_SECONDS, counts

DEFAULT_PARTITION = "wq"     # every host (sinfo shows it); each host label is one too
SOURCE = ""                  # (errors print as "sbatch: error: ...")

#: options taken, by long name: (short form, takes a value)
TAKEN: dict[str, tuple[str | None, bool]] = {
    "job-name": ("J", True), "output": ("o", True), "error": ("e", True),
    "chdir": ("D", True), "ntasks": ("n", True), "cpus-per-task": ("c", True),
    "nodes": ("N", True), "mem": (None, True), "mem-per-cpu": (None, True),
    "time": ("t", True), "array": ("a", True), "dependency": ("d", True),
    "gres": (None, True), "gpus": ("G", True), "partition": ("p", True),
    "export": (None, True), "parsable": (None, False), "wait": ("W", False),
    "test-only": (None, False), "wrap": (None, True), "nodelist": ("w", True),
    "exclude": ("x", True), "constraint": ("C", True), "licenses": ("L", True),
    "quiet": ("Q", False), "ntasks-per-node": (None, True), "exclusive": (None, False),
    "signal": (None, True), "hold": ("H", False),
}
#: accepted and ignored, with a warning (they change nothing wq can act on)
IGNORED: dict[str, tuple[str | None, bool]] = {
    "account": ("A", True), "qos": ("q", True), "mail-type": (None, True),
    "mail-user": (None, True), "comment": (None, True), "open-mode": (None, True),
    "nice": (None, True), "requeue": (None, False), "no-requeue": (None, False),
    "get-user-env": (None, False), "propagate": (None, True), "clusters": ("M", True),
    "time-min": (None, True), "reservation": (None, True),
    "kill-on-invalid-dep": (None, True), "distribution": ("m", True),
    "hint": (None, True), "threads-per-core": (None, True), "wckey": (None, True),
    "verbose": ("v", False), "profile": (None, True), "acctg-freq": (None, True),
    "mem-bind": (None, True), "cpu-freq": (None, True), "no-kill": ("k", False),
    "oversubscribe": ("s", False), "uid": (None, True), "gid": (None, True),
    "ntasks-per-core": (None, True), "sockets-per-node": (None, True),
    "cores-per-socket": (None, True), "tmp": (None, True),
}
#: known to Slurm, meaning something wq does not do: refused
REFUSED = {
    "begin": "a start time", "input": "standard input from a file (-i)",
    "deadline": "a deadline", "container": "containers", "het-job": "heterogeneous jobs",
    "batch": "batch features", "gpus-per-task": "GPUs per task",
    "gpus-per-node": "GPUs per node (use --gpus)", "mem-per-gpu": "memory per GPU",
    "ntasks-per-gpu": "tasks per GPU", "switches": "network switches",
}
#: srun's own options (beside sbatch's): how a step runs, which wq leaves to the
#: command; accepted and ignored
SRUN: dict[str, tuple[str | None, bool]] = {
    "pty": (None, False), "label": ("l", False), "unbuffered": ("u", False),
    "overlap": (None, False), "exact": (None, False), "cpu-bind": (None, True),
    "mpi": (None, True), "jobid": (None, True), "kill-on-bad-exit": ("K", False),
    "input": ("i", True), "het-group": (None, True), "multi-prog": (None, False),
    "whole": (None, False), "x11": (None, False),
}
#: srun's options that would change what its step means: refused
SRUN_REFUSED = {"multi-prog": "a program of its own for each task (--multi-prog)"}
_SHORT = {**{short: name for table in (TAKEN, IGNORED) for name, (short, _) in table.items()
             if short}, "i": "input"}
_SRUN_SHORT = {**_SHORT, **{short: name for name, (short, _) in SRUN.items() if short}}


@dataclass(frozen=True, slots=True)
class Batch:
    """What sbatch was asked for."""
    requirements: Requirements
    ntasks: int = 1                                 # -n (srun starts that many copies)
    shape: SlurmShape = SlurmShape()                # the counts given, for SLURM_* variables
    name: str | None = None
    stdout: str | None = None
    stderr: str | None = None
    chdir: str | None = None
    array: Ranges | None = None                     # --array's indices
    throttle: int | None = None
    after: tuple[After, ...] = ()
    singleton: bool = False                         # -d singleton (submit.py resolves it)
    export: str = "ALL"
    parsable: bool = False
    wait: bool = False
    test_only: bool = False
    quiet: bool = False
    hold: bool = False                              # -H: submitted held
    wrap: str | None = None
    script_args: tuple[str, ...] = ()
    script: str | None = None                       # its path, as given
    ignored: tuple[str, ...] = field(default=())    # options wq takes but ignores


def directives(text: str) -> list[str]:
    """The options of a script's `#SBATCH` lines: those before its first command."""
    out: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if number == 1 and stripped.startswith("#!"):
            continue
        if stripped and not stripped.startswith("#"):
            break
        if stripped.startswith("#SBATCH") and (len(stripped) == 7 or stripped[7].isspace()):
            body = stripped[7:].split(" #", 1)[0]
            try:
                out += shlex.split(body)
            except ValueError as exc:
                raise ParseError(f"#SBATCH line: {exc}", source=SOURCE, line=number) from None
    return out


def split(args: list[str], srun: bool = False
          ) -> tuple[list[tuple[str, str | None]], list[str]]:
    """Options as (long name, value) in order, and the script with its arguments
    (everything from the first word that is not an option on); `srun`: srun's
    options are known too."""
    shorts = _SRUN_SHORT if srun else _SHORT

    def takes(name: str) -> bool:
        return SRUN[name][1] if srun and name in SRUN else _takes(name)

    options: list[tuple[str, str | None]] = []
    words = iter(enumerate(args))
    for i, word in words:
        if word == "--":
            return options, args[i + 1:]
        if not word.startswith("-") or word == "-":
            return options, args[i:]
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            wants = takes(name)
            if wants and not eq:
                value = _next(words, word)
            elif not wants and eq:
                raise ParseError(f"--{name} takes no value", source=SOURCE)
            options.append((name, value if wants else None))
            continue
        letter, rest = word[1:2], word[2:]
        name = shorts.get(letter, letter)
        if takes(name):
            options.append((name, rest.removeprefix("=") if rest else _next(words, word)))
        else:
            options.append((name, None))
            if rest:
                raise ParseError(f"unknown option {word!r}", source=SOURCE)
    return options, []


def _takes(name: str) -> bool:
    if name in TAKEN:
        return TAKEN[name][1]
    if name in IGNORED:
        return IGNORED[name][1]
    if name in REFUSED:
        return True
    return False


def _next(words: Iterator[tuple[int, str]], option: str) -> str:
    value = next(words, None)
    if value is None:
        raise ParseError(f"{option} needs a value", source=SOURCE)
    return value[1]


def parse(args: list[str], script_text: str | None) -> Batch:
    """sbatch's command line, with the `#SBATCH` lines of `script_text` first."""
    given, rest = split(args)
    header = split(directives(script_text))[0] if script_text is not None else []
    values, ignored = _values([*header, *given])
    return _batch(values, rest, ignored)


def parse_srun(args: list[str]) -> tuple[Batch, list[str], bool]:
    """srun's command line: the job it asks for, its command, and whether it
    wants a terminal (--pty)."""
    given, command = split(args, srun=True)
    if not command:
        raise ParseError("no command given", source=SOURCE)
    pty = any(name == "pty" for name, _ in given)
    for name, _ in given:
        if name in SRUN_REFUSED:
            raise ParseError(f"--{name}: {SRUN_REFUSED[name]} is not supported by wq",
                             source=SOURCE)
    values, ignored = _values([(n, v) for n, v in given if n not in SRUN])
    return _batch(values, [], ignored), command, pty


def _values(options: list[tuple[str, str | None]]
            ) -> tuple[dict[str, str | None], tuple[str, ...]]:
    """The options wq takes, by name (later ones win), and those it ignores;
    refuses the others."""
    values: dict[str, str | None] = {}
    ignored: list[str] = []
    for name, value in options:
        if name in REFUSED:
            raise ParseError(f"--{name}: {REFUSED[name]} is not supported by wq",
                             source=SOURCE)
        if name in IGNORED:
            ignored.append(f"--{name}")
            continue
        if name not in TAKEN:
            raise ParseError(f"unknown option --{name}", source=SOURCE)
        values[name] = value
    return values, tuple(dict.fromkeys(ignored))


def _batch(values: dict[str, str | None], rest: list[str], ignored: tuple[str, ...]) -> Batch:
    req = Requirements()
    cpus = _count(values, "cpus-per-task")
    nodes = _nodes(values.get("nodes"))
    given_nodes = values.get("nodes") is not None
    per_node = None if values.get("ntasks-per-node") is None else \
        _count(values, "ntasks-per-node")
    ntasks = _count(values, "ntasks") if values.get("ntasks") is not None else \
        nodes * (per_node or 1)                      # (Slurm: a task a node by default)
    if ntasks < nodes:
        raise ParseError(f"--nodes: {nodes} nodes need a task each; --ntasks is {ntasks}",
                         source=SOURCE)
    whole = "exclusive" in values
    if not whole and not per_node and (given_nodes and nodes == 1 or cpus > 1 and ntasks == 1):
        req = dataclasses.replace(req, mode=Mode.BYCORE1, n=ntasks * cpus,
                                  threads=cpus if cpus > 1 else None)
    else:
        req = dataclasses.replace(req, mode=Mode.BYCORE, n=ntasks * cpus,
                                  threads=cpus if cpus > 1 else None,
                                  nodes=nodes if given_nodes else 0,
                                  per_host=(per_node or 0) * cpus, whole=whole)
    per_cpu = None
    if values.get("mem") is not None:
        req = dataclasses.replace(req, mem=memory(str(values["mem"]), "--mem"))
    elif values.get("mem-per-cpu") is not None:
        per_cpu = memory(str(values["mem-per-cpu"]), "--mem-per-cpu")
        req = dataclasses.replace(req, mem=per_cpu * (req.n if req.mode is Mode.BYCORE1
                                                      else cpus))
    if values.get("time") is not None:
        req = dataclasses.replace(req, time_limit=slurm_time(str(values["time"])))
    if values.get("signal") is not None:
        req = dataclasses.replace(req, signal=_warning(str(values["signal"])))
    gpus = _gpus(values)
    if gpus:
        req = dataclasses.replace(req, gpus=gpus)
    groups: list[str] = []
    if values.get("partition"):          # (the default partition, every host: no label)
        groups += [p for p in _names(str(values["partition"]), "--partition")
                   if p != DEFAULT_PARTITION]
    if values.get("constraint"):
        groups += _names(str(values["constraint"]).replace("&", ","), "--constraint")
    if groups:
        req = dataclasses.replace(req, groups=tuple(dict.fromkeys(groups)))
    if values.get("nodelist"):
        req = dataclasses.replace(req, hosts=tuple(_names(str(values["nodelist"]),
                                                          "--nodelist")))
    if values.get("exclude"):
        req = dataclasses.replace(req, not_hosts=tuple(_names(str(values["exclude"]),
                                                              "--exclude")))
    if values.get("licenses"):           # Slurm's matlab:2,genus
        try:
            req = dataclasses.replace(req, licenses=counts(str(values["licenses"])))
        except ValueError as exc:
            raise ParseError(f"--licenses: {exc}", source=SOURCE) from None
    name = values.get("job-name")
    if name is not None:
        req = dataclasses.replace(req, job_name=name)
    array, throttle = (None, None) if values.get("array") is None else \
        arrays.parse_slurm(str(values["array"]), source=SOURCE)
    after, singleton = dependency(values.get("dependency"))
    export = values.get("export") or "ALL"
    wrap = values.get("wrap")
    if wrap is not None and rest:
        raise ParseError("give a script or --wrap, not both", source=SOURCE)
    shape = SlurmShape(ntasks=ntasks if values.get("ntasks") is not None else None,
                       ntasks_per_node=per_node,
                       cpus_per_task=cpus if values.get("cpus-per-task") is not None else None,
                       nodes=nodes if values.get("nodes") is not None else None,
                       mem_per_cpu=None if per_cpu is None else round(per_cpu * 1024),
                       array=array)
    return Batch(requirements=req, ntasks=ntasks, shape=shape, name=name,
                 stdout=values.get("output"),
                 stderr=values.get("error"), chdir=values.get("chdir"), array=array,
                 throttle=throttle, after=after, export=export,
                 singleton=singleton, parsable="parsable" in values, wait="wait" in values,
                 test_only="test-only" in values, quiet="quiet" in values,
                 hold="hold" in values, wrap=wrap,
                 script=rest[0] if rest else None, script_args=tuple(rest[1:]),
                 ignored=ignored)


def _count(values: dict[str, str | None], name: str) -> int:
    text = values.get(name)
    if text is None:
        return 1
    if not re.fullmatch(r"[0-9]{1,7}", text) or not 1 <= int(text) <= MAX_COUNT:
        raise ParseError(f"--{name}: expected a positive count, got {text!r}", source=SOURCE)
    return int(text)


def _nodes(text: str | None) -> int:
    """-N MIN[-MAX]: wq takes the minimum (a job may share hosts)."""
    if text is None:
        return 1
    match = re.fullmatch(r"([0-9]{1,6})(?:-[0-9]{1,6})?", text)
    if match is None or int(match[1]) < 1:
        raise ParseError(f"--nodes: expected a count (or MIN-MAX), got {text!r}",
                         source=SOURCE)
    return int(match[1])


def _gpus(values: dict[str, str | None]) -> int:
    count = 0
    gres = values.get("gres")
    if gres:
        for item in gres.split(","):
            parts = item.split(":")
            if parts[0] != "gpu":
                raise ParseError(f"--gres: only gpu is supported, got {item!r}",
                                 source=SOURCE)
            count += _gpu_count(parts[-1] if len(parts) > 1 else "1", "--gres")
    if values.get("gpus"):
        count = _gpu_count(str(values["gpus"]).split(":")[-1], "--gpus")
    return count


def _gpu_count(text: str, option: str) -> int:
    if not re.fullmatch(r"[0-9]{1,4}", text):
        raise ParseError(f"{option}: expected a GPU count, got {text!r}", source=SOURCE)
    return int(text)


def _names(text: str, option: str) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    if not names or not all(re.fullmatch(r"[A-Za-z0-9_.@+-]{1,255}", n) for n in names):
        raise ParseError(f"{option}: expected names, got {text!r}", source=SOURCE)
    return names


def memory(text: str, option: str) -> float:
    """Slurm's memory sizes, in GB: a number of megabytes, or with K, M, G, T."""
    match = re.fullmatch(r"([0-9]{1,12}(?:\.[0-9]{1,6})?)([KMGT]?)B?", text.strip(),
                         re.IGNORECASE)
    if match is None:
        raise ParseError(f"{option}: expected a size such as 4000, 500M or 16G, got {text!r}",
                         source=SOURCE)
    factor = {"k": 1 / 1024**2, "m": 1 / 1024, "": 1 / 1024, "g": 1.0, "t": 1024.0}
    return float(match[1]) * factor[match[2].lower()]


def slurm_time(text: str) -> float | None:
    """Slurm's time forms, in seconds (None: no limit): M, M:S, H:M:S, D-H, D-H:M,
    D-H:M:S; UNLIMITED, INFINITE or -1. Seconds round up to a minute, as Slurm's do."""
    text = text.strip()
    if text.upper() in ("UNLIMITED", "INFINITE", "-1"):
        return None
    match = re.fullmatch(r"(?:([0-9]{1,5})-)?([0-9]{1,9})(?::([0-9]{1,9}))?(?::([0-9]{1,9}))?",
                         text)
    if match is None:
        raise ParseError(f"--time: expected minutes, M:S, H:M:S, D-H, D-H:M or D-H:M:S, "
                         f"got {text!r}", source=SOURCE)
    days, a, b, c = match.groups()
    if days is not None:                  # D-H, D-H:M, D-H:M:S
        seconds = int(days) * 86400 + int(a) * 3600 + int(b or 0) * 60 + int(c or 0)
    elif c is not None:
        seconds = int(a) * 3600 + int(b) * 60 + int(c)
    elif b is not None:
        seconds = int(a) * 60 + int(b)
    else:
        seconds = int(a) * 60
    if seconds <= 0:
        return None                       # Slurm reads a zero limit as none
    minutes = -(-seconds // 60)           # Slurm's limits are whole minutes, rounded up
    return float(min(minutes * 60, MAX_SECONDS))


def dependency(text: str | None) -> tuple[tuple[After, ...], bool]:
    """-d: its dependencies, and whether it says singleton (after every job of
    the user's of the same name, which only the submitting side can know)."""
    if text is None:
        return (), False
    parts = [p.strip() for p in text.split(",")]
    singleton = "singleton" in parts
    rest = ",".join(p for p in parts if p != "singleton")
    return (deps.parse(rest, source="--dependency") if rest or not singleton else ()), \
        singleton


def output_pattern(pattern: str, name: str, user: str) -> str:
    """Slurm's output patterns as wq's: %x (job name) and %u (user) now; %j, %A, %a
    as wq has them; %J (job.step) as %j, %N (node) as %h."""
    table = {"x": name, "u": user, "N": "%h", "J": "%j", "n": "0", "t": "0", "s": "batch"}
    return re.sub(r"%(.)", lambda m: table.get(m.group(1), m.group(0)), pattern)


def _warning(text: str) -> str:
    """--signal=[B:]SIG[@SECONDS]: to the batch shell with B, else (as Slurm's)
    to the job's steps, the tasks srun starts, not the batch shell."""
    try:
        if text[:2].upper() == "S:":
            raise ValueError("expected [B:]SIG[@SECONDS]")
        warning = requirements.warning(text)
    except ValueError as exc:
        raise ParseError(f"--signal: {exc}", source=SOURCE) from None
    return warning if warning.startswith("B:") else f"S:{warning}"
