# wq_kill_group DIR PGID SIGNAL STEPS: send SIGNAL to the job's process group,
# give the whole group STEPS tenths of a second to end, then KILL what is left
# of it (a job's main process may end on TERM while others of its group, a
# driver finishing its own steps, carry on: they go too). KILL takes the
# wrapper down too, so 137 is recorded first unless the job's status already
# was; should the job still end by itself, the wrapper's own status replaces
# it. Prints what happened: terminated (its status recorded in time), killed,
# gone (no such group).
wq_kill_group() {
    kill -"$3" "-$2" 2>/dev/null || { echo gone; return 0; }
    wq_i=0
    while [ "$wq_i" -lt "$4" ]; do
        kill -0 "-$2" 2>/dev/null || break
        sleep 0.1
        wq_i=$((wq_i + 1))
    done
    if [ -s "$1/rc" ]; then
        kill -KILL "-$2" 2>/dev/null      # stragglers of a job that ended on the signal
        echo terminated
        return 0
    fi
    echo 137 > "$1/rc.kill" && mv -f "$1/rc.kill" "$1/rc"
    kill -KILL "-$2" 2>/dev/null
    echo killed
}
