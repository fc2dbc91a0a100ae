"""Scripts as job files, as `sbatch` takes them: `wq sub run.sh`.

A file is a script when it starts with `#!`, or when it is not a YAML mapping
(a job file is one). The job runs the script itself, with the interpreter of
its `#!` line (or sh without one). Requirements may be given in its header,
the comment lines before its first command, as `#SBATCH` lines (read as
sbatch reads them, wq.slurm.sbatch) and `#WQ` lines with job-file keys,
which win:

    #!/bin/bash
    #WQ N: 4; mode: bycore1
    #WQ stdout: run-%j.out
    ./simulate --threads 4
"""

from __future__ import annotations

import dataclasses
import os
import re
import secrets
import shlex

from wq.errors import ParseError
from wq.parsing import requirements
from wq.model import After
from wq.parsing.jobfile import JobFile, parse_after
from wq.slurm import sbatch

DIRECTIVE = "#WQ"
_OWN_KEYS = ("stdout", "stderr", "on_end")


def is_script(text: str, source: str) -> bool:
    """A script starts with `#!`, or is not a YAML mapping; but a file named
    .yaml/.yml, or whose first line reads `key: ...`, is a job file even when
    broken (its error is shown; a broken job file must never run as a script)."""
    if text.startswith("#!"):
        return True
    if source.endswith((".yaml", ".yml")):
        return False
    import yaml                 # (here: sbatch and wq sub of a script never load it)

    from wq.parsing import yamlsrc

    try:
        node = yamlsrc.compose(text, source)
    except ParseError:
        return not _looks_like_keys(text)
    return not isinstance(node, yaml.MappingNode)


_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\s*:(\s|$)")


def _looks_like_keys(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            return bool(_KEY.match(stripped))
    return False


def parse(text: str, source: str, *, overrides: str | None = None) -> JobFile:
    """A script's job: its `#WQ` header lines as requirements (`overrides`, a -r
    string, wins), and a command that runs the script as written; the job is
    named after the script unless its header names it (job_name)."""
    if not text.strip():
        raise ParseError("the script is empty", source=source)
    if "\0" in text:
        raise ParseError("the script contains a NUL byte", source=source)
    raw: list[requirements.Raw] = []
    own: dict[str, str] = {}
    after: tuple[After, ...] = ()
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if number == 1 and stripped.startswith("#!"):
            continue
        if stripped and not stripped.startswith("#"):
            break                                    # the header ends at the first command
        if not stripped.startswith(DIRECTIVE):
            continue
        body = stripped[len(DIRECTIVE):]
        if body and not body[0].isspace():
            continue                                 # (#WQUIET is a comment)
        for key, value in requirements.split_string(body.strip()):
            if key == "after":
                after += parse_after(value, source, number)
            elif key in _OWN_KEYS:
                own[key] = str(value)
            else:
                raw.append((key, value, number))
    slurm = _sbatch_lines(text, source)
    if slurm.singleton:
        raise ParseError("#SBATCH -d singleton is sbatch's (it looks up your jobs of that "
                         "name as it submits): submit this script with sbatch",
                         source=source)
    req = requirements.build(raw, source=source, base=slurm.requirements)
    if overrides:
        req = requirements.build(
            ((k, v, None) for k, v in requirements.split_string(overrides)),
            source="-r", base=req)
    if req.job_name is None:                        # named after the script, as sbatch does
        req = dataclasses.replace(req, job_name=os.path.basename(source) or None)
    name = req.job_name or "-"
    stdout = own.get("stdout") or _pattern(slurm.stdout, name)
    stderr = own.get("stderr") or _pattern(slurm.stderr, name)
    return JobFile(run_command(text), req, stdout, stderr,
                   tuple(dict.fromkeys((*slurm.after, *after))), own.get("on_end"))


def _sbatch_lines(text: str, source: str) -> sbatch.Batch:
    """A script's `#SBATCH` lines, as sbatch would read them (the `#WQ` lines win)."""
    try:
        return sbatch.parse([], text)
    except ParseError as exc:
        raise ParseError(f"#SBATCH: {exc.detail}", source=source, line=exc.line) from None


def _pattern(pattern: str | None, name: str) -> str | None:
    if pattern is None:
        return None
    return sbatch.output_pattern(pattern, name, os.environ.get("USER", "%u"))


def run_command(text: str, args: tuple[str, ...] = ()) -> str:
    """sh that writes the script to a private file on the node and runs it (its
    `#!` line picks the interpreter) with `args`. Run by a job's runner (as
    DIR/script), the copy is DIR/batch and the script is exec'd, so that it is
    the job's own shell: a signal to it (`wq signal -b`, `--signal=B:`) or to
    the job reaches the script, and nothing in between dies of it. Elsewhere (an
    interactive session) it is a temporary file, removed once the script ends."""
    marker = f"WQ_SCRIPT_{secrets.token_hex(8)}"
    while marker in text:
        marker = f"WQ_SCRIPT_{secrets.token_hex(8)}"
    body = text if text.endswith("\n") else text + "\n"
    words = "".join(" " + shlex.quote(a) for a in args)
    return ("case $0 in\n"
            "    */script) wq_script=${0%/*}/batch wq_tmp= ;;\n"
            "    *) wq_script=$(mktemp) || exit 1; wq_tmp=1 ;;\n"
            "esac\n"
            f"cat > \"$wq_script\" <<'{marker}'\n{body}{marker}\n"
            f"chmod 700 \"$wq_script\"\n"
            f"[ -n \"$wq_tmp\" ] || exec \"$wq_script\"{words}\n"
            f"\"$wq_script\"{words}; wq_rc=$?\n"
            f"rm -f \"$wq_script\"\n"
            f"exit $wq_rc\n")
