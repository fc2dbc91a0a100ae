# wq_kill_group DIR PGID SIGNAL STEPS: send SIGNAL to the job's process group,
# give it STEPS tenths of a second to end, then KILL it. KILL takes the
# wrapper down too, so 137 is recorded first; should the job still end by
# itself, the wrapper's own status replaces it. Prints what happened.
wq_kill_group() {
    kill -"$3" "-$2" 2>/dev/null || { echo gone; return 0; }
    wq_i=0
    while [ "$wq_i" -lt "$4" ]; do
        [ -s "$1/rc" ] && { echo terminated; return 0; }
        kill -0 "-$2" 2>/dev/null || break
        sleep 0.1
        wq_i=$((wq_i + 1))
    done
    [ -s "$1/rc" ] || { echo 137 > "$1/rc.kill" && mv -f "$1/rc.kill" "$1/rc"; }
    kill -KILL "-$2" 2>/dev/null
    echo killed
}
