# wq_signal_job DIR PGID SIGNAL [B|S]: send SIGNAL to the job's process group
# PGID (its runner's); with B only to its batch shell, the runner's child that
# runs the job's command (not its time-limit watchdog, DIR/timer.pid); with S
# only to srun's tasks, the processes of the group whose environment says
# WQ_STEP (as Slurm's scancel -s reaches steps, not the batch shell). B and S
# find them in /proc (without it, B signals the whole group and S nothing),
# then signal them all at once. Prints signalled, gone when there is nothing
# to signal, or nostep (S).
wq_signal_job() {
    if [ "$4" = B ] || [ "$4" = S ] && [ -d /proc/self ]; then
        wq_timer_pid= wq_pids=
        [ -f "$1/timer.pid" ] && read -r wq_timer_pid < "$1/timer.pid"
        for wq_p in /proc/[0-9]*; do
            read -r wq_s < "$wq_p/stat" 2>/dev/null || continue
            wq_s=${wq_s##*) }           # (after the command's name, which may hold spaces)
            wq_s=${wq_s#* }             # "PPID PGRP ..."
            if [ "$4" = B ]; then
                [ "${wq_s%% *}" = "$2" ] || continue
                [ "${wq_p#/proc/}" = "$wq_timer_pid" ] && continue
            else
                wq_s=${wq_s#* }
                [ "${wq_s%% *}" = "$2" ] || continue
                tr '\0' '\n' < "$wq_p/environ" 2>/dev/null | grep -q '^WQ_STEP=' || continue
            fi
            wq_pids="$wq_pids ${wq_p#/proc/}"
        done
        if [ -z "$wq_pids" ]; then
            [ "$4" = S ] && echo nostep || echo gone
        else                # (one that ended since it was found just went first)
            kill -"$3" $wq_pids 2>/dev/null
            echo signalled
        fi
        return 0
    fi
    [ "$4" = S ] && { echo nostep; return 0; }
    if kill -"$3" "-$2" 2>/dev/null; then echo signalled; else echo gone; fi
}
