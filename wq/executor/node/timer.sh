# wq time limit: sh timer DIR PGID SECONDS STEPS
# Started by the wrapper in a session of its own (so the job's signals miss
# it); when SECONDS pass before the job ends, marks DIR/timeout and ends the
# job's process group: TERM, STEPS tenths of a second, KILL.
d=$1
sleep "$3"
[ -s "$d/rc" ] && exit 0
: > "$d/timeout"
wq_kill_group "$d" "$2" TERM "$4" > /dev/null
