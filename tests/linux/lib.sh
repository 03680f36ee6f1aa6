# Helpers for the test scripts that run as /test.sh in a Linux guest's initramfs
# (scripts/linux-guest.sh copies this file to /lib/cxv/lib.sh). busybox sh.
#
# Every script sets CXV_TEST, sources this file, runs `check`s and ends with `finish`, which prints
# "TEST <name> PASS" or "TEST <name> FAIL: ..." (the system tests' verdict lines; run_qemu.py fails
# on any "TEST x FAIL").
CXV_FAILS=0

say() { echo "cxv-linux: $*"; }

# check DESCRIPTION COMMAND...: runs COMMAND; prints "check DESCRIPTION ok" or "... FAILED".
check() {
    local what=$1
    shift
    if "$@"; then
        say "check $what ok"
    else
        say "check $what FAILED"
        CXV_FAILS=$((CXV_FAILS + 1))
    fi
}

finish() {
    if [ "$CXV_FAILS" -eq 0 ]; then
        echo "TEST $CXV_TEST PASS"
    else
        echo "TEST $CXV_TEST FAIL: $CXV_FAILS check(s) failed"
    fi
}

# irq_counts REGEX: the per-CPU counts ("n0 n1 ...") of the first /proc/interrupts line matching
# REGEX (awk syntax), or nothing when no line matches.
irq_counts() {
    awk -v pat="$1" -v n="$(nproc)" '$0 ~ pat {
        s = ""; for (i = 2; i <= n + 1; i++) s = s (i > 2 ? " " : "") $i; print s; exit }' /proc/interrupts
}

# cpu_ticks: per-CPU user+nice+system ticks from /proc/stat ("t0 t1 ...").
cpu_ticks() {
    awk '/^cpu[0-9]/ { s = s (s == "" ? "" : " ") ($2 + $3 + $4) } END { print s }' /proc/stat
}

# delta "A0 A1 ..." "B0 B1 ...": "B0-A0 B1-A1 ..."
delta() {
    awk -v a="$1" -v b="$2" 'BEGIN { n = split(a, x, " "); split(b, y, " ")
        for (i = 1; i <= n; i++) s = s (i > 1 ? " " : "") (y[i] - x[i]); print s }'
}

# all_positive "N0 N1 ...": true when there is at least one number and every one is > 0.
all_positive() {
    [ -n "$1" ] && awk -v a="$1" 'BEGIN { n = split(a, x, " "); for (i = 1; i <= n; i++) if (x[i] + 0 <= 0) exit 1 }'
}

# sum "N0 N1 ...": their sum (0 for none).
sum() { awk -v a="$1" 'BEGIN { n = split(a, x, " "); for (i = 1; i <= n; i++) s += x[i]; print s + 0 }'; }

# on_cpu PID: the CPU the task last ran on (/proc/PID/stat field 39; the comm field has no spaces
# for the busybox applets used here).
on_cpu() { awk '{ print $39 }' "/proc/$1/stat"; }
