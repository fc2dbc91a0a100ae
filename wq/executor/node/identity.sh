# Shared by the node scripts (prepended to them): how a job's processes are
# identified. wq_record_pid DIR writes "pid starttime boot_id" of this shell
# to DIR/pid, atomically, and sets wq_start and wq_boot; wq_alive PID START
# tells whether that very process still runs (a reused pid has another start
# time).
wq_start_of() {
    wq_of=none
    if [ -r "/proc/$1/stat" ]; then
        read -r wq_stat < "/proc/$1/stat" 2>/dev/null || return 0
        set -- ${wq_stat##*") "}
        wq_of=${20}
    fi
}
wq_record_pid() {
    wq_dir=$1
    wq_boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
    wq_start_of $$
    wq_start=$wq_of
    printf '%s %s %s\n' "$$" "$wq_start" "$wq_boot" > "$wq_dir/pid.tmp" &&
        mv -f "$wq_dir/pid.tmp" "$wq_dir/pid"
}
wq_alive() {
    kill -0 "$1" 2>/dev/null || return 1
    [ "$2" = none ] && return 0
    wq_start_of "$1"
    [ "$wq_of" = none ] || [ "$wq_of" = "$2" ]
}
# wq_fate DIR sets wq_fate to what became of the instance in DIR: exit (DIR/rc
# holds its status), running, rebooted, vanished (gone without a status),
# starting (its wrapper holds the claim but has not recorded its pid yet) or
# notstarted (nobody started it, and now nobody will: the claim is taken).
wq_fate() {
    [ -n "${wq_now_boot:-}" ] ||
        wq_now_boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
    if [ -s "$1/rc" ]; then
        wq_fate=exit
    elif [ ! -f "$1/pid" ]; then
        mkdir -p "$1" 2>/dev/null
        if mkdir "$1/claim" 2>/dev/null; then wq_fate=notstarted; else wq_fate=starting; fi
    else
        read -r wq_pid wq_pstart wq_pboot < "$1/pid"
        if [ "$wq_pboot" != "$wq_now_boot" ]; then
            wq_fate=rebooted
        elif wq_alive "$wq_pid" "$wq_pstart"; then
            wq_fate=running
        else
            sleep 0.2          # its status may be a moment behind the process
            if [ -s "$1/rc" ]; then wq_fate=exit; else wq_fate=vanished; fi
        fi
    fi
}
