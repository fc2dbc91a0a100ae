# wq_signal_job DIR PGID SIGNAL [B]: send SIGNAL to the job's process group
# PGID (its runner's), or with B only to its batch shell: the runner's child
# that runs the job's command (not its time-limit watchdog, DIR/timer.pid),
# found in /proc (where there is none, the whole group). Prints signalled,
# or gone when there is nothing to signal.
wq_signal_job() {
    if [ "$4" = B ] && [ -d /proc/self ]; then
        wq_timer_pid=
        [ -f "$1/timer.pid" ] && read -r wq_timer_pid < "$1/timer.pid"
        wq_sent=gone
        for wq_p in /proc/[0-9]*; do
            read -r wq_s < "$wq_p/stat" 2>/dev/null || continue
            wq_s=${wq_s##*) }           # (after the command's name, which may hold spaces)
            wq_s=${wq_s#* }
            [ "${wq_s%% *}" = "$2" ] || continue
            [ "${wq_p#/proc/}" = "$wq_timer_pid" ] && continue
            kill -"$3" "${wq_p#/proc/}" 2>/dev/null && wq_sent=signalled
        done
        echo "$wq_sent"
        return 0
    fi
    if kill -"$3" "-$2" 2>/dev/null; then echo signalled; else echo gone; fi
}
