# wq status: what became of instances a server lost track of, one line each.
base=@BASE@
for n in @NAMES@; do
    d=$base/$n
    wq_fate "$d"
    if [ "$wq_fate" = starting ]; then      # its wrapper records its pid at once
        sleep 1
        wq_fate "$d"
        [ "$wq_fate" = starting ] && wq_fate=vanished
    fi
    if [ "$wq_fate" = exit ]; then echo "$n exit $(cat "$d/rc")"; else echo "$n $wq_fate"; fi
done
exit 0
