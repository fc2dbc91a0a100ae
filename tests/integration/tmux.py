"""A terminal for tests: tmux runs a program, send() types, screen() reads, wait() waits."""

from __future__ import annotations

import os
import shlex
import subprocess
import time
import uuid
from dataclasses import dataclass, field


@dataclass
class Tmux:
    env: dict[str, str]
    width: int = 100
    height: int = 30
    socket: str = field(default_factory=lambda: f"wq-test-{uuid.uuid4().hex[:8]}")

    def _tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True,
                              text=True, check=True, timeout=10).stdout

    def start(self, command: str, cwd: str) -> None:
        """Run `command` in a bare bash in a new window of the given size."""
        env_words = " ".join(f"{k}={shlex.quote(v)}" for k, v in self.env.items())
        self._tmux("new-session", "-d", "-s", "t", "-x", str(self.width), "-y",
                   str(self.height), "-c", cwd,
                   f"env {env_words} PS1='outer$ ' bash --norc --noprofile")
        self._tmux("set-option", "-t", "t", "remain-on-exit", "on")
        self.wait("outer$")
        self.send(command)

    def send(self, text: str, enter: bool = True) -> None:
        self._tmux("send-keys", "-t", "t", "-l", text)
        if enter:
            self._tmux("send-keys", "-t", "t", "Enter")

    def key(self, name: str) -> None:
        self._tmux("send-keys", "-t", "t", name)

    def screen(self) -> str:
        return self._tmux("capture-pane", "-p", "-t", "t")

    def wait(self, text: str, timeout: float = 20, count: int = 1) -> str:
        """Wait until `text` shows on the screen `count` times; return the screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if screen.count(text) >= count:
                return screen
            if time.monotonic() > deadline:
                raise TimeoutError(f"{text!r} never showed; the screen:\n{screen}")
            time.sleep(0.05)

    def resize(self, width: int, height: int) -> None:
        self._tmux("resize-window", "-t", "t", "-x", str(width), "-y", str(height))

    def pane_pid(self) -> int:
        return int(self._tmux("display-message", "-p", "-t", "t", "#{pane_pid}").strip())

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True,
                       timeout=10)


def shell_env(server_env: dict[str, str]) -> dict[str, str]:
    keep = ("PATH", "HOME", "WQ_SOCKET", "WQ_STATE", "PYTHONPATH", "LANG")
    env = {k: server_env[k] for k in keep if k in server_env}
    env["TERM"] = "xterm-256color"
    env.setdefault("PATH", os.defpath)
    return env
