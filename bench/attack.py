"""Another member's `wq ls` while a lab member attacks the server:

    sudo python3 bench/attack.py [--history 200000] [--seconds 8] [--only ATTACK]
                                 [--out FILE]

Needs root (it creates two Unix users, removed afterwards). A lab server run
by root; the attacker (a member) first makes --history jobs of history (one
submit_many, then removed: cancelled rows), then sends each attack in a loop
for --seconds, on four connections, while the victim (another member) lists
the queue: each attack's victim latency (p50, p99, max, in ms), the requests
the attack got through, and the server's largest RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import threading
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parents[1]))

from bench.harness import write_table  # noqa: E402
from tests.integration.sshd import WqServer  # noqa: E402
from tests.integration.users import members_venv, unix_users  # noqa: E402

NOWHERE = ("hosts:\n  - {name: nowhere, address: 127.0.0.9, port: 9, cores: 4,"
           " connect_timeout: 1}\n")

RANGE = "1-999999999999"
ATTACKS = {
    "none": None,
    "ls, 1000 range selectors": {"type": "ls", "select": [RANGE] * 1000, "all": True},
    "ls of a range, not paged": {"type": "ls", "select": [RANGE], "all": True},
    "rm, 1000 range selectors": {"type": "rm", "select": [RANGE] * 1000},
    "status of 100000 ids": {"type": "status", "select": [str(i) for i in range(100000)]},
    "info, log, why of a range": [{"type": "info", "id": RANGE}, {"type": "log", "id": RANGE},
                                  {"type": "why", "select": RANGE}],
    "frames of [],[],… at the bound": "empties",
}

ATTACKER = r"""
import json, socket, sys, threading, time
from wq.protocol import framing, messages as m

path, seconds = sys.argv[1], float(sys.argv[2])
attack = json.loads(open(sys.argv[3]).read())
frames = attack if isinstance(attack, list) else [attack]
if attack == "empties":
    body = b'{"type":"ls","x":[' + b"[]," * 1_900_000 + b'[]]}'
    raw = [len(body).to_bytes(4, "big") + body]
else:
    raw = [framing.encode(f) for f in frames]
done = [0]
end = time.monotonic() + seconds

def loop():
    while time.monotonic() < end:
        s = socket.socket(socket.AF_UNIX)
        s.settimeout(60)
        s.connect(path)
        s.sendall(framing.encode(m.to_frame(m.Hello(m.PROTOCOL_VERSION))))
        framing.recv(s)
        try:
            while time.monotonic() < end:
                for frame in raw:
                    s.sendall(frame)
                    reply = framing.recv(s)
                    while reply is not None and reply.get("more"):
                        reply = framing.recv(s)
                    if reply is None:
                        raise OSError
                    done[0] += 1
        except (OSError, ValueError):
            pass
        finally:
            s.close()

threads = [threading.Thread(target=loop) for _ in range(4)]
for t in threads: t.start()
for t in threads: t.join()
print(done[0])
"""

VICTIM = r"""
import json, sys, time
from wq.client import Client
from wq.protocol import messages as m
from wq.protocol.replies import Listing

seconds = float(sys.argv[1])
took = []
with Client() as client:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        began = time.perf_counter()
        for page in client.paged(m.ListJobs(page=500), Listing):
            pass
        took.append(time.perf_counter() - began)
        time.sleep(0.02)
print(json.dumps(took))
"""


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--history", type=int, default=200_000)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--out", type=Path, help="also write the table to this file")
    parser.add_argument("--only", action="append", choices=list(ATTACKS), metavar="ATTACK",
                        help="run only this attack (again for more; default: all of them)")
    args = parser.parse_args()
    if os.getuid() != 0:
        raise SystemExit("bench/attack.py needs root: it creates two Unix users")
    base = Path(tempfile.mkdtemp(prefix="wq-attack-", dir="/tmp"))
    base.chmod(0o755)
    socket = str(base / "sock" / "lab.sock")
    with members_venv() as python, unix_users(python, "mallory", "carol") as users:
        mallory, carol = users["mallory"], users["carol"]
        cluster = base / "cluster.yaml"
        cluster.write_text(NOWHERE + f"lab:\n  socket: {socket}\n"
                           f"  users: [{mallory.name}, {carol.name}]\n")
        server = WqServer(base / "srv", cluster)
        try:
            server.start()
            for user in (mallory, carol):
                user.use_lab(socket, way="user file")
            made = mallory.run(mallory.python, "-c",
                               "import wq; c = wq.Client(); "
                               f"c.submit_many([{{'command': 'true'}}] * {args.history}); "
                               "c.cancel(['all'])", timeout=600)
            if made.returncode != 0:
                raise SystemExit(f"could not make the history: {made.stderr}")
            assert carol.wq("sub", "-b", "-c", "true").returncode == 0
            rss = psutil.Process(server.proc.pid)
            (mallory.home / "attack.py").write_text(ATTACKER)
            (carol.home / "victim.py").write_text(VICTIM)
            rows = []
            for name, attack in ATTACKS.items():
                if args.only and name not in args.only:
                    continue
                peak = [rss.memory_info().rss]
                stop = threading.Event()

                def sample(stop: threading.Event = stop, peak: list[int] = peak) -> None:
                    while not stop.wait(0.05):
                        peak[0] = max(peak[0], rss.memory_info().rss)
                sampler = threading.Thread(target=sample)
                sampler.start()
                given = mallory.home / "attack.json"
                given.write_text(json.dumps(attack))
                attacker = None if attack is None else mallory.popen(
                    mallory.python, str(mallory.home / "attack.py"), socket,
                    str(args.seconds), str(given))
                victim = carol.run(carol.python, str(carol.home / "victim.py"),
                                   str(args.seconds), timeout=args.seconds * 10 + 60)
                got = "-"
                if attacker is not None:
                    out, _ = attacker.communicate(timeout=args.seconds * 10 + 60)
                    got = out.strip() or "?"
                stop.set()
                sampler.join()
                if victim.returncode != 0:
                    raise SystemExit(f"the victim's listing failed: {victim.stderr.strip()} "
                                     f"(server: {server.proc.poll()})")
                took = [t * 1000 for t in json.loads(victim.stdout)]
                rows.append((name, f"{quantile(took, 0.5):.1f}", f"{quantile(took, 0.99):.1f}",
                             f"{max(took):.1f}", str(len(took)), got,
                             f"{peak[0] / 2**20:.0f}"))
                print(rows[-1], flush=True)
            print(server.wq("stat").stdout.splitlines()[0] if server.proc else "")
        except BaseException:
            print("".join(server.log[-30:]), file=sys.stderr)
            raise
        finally:
            server.stop()
            shutil.rmtree(base, ignore_errors=True)
    head = (f"attack ({args.history} jobs of the attacker's history; {args.seconds:g} s "
            "each, 4 connections)|victim ls p50 ms|p99 ms|max ms|lists|attack requests|"
            "server RSS MiB")
    table = [(r[0], "|".join(r[1:])) for r in rows]
    write_table(head, table, args.out)


if __name__ == "__main__":
    main()
