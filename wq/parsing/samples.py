"""A host's sampled state (load, memory, GPUs), from what SAMPLE_SCRIPT prints.

    load 0.52 0.40 0.33 1/234 5678          (/proc/loadavg)
    MemTotal:       24576000 kB             (/proc/meminfo)
    MemAvailable:   23000000 kB
    gpus                                    (then nvidia-smi's csv: index, total, used)
    0, 16160, 523

nvidia-smi's own header and units (`--format=csv`) are read too. What cannot
be read is left unmeasured (None, or no GPU): a node's odd output never
stops the server, it only leaves that host without a limit's check.
"""

from __future__ import annotations

import re

from wq.model import GpuSample, Sample

_MIB = 1 / 1024                  # GB
_KB = 1 / 1024 ** 2              # GB
_NUMBER = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(MiB)?\s*$")


def parse(text: str, at: float) -> Sample:
    load = mem_total = mem_free = None
    gpus: list[GpuSample] = []
    in_gpus = False
    for line in text.splitlines():
        if in_gpus:
            gpu = _gpu(line)
            if gpu is not None:
                gpus.append(gpu)
        elif line.startswith("load "):
            load = _float(line.split()[1:2])
        elif line.startswith("MemTotal:"):
            mem_total = _kb(line)
        elif line.startswith("MemAvailable:"):
            mem_free = _kb(line)
        elif line.strip() == "gpus":
            in_gpus = True
    return Sample(load, mem_total, mem_free, tuple(gpus), at)


def _float(words: list[str]) -> float | None:
    try:
        value = float(words[0])
    except (IndexError, ValueError):
        return None
    return value if 0 <= value < 1e9 else None


def _kb(line: str) -> float | None:
    parts = line.split()
    if len(parts) < 2 or (len(parts) > 2 and parts[2] != "kB"):
        return None
    value = _float(parts[1:2])
    return None if value is None else value * _KB


def _gpu(line: str) -> GpuSample | None:
    """`0, 16160, 523` (MiB), or `0, 16160 MiB, 523 MiB`; a header, `[N/A]` or
    anything else: None."""
    parts = line.split(",")
    if len(parts) != 3 or not parts[0].strip().isdigit():
        return None
    total, used = _NUMBER.match(parts[1]), _NUMBER.match(parts[2])
    if total is None or used is None:
        return None
    return GpuSample(int(parts[0]), float(total[1]) * _MIB, float(used[1]) * _MIB)
