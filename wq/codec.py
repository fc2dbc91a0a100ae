"""Model objects to and from plain JSON-able dicts, for the store and the protocol.

Decoding validates: the input may come from a client or an old database.
"""

from __future__ import annotations

import functools
import json
import os
import re
from typing import Any

from wq.errors import ParseError
from wq import model
from wq.model import JobSpec, Requirements, SlurmShape
from wq.parsing import arrays, deps, requirements


def spec_to_dict(spec: JobSpec, *, env: bool = True) -> dict[str, Any]:
    """The spec as JSON-able data; without its environment when not `env` (the
    store keeps environments apart, each once)."""
    return {"command": spec.command, "cwd": spec.cwd, **({"env": dict(spec.env)} if env else {}),
            "requirements": requirements_to_dict(spec.requirements),
            "stdout": spec.stdout, "stderr": spec.stderr, "interactive": spec.interactive,
            "stdin": spec.stdin,
            **({} if not spec.after else {"after": deps.to_strings(spec.after)}),
            **({} if spec.slurm is None else {"slurm": slurm_to_dict(spec.slurm)}),
            **({} if spec.session is None else {"session": spec.session}),
            **({} if spec.on_end is None else {"on_end": spec.on_end}),
            **({} if spec.signature is None else {"signature": spec.signature}),
            **({} if spec.seal is None else {"seal": spec.seal}),
            **({} if spec.tasks is None else {"tasks": arrays.to_json(spec.tasks)}),
            **({} if not spec.entries else {"entries": True}),
            **({} if spec.again is None else {"again": spec.again,
                                              "again_tag": spec.again_tag})}


def spec_from_dict(data: Any, *, source: str = "request", env: Env | None = None) -> JobSpec:
    """A spec from JSON-able data, checked; `env`: its environment, already read
    (env_from_dict), else the data's own `env`."""
    if not isinstance(data, dict):
        raise ParseError("a job spec must be a mapping", source=source)
    command, cwd = data.get("command"), data.get("cwd")
    if not isinstance(command, str) or not command.strip():
        raise ParseError("the command is empty", source=source, key="command")
    if "\0" in command:
        raise ParseError("the command contains a NUL byte", source=source, key="command")
    if not isinstance(cwd, str) or not os.path.isabs(cwd) or "\0" in cwd:
        raise ParseError("cwd must be an absolute path", source=source, key="cwd")
    if env is None:
        env = env_from_dict(data.get("env", {}), source=source)
    outputs = {}
    for key in ("stdout", "stderr"):
        value = data.get(key)
        if value is not None and (not isinstance(value, str) or not value.strip()
                                  or "\0" in value):
            raise ParseError("expected a path pattern", source=source, key=key)
        outputs[key] = value
    interactive, stdin = data.get("interactive", False), data.get("stdin")
    if not isinstance(interactive, bool):
        raise ParseError("interactive must be true or false", source=source, key="interactive")
    if stdin is not None and (not isinstance(stdin, str) or "\x00" in stdin):
        raise ParseError("stdin must be text without NUL bytes", source=source, key="stdin")
    if interactive and stdin is not None:
        raise ParseError("an interactive job reads the terminal; it takes no stdin data",
                         source=source, key="stdin")
    signature = data.get("signature")
    if signature is not None and not _hex(signature, 64):
        raise ParseError("a signature is 64 hex digits", source=source, key="signature")
    seal, again, again_tag = data.get("seal"), data.get("again"), data.get("again_tag")
    for key, value in (("seal", seal), ("again", again)):
        if value is not None and not (isinstance(value, str) and SEAL.fullmatch(value)):
            raise ParseError("a seal is a time and 32 hex digits (1700000000.0a1b…)",
                             source=source, key=key)
    if (again is None) != (again_tag is None) or (again_tag is not None
                                                  and not _hex(again_tag, 64)):
        raise ParseError("again_tag is 64 hex digits, with again", source=source,
                         key="again_tag")
    tasks = data.get("tasks")
    ranges = None if tasks is None else arrays.from_json(tasks)
    if tasks is not None and ranges is None:
        raise ParseError("tasks is [first, last, step], or a list of them in order",
                         source=source, key="tasks")
    entries = data.get("entries", False)
    if not isinstance(entries, bool):
        raise ParseError("entries must be true or false", source=source, key="entries")
    req = _requirements(data.get("requirements", {}), source)
    after = data.get("after", [])
    if not isinstance(after, list) or not all(isinstance(a, str) for a in after):
        raise ParseError("after must be a list of dependencies", source=source, key="after")
    slurm = _slurm_shape(data.get("slurm", False), source)
    session = data.get("session")
    if session is not None and not (isinstance(session, str) and SESSION.fullmatch(session)):
        raise ParseError("a session is 1 to 64 letters, digits, - or _", source=source,
                         key="session")
    on_end = data.get("on_end")
    if on_end is not None and (not isinstance(on_end, str) or not on_end.strip()
                               or "\0" in on_end or len(on_end) > 65536):
        raise ParseError("on_end must be a shell command (text, at most 64 KiB)",
                         source=source, key="on_end")
    return JobSpec(command=command, cwd=shared(cwd), env=env,
                   requirements=req, interactive=interactive, stdin=stdin, slurm=slurm,
                   session=session, on_end=on_end,
                   signature=signature, seal=seal, again=again, again_tag=again_tag,
                   tasks=ranges,
                   entries=entries,
                   after=deps.parse(",".join(after), source=source)
                   if after else (), **outputs)


SESSION = re.compile(r"[A-Za-z0-9_-]{1,64}")
SEAL = re.compile(r"[0-9]{1,12}\.[0-9a-f]{32}")
#: the largest count a Slurm shape may say (tasks, cores, nodes, MB a core, array ids)
MAX_COUNT = 1 << 40

Env = tuple[tuple[str, str], ...]


def slurm_to_dict(shape: SlurmShape) -> dict[str, Any] | bool:
    """What was asked of Slurm: `true` alone for a shape that says nothing more
    (as jobs were written before shapes, so that their signatures still hold)."""
    out: dict[str, Any] = {}
    for name in SlurmShape.__slots__:
        value = getattr(shape, name)
        if value not in (None, ""):
            out[name] = arrays.to_json(value) if name == "array" else value
    return out or True


def _slurm_shape(data: Any, source: str) -> SlurmShape | None:
    if data is False or data is None:
        return None
    if data is True:
        return SlurmShape()
    if not isinstance(data, dict) or not set(data) <= set(SlurmShape.__slots__):
        raise ParseError(f"slurm must be true or a mapping of {', '.join(SlurmShape.__slots__)}",
                         source=source, key="slurm")
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name in ("submit_dir", "script"):
            if not isinstance(value, str) or not os.path.isabs(value) or "\0" in value:
                raise ParseError(f"slurm: {name} must be an absolute path", source=source,
                                 key="slurm")
        elif name == "array":
            value = arrays.from_json(value, most=MAX_COUNT)
            if value is None:
                raise ParseError("slurm: array must be [first, last, step] or a list of "
                                 "them, in order", source=source, key="slurm")
        elif type(value) is not int or not 0 < value <= MAX_COUNT:
            raise ParseError(f"slurm: {name} must be a count from 1 to {MAX_COUNT}",
                             source=source, key="slurm")
        values[name] = value
    return SlurmShape(**values)


def env_from_dict(env: Any, *, source: str = "request") -> Env:
    """A job's environment from JSON-able data, checked (shared_env)."""
    if not isinstance(env, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                            and "\0" not in k + v for k, v in env.items()):
        raise ParseError("env must map names to strings (without NUL bytes)", source=source,
                         key="env")
    return shared_env(tuple(sorted(env.items())))


def _requirements(data: Any, source: str) -> Requirements:
    """Requirements from JSON-able data; the same few recur from job to job, so
    each is read (and kept) once."""
    try:
        text = json.dumps(data, sort_keys=True)
    except (TypeError, ValueError):
        return requirements.from_dict(data, source=source)
    return _read_requirements(text, source)


@functools.lru_cache(maxsize=1024)
def _read_requirements(text: str, source: str) -> Requirements:
    return requirements.from_dict(json.loads(text), source=source)


#: requirements.to_dict, once for each of the few that recur (callers copy it)
_requirements_dict = functools.lru_cache(maxsize=1024)(requirements.to_dict)


def requirements_to_dict(req: Requirements) -> dict[str, Any]:
    """A job's requirements as JSON-able data (worked out once per kind of job)."""
    return dict(_requirements_dict(req))


@functools.lru_cache(maxsize=1024)
def shared_env(env: Env) -> Env:
    """One object for equal environments: the jobs submitted from one shell, or
    in one submit_many, or read back from the store, share theirs (a job's
    environment is often 2-4 KB, and a queue may hold a million jobs)."""
    return env


@functools.lru_cache(maxsize=1024)
def shared(text: str) -> str:
    """One object for equal strings that recur from job to job (working
    directories)."""
    return text


def _hex(value: Any, length: int) -> bool:
    return isinstance(value, str) and len(value) == length and all(
        c in "0123456789abcdef" for c in value)


def placement_to_list(p: model.Placement | None) -> list[dict[str, Any]] | None:
    if p is None:
        return None
    return [{"host": s.host, "cores": s.cores, "mem": s.mem, "gpus": list(s.gpu_ids),
             "whole": s.whole} for s in p.slices]


def placement_from_list(data: Any) -> model.Placement | None:
    if data is None:
        return None
    return model.Placement(tuple(
        model.Slice(str(d["host"]), int(d["cores"]), float(d.get("mem", 0.0)),
                    tuple(int(g) for g in d.get("gpus", ())), bool(d.get("whole", False)))
        for d in data))
