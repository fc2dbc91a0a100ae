"""The two launch paths keep one contract: the same launch through the plain sh
wrapper and through the per-host helper (LocalExecutor, with `helper: false`
and without) gives the same outcome, the same files with the same modes."""

from __future__ import annotations

import asyncio
import dataclasses
import stat
import threading
from pathlib import Path

import pytest

from wq.executor import contract, wrapper
from wq.executor import helper as helpers
from wq.executor.outcome import Outcome, Started
from wq.executor.local import LocalExecutor
from wq.model import Host

HOST = Host("here", 1, local=True)
PLAIN = dataclasses.replace(HOST, ssh=dataclasses.replace(HOST.ssh, helper=False))


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    return tmp_path


def files(directory: Path) -> dict[str, tuple[int, bytes | None]]:
    """Name -> (mode, content) of a job directory; pid files differ by nature."""
    out: dict[str, tuple[int, bytes | None]] = {}
    for f in sorted(directory.iterdir()):
        content = None if f.is_dir() or f.name in ("pid", "timer.pid") else f.read_bytes()
        out[f.name] = (stat.S_IMODE(f.lstat().st_mode), content)
    return out


async def both(make) -> tuple[tuple[Outcome, list[Started]], tuple[Outcome, list[Started]]]:
    executor = LocalExecutor()
    try:
        results = []
        for name, host in (("1.1", PLAIN), ("2.1", HOST)):
            started: list[Started] = []
            outcome = await executor.launch(host, make(name), started.append)
            results.append((outcome, started))
        assert executor.helpers.links[HOST.name].alive
        return results[0], results[1]
    finally:
        await executor.close()


#: a child of the job's shell that notes a USR1 of its own in the file `marker`
CHILD = ("sh -c 'trap \"echo child >> marker; exit\" USR1; while :; do sleep 0.1; done' "
         "2>/dev/null & s=$!;")
CASES = {
    "ok": dict(command="echo out; echo err >&2; cat", stdin="data\n"),
    "exit": dict(command="exit 3"),
    "signal": dict(command="kill -TERM $$"),
    "no cwd": dict(command="true", cwd="/nonexistent/dir"),
    "no output": dict(command="true", stdout="a-file/out"),
    "output dir made late": dict(command="echo late", stdout="late/out"),
    "time limit": dict(command="sleep 30", time_limit=1, grace=0.5),
    # --signal: USR1 a second ahead of the limit, to the group (its sleep ends
    # too) or to the job's shell alone (B:, its sleep is left to the job)
    "warned": dict(command=f"{CHILD} trap 'echo warned; sleep 0.3; kill $s 2>/dev/null; "
                           "exit 7' USR1; wait", time_limit=3, grace=0.5, warning="USR1@2"),
    "warned, shell alone": dict(command=f"{CHILD} trap 'echo warned; sleep 0.3; "
                                        "kill $s 2>/dev/null; exit 7' USR1; wait",
                                time_limit=3, grace=0.5, warning="B:USR1@2"),
    "hostfile": dict(command="cat hosts.txt", hostfile_lines=("a", "a", "b"),
                     hostfile_path="hosts.txt"),
}


@pytest.mark.parametrize("case", CASES)
def test_the_plain_and_the_helper_launch_agree(home, case):
    kw = dict(CASES[case])
    cwd = kw.pop("cwd", str(home / "work"))
    (home / "work").mkdir(exist_ok=True)
    (home / "work" / "a-file").touch()
    if case == "hostfile":
        kw["hostfile_path"] = str(home / "work" / "hosts.txt")
    timers = []

    def make(name: str) -> wrapper.Launch:
        extra = dict(kw)
        if case == "hostfile":
            extra["command"] = f"cat {extra['hostfile_path']}"
        if case == "output dir made late":     # as a tool does right after sbatch
            extra["stdout"] = f"late-{name}/out"
            timers.append(threading.Timer(0.5, (home / "work" / f"late-{name}").mkdir))
            timers[-1].start()
        return wrapper.Launch("sid", name, extra.pop("command"), cwd,
                              {"WQ_JOB_ID": "7"}, **extra)

    (plain, plain_started), (helped, helped_started) = asyncio.run(
        asyncio.wait_for(both(make), 60))
    if helped.error is not None:                    # it names the job's own directory
        helped = dataclasses.replace(helped, error=helped.error.replace("/2.1/", "/1.1/"))
    # a start the helper told with the end (a job shorter than its START_HOLD)
    assert len(plain_started) == len(helped_started) + (helped.pid is not None)
    helped = dataclasses.replace(helped, pid=None)
    assert plain == helped, (plain, helped)
    if plain_started and helped_started:
        assert plain_started[0].boot_id == helped_started[0].boot_id
    base = home / ".cache" / "wq" / "sid"
    plain_files, helped_files = files(base / "1.1"), files(base / "2.1")
    if plain.exit_code == contract.RC_NO_OUTPUT:
        # the one known difference: the plain runner records its pid before it finds
        # the output files unwritable; the helper checks them before starting one
        plain_files.pop("pid")
        error = helped_files["error"]
        helped_files["error"] = (error[0], (error[1] or b"").replace(b"/2.1/", b"/1.1/"))
    assert plain_files == helped_files
    assert stat.S_IMODE(base.stat().st_mode) == 0o700
    if case.startswith("warned"):       # the group has it, or with B: the shell alone
        assert plain.exit_code == 7
        marker = home / "work" / "marker"
        assert (marker.read_text() if marker.exists() else "") == \
            ("" if "alone" in case else "child\n" * 2)
    if timers:
        assert [(home / "work" / f"late-{n}" / "out").read_text() for n in ("1.1", "2.1")] \
            == ["late\n"] * 2


def test_the_contract_is_filled_into_every_node_script():
    node = Path(wrapper.__file__).parent / "node"
    for path in (p for p in node.iterdir() if p.is_file()):   # (not __pycache__)
        text = path.read_text()
        filled = contract.substitute(text)
        for name in contract.VALUES:
            assert f"@{name}@" not in filled, (path.name, name)
    assert b"@RC_NO_CWD@" not in helpers.source() and b"@SCRIPTS@" not in helpers.source()
    assert all(contract.VALUES.values())
