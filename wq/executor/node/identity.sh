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
