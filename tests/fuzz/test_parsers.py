"""Fuzzing every parser of user input: each either returns a model value or
raises one of wq's errors with a one-line message; nothing else escapes.

Bounded so the whole module takes seconds (hypothesis' example counts below)."""

from __future__ import annotations

import string

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wq.errors import WqError
from wq.parsing import arrays, cluster, jobfile, requirements, script, selectors, units

FUZZ = settings(max_examples=300, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

KEYS = ["name", "cores", "mem", "gpus", "labels", "address", "port", "user", "local",
        "keepalive", "keepalive_count", "connect_timeout", "max_sessions", "helper",
        "drain_after", "known_hosts", "identity", "mode", "N", "group", "notgroup", "host",
        "time", "retries", "priority", "threads", "hostfile", "command", "stdout", "x"]
# values an attacker or a typo gives: huge, tiny, non-finite, non-ASCII digits, odd types
WORDS = ["1", "0", "-1", "1e32", "1.0e+32", ".inf", "-.inf", ".nan", "1e-300", "١٢",
         "²", "99999999999999999999999", "9" * 400, "2h", "1:30:00", "[a, b]", "{a: 1}",
         "null", "true", "'a b'", "a:b", "%hostfile%", "/etc/passwd", "\"x\ny\"", ""]
scalars = st.one_of(st.sampled_from(WORDS), st.integers(), st.floats(),
                    st.text(max_size=20), st.booleans(), st.none())
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner,
                                        max_size=4), max_leaves=12)


def one_line_error(call, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Run a parser: a result, or a WqError whose message is one line."""
    try:
        return call(*args, **kwargs)
    except WqError as exc:
        message = str(exc)
        assert message and "\n" not in message and len(message) < 2500, message
        return None


def dump(data: object) -> str:
    return yaml.safe_dump(data, default_flow_style=None, allow_unicode=True)


@FUZZ
@given(st.dictionaries(st.sampled_from(["hosts", "defaults", "lab"]),
                       st.lists(st.dictionaries(st.sampled_from(KEYS), values, max_size=6),
                                max_size=4) | values, max_size=3))
def test_cluster_yaml(data):
    one_line_error(cluster.parse, dump(data), "c.yaml")


@FUZZ
@given(st.lists(st.lists(st.sampled_from(WORDS) | st.text(string.printable, max_size=8),
                         min_size=1, max_size=5), max_size=5))
def test_cluster_plain_format(lines):
    text = "\n".join(" ".join(w.replace("\n", " ") for w in line) for line in lines)
    one_line_error(cluster.parse, text, "c.txt")


@FUZZ
@given(st.text(max_size=200))
def test_cluster_any_text(text):
    one_line_error(cluster.parse, text, "c.yaml")


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS), values, max_size=6))
def test_job_file(data):
    one_line_error(jobfile.parse, dump(data), "job.yaml")


@FUZZ
@given(st.text(max_size=40), st.lists(st.tuples(st.sampled_from(KEYS) | st.text(max_size=6),
                                                st.sampled_from(WORDS) | st.text(max_size=10)),
                                      max_size=4), st.text(max_size=60))
def test_scripts(shebang, directives, body):
    """Any text: a script or a job file, and a script's header gives one-line errors."""
    header = "".join(f"#WQ {k}: {v}\n" for k, v in directives)
    text = f"#!{shebang}\n{header}{body}"
    assert script.is_script(text, "run.sh")
    one_line_error(script.parse, text, "run.sh")
    script.is_script(body, "run.sh")


@FUZZ
@given(st.lists(st.tuples(st.sampled_from(KEYS) | st.text(max_size=6),
                          st.sampled_from(WORDS) | st.text(max_size=10)), max_size=5))
def test_requirement_strings(pairs):
    text = "; ".join(f"{k}: {v}" for k, v in pairs)
    one_line_error(lambda: requirements.build(
        ((k, v, None) for k, v in requirements.split_string(text)), source="-r"))


@FUZZ
@given(st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), values, max_size=5))
def test_requirements_from_a_client(data):
    one_line_error(requirements.from_dict, data)


numbers = st.integers(0, 10**25).map(str) | st.sampled_from(["١", "٣", "²", "", "-1", "0"])


@FUZZ
@given(numbers, numbers, st.none() | numbers, st.none() | numbers, st.text(max_size=4))
def test_array_specs(first, last, step, throttle, noise):
    text = f"{first}-{last}" + (f":{step}" if step else "") + (f"%{throttle}" if throttle
                                                                 else "") + noise
    spec = one_line_error(arrays.parse_range, text)
    if spec is not None:
        assert 0 <= spec.first <= spec.last <= arrays.MAX_TASK_ID and spec.step >= 1


@FUZZ
@given(numbers, st.sampled_from(["", "-", ".", "-."]), numbers, st.text(max_size=3))
def test_selectors(a, sep, b, noise):
    sel = one_line_error(selectors.parse, f"{a}{sep}{b}{noise}")
    if sel is not None and not sel.special:
        assert 0 <= sel.first <= sel.last <= selectors.MAX_NUMBER


@FUZZ
@given(st.sampled_from(WORDS) | st.text(string.digits + "dhms:.- ", max_size=30)
       | st.text(max_size=10))
def test_durations(text):
    try:
        seconds = units.duration(text)
    except ValueError as exc:
        assert "\n" not in str(exc)
        return
    assert 0 < seconds <= units.MAX_SECONDS
