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
    ("hosts:\n  - {name: a, cores: 0}\n",
     "c.yaml:2: hosts[0].cores: expected a positive integer, got 0"),
    ("hosts:\n  - {name: a, cors: 2}\n",
     "c.yaml:2: hosts[0].cors: unknown key; did you mean 'cores'?"),
    ("hosts:\n  - {name: a, cores: 2}\n  - {name: a, cores: 3}\n",
     "c.yaml:3: name: duplicate host 'a' (first on line 2)"),
    ("hosts:\n  - {name: a}\n", "c.yaml:2: hosts[0].cores: a host needs 'cores'"),
    ("hosts:\n  - {cores: 2}\n", "c.yaml:2: hosts[0]: a host needs a 'name'"),
    ("hostz: []\n", "c.yaml:1: hostz: unknown key; did you mean 'hosts'?"),
    ("defaults: {cores: 2}\n", "no 'hosts' key"),
    ("hosts:\n  - {name: a, cores: 2, port: 99999}\n", "expected a port number"),
    ("a 4 lots\n", "c.yaml:1: mem: expected a size in GB"),
    ("a 4 8 x y z\n", "c.yaml:1: expected 'hostname ncores [mem [labels]]'"),
    ("a eight\n", "c.yaml:1: cores: expected a positive integer, got 'eight'"),
    ("# nothing\n", "lists no hosts"),
    ("resources: {matlab: -1}\nhosts:\n  - {name: a, cores: 2}\n",
     "c.yaml:1: resources: expected a count of matlab, got -1"),
    ("resources: 3\nhosts:\n  - {name: a, cores: 2}\n",
     "c.yaml:1: resources: expected names with their counts (resources: {matlab: 4, genus: 3})"),
    ("licenses: {a: 1}\nresources: {b: 1}\nhosts:\n  - {name: a, cores: 2}\n",
     "c.yaml:2: resources: resources given twice"),
])
def test_bad_cluster_files(text, message):
    with pytest.raises(ParseError) as err:
        cluster.parse(text, "c.yaml")
    assert message in str(err.value)


def test_resources_are_global_counts_by_name():
    c = cluster.parse("resources: {matlab: 4, genus: 3, spare: 0}\n"
                      "hosts:\n  - {name: a, cores: 2}\n", "c.yaml")
    assert c.resources == (("genus", 3), ("matlab", 4), ("spare", 0))
    assert cluster.parse("licenses: {matlab: 1}\nhosts:\n  - {name: a, cores: 2}\n",
                         "c.yaml").resources == (("matlab", 1),)


def test_missing_file_is_one_line():
    with pytest.raises(ParseError) as err:
        cluster.load("/nonexistent/c.yaml")
    assert str(err.value) == \
        "/nonexistent/c.yaml: cannot read the cluster file: No such file or directory"


@pytest.mark.parametrize("text, expected", [
    ("hosts: {'a b': {cores: 1}}", "c.yaml:1: hosts.a b.name: 'a b' is not a valid name"),
    ("hosts: [{name: '..', cores: 1}]", "hosts[0].name: '..' is not a valid name"),
    ("hosts: [{name: a, cores: 1.0e+32}]", "hosts[0].cores: expected a positive integer of at "
                                           "most 1000000"),
    ("hosts: [{name: a, cores: '١'}]", "hosts[0].cores: expected a positive integer"),
    ("hosts: [{name: a, cores: 1, mem: .inf}]", "hosts[0].mem: expected a size of at most"),
    ("hosts: [{name: a, cores: 1, mem: .nan}]", "hosts[0].mem: expected a size of 0 or more"),
    ("hosts: [{name: a, cores: 1, keepalive: 1.0e-300}]", "hosts[0].keepalive: expected "
                                                          "between 0.1 and 86400 seconds"),
    ("hosts: [{name: a, cores: 1, connect_timeout: .inf}]", "connect_timeout: expected a "
                                                            "positive number of seconds"),
    ("hosts: [{name: a, cores: 1, gpus: 100000000000}]", "hosts[0].gpus: expected a "
                                                         "non-negative integer of at most 4096"),
    ("hosts: [{name: a, cores: 1, max_sessions: 100000}]", "max_sessions"),
    ("hosts:\n  - " + "[" * 5000, "c.yaml: invalid YAML: nested too deeply"),
    ("hosts: [{name: a, cores: 1}\n  - b: [", "c.yaml:2: invalid YAML"),
    ("a 1\nb 99999999999999999999999999", "c.yaml:2: cores: expected a positive integer"),
])
def test_bad_values_are_one_line_naming_file_line_and_key(text, expected):
    with pytest.raises(ParseError) as caught:
        cluster.parse(text, "c.yaml")
    message = str(caught.value)
    assert expected in message, message
    assert "\n" not in message


LAB_HOSTS = "hosts:\n  - {name: a, cores: 2}\n"


def test_a_lab_section_names_its_socket_members_admins_weights_and_bounds():
    parsed = cluster.parse(LAB_HOSTS + """lab:
  socket: /srv/wq/lab.sock
  users: [alice, bob]
  group: wqlab
  admins: alice
  weights: {alice: 2}
  per_user: {connections: 4, queued: 100}
""", "c.yaml")
    lab = parsed.lab
    assert lab is not None and lab.socket == "/srv/wq/lab.sock"
    assert lab.users == ("alice", "bob") and lab.group == "wqlab" and lab.admins == ("alice",)
    assert lab.weight("alice") == 2.0 and lab.weight("bob") == 1.0
    assert lab.bounds.connections == 4 and lab.bounds.queued == 100
    assert lab.bounds.submitting == 4                     # the default
    assert cluster.parse(LAB_HOSTS, "c.yaml").lab is None


@pytest.mark.parametrize("section, expected", [
    ("lab: {users: [a]}", "c.yaml:3: lab.socket: a lab needs a 'socket'"),
    ("lab: {socket: lab.sock, users: a}", "lab.socket: expected an absolute path"),
    ("lab: {socket: /a/b}", "lab: a lab needs 'users' (names) and/or 'group'"),
    ("lab: {socket: /a/b, users: a, weights: {a: -1}}", "the weight of a must be a number"),
    ("lab: {socket: /a/b, users: a, weights: [a]}", "lab.weights: expected a mapping"),
    ("lab: {socket: /a/b, users: a, per_user: {conections: 3}}",
     "lab.per_user.conections: unknown key; did you mean 'connections'?"),
    ("lab: {socket: /a/b, users: a, per_user: {queued: 0}}",
     "lab.per_user.queued: expected a positive integer"),
    ("lab: [1]", "lab: expected a mapping"),
    ("lab: {socket: /a/b, users: 'not a name!'}", "lab.users:"),
])
def test_a_bad_lab_section_is_one_line_naming_the_key(section, expected):
    with pytest.raises(ParseError) as err:
        cluster.parse(LAB_HOSTS + section + "\n", "c.yaml")
    assert expected in str(err.value) and "\n" not in str(err.value)
