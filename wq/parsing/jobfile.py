"""Job files: YAML with `command` and any requirement keys.

The original wq's files work as they are (`command: |` scripts, `N`, `group`,
`notgroup`, `hostfile`, ...). wq adds `stdout` and `stderr` output patterns,
`after` (dependencies: `after: 12`, `after: [12, 13]`, `after: afterany:12`) and
`on_end` (a command run on the submit host once the job has ended).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from wq.errors import ParseError
from wq.model import After, Requirements
from wq.parsing import deps, requirements

if TYPE_CHECKING:                   # (YAML is loaded only to read a job file: sbatch
    from wq.parsing import yamlsrc  # and wq sub of a script need JobFile alone)

_OWN_KEYS = ("command", "stdout", "stderr", "on_end")


@dataclass(frozen=True, slots=True)
class JobFile:
    command: str
    requirements: Requirements
    stdout: str | None = None
    stderr: str | None = None
    after: tuple[After, ...] = ()
    on_end: str | None = None


def _unsexagesimal(item: yamlsrc.Item) -> object:
    """YAML 1.1 reads `1:30:00` as the number 5400; give such values back as written."""
    import yaml

    node = item.node
    if (isinstance(item.value, (int, float)) and isinstance(node, yaml.ScalarNode)
            and node.style is None and ":" in node.value):
        return node.value
    return item.value


def parse(text: str, source: str, *, overrides: str | None = None) -> JobFile:
    """Parse a job file; `overrides` is a -r string that wins over its keys."""
    from wq.parsing import yamlsrc

    node = yamlsrc.compose(text, source)
    if node is None:
        raise ParseError("the job file is empty; it needs at least 'command'", source=source)
    own: dict[str, str] = {}
    raw: list[requirements.Raw] = []
    command_line = None
    after: tuple[After, ...] = ()
    for item in yamlsrc.items(node, source, ""):
        if item.key == "after":
            after = parse_after(item.value, source, item.line)
        elif item.key in _OWN_KEYS:
            if not isinstance(item.value, (str, int, float)) or isinstance(item.value, bool):
                raise ParseError("expected text", source=source, line=item.line, key=item.key)
            own[item.key] = str(item.value)
            if item.key == "command":
                command_line = item.line
        else:
            raw.append((item.key, _unsexagesimal(item), item.line))
    if not own.get("command", "").strip():
        if command_line is None:
            raise ParseError("no 'command' given", source=source)
        raise ParseError("the command is empty", source=source, line=command_line,
                         key="command")
    req = requirements.build(raw, source=source)
    if overrides:
        req = requirements.build(
            ((k, v, None) for k, v in requirements.split_string(overrides)),
            source="-r", base=req)
    return JobFile(own["command"], req, own.get("stdout"), own.get("stderr"), after,
                   own.get("on_end"))


def parse_after(value: object, source: str, line: int | None) -> tuple[After, ...]:
    """A job file's `after:`: ids (afterok), a dependency string, or a list of them."""
    items = value if isinstance(value, list) else [value]
    if not items or not all(isinstance(i, (str, int)) and not isinstance(i, bool)
                            for i in items):
        raise ParseError("expected job ids or dependencies (after: 12, after: [12, 13], "
                         "after: afterany:12)", source=source, line=line, key="after")
    try:
        return deps.parse_ids([str(i) for i in items], source=source)
    except ParseError as exc:
        raise ParseError(exc.detail, source=source, line=line, key="after") from None
