#!/bin/sh
# Run as /test.sh by configs/vms/bench-blk.toml (under cxvisor) and by bench/run.py's plain-QEMU
# side (QEMU's own virtio-blk): sequential write then read of 128 MiB on vda with O_DIRECT (no page
# cache: every byte goes through the device), 1 MiB blocks, three rounds each. Prints
# "BLKBENCH write|read <round> <MiB/s>" per round, then "TEST blk-bench PASS".
CXV_TEST=blk-bench
. /lib/cxv/lib.sh
. /lib/cxv/blk-lib.sh

check "virtio_blk found vda" blk_modules
MIB=128
# Seconds since boot with 10 ms resolution (busybox date has no sub-second format).
now() { cut -d' ' -f1 /proc/uptime; }
rate() { awk -v a="$1" -v b="$2" -v m="$MIB" 'BEGIN { d = b - a; if (d <= 0) d = 0.01; printf "%.1f", m / d }'; }
run_dd() { dd "$@" bs=1M count=$MIB 2>/tmp/dd.err || { cat /tmp/dd.err; return 1; }; }
for round in 1 2 3; do
    t0=$(now)
    check "write round $round" run_dd if=/dev/zero of=/dev/vda oflag=direct
    t1=$(now)
    check "read round $round" run_dd if=/dev/vda of=/dev/null iflag=direct
    t2=$(now)
    echo "BLKBENCH write $round $(rate "$t0" "$t1")"
    echo "BLKBENCH read $round $(rate "$t1" "$t2")"
done
finish
