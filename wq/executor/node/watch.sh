# wq watch: wait for an instance launched earlier to end, and say how it did.
d=@DIR@
said= waited=0
while :; do
    wq_fate "$d"
    case $wq_fate in
    exit)
        [ -f "$d/timeout" ] && echo "@TIMED_OUT@"
        echo "@ENDED@ $(date -r "$d/rc" +%s.%N 2>/dev/null)"
        echo "@EXITED@ $(cat "$d/rc")"
        # what only served the start (its runner emptied env and stdin)
        @SPENT@
        exit 0 ;;
    notstarted)
        echo "@NOT_STARTED@"
        exit 0 ;;
    starting)            # its wrapper records its pid at once
        waited=$((waited + 1))
        [ "$waited" -gt 100 ] && { echo "@LOST@ it started but never recorded its pid"; exit 0; }
        sleep 0.1 ;;
    rebooted)
        echo "@LOST@ the host rebooted"
        exit 0 ;;
    vanished)
        echo "@LOST@ its processes vanished without an exit status"
        exit 0 ;;
    running)
        [ -n "$said" ] || { echo "@RUNNING@"; said=1; }
        sleep 1 ;;
    esac
done
