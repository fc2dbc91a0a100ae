# Shared by the launch wrapper and the session starter (prepended to both):
# wq_record_pid DIR writes "pid starttime boot_id" of this shell to DIR/pid,
# atomically; kill and watch scripts read it. Sets wq_start and wq_boot.
wq_record_pid() {
    wq_dir=$1
    wq_boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo none)
    wq_start=none
    if [ -r "/proc/$$/stat" ]; then
        read -r wq_stat < "/proc/$$/stat"
        set -- ${wq_stat##*") "}
        wq_start=${20}
    fi
    printf '%s %s %s\n' "$$" "$wq_start" "$wq_boot" > "$wq_dir/pid.tmp" &&
        mv -f "$wq_dir/pid.tmp" "$wq_dir/pid"
}
