# wq time limit: sh timer DIR PGID LIMIT STEPS
# Started by the wrapper in a session of its own (so the job's signals miss
# it); when the limit passes before the job ends, marks DIR/timeout and ends
# the job's process group: TERM, STEPS tenths of a second, KILL. LIMIT is
# SECONDS, or SECONDS:SIGNAL:BEFORE:[B] (--signal): SIGNAL goes to the job
# (with B, its batch shell only) BEFORE seconds ahead of the limit.
d=$1
wq_left=${3%%:*}
if [ "$wq_left" != "$3" ]; then
    wq_rest=${3#*:}
    wq_sig=${wq_rest%%:*}
    wq_rest=${wq_rest#*:}
    wq_before=${wq_rest%%:*}
    wq_batch=${wq_rest#*:}
    [ "$wq_before" -gt "$wq_left" ] && wq_before=$wq_left
    sleep $((wq_left - wq_before))
    [ -s "$d/rc" ] && exit 0
    wq_signal_job "$d" "$2" "$wq_sig" "$wq_batch" > /dev/null
    wq_left=$wq_before
fi
sleep "$wq_left"
[ -s "$d/rc" ] && exit 0
: > "$d/timeout"
wq_kill_group "$d" "$2" TERM "$4" > /dev/null
