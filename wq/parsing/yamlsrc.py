"""YAML loading that keeps line numbers, so errors can say where."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import yaml
from yaml.constructor import SafeConstructor

from wq.errors import ParseError


TOO_DEEP = "invalid YAML: nested too deeply"


@dataclass(frozen=True, slots=True)
class Item:
    """One key of a mapping, with its value and the line it stands on."""

    key: str
    value: Any
    line: int
    node: yaml.Node


def compose(text: str, source: str) -> yaml.Node | None:
    """Parse YAML text into a node tree; syntax errors name the line."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = exc.problem or exc.context or "invalid YAML"
        raise ParseError(f"invalid YAML: {problem}", source=source, line=line) from None
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid YAML: {exc}", source=source) from None
    except RecursionError:
        raise ParseError(TOO_DEEP, source=source) from None


def line_of(node: yaml.Node) -> int:
    return int(node.start_mark.line) + 1


def value_of(node: yaml.Node, source: str) -> Any:
    constructor = SafeConstructor()
    try:
        return constructor.construct_object(node, deep=True)
    except yaml.MarkedYAMLError as exc:
        raise ParseError(f"invalid value: {exc.problem or exc.context}", source=source,
                         line=line_of(node)) from None
    except yaml.YAMLError as exc:
        raise ParseError(f"invalid value: {exc}", source=source, line=line_of(node)) from None
    except RecursionError:
        raise ParseError(TOO_DEEP, source=source, line=line_of(node)) from None


def items(node: yaml.Node, source: str, what: str) -> list[Item]:
    """The keys of a mapping node in order; duplicates are an error."""
    if not isinstance(node, yaml.MappingNode):
        raise ParseError(f"expected a mapping of keys to values, got {_kind(node)}",
                         source=source, line=line_of(node), key=what)
    seen: dict[str, int] = {}
    out: list[Item] = []
    for key_node, value_node in node.value:
        key = str(value_of(key_node, source))
        line = line_of(key_node)
        if key in seen:
            raise ParseError(f"duplicate key (first on line {seen[key]})", source=source,
                             line=line, key=f"{what}.{key}" if what else key)
        seen[key] = line
        out.append(Item(key, value_of(value_node, source), line, value_node))
    return out


def _kind(node: yaml.Node) -> str:
    if isinstance(node, yaml.SequenceNode):
        return "a list"
    if isinstance(node, yaml.ScalarNode):
        return f"{node.value!r}"
    return "something else"
