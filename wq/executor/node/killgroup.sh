# wq_kill_group DIR PGID SIGNAL STEPS: send SIGNAL to the job's process group,
# give it STEPS tenths of a second to end, then KILL it. KILL takes the
# wrapper down too, so 137 is recorded first; should the job still end by
# itself, the wrapper's own status replaces it. Prints what happened.
# A job whose own process ended on the signal may leave others of its group
# running (a driver finishing a step): they get the rest of the grace, then
# KILL, from a process of their own (the channel that asked may close first).
wq_kill_group() {
    kill -"$3" "-$2" 2>/dev/null || { echo gone; return 0; }
    wq_i=0
    while [ "$wq_i" -lt "$4" ]; do
        if [ -s "$1/rc" ]; then
            if kill -0 "-$2" 2>/dev/null; then
                setsid sh -c 'sleep "$1"; kill -KILL "-$2" 2>/dev/null' wq-reaper \
                    "$(( ($4 - wq_i) / 10 + 1 ))" "$2" </dev/null >/dev/null 2>&1 &
            fi
            echo terminated
            return 0
        fi
        kill -0 "-$2" 2>/dev/null || break
        sleep 0.1
        wq_i=$((wq_i + 1))
    done
    [ -s "$1/rc" ] || { echo 137 > "$1/rc.kill" && mv -f "$1/rc.kill" "$1/rc"; }
    kill -KILL "-$2" 2>/dev/null
    echo killed
}
