from pathlib import Path

import pytest

from wq.errors import ParseError
from wq.parsing import cluster

DATA = Path(__file__).parent.parent / "data"


def test_original_plain_format():
    c = cluster.load(str(DATA / "original-cluster.txt"))
    assert [(h.name, h.cores, h.mem, h.labels) for h in c.hosts] == [
        ("astro0001", 12, 32.0, ("gen4", "gen45")), ("astro0010", 12, 48.0, ("gen5", "gen45")),
        ("astro0016", 4, 8.0, ("gen1", "slow")), ("astro0031", 8, 32.5, ())]


def test_example_cluster_file_parses():
    c = cluster.load(str(Path(__file__).parents[2] / "cluster.example.yaml"))
    assert len(c.hosts) >= 3


def test_yaml_with_defaults_and_ssh_options():
    c = cluster.parse("""
defaults:
  user: alice
  known_hosts: none
  keepalive: 5
hosts:
  - name: a
    address: 10.1.2.3
    port: 2222
    cores: 16
    mem: 64G
    gpus: 2
    labels: [gpu, fast]
  - {name: b, cores: 4, user: bob, identity: /k}
  - {name: me, local: true}
""", "c.yaml")
    a, b, me = c.hosts
    assert (a.address, a.port, a.user, a.gpus, a.labels) == ("10.1.2.3", 2222, "alice", 2,
                                                             ("gpu", "fast"))
    assert a.ssh.known_hosts == "none" and a.ssh.keepalive == 5
    assert (b.user, b.ssh.identity) == ("bob", ("/k",))
    assert me.local and me.cores >= 1


def test_empty_labels_are_no_labels():
    c = cluster.parse("hosts:\n  - {name: a, cores: 2, labels: []}\n", "c.yaml")
    assert c.hosts[0].labels == ()


def test_hosts_as_a_mapping():
    c = cluster.parse("hosts:\n  a: {cores: 2}\n  b: {cores: 3}\n", "c.yaml")
    assert [(h.name, h.cores) for h in c.hosts] == [("a", 2), ("b", 3)]


@pytest.mark.parametrize("text,message", [
    ("hosts:\n  - {name: a, cores: 0}\n", "c.yaml:2: hosts[0].cores: expected a positive integer, got 0"),
    ("hosts:\n  - {name: a, cors: 2}\n", "c.yaml:2: hosts[0].cors: unknown key; did you mean 'cores'?"),
    ("hosts:\n  - {name: a, cores: 2}\n  - {name: a, cores: 3}\n", "c.yaml:3: name: duplicate host 'a' (first on line 2)"),
    ("hosts:\n  - {name: a}\n", "c.yaml:2: hosts[0].cores: a host needs 'cores'"),
    ("hosts:\n  - {cores: 2}\n", "c.yaml:2: hosts[0]: a host needs a 'name'"),
    ("hostz: []\n", "c.yaml:1: hostz: unknown key; did you mean 'hosts'?"),
    ("defaults: {cores: 2}\n", "no 'hosts' key"),
    ("hosts:\n  - {name: a, cores: 2, port: 99999}\n", "expected a port number"),
    ("a 4 lots\n", "c.yaml:1: mem: expected a size in GB"),
    ("a 4 8 x y z\n", "c.yaml:1: expected 'hostname ncores [mem [labels]]'"),
    ("a eight\n", "c.yaml:1: cores: expected a positive integer, got 'eight'"),
    ("# nothing\n", "lists no hosts"),
])
def test_bad_cluster_files(text, message):
    with pytest.raises(ParseError) as err:
        cluster.parse(text, "c.yaml")
    assert message in str(err.value)


def test_missing_file_is_one_line():
    with pytest.raises(ParseError) as err:
        cluster.load("/nonexistent/c.yaml")
    assert str(err.value) == "/nonexistent/c.yaml: cannot read the cluster file: No such file or directory"
