"""The node-side scripts, rendered as text: pure functions, no I/O.

Every script runs as `sh -s` with the text on stdin, so nothing depends on
sshd's AcceptEnv or the length limits of a command line. The launch script
writes the job's files into its directory on the node, then runs the wrapper
(node/wrapper.sh) under `setsid -w`: detached from the channel, yet the
channel learns the exit at once when it is still open.
"""

from __future__ import annotations

import functools
import math
import re
import secrets
from dataclasses import dataclass, field
from importlib import resources

from wq.executor import contract
from wq.parsing.requirements import SCOPES
from wq.executor.contract import (ERROR, EXITED, READY, RC_NO_CWD, RC_NO_HOSTFILE,
                                  RC_NO_JOB_DIR, TIMED_OUT)


#: variables of the submitter's environment that describe the submitting
#: machine or session, not the job; the node's own values are kept instead
HOST_SPECIFIC = frozenset({
    "DISPLAY", "XAUTHORITY", "TMPDIR", "TMP", "TEMP", "HOSTNAME", "HOST", "HOSTTYPE",
    "PWD", "OLDPWD", "SHLVL", "_", "HOME", "USER", "LOGNAME", "SHELL", "MAIL",
    "TERM", "TERMCAP", "COLUMNS", "LINES", "WINDOWID", "TMUX", "TMUX_PANE", "STY",
    "XDG_RUNTIME_DIR", "XDG_SESSION_ID", "XDG_SESSION_TYPE", "XDG_SESSION_CLASS",
    "XDG_SEAT", "XDG_VTNR", "DBUS_SESSION_BUS_ADDRESS", "KRB5CCNAME", "GPG_AGENT_INFO",
    "CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "PS1", "PROMPT_COMMAND",
})
HOST_SPECIFIC_PREFIXES = ("SSH_", "WQ_", "BASH_FUNC_", "wq_")   # wq_: the runner's own
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def job_environment(submitted: dict[str, str]) -> dict[str, str]:
    """The submitter's environment minus what belongs to the submitting host."""
    return {k: v for k, v in submitted.items()
            if _ENV_NAME.match(k) and k not in HOST_SPECIFIC
            and not k.startswith(HOST_SPECIFIC_PREFIXES)}


def quote(text: str) -> str:
    """Quote for POSIX sh: single quotes, with ' written as '\\''."""
    return "'" + text.replace("'", "'\\''") + "'"


def _as_lines(text: str) -> str:
    """Text as a heredoc writes it: ending in a newline."""
    return text if text.endswith("\n") or not text else text + "\n"


def _heredoc(path: str, text: str) -> str:
    while True:
        tag = f"WQ_EOF_{secrets.token_hex(6)}"
        if tag not in text:
            break
    return f"cat > {path} <<'{tag}'\n{_as_lines(text)}{tag}\n"


def _exact_file(path: str, text: str) -> str:
    """Write `text` byte for byte: a heredoc for the lines, printf for a last partial line."""
    body, _, tail = text.rpartition("\n")
    out = f": > {path}\n"
    if body or text.startswith("\n"):
        out = _heredoc(path, body + "\n")
    if tail:
        out += f"printf '%s' {quote(tail)} >> {path}\n"
    return out


@functools.cache
def node_script(name: str, *snippets: str) -> str:
    """A shipped node-side script (node/NAME), after the snippets it uses, with the
    launch contract filled in."""
    node = resources.files("wq.executor").joinpath("node")
    return contract.substitute("".join(node.joinpath(n).read_text()
                                       for n in (*snippets, name)))


def wrapper_text() -> str:
    return node_script("wrapper.sh", "identity.sh")


def _steps(grace: float) -> int:
    """A grace period in the tenths of a second the node-side loops count."""
    return max(int(grace * 10), 1)


#: an instance's directory name on the node: LABEL.INSTANCE (12.1, or 12.7.1 for a task)
INSTANCE_NAME = re.compile(r"\d+(\.\d+)?\.\d+")


def job_dir(server_id: str, name: str) -> str:
    """An instance's directory on the node, as a sh word ($HOME expands there)."""
    return f'"$HOME/.cache/wq/{server_id}/{name}"'


def expand_pattern(pattern: str, *, label: str, instance: int, host: str) -> str:
    """Output path patterns: %j job id (12, 12.7), %A the array's id, %a the task's,
    %i instance, %h host, %% a percent sign."""
    number, _, task = label.partition(".")
    table = {"j": label, "A": number, "a": task, "i": str(instance), "h": host, "%": "%"}
    return re.sub(r"%(.)", lambda m: table.get(m.group(1), m.group(0)), pattern)


@dataclass(frozen=True, slots=True)
class Launch:
    """Everything the node needs to run one instance of a job."""

    server_id: str
    name: str                     # the instance's directory name (INSTANCE_NAME)
    command: str
    cwd: str
    env: dict[str, str]           # the submitter's (the same for every instance of it)
    stdout: str | None = None     # absolute, or relative to cwd; None: in the job dir
    stderr: str | None = None
    hostfile_lines: tuple[str, ...] = ()
    hostfile_path: str | None = None   # where the job wants it (relative to cwd), or None
    stdin: str | None = None           # the job's stdin data (surrogateescaped), or None
    time_limit: float | None = None    # seconds, enforced on the node
    grace: float = 5.0                 # between TERM and KILL
    shell: str = "sh"                  # what runs the command (node/wrapper.sh)
    warning: str | None = None         # --signal's [B:]SIG@SECONDS, before the limit
    own: dict[str, str] = field(default_factory=dict)   # wq's for this instance, over env

    @property
    def environment(self) -> dict[str, str]:
        """What the job's command sees (over the login's own)."""
        return {**self.env, **self.own}

    @property
    def limit(self) -> str:
        """The time limit as node/timer.sh takes it: SECONDS[:SIG:BEFORE:[B]]."""
        assert self.time_limit is not None
        text = str(math.ceil(self.time_limit))
        if self.warning is not None:
            batch, _, rest = self.warning.rpartition(":")
            sig, _, before = rest.partition("@")
            text += f":{sig}:{before}:{batch}"
        return text

    @property
    def dir(self) -> str:
        return job_dir(self.server_id, self.name)


def output_word(path: str | None, default: str, cwd: str) -> str:
    if path is None:
        return f'"$d/{default}"'
    return quote(path if path.startswith("/") else f"{cwd.rstrip('/')}/{path}")


def _fail(message: str, code: int) -> str:
    """sh that reports a launch failing before the job runs (message in double
    quotes), leaving nothing of the start behind."""
    return (f'{{ echo "{ERROR} {message}"; echo "{EXITED} {code}"; {SPENT.strip()}; '
            f'exit {code}; }}\n')


def _env_lines(job: Launch) -> str:
    env_lines = "".join(f"export {k}={quote(v)}\n" for k, v in sorted(job.environment.items()))
    if job.hostfile_lines:     # $HOME expands where the lines are sourced, on the node
        target = (output_word(job.hostfile_path, "hostfile", job.cwd) if job.hostfile_path
                  else job_dir(job.server_id, f"{job.name}/hostfile"))
        env_lines += f"export WQ_HOSTFILE={target}\n"
    return env_lines


#: a word sh would take as it is: no quoting, expansion, globbing or operator
_PLAIN_WORD = r"[A-Za-z0-9_./:,+@%=-]+"
_PLAIN_COMMAND = re.compile(rf"[ \t]*{_PLAIN_WORD}([ \t]+{_PLAIN_WORD})*[ \t]*")
#: first words sh does not look up on PATH: builtins and reserved words
_SH_WORDS = frozenset(
    ". : break cd command continue eval exec exit export getopts hash jobs fg bg "
    "local read readonly return set shift source times trap type ulimit umask unalias "
    "unset wait alias case do done elif else esac fi for if in then until while".split())


def runner_command(job: Launch) -> tuple[str, list[str]]:
    """How the runner runs the command: (`exec`, its words) for a command that is
    nothing but plain words (`./simulate --steps 100`), exec'd with no shell at
    all; else (the job's shell, [])."""
    if job.shell == "sh" and _PLAIN_COMMAND.fullmatch(job.command):
        words = job.command.split()
        if "=" not in words[0] and words[0] not in _SH_WORDS:
            return "exec", words
    return job.shell, []


def helper_request(job: Launch) -> dict[str, object]:
    """A launch for the per-host helper (node/helper.py): the job's command,
    environment and input, and what the wrapper's first half would check."""
    request: dict[str, object] = {
        "op": "launch", "server": job.server_id, "name": job.name, "cwd": job.cwd,
        "stdout": job.stdout, "stderr": job.stderr, "command": _as_lines(job.command),
        "env": job.env, "own": job.own}
    shell, words = runner_command(job)
    if shell != "sh":
        request["shell"] = shell
    if words:
        request["argv"] = words
    if job.time_limit is not None:
        request["limit"] = job.limit
        request["steps"] = _steps(job.grace)
    if job.stdin is not None:
        request["stdin"] = job.stdin
    if job.hostfile_lines:
        request["hostfile"] = "\n".join(job.hostfile_lines) + "\n"
        request["hostfile_path"] = job.hostfile_path
    return request


#: node scripts create wq's files private; a job gets the login's umask back
PRIVATE = "umask 077\n"
#: sh deleting what only served a job's start from its directory $d, once it ended
SPENT = ('rm -f "$d/env" "$d/script" "$d/run" "$d/timer" "$d/timer.pid" "$d/hostfile" '
         '"$d/stdin"\n')


def launch_script(job: Launch) -> str:
    env_lines = _env_lines(job)
    shell, words = runner_command(job)
    parts = [
        "wq_umask=$(umask)\n" + PRIVATE,
        f"d={job.dir}\n",
        'mkdir -p "$d" && chmod 700 "$d" || '
        + _fail('cannot create the job directory $d', RC_NO_JOB_DIR),
        'rm -f "$d/rc" "$d/pid" "$d/error" "$d/stdin"\n',
        _heredoc('"$d/script"', job.command),
        _heredoc('"$d/env"', env_lines),
        _heredoc('"$d/run"', wrapper_text()),
    ]
    limit_args = "'' '' ''"
    if job.time_limit is not None:
        parts.append(_heredoc('"$d/timer"', node_script("timer.sh", "killgroup.sh", "signal.sh")))
        limit_args = f'{quote(job.limit)} {_steps(job.grace)} "$d/timer"'
    if job.stdin is not None:
        parts.append(_exact_file('"$d/stdin"', job.stdin))
    if job.hostfile_lines:
        parts.append(_heredoc('"$d/hostfile"', "\n".join(job.hostfile_lines)))
        if job.hostfile_path:
            target = output_word(job.hostfile_path, "hostfile", job.cwd)
            parts.append(f'( umask "$wq_umask" && cat "$d/hostfile" > {target} ) 2>/dev/null '
                         '|| '
                         + _fail(f'cannot write the hostfile "{target}"', RC_NO_HOSTFILE))
    parts.append(
        f"[ -d {quote(job.cwd)} ] || "
        + _fail(f'the working directory "{quote(job.cwd)}" does not exist on this host',
                RC_NO_CWD) +
        f'setsid -w /bin/sh "$d/run" "$d" {quote(job.cwd)} '
        f'{output_word(job.stdout, "stdout", job.cwd)} '
        f'{output_word(job.stderr, "stderr", job.cwd)} {quote(shell)} "$wq_umask" '
        f"{limit_args} ''{''.join(' ' + quote(w) for w in words)} </dev/null\n"
        # a wrapper killed by `wq rm` leaves rc to the killer, a moment later
        'i=0; while [ ! -s "$d/rc" ] && [ $i -lt 20 ]; do sleep 0.1; i=$((i+1)); done\n'
        f'[ -f "$d/timeout" ] && echo "{TIMED_OUT}"\n'
        f'if [ -s "$d/rc" ]; then echo "{EXITED} $(cat "$d/rc")"; '
        f'else echo "{EXITED} none"; fi\n'
        f'[ -f "$d/error" ] && echo "{ERROR} $(cat "$d/error")"\n'
        + SPENT + 'exit 0\n')
    return "".join(parts)


def session_setup_script(job: Launch) -> str:
    """Prepare an interactive job's directory on the node; prints WQ-READY or WQ-ERROR."""
    env_lines = "".join(f"export {k}={quote(v)}\n" for k, v in sorted(job.environment.items()))
    if job.hostfile_lines:
        env_lines += f"export WQ_HOSTFILE={output_word(job.hostfile_path, 'hostfile', job.cwd)}\n"
    parts = [
        PRIVATE,
        f"d={job.dir}\n",
        'mkdir -p "$d" && chmod 700 "$d" || '
        f'{{ echo "{ERROR} cannot create the job directory $d"; exit {RC_NO_JOB_DIR}; }}\n',
        'rm -f "$d/pid"\n',
        _heredoc('"$d/script"', job.command),
        _heredoc('"$d/env"', env_lines),
        _heredoc('"$d/irun"', node_script("session.sh", "identity.sh")),
    ]
    if job.hostfile_lines:
        parts.append(_heredoc('"$d/hostfile"', "\n".join(job.hostfile_lines)))
    parts.append(
        f"[ -d {quote(job.cwd)} ] || {{ echo \"{ERROR} the working directory \"{quote(job.cwd)}"
        f"\" does not exist on this host\"; exit 0; }}\n"
        f'echo "{READY}"\n')
    return "".join(parts)


def session_command(job: Launch) -> str:
    """The command of an interactive job's session (short: it travels as an exec request)."""
    return (f'exec /bin/sh {job.dir}/irun {job.dir} {quote(job.cwd)} '
            '"${SHELL:-/bin/sh}"')


def probe_script() -> str:
    """Reach a host: print its boot id; make sure wq's tree there is private."""
    return (PRIVATE + 'mkdir -p "$HOME/.cache/wq" && chmod 700 "$HOME/.cache/wq"\n'
            "cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none\n")


#: the host's own state for load-aware placement (wq/parsing/samples.py reads
#: it): the load average, memory, and each GPU's memory when nvidia-smi is
#: there. WQ_SAMPLE_ROOT (unset on real nodes) points the reads at another
#: tree: the tests give each test host its own /proc/loadavg that way.
SAMPLE_SCRIPT = """r=${WQ_SAMPLE_ROOT:-}
printf 'load '; cat "$r/proc/loadavg" 2>/dev/null || echo
grep -E '^(MemTotal|MemAvailable):' "$r/proc/meminfo" 2>/dev/null
smi=nvidia-smi; [ -n "$r" ] && smi=$r/nvidia-smi
if command -v "$smi" >/dev/null 2>&1; then
  echo gpus
  "$smi" --query-gpu=index,memory.total,memory.used --format=csv,noheader,nounits 2>/dev/null
fi
"""


def setup_script(marker: str, command: str) -> str:
    """Run a host's setup `command` unless `marker` says it ran in this boot; on
    success the marker records the boot. Prints the command's last output on
    failure, and exits with its status."""
    return (PRIVATE + f"m={marker}\n"
            "boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)\n"
            '[ -f "$m" ] && [ "$(cat "$m")" = "$boot" ] && exit 0\n'
            'mkdir -p "${m%/*}" || exit 1\n' + _logged(command) +
            '[ $rc -eq 0 ] && echo "$boot" > "$m"; exit $rc\n')


def teardown_script(marker: str, command: str) -> str:
    """Run a host's teardown `command` and forget its setup (`marker`), whatever
    the command's status (printed, with its last output)."""
    return PRIVATE + f'm={marker}\nrm -f "$m"\n' + _logged(command) + "exit $rc\n"


def _logged(command: str) -> str:
    """sh running `command` in the home directory, its output in $m.log, its status
    in $rc; the log's end is printed when it failed."""
    return ('cd "$HOME" || exit 1\n'
            f'(umask 022; sh -c {quote(command)}) > "$m.log" 2>&1 < /dev/null\n'
            'rc=$?; [ $rc -eq 0 ] || tail -c 400 "$m.log"\n')


def kill_script(directory: str, grace: float, first: str = "TERM") -> str:
    """Send `first` (TERM; HUP for interactive shells) to the job's process group,
    wait `grace` seconds for it, then KILL; its time-limit watchdog goes too."""
    return (
        PRIVATE + node_script("killgroup.sh") +
        f"d={directory}\n"
        '[ -f "$d/timer.pid" ] && kill -KILL "-$(cat "$d/timer.pid")" 2>/dev/null\n'
        '[ -s "$d/rc" ] && { echo gone; exit 0; }\n'
        '[ -f "$d/pid" ] || { echo notstarted; exit 0; }\n'
        'read -r pid start boot < "$d/pid"\n'
        f'wq_kill_group "$d" "$pid" {first} {_steps(grace)}\n')


def signal_script(directory: str, signal: str, scope: str = "job") -> str:
    """Send `signal` to the job (`scope`: requirements.SCOPES); prints
    signalled, gone, nostep or notstarted."""
    return (
        PRIVATE + node_script("signal.sh") +
        f"d={directory}\n"
        '[ -s "$d/rc" ] && { echo gone; exit 0; }\n'
        '[ -f "$d/pid" ] || { echo notstarted; exit 0; }\n'
        'read -r pid start boot < "$d/pid"\n'
        f'wq_signal_job "$d" "$pid" {quote(signal)} {SCOPES[scope]}\n')


def follow_script(directory: str, stdout_word: str, stderr_word: str) -> str:
    """Stream a running job's output files until the job ends (GNU tail --pid)."""
    return (
        f"d={directory}\n"
        'read -r pid start boot < "$d/pid" || exit 0\n'
        f"tail -c +1 -s 0.2 -f --pid=\"$pid\" {stdout_word} 2>/dev/null &\n"
        f"[ {stdout_word} = {stderr_word} ] || "
        f"tail -c +1 -s 0.2 -f --pid=\"$pid\" {stderr_word} >&2 2>/dev/null &\n"
        "wait\n")


def watch_script(directory: str) -> str:
    """Wait, on the node, for a job launched earlier to end; for a watcher that
    lost (or never had) the launching channel. Prints WQ-RUNNING once when the
    job is alive, then WQ-EXIT (after WQ-TIMEOUT if its time ran out, and
    WQ-ENDED with the time its exit status was written, when `date -r` can) or
    WQ-LOST; WQ-NOTSTARTED when the launch never got as far as the wrapper,
    which is then barred from starting late (DIR/claim)."""
    return PRIVATE + (node_script("watch.sh", "identity.sh").replace("@DIR@", directory)
                      .replace("@SPENT@", SPENT.strip()))


def status_script(server_id: str, names: list[str]) -> str:
    """What became of job instances (NAME = job.instance) that a server lost
    track of, in one channel: a line `NAME WORD [EXIT]` each, WORD one of exit,
    running, rebooted, vanished, notstarted. Instances that never started are
    barred from starting late, as in watch_script."""
    for name in names:
        if not INSTANCE_NAME.fullmatch(name):
            raise ValueError(f"not a job instance name: {name!r}")
    return PRIVATE + (node_script("status.sh", "identity.sh")
            .replace("@BASE@", f'"$HOME/.cache/wq/{server_id}"')
            .replace("@NAMES@", " ".join(names)))


def remove_script(server_id: str, names: list[str]) -> str:
    """Delete the directories (and default output) of forgotten job instances."""
    for name in names:
        if not INSTANCE_NAME.fullmatch(name):
            raise ValueError(f"not a job instance name: {name!r}")
    return (f'cd "$HOME/.cache/wq/{server_id}" 2>/dev/null || exit 0\n'
            f'rm -rf -- {" ".join(names)}\n'
            "exit 0\n")


def cat_script(directory: str, stdout_word: str, stderr_word: str, max_bytes: int) -> str:
    """The last `max_bytes` of a job's output files: stdout to stdout, stderr to stderr."""
    return (
        f"d={directory}\n"
        f"[ -d \"$d\" ] || {{ echo \"{ERROR} no output kept for this job on this host\"; "
        "exit 3; }\n"
        f"tail -c {max_bytes} {stdout_word} 2>/dev/null\n"
        f"[ {stdout_word} = {stderr_word} ] || tail -c {max_bytes} {stderr_word} >&2 "
        "2>/dev/null\n"
        "exit 0\n")


def step_script(argv: list[str], env: dict[str, str], cwd: str, host: str, node: int,
                tasks: list[int]) -> str:
    """Tasks of a job's step on one of its hosts (srun inside the job): `argv` in
    `cwd` with `env` (the step's, host-specific variables left out), once per
    SLURM_PROCID in `tasks`, on node `node` (SLURM_NODEID) named `host`, with no
    stdin; says which failed as srun does, and exits with the worst status.
    They are this script's children, in its process group: stopping the script
    (the srun that asked went away) ends them."""
    lines = [node_script("step.sh"), f"cd {quote(cwd)} || exit 1\n",
             *(f"export {k}={quote(v)}\n" for k, v in sorted(job_environment(env).items())),
             f"export SLURM_NODEID={node} SLURMD_NODENAME={quote(host)} WQ_HOST={quote(host)}\n",
             "wq_outlive\nset --\n"]
    command = " ".join(quote(word) for word in argv)
    for local, task in enumerate(tasks):
        lines.append(f"SLURM_PROCID={task} SLURM_LOCALID={local} WQ_STEP=1 exec {command} "
                     f"</dev/null &\nset -- \"$@\" {task} $!\n")
    lines.append(f"wq_step_wait {quote(host)} \"$@\"\n")
    return "".join(lines)
