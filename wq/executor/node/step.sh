# wq_step_wait HOST TASK PID [TASK PID...]: wait for a step's tasks on HOST (srun
# inside a job), then say which failed as Slurm's srun does (`srun: error: HOST:
# tasks 0-1: Exited with exit code 3`, tasks with the same status in a run
# together) and return the worst status. The script outlives a signal to the
# whole job (its tasks are in the job's group and get it): the signals it
# catches (wq_outlive) only set wq_caught, and the task is waited for again.
wq_outlive() {
    trap 'wq_caught=1' HUP INT QUIT USR1 USR2 TERM ALRM
}

wq_step_wait() {
    wq_host=$1
    shift
    wq_rc=0 wq_code= wq_first= wq_last=
    while [ $# -gt 0 ]; do
        wq_caught=1
        while [ -n "$wq_caught" ]; do
            wq_caught=
            wait "$2"
            wq_one=$?
        done
        [ "$wq_one" -gt "$wq_rc" ] && wq_rc=$wq_one
        if [ "$wq_one" = "$wq_code" ] && [ "$1" -eq $((wq_last + 1)) ]; then
            wq_last=$1
        else
            wq_step_failed
            wq_code=$wq_one wq_first=$1 wq_last=$1
        fi
        shift 2
    done
    wq_step_failed
    return "$wq_rc"
}

wq_step_failed() {
    [ -n "$wq_code" ] && [ "$wq_code" -ne 0 ] || return 0
    if [ "$wq_first" = "$wq_last" ]; then
        wq_which="task $wq_first"
    else
        wq_which="tasks $wq_first-$wq_last"
    fi
    echo "srun: error: $wq_host: $wq_which: Exited with exit code $wq_code" >&2
}
