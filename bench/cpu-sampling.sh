# shellcheck shell=bash
# Server CPU time, sampled from /proc: the one home of this method, sourced
# by bench/run and bench/cpu (not executable on its own).
#
# Requests per second on a 2-core machine mostly measure the client (wrk on
# one core saturates near 130k req/s), so both scripts report the server's
# own CPU time over a run, utime + stime of the whole process (every thread)
# from /proc/PID/stat, divided by the requests completed (or MiB sent).
# The clock tick is 1/CLK_TCK s (10 ms here), so a run should cost the
# server at least a second of CPU for a figure good to about 1 %.

CPU_TICKS_PER_S=$(getconf CLK_TCK)

# cpu_ticks PID: the process's utime + stime so far, in clock ticks. The
# command name in field 2 may hold spaces, so fields are counted after ")".
cpu_ticks() {
    local stat
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    awk '{print $12 + $13}' <<<"$stat"
}

# cpu_per SCALE BEFORE AFTER COUNT: CPU seconds between two cpu_ticks
# samples × SCALE ÷ COUNT, e.g. SCALE 1e6 and COUNT requests gives µs per
# request, SCALE 1e3 and COUNT MiB gives ms per MiB; "fail" without a count.
cpu_per() {
    awk -v s="$1" -v b="$2" -v a="$3" -v n="$4" -v t="$CPU_TICKS_PER_S" \
        'BEGIN {if (n + 0 > 0) printf "%.4f\n", (a - b) / t * s / n; else print "fail"}'
}
