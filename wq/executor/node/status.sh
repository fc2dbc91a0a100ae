# wq status: what became of instances a server lost track of, one line each.
base=@BASE@
now_boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
for n in @NAMES@; do
    d=$base/$n
    if [ ! -f "$d/rc" ] && [ ! -f "$d/pid" ]; then
        mkdir -p "$d" 2>/dev/null
        mkdir "$d/claim" 2>/dev/null && { echo "$n notstarted"; continue; }
        sleep 1          # its wrapper holds the claim and records its pid at once
    fi
    if [ -f "$d/rc" ]; then
        echo "$n exit $(cat "$d/rc")"
    elif [ ! -f "$d/pid" ]; then
        echo "$n vanished"
    else
        read -r pid start boot < "$d/pid"
        if [ "$boot" != "$now_boot" ]; then
            echo "$n rebooted"
        elif wq_alive "$pid" "$start"; then
            echo "$n running"
        else
            sleep 0.2
            if [ -f "$d/rc" ]; then echo "$n exit $(cat "$d/rc")"; else echo "$n vanished"; fi
        fi
    fi
done
exit 0
