# wq launch wrapper (the runner): runs one job detached from any ssh channel
# and records how it ends. Shipped to the node, never installed.
#
#   sh run DIR CWD STDOUT STDERR SHELL UMASK LIMIT STEPS TIMER PREPARED [WORD...]
#
# wq's own files (everything in DIR) are created 0600 (umask 077); the job,
# and the output files it names outside DIR, get UMASK, the login's own.
# SHELL says what runs the job's command (DIR/script): `sh` is /bin/sh with
# no start-up files, `login` the user's login shell as one (`$SHELL -l`),
# an absolute path that interpreter; `exec` execs the WORDs themselves, a
# command that is nothing but words (wrapper.py decides), with no shell.
#
# DIR/claim    taken (mkdir, atomic) by this runner, or by a restarted server
#              that found no trace of it: whoever is first decides whether
#              this instance runs, so a late launch never runs a job twice
# DIR/pid      "pid starttime boot_id" of this runner; its pid is the job's
#              process group (it is a session leader)
# DIR/rc       the exit status (128+N for signal N); readers wait for it to be
#              non-empty (`-s`), so one short write is enough
# DIR/env      the job's environment, as sh export lines (not `prepared`: the
#              helper starts this runner in the job's environment instead)
# DIR/script   the job's command (none for `exec`)
#              (this runner empties env and DIR/stdin once the job has ended;
#              whoever reads the status deletes what only served the start:
#              a finished job keeps claim, pid, rc, error and its output)
# TIMER        the time limit's watchdog (LIMIT seconds, then TERM, STEPS
#              tenths of a second, KILL); DIR/timer.pid its process group
#
# `prepared`: the per-host helper has already taken the claim, checked the
# directories and truncated the output files, started this runner in a session
# of its own with no terminal or channel, and records its pid (then writes a
# line to this runner's stdin, a pipe). `outputs`: the same, but an output
# file's directory was missing, so this runner waits for it, creates them and
# then writes a line to its stdout (another pipe of the helper's).
#
# Every name of this runner starts with wq_ (a job's environment never holds
# one), and the path of a finished job forks nothing but the job itself.
wq_d=$1 wq_cwd=$2 wq_out=$3 wq_err=$4 wq_shell=$5 wq_umask=$6
wq_limit=$7 wq_steps=$8 wq_timer_script=$9 wq_prepared=${10}
shift 10
umask 077

# A TERM/INT/HUP aimed at the process group must end the job, not this
# runner: catch them (children get the default action back) and carry on
# to record the exit status.
trap 'wq_signal=1' TERM INT HUP
# Nor must a signal sent to the job (`wq signal`, --signal) end this runner.
trap : QUIT USR1 USR2 ALRM TSTP

wq_timer=
wq_finish() {
    # its group; or, when setsid has not made one yet, the watchdog itself
    [ -n "$wq_timer" ] && { kill -KILL "-$wq_timer" 2>/dev/null ||
        kill -KILL "$wq_timer" 2>/dev/null; }
    # what only served the start is emptied without a fork (env holds the job's
    # environment); the reader of the status deletes the files
    [ -f "$wq_d/env" ] && : > "$wq_d/env"
    [ -f "$wq_d/stdin" ] && : > "$wq_d/stdin"
    printf '%s\n' "$1" > "$wq_d/rc"
    exit "$1"
}

if [ -z "$wq_prepared" ]; then
    mkdir "$wq_d/claim" 2>/dev/null || exit 0
    wq_record_pid "$wq_d"
else
    # the helper records this runner's pid, then says so on stdin (a pipe); should
    # the helper die before that, stdin ends and the runner records it itself
    read -r wq_go || :
    [ -s "$wq_d/pid" ] || wq_record_pid "$wq_d"
    exec </dev/null
fi
if ! cd "$wq_cwd" 2>/dev/null; then
    printf 'the working directory %s does not exist on this host\n' "$wq_cwd" > "$wq_d/error"
    wq_finish @RC_NO_CWD@
fi
# create (truncate) an output file: 0600 in DIR, else with the job's umask. A
# failed redirection on a special builtin like `:` would end this shell, so it
# runs in a subshell.
wq_output() {
    case $1 in
        "$wq_d"/*) ( : > "$1" ) 2>/dev/null ;;
        *) ( umask "$wq_umask" && : > "$1" ) 2>/dev/null ;;
    esac
}
wq_outputs() {
    wq_output "$wq_out" && { [ "$wq_err" = "$wq_out" ] || wq_output "$wq_err"; }
}
# true when the directory of the file PATH does not exist (yet)
wq_no_dir() {
    case $1 in */?*) [ -n "${1%/*}" ] && [ ! -e "${1%/*}" ] ;; *) return 1 ;; esac
}
# Create both output files. A directory of theirs that is missing is waited
# for, @OUTPUT_WAIT@ s at most: a tool may make it right after submitting.
wq_make_outputs() {
    wq_waited=0
    until wq_outputs; do
        if { ! wq_no_dir "$wq_out" && ! wq_no_dir "$wq_err"; } ||
                [ "$wq_waited" -ge @OUTPUT_WAIT@0 ]; then
            printf 'cannot write the output files %s and %s\n' "$wq_out" "$wq_err" \
                > "$wq_d/error"
            wq_finish @RC_NO_OUTPUT@
        fi
        if sleep 0.2 2>/dev/null; then wq_waited=$((wq_waited + 2))
        else sleep 1; wq_waited=$((wq_waited + 10))
        fi
    done
}
if [ -z "$wq_prepared" ]; then
    wq_make_outputs
    printf '@STARTED@ %s %s %s\n' "$$" "$wq_start" "$wq_boot"
    # From here on nothing of this runner talks to the channel that launched it.
    exec </dev/null >/dev/null 2>&1
elif [ "$wq_prepared" = outputs ]; then
    wq_make_outputs
    # say so to the helper (this stdout is its pipe), which then reports the
    # start; should the helper be gone, the write fails and nothing more
    trap '' PIPE
    echo go 2>/dev/null
    trap - PIPE
    exec >/dev/null
fi
if [ -n "$wq_limit" ]; then
    # not a process group leader, so setsid needs no fork: $! is its group
    setsid /bin/sh "$wq_timer_script" "$wq_d" "$$" "$wq_limit" "$wq_steps" &
    wq_timer=$!
    echo "$wq_timer" > "$wq_d/timer.pid"
fi
[ -n "$wq_prepared" ] || . "$wq_d/env"
# wq, for wq's (and Slurm's) commands in the job: its socket, forwarded to this
# host beside the jobs' directories, named after it (a test, no fork)
if [ -S "${wq_d%/*}/wq-$WQ_HOST.sock" ]; then
    WQ_SOCKET=${wq_d%/*}/wq-$WQ_HOST.sock
    export WQ_SOCKET
    unset WQ_SERVER
fi
wq_input=/dev/null
[ -f "$wq_d/stdin" ] && wq_input=$wq_d/stdin
case $wq_shell in
    exec) ( umask "$wq_umask" && exec "$@" ) ;;
    sh) ( umask "$wq_umask" && exec /bin/sh "$wq_d/script" ) ;;
    login) ( umask "$wq_umask" && exec "${SHELL:-/bin/sh}" -l "$wq_d/script" ) ;;
    *) ( umask "$wq_umask" && exec "$wq_shell" "$wq_d/script" ) ;;
esac < "$wq_input" >> "$wq_out" 2>> "$wq_err"
wq_finish $?
