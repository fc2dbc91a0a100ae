"""Cluster files: the YAML format, and the original one-host-a-line format.

YAML:
    defaults: {user: alice, known_hosts: ~/.ssh/known_hosts}
    hosts:
      - {name: node1, address: 10.0.0.1, cores: 16, mem: 64, labels: [fast]}
    lab: {socket: /srv/wq/lab.sock, group: wqlab}      # optional: see parsing/lab.py

Original: `hostname ncores mem labels` per line; `#` comments, blank lines.
"""

from __future__ import annotations

import dataclasses
import os
import re
from typing import Any

import yaml

from wq.errors import ParseError
from wq.model import DEFAULT_DRAIN_AFTER, Cluster, Host, SshOptions
from wq.parsing import lab, textfile, units, yamlsrc
from wq.parsing.fields import Field, FieldTable


def _port(value: Any) -> int:
    port = units.positive_int(value)
    if port > 65535:
        raise ValueError(f"expected a port number (1-65535), got {port}")
    return port


def _known_hosts(value: Any) -> str:
    text = units.text(value).strip()
    return "none" if text.lower() in ("none", "no", "false", "off") else _expand(text)


def _identity(value: Any) -> tuple[str, ...]:
    return tuple(_expand(p) for p in units.paths(value))


def _address(value: Any) -> str:
    text = units.text(value).strip()
    if any(c.isspace() for c in text):
        raise ValueError(f"expected an address without spaces, got {value!r}")
    return text


def _expand(path: str) -> str:
    return os.path.expanduser(os.path.expandvars(path))


HOST_FIELDS = FieldTable([
    Field("name", units.name, ("hostname",)),
    Field("address", _address, ("addr", "ip")),
    Field("port", _port),
    Field("user", units.name, ("username",)),
    Field("cores", units.positive_int, ("ncores", "cpus")),
    Field("mem", units.gigabytes, ("memory",)),
    Field("gpus", units.bounded(units.non_negative_int, 4096), ("gpu",)),
    Field("labels", units.names, ("groups", "label", "group")),
    Field("local", units.flag),
    Field("known_hosts", _known_hosts),
    Field("identity", _identity, ("identity_file", "key")),
    Field("ssh_config", _identity, ("config",)),
    Field("keepalive", units.seconds, ("keepalive_interval",)),
    Field("keepalive_count", units.bounded(units.positive_int, 1000), ("keepalive_count_max",)),
    Field("connect_timeout", lambda v: units.seconds(v, maximum=3600.0)),
    Field("max_sessions", units.bounded(units.positive_int, 1000)),
    Field("helper", units.flag),
    Field("drain_after", units.non_negative_int),
    Field("max_load", units.load, ("maxload",)),
    Field("min_free_mem", units.gigabytes, ("min_free_memory",)),
    Field("min_free_gpu_mem", units.gigabytes, ("min_free_gpu_memory",)),
    Field("setup", units.text),
    Field("teardown", units.text),
    Field("teardown_after", units.duration, ("idle_teardown",)),
])

_TOP = FieldTable([Field("hosts", lambda v: v), Field("defaults", lambda v: v),
                   Field("lab", lambda v: v),
                   Field("resources", lambda v: v, ("licenses", "licences"))])
_SSH_KEYS = {"known_hosts": "known_hosts", "identity": "identity", "ssh_config": "config",
             "keepalive": "keepalive", "keepalive_count": "keepalive_count",
             "connect_timeout": "connect_timeout", "max_sessions": "max_sessions",
             "helper": "helper"}


def load(path: str) -> Cluster:
    return parse(textfile.read(path, "cluster file"), path)


def parse(text: str, source: str) -> Cluster:
    if _looks_plain(text):
        return parse_plain(text, source)
    node = yamlsrc.compose(text, source)
    if node is None:
        raise ParseError("the cluster file lists no hosts", source=source)
    top = {i.key: i for i in yamlsrc.items(node, source, "")}
    for key, item in top.items():
        _TOP.lookup(key, source=source, line=item.line)
    defaults: dict[str, tuple[Any, int]] = {}
    if "defaults" in top:
        for item in yamlsrc.items(top["defaults"].node, source, "defaults"):
            canonical, value = HOST_FIELDS.convert(item.key, item.value, source=source,
                                                   line=item.line, where="defaults")
            if canonical == "name":
                raise ParseError("a default cannot set a host's name", source=source,
                                 line=item.line, key="defaults.name")
            defaults[canonical] = (value, item.line)
    if "hosts" not in top:
        raise ParseError("no 'hosts' key: list the hosts under 'hosts:'", source=source)
    hosts_node = top["hosts"].node
    entries: list[tuple[str, yaml.Node, int]] = []   # (label, node, line)
    if isinstance(hosts_node, yaml.SequenceNode):
        entries = [(f"hosts[{i}]", n, yamlsrc.line_of(n)) for i, n in enumerate(hosts_node.value)]
    elif isinstance(hosts_node, yaml.MappingNode):
        for item in yamlsrc.items(hosts_node, source, "hosts"):
            entries.append((f"hosts.{item.key}", item.node, item.line))
    else:
        raise ParseError("expected a list of hosts", source=source, line=top["hosts"].line,
                         key="hosts")
    hosts: list[Host] = []
    for label, entry_node, line in entries:
        fields = {k: v for k, (v, _) in defaults.items()}
        if isinstance(hosts_node, yaml.MappingNode):
            _, fields["name"] = HOST_FIELDS.convert("name", label.split(".", 1)[1],
                                                    source=source, line=line, where=label)
            if isinstance(entry_node, yaml.ScalarNode) and entry_node.value in ("", "~", "null"):
                entry_items: list[yamlsrc.Item] = []
            else:
                entry_items = yamlsrc.items(entry_node, source, label)
        else:
            entry_items = yamlsrc.items(entry_node, source, label)
        for item in entry_items:
            canonical, value = HOST_FIELDS.convert(item.key, item.value, source=source,
                                                   line=item.line, where=label)
            fields[canonical] = value
        hosts.append(_host(fields, source=source, line=line, label=label))
    cluster = _checked(hosts, source, [e[2] for e in entries])
    if "lab" in top:
        cluster = dataclasses.replace(cluster, lab=lab.parse(top["lab"].node, source))
    resources = [i for k, i in top.items() if _TOP.lookup(k).name == "resources"]
    if len(resources) > 1:
        raise ParseError("resources given twice (resources and licenses are one key)",
                         source=source, line=resources[1].line, key=resources[1].key)
    for item in resources:
        try:
            if not isinstance(item.value, dict):
                raise ValueError(f"expected names with their counts ({item.key}: "
                                 f"{{matlab: 4, genus: 3}}), got {units.shown(item.value)}")
            counts = units.counts(item.value, minimum=0)
        except ValueError as exc:
            raise ParseError(str(exc), source=source, line=item.line, key=item.key) from None
        cluster = dataclasses.replace(cluster, resources=counts)
    return cluster


def _host(fields: dict[str, Any], *, source: str, line: int, label: str) -> Host:
    if "name" not in fields:
        raise ParseError("a host needs a 'name'", source=source, line=line, key=label)
    local = bool(fields.get("local", False))
    if "cores" not in fields:
        if not local:
            raise ParseError("a host needs 'cores' (a positive integer)", source=source,
                             line=line, key=f"{label}.cores")
        fields["cores"] = os.cpu_count() or 1
    ssh = SshOptions(**{_SSH_KEYS[k]: v for k, v in fields.items() if k in _SSH_KEYS})
    return Host(name=fields["name"], cores=fields["cores"], mem=fields.get("mem", 0.0),
                gpus=fields.get("gpus", 0), labels=fields.get("labels", ()),
                address=fields.get("address"), port=fields.get("port"),
                user=fields.get("user"), local=local, ssh=ssh,
                drain_after=fields.get("drain_after", DEFAULT_DRAIN_AFTER),
                max_load=fields.get("max_load"), min_free_mem=fields.get("min_free_mem"),
                min_free_gpu_mem=fields.get("min_free_gpu_mem"),
                setup=fields.get("setup"), teardown=fields.get("teardown"),
                teardown_after=fields.get("teardown_after", 600.0))


def _checked(hosts: list[Host], source: str, lines: list[int]) -> Cluster:
    if not hosts:
        raise ParseError("the cluster file lists no hosts", source=source)
    seen: dict[str, int] = {}
    for host, line in zip(hosts, lines, strict=True):
        if host.name in seen:
            raise ParseError(f"duplicate host {host.name!r} (first on line {seen[host.name]})",
                             source=source, line=line, key="name")
        seen[host.name] = line
    return Cluster(tuple(hosts), source)


_PLAIN_LINE = re.compile(r"^\s*[A-Za-z0-9_.@+-]+\s+\S+")


def _looks_plain(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.split("#", 1)[0].strip()
        if not stripped:
            continue
        return ":" not in stripped and bool(_PLAIN_LINE.match(stripped))
    return False


def parse_plain(text: str, source: str) -> Cluster:
    """The original format: `hostname ncores mem labels` a line."""
    hosts: list[Host] = []
    lines: list[int] = []
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if len(words) < 2 or len(words) > 4:
            raise ParseError("expected 'hostname ncores [mem [labels]]'", source=source,
                             line=number)
        fields: dict[str, Any] = {}
        for key, word in zip(("name", "cores", "mem", "labels"), words, strict=False):
            _, fields[key] = HOST_FIELDS.convert(key, word, source=source, line=number)
        hosts.append(_host(fields, source=source, line=number, label=fields["name"]))
        lines.append(number)
    return _checked(hosts, source, lines)
