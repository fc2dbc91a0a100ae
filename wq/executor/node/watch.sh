# wq watch: wait for an instance launched earlier to end, and say how it did.
d=@DIR@
now_boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
said= waited=0
mkdir -p "$d" 2>/dev/null
while :; do
    if [ -f "$d/rc" ]; then
        [ -f "$d/timeout" ] && echo "@TIMED_OUT@"
        echo "@ENDED@ $(date -r "$d/rc" +%s.%N 2>/dev/null)"
        echo "@EXITED@ $(cat "$d/rc")"
        exit 0
    fi
    if [ ! -f "$d/pid" ]; then
        # Nobody started it: bar a late launch from doing so.
        mkdir "$d/claim" 2>/dev/null && { echo "@NOT_STARTED@"; exit 0; }
        # Its wrapper holds the claim and records its pid at once.
        waited=$((waited + 1))
        [ "$waited" -gt 100 ] && { echo "@LOST@ it started but never recorded its pid"; exit 0; }
        sleep 0.1
        continue
    fi
    read -r pid start boot < "$d/pid"
    [ "$boot" = "$now_boot" ] || { echo "@LOST@ the host rebooted"; exit 0; }
    if ! wq_alive "$pid" "$start"; then
        sleep 0.2
        [ -f "$d/rc" ] && continue
        echo "@LOST@ its processes vanished without an exit status"
        exit 0
    fi
    [ -n "$said" ] || { echo "@RUNNING@"; said=1; }
    sleep 1
done
