"""What the benchmarks share: K loopback sshd hosts and a wq server on them."""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).parents[1]))

from tests.integration.conftest import cluster_yaml  # noqa: E402
from tests.integration.sshd import STOCK_BASHRC, Keys, SshHost, WqServer, wait_for  # noqa: E402
from wq.client import Client  # noqa: E402
from wq.protocol import messages as m  # noqa: E402


@dataclass
class Bench:
    root: Path
    keys: Keys
    hosts: list[SshHost]
    server: WqServer
    up_after: float          # seconds from the server's start until every host was up


def address(n: int) -> str:
    """The n-th loopback address: 127.0.0.n for n < 255, then on into 127.0.1.x, ..."""
    return f"127.0.0.{n}" if n < 255 else f"127.0.{n // 254}.{n % 254 + 1}"


@contextlib.contextmanager
def loopback(name: str, count: int, cores: int, first_address: int,
             bashrc: str = STOCK_BASHRC) -> Iterator[Bench]:
    """`count` sshd hosts on 127.0.0.(first_address+1)..., `cores` each, and a wq
    server on them with every host up; all stopped, and their files deleted,
    afterwards. Each host keeps its job directories (~/.cache/wq) in its own
    directory under `root`, on the temporary directory's file system, as each
    machine of a lab has a disk of its own, and as the peers write theirs
    (docs/development.md: on this VM a file made under /root costs 20-50x one
    made under /tmp)."""
    root = Path(tempfile.mkdtemp(prefix=f"wq-{name}-"))
    keys = Keys(root / "keys")
    hosts = [SshHost(f"node{i}", address(first_address + i), root / f"node{i}", keys,
                     bashrc=bashrc, cache=root / f"node{i}" / "cache")
             for i in range(1, count + 1)]
    server = None
    try:
        for h in hosts:
            h.start()
        keys.known_hosts.write_text("".join(h.host_key_line + "\n" for h in hosts))
        cluster = root / "cluster.yaml"
        cluster.write_text(cluster_yaml(keys, hosts, cores=cores))
        server = WqServer(root / "wq", cluster)
        began = time.monotonic()
        server.start()
        wait_for(lambda: _all_up(server), 60 + count / 2, "the hosts up")
        yield Bench(root, keys, hosts, server, time.monotonic() - began)
    finally:
        if server is not None:
            server.stop()
            server.forget_node_dirs()
        for h in hosts:
            h.stop()
        shutil.rmtree(root, ignore_errors=True)


def realistic_env(size: int = 3072) -> dict[str, str]:
    """An environment like a lab member's login with conda and module files:
    about `size` bytes, the same every time (jobs carry their submitter's
    whole environment, so benchmarks must not submit a one-variable one)."""
    env = {
        "HOME": "/home/alice", "USER": "alice", "LOGNAME": "alice", "SHELL": "/bin/bash",
        "LANG": "en_US.UTF-8", "TERM": "xterm-256color", "PWD": "/home/alice/project",
        "PATH": ":".join(["/home/alice/miniconda3/envs/analysis/bin",
                          "/home/alice/miniconda3/condabin", "/home/alice/.local/bin",
                          "/opt/intel/oneapi/compiler/latest/bin", "/usr/local/cuda/bin",
                          "/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin",
                          "/sbin", "/bin"]),
        "CONDA_PREFIX": "/home/alice/miniconda3/envs/analysis", "CONDA_DEFAULT_ENV": "analysis",
        "CONDA_EXE": "/home/alice/miniconda3/bin/conda", "CONDA_SHLVL": "2",
        "LD_LIBRARY_PATH": "/usr/local/cuda/lib64:/opt/intel/oneapi/mkl/latest/lib/intel64",
        "MANPATH": "/opt/intel/oneapi/compiler/latest/share/man:/usr/share/man",
        "SSH_CONNECTION": "192.0.2.10 51234 192.0.2.1 22", "SSH_TTY": "/dev/pts/3",
        "XDG_RUNTIME_DIR": "/run/user/1000", "XDG_SESSION_ID": "1234",
        "EDITOR": "vim", "PYTHONPATH": "/home/alice/project/src",
        "OMP_NUM_THREADS": "1", "HISTCONTROL": "ignoreboth",
    }
    colours = ["rs=0", "di=01;34", "ln=01;36", "mh=00", "pi=40;33", "so=01;35", "do=01;35",
               "bd=40;33;01", "cd=40;33;01", "or=40;31;01", "su=37;41", "sg=30;43",
               "tw=30;42", "ow=34;42", "st=37;44", "ex=01;32"]
    extensions = [f"*.{e}=01;{31 + i % 6}" for i, e in enumerate(
        "tar tgz arc arj taz lha lz4 lzh lzma tlz txz tzo t7z zip z dz gz lrz lz lzo xz "
        "zst tzst bz2 bz tbz tbz2 tz deb rpm jar war ear sar rar alz ace zoo cpio 7z rz "
        "cab wim swm dwm esd jpg jpeg mjpg mjpeg gif bmp pbm pgm ppm tga xbm xpm tif tiff "
        "png svg svgz mng pcx mov mpg mpeg m2v mkv webm webp ogm mp4 m4v mp4v vob qt nuv "
        "wmv asf rm rmvb flc avi fli flv gl dl xcf xwd yuv cgm emf ogv ogx aac au flac "
        "m4a mid midi mka mp3 mpc ogg ra wav oga opus spx xspf".split())]
    env["LS_COLORS"] = ":".join(colours + extensions)
    filler = 0
    while len("".join(k + v for k, v in env.items())) < size:
        env[f"MODULE_{filler:02d}_PATH"] = f"/opt/modules/{filler:02d}/lib/python3.11/site-packages"
        filler += 1
    return env


def _all_up(server: WqServer) -> bool:
    with Client(server.socket) as client:
        hosts = client.request(m.Stat())["hosts"]
    return all(h["state"] == "up" for h in hosts)


def write_table(head: str, rows: list[tuple[str, str]], out: Path | None) -> None:
    table = "\n".join([head, *(f"  {name:34} {value}" for name, value in rows)])
    print(table)
    if out:
        out.write_text(table + "\n")


def sizes(server: WqServer) -> str:
    assert server.proc is not None
    db, wal = (os.path.getsize(f"{server.state}/{name}") if os.path.exists(
        f"{server.state}/{name}") else 0 for name in ("wq.db", "wq.db-wal"))
    rss = psutil.Process(server.proc.pid).memory_info().rss
    return (f"database {db / 2**20:6.1f} MB (+ WAL {wal / 2**20:5.1f} MB), "
            f"server RSS {rss / 2**20:6.1f} MB")


def settled(server: WqServer, timeout: float = 60.0) -> str:
    """`sizes` once the server has given back what a removal freed (its files
    and its memory, off the event loop, after the answer): unchanged for 2 s."""
    last, deadline = sizes(server), time.monotonic() + timeout
    while time.monotonic() < deadline:
        time.sleep(2.0)
        now = sizes(server)
        if now == last:
            break
        last = now
    return last
