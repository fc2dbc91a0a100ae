# wq launch wrapper: runs one job detached from any ssh channel and records
# how it ends. Shipped to the node with each launch; never installed.
#
#   sh run DIR CWD STDOUT STDERR SHELL UMASK [LIMIT STEPS [prepared]]
#
# wq's own files (everything in DIR) are created 0600 (umask 077); the job,
# and the output files it names outside DIR, get UMASK, the login's own.
#
# DIR/claim    taken (mkdir, atomic) by this runner, or by a restarted server
#              that found no trace of it: whoever is first decides whether
#              this instance runs, so a late launch never runs a job twice
# DIR/pid      "pid starttime boot_id" of this runner; its pid is the job's
#              process group (it is a session leader)
# DIR/rc       the exit status (128+N for signal N); readers wait for it to be
#              non-empty (`-s`), so one short write is enough
# DIR/env      the job's environment, as sh export lines
# DIR/script   the job's command, run by the user's login shell
#              (these two, run, hostfile, stdin and the timer's files are
#              deleted once the job has ended: a finished job keeps claim,
#              pid, rc, error and its output)
# DIR/timer    the time limit's watchdog (LIMIT seconds, then TERM, STEPS
#              tenths of a second, KILL); DIR/timer.pid its process group
#
# `prepared`: the per-host helper has already taken the claim, checked the
# directories and truncated the output files, started this runner in a session
# of its own with no terminal or channel, and records its pid.
d=$1 cwd=$2 out=$3 err=$4 shell=$5 wq_umask=${6:-022} limit=${7:-} steps=${8:-50} prepared=${9:-}
umask 077

# A TERM/INT/HUP aimed at the process group must end the job, not this
# runner: catch them (children get the default action back) and carry on
# to record the exit status.
trap 'wq_signal=1' TERM INT HUP

timer=
finish() {
    # its group; or, when setsid has not made one yet, the watchdog itself
    [ -n "$timer" ] && { kill -KILL "-$timer" 2>/dev/null || kill -KILL "$timer" 2>/dev/null; }
    # keep what wq log and recovery read (claim, pid, rc, error, the output);
    # the rest served the start, and env holds the job's environment
    rm -f "$d/env" "$d/script" "$d/run" "$d/hostfile" "$d/stdin" "$d/timer" "$d/timer.pid"
    printf '%s\n' "$1" > "$d/rc"
    exit "$1"
}

if [ -z "$prepared" ]; then
    mkdir "$d/claim" 2>/dev/null || exit 0
    wq_record_pid "$d"
else
    # the helper records this runner's pid as soon as it has started it; should
    # the helper die before that, the runner does it itself
    i=0
    while [ ! -s "$d/pid" ] && [ "$i" -lt 5000 ]; do i=$((i + 1)); done
    [ -s "$d/pid" ] || wq_record_pid "$d"
fi
if ! cd "$cwd" 2>/dev/null; then
    printf 'the working directory %s does not exist on this host\n' "$cwd" > "$d/error"
    finish @RC_NO_CWD@
fi
# create (truncate) an output file: 0600 in DIR, else with the job's umask. A
# failed redirection on a special builtin like `:` would end this shell, so it
# runs in a subshell.
wq_output() {
    case $1 in
        "$d"/*) ( : > "$1" ) 2>/dev/null ;;
        *) ( umask "$wq_umask" && : > "$1" ) 2>/dev/null ;;
    esac
}
if [ -z "$prepared" ]; then
    if ! wq_output "$out" || { [ "$err" != "$out" ] && ! wq_output "$err"; }; then
        printf 'cannot write the output files %s and %s\n' "$out" "$err" > "$d/error"
        finish @RC_NO_OUTPUT@
    fi
    printf '@STARTED@ %s %s %s\n' "$$" "$wq_start" "$wq_boot"
    # From here on nothing of this runner talks to the channel that launched it.
    exec </dev/null >/dev/null 2>&1
fi
if [ -n "$limit" ]; then
    # not a process group leader, so setsid needs no fork: $! is its group
    setsid /bin/sh "$d/timer" "$d" "$$" "$limit" "$steps" &
    timer=$!
    echo "$timer" > "$d/timer.pid"
fi
. "$d/env"
input=/dev/null
[ -f "$d/stdin" ] && input=$d/stdin
( umask "$wq_umask" && exec "$shell" "$d/script" ) < "$input" >> "$out" 2>> "$err"
finish $?
